"""`ibt stacks run prefect --native` for real: PostgreSQL + Prefect come up healthy, serve the UI, keep flow runs
across restarts, and leave nothing behind on SIGINT, SIGTERM or `ibt stacks stop`.

The three starts share one state directory (the first creates the cluster and migrates; later ones reuse it).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import textwrap

import httpx
import psutil
import pytest

from agentic.stacks.ports import free_port
from tests.stacks.conftest import IBT, assert_gone, descendants, ibt_env, state_dir, wait_for

pytestmark = pytest.mark.slow

FLOW = textwrap.dedent("""
    from prefect import flow

    @flow(name="ibt-persistence-probe")
    def probe(x: int) -> int:
        return x + 1

    assert probe(41) == 42
""")


@pytest.fixture(scope="module")
def stack_env():
    state = state_dir()
    ports = {"postgres": free_port(), "prefect": free_port()}
    yield state, ports, ibt_env(**ports)
    subprocess.run([*IBT, "stacks", "stop", "--state-dir", str(state)], capture_output=True, timeout=120)
    shutil.rmtree(state, ignore_errors=True)


def start_foreground(stack_env) -> tuple[subprocess.Popen, str]:
    state, ports, env = stack_env
    proc = subprocess.Popen([*IBT, "stacks", "run", "prefect", "--native", "--state-dir", str(state)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    api = f"http://127.0.0.1:{ports['prefect']}/api"
    run_file = state / "run" / "stack.json"
    wait_for(lambda: run_file.exists() and json.loads(run_file.read_text())["status"] == "healthy", 120,
             "stack healthy", proc)
    return proc, api


def stop_with(proc: subprocess.Popen, sig: int, ports: dict) -> str:
    tree = descendants(proc.pid)
    assert {p.name() for p in tree} >= {"postgres"}, tree
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert_gone(tree, list(ports.values()))
    return out


def persisted_runs(api: str) -> list[dict]:
    body = {"flows": {"name": {"any_": ["ibt-persistence-probe"]}}}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()


def test_stack_serves_prefect_on_postgres_and_stops_on_sigint(stack_env):
    state, ports, env = stack_env
    proc, api = start_foreground(stack_env)
    assert httpx.get(f"{api}/health", timeout=5).json() is True
    ui = httpx.get(api.removesuffix("/api") + "/", timeout=5)
    assert ui.status_code == 200 and "<html" in ui.text.lower()
    # The flow runs in another process, through the stack's API, into the stack's PostgreSQL.
    subprocess.run([IBT[0], "-c", FLOW], env={**env, "PREFECT_API_URL": api}, check=True, timeout=120,
                   capture_output=True)
    assert [r["state_type"] for r in persisted_runs(api)] == ["COMPLETED"]
    status = subprocess.run([*IBT, "stacks", "status", "--state-dir", str(state)], env=env, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "postgres" in status.stdout and str(ports["prefect"]) in status.stdout and "healthy" in status.stdout
    out = stop_with(proc, signal.SIGINT, ports)
    assert "postgres | " in out and "prefect  | " in out  # prefixed logs, like compose
    assert (state / "postgres" / "data" / "PG_VERSION").exists()
    assert not (state / "run" / "stack.json").exists()


def test_flow_runs_survive_a_restart_and_sigterm_stops_all(stack_env):
    state, ports, _ = stack_env
    proc, api = start_foreground(stack_env)
    runs = persisted_runs(api)
    assert [r["state_type"] for r in runs] == ["COMPLETED"], "the flow run of the previous start is gone"
    stop_with(proc, signal.SIGTERM, ports)


def test_detached_stack_status_logs_stop(stack_env):
    state, ports, env = stack_env
    # A supervisor that died without cleaning up (SIGKILL, reboot) leaves a stale run file behind.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (state / "run" / "stack.json").write_text(json.dumps(
        {"supervisor": {"pid": dead.pid, "started": 0}, "status": "healthy", "stacks": ["prefect"], "services": []}))
    up = subprocess.run([*IBT, "stacks", "run", "prefect", "--native", "-d", "--state-dir", str(state)], env=env,
                        capture_output=True, text=True, timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "removed a stale run file" in up.stderr
    assert "stack up" in up.stdout
    supervisor = psutil.Process(json.loads((state / "run" / "stack.json").read_text())["supervisor"]["pid"])
    assert int((state / "run" / "supervisor.pid").read_text()) == supervisor.pid
    tree = [supervisor, *supervisor.children(recursive=True)]
    api = f"http://127.0.0.1:{ports['prefect']}/api"
    assert httpx.get(f"{api}/health", timeout=5).json() is True

    again = subprocess.run([*IBT, "stacks", "run", "prefect", "--native", "--state-dir", str(state)], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "a stack is already running" in again.stderr

    logs = subprocess.run([*IBT, "stacks", "logs", "postgres", "--state-dir", str(state)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert logs.returncode == 0 and "postgres | " in logs.stdout and "ready to accept connections" in logs.stdout

    stop = subprocess.run([*IBT, "stacks", "stop", "--state-dir", str(state)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert stop.returncode == 0 and "stopped postgres, prefect" in stop.stdout
    assert_gone(tree, list(ports.values()))
    assert not (state / "run" / "supervisor.pid").exists()
    status = subprocess.run([*IBT, "stacks", "status", "--state-dir", str(state)], env=env, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 1 and "no stack is running" in status.stdout


def test_sqlite_fallback_warns_and_runs_without_postgres():
    state = state_dir()
    ports = {"prefect": free_port(), "postgres": free_port()}
    env = ibt_env(**ports)
    try:
        up = subprocess.run([*IBT, "stacks", "run", "prefect", "--sqlite", "-d", "--state-dir", str(state)],
                            env=env, capture_output=True, text=True, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "warning:" in up.stderr and "SQLite" in up.stderr
        supervisor = psutil.Process(json.loads((state / "run" / "stack.json").read_text())["supervisor"]["pid"])
        tree = [supervisor, *supervisor.children(recursive=True)]
        assert "postgres" not in {p.name() for p in tree}
        assert httpx.get(f"http://127.0.0.1:{ports['prefect']}/api/health", timeout=5).json() is True
        assert (state / "prefect" / "prefect.db").exists()
    finally:
        subprocess.run([*IBT, "stacks", "stop", "--state-dir", str(state)], env=env, capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)
    assert_gone(tree, list(ports.values()))
