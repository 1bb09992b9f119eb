"""The native stack heals like compose: each service's `restart:` policy, a backoff, events in the supervisor log,
`ibt stacks restart SERVICE` in place, and a clean stop (or Ctrl+C) that heals nothing and leaves nothing behind.

Real processes throughout: `ibt stacks run -d` (through `agentic.testing.running_native_stack`), services killed
with SIGKILL via psutil, health endpoints asked over HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import httpx
import psutil
import pytest
import yaml
from typer.testing import CliRunner

from agentic.cli import app
from agentic.errors import ConfigError
from agentic.stacks.compose import Stack
from agentic.stacks.native import plan, runner_variables
from agentic.stacks.postgres import find_pg_bindir
from agentic.stacks.ports import free_port
from agentic.stacks.restart import Backoff, RestartPolicy, describe_exit, restart_policy
from agentic.testing import NativeStack, running_native_stack
from tests.stacks.conftest import IBT, ROOT, STACKS, assert_gone, descendants, ibt_env, state_dir, wait_for

# --- the policy, as Docker decides it ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (None, RestartPolicy("no")), (False, RestartPolicy("no")), ("no", RestartPolicy("no")),
    ("always", RestartPolicy("always")), ("unless-stopped", RestartPolicy("unless-stopped")),
    ("on-failure", RestartPolicy("on-failure")), ("on-failure:3", RestartPolicy("on-failure", 3)),
    ("on-failure:0", RestartPolicy("on-failure")),
])
def test_policy_values(value, expected):
    assert RestartPolicy.parse(value) == expected


def test_unquoted_no_in_yaml_means_no():
    raw = yaml.safe_load("restart: no")  # YAML 1.1 reads a bare `no` as false
    assert raw == {"restart": False} and restart_policy(raw, "svc") == RestartPolicy("no")


@pytest.mark.parametrize("value", ["sometimes", "always:2", "on-failure:x", "on-failure:-1"])
def test_bad_policy_is_a_config_error(value):
    with pytest.raises(ConfigError, match="svc"):
        RestartPolicy.parse(value, "svc")


def test_deploy_restart_policy_is_read_when_restart_is_absent():
    assert restart_policy({"deploy": {"restart_policy": {"condition": "on-failure", "max_attempts": 2}}}, "s") == \
        RestartPolicy("on-failure", 2)
    assert restart_policy({"deploy": {"restart_policy": {"condition": "any"}}}, "s") == RestartPolicy("always")
    assert restart_policy({"restart": "no", "deploy": {"restart_policy": {"condition": "any"}}}, "s") == \
        RestartPolicy("no")


def test_decisions():
    sigkill = -signal.SIGKILL
    assert RestartPolicy("no").decide(1, 0) == "restart: no"
    assert RestartPolicy("always").decide(0, 99) is None
    assert RestartPolicy("unless-stopped").decide(sigkill, 5) is None
    on_failure = RestartPolicy("on-failure", 2)
    assert on_failure.decide(sigkill, 0) is None and on_failure.decide(3, 1) is None
    assert "gave up after 2 restarts" in on_failure.decide(3, 2)
    assert "exit code 0" in RestartPolicy("on-failure").decide(0, 0)
    assert describe_exit(sigkill) == "signal SIGKILL" and describe_exit(3) == "code 3"


def test_backoff_doubles_caps_and_resets_after_a_healthy_while():
    backoff = Backoff()
    assert [backoff.next(healthy_for=1.0) for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    assert backoff.next(healthy_for=None) == 10  # never healthy: a crash loop stays slow
    assert backoff.next(healthy_for=10.0) == 0.5


def test_stack_files_give_every_service_a_policy(tmp_path):
    """Docker reads the same files, so both paths heal the same services the same way."""
    services = plan(Stack.load(["prefect", "mcp-hub", "sandbox"], STACKS), runner_variables(tmp_path, ROOT, {}))
    policies = {s.name: str(s.restart) for s in services}
    assert policies == {"postgres": "unless-stopped", "prefect": "unless-stopped", "mcp-hub": "unless-stopped",
                        "github-sim": "on-failure", "jules-sim": "on-failure"}
    for name in ("prefect", "mcp-hub"):  # the shared-host files say the same
        shared = yaml.safe_load((STACKS / name / f"{name}.yaml").read_text())["services"]
        assert {svc: shared[svc]["restart"] for svc in shared} == {svc: policies[svc] for svc in shared}


# --- the CLI on bad input (fast) -----------------------------------------------------------------------------------


def test_restart_without_a_running_stack_fails_clearly(stacks_tmp):
    result = CliRunner().invoke(app, ["stacks", "restart", "mcp-hub", "--native", "--state-dir", str(stacks_tmp)])
    assert result.exit_code == 1
    assert f"no stack is running from {stacks_tmp}" in result.stderr and not result.stdout


# --- real stacks -----------------------------------------------------------------------------------------------------


def hub_servers(url: str) -> list[str]:
    return [s["name"] for s in httpx.get(f"{url}/api/servers", timeout=5).json()["data"]]


def tree_of(stack: NativeStack) -> set[psutil.Process]:
    supervisor = psutil.Process(stack.state.read_run()["supervisor"]["pid"])
    return {supervisor, *supervisor.children(recursive=True)}


@pytest.mark.slow
def test_killed_hub_comes_back_and_restart_keeps_its_settings():
    with running_native_stack("mcp-hub") as stack:
        state, hub, env = str(stack.state_dir), stack.url("mcp-hub"), ibt_env()
        seen = tree_of(stack)
        first = stack.pid("mcp-hub")
        psutil.Process(first).kill()  # SIGKILL: no chance to clean up, like an OOM kill
        second = stack.wait_healthy("mcp-hub", not_pid=first, timeout=30)
        assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE
        assert httpx.get(f"{hub}/health", timeout=5).status_code == 200
        record = stack.service("mcp-hub")
        assert (record["restarts"], record["last_exit"], record["state"]) == (1, "signal SIGKILL", "healthy")
        logs = subprocess.run([*IBT, "stacks", "logs", "--state-dir", state], env=env, capture_output=True,
                              text=True, timeout=60)
        assert "mcp-hub exited with signal SIGKILL; restart 1 in 0.5s (restart: unless-stopped)" in logs.stdout
        assert f"mcp-hub healthy again (pid {second})" in logs.stdout
        assert "supervisor | " in logs.stdout

        # A server posted before a requested restart is still there after it: the settings file is kept.
        added = httpx.post(f"{hub}/api/servers", json={"name": "probe", "type": "stdio", "command": "true",
                                                        "enabled": False}, timeout=10)
        assert added.json()["success"] is True
        seen |= tree_of(stack)
        restart = subprocess.run([*IBT, "stacks", "restart", "mcp-hub", "--state-dir", state], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert restart.returncode == 0, restart.stdout + restart.stderr
        third = stack.pid("mcp-hub")
        assert third not in (None, second)
        assert restart.stdout.strip().splitlines() == [restart.stdout.strip()]  # one line
        assert restart.stdout.startswith(f"mcp-hub restarted (pid {second} → {third}), healthy in ")
        assert httpx.get(f"{hub}/health", timeout=5).status_code == 200
        assert "probe" in hub_servers(hub)
        assert stack.service("mcp-hub")["restarts"] == 0, "a requested restart starts the count over"

        unknown = subprocess.run([*IBT, "stacks", "restart", "nope", "--state-dir", state], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert unknown.returncode == 1 and not unknown.stdout
        assert unknown.stderr.strip() == f"error: unknown service 'nope': the stack running from {state} has mcp-hub"

        seen |= tree_of(stack)
        stop = subprocess.run([*IBT, "stacks", "stop", "--state-dir", state], env=env, capture_output=True,
                              text=True, timeout=120)
        assert stop.returncode == 0 and "stopped mcp-hub" in stop.stdout
        assert_gone(list(seen), [stack.ports["mcp-hub"]])
        events = (stack.state_dir / "logs" / "supervisor.log").read_text()
        assert events.count("exited with") == 1, "the stop must not look like a crash, nor heal anything"


TRIO = """
    services:
      steady:
        image: python:3.11
        restart: always
        x-ibt:
          native:
            command: ["{py}", "-m", "http.server", "--bind", "127.0.0.1", "${{IBT_PORT_STEADY}}"]
            port: ${{IBT_PORT_STEADY}}
            health: http://127.0.0.1:${{IBT_PORT_STEADY}}/
      once:
        image: python:3.11
        restart: "no"
        x-ibt:
          native:
            command: ["{py}", "-m", "http.server", "--bind", "127.0.0.1", "${{IBT_PORT_ONCE}}"]
            port: ${{IBT_PORT_ONCE}}
            health: http://127.0.0.1:${{IBT_PORT_ONCE}}/
      wrapped:  # a shell and its server child: a kill -9 of the shell must not leave the child holding the port
        image: python:3.11
        restart: always
        x-ibt:
          native:
            command: ["sh", "-c", "{py} -m http.server --bind 127.0.0.1 ${{IBT_PORT_WRAPPED}} & wait"]
            port: ${{IBT_PORT_WRAPPED}}
            health: http://127.0.0.1:${{IBT_PORT_WRAPPED}}/
      flaky:  # up 2 s on its first start, then crashes; every later start crashes at once
        image: python:3.11
        restart: on-failure:2
        x-ibt:
          native:
            command: ["{py}", "-c", "{flaky}", "${{IBT_STATE}}/flaky.started"]
"""
FLAKY = ("import os, sys, time; first = not os.path.exists(sys.argv[1]); open(sys.argv[1], 'a').close(); "
         "time.sleep(2 if first else 0); sys.exit(3)")


@pytest.mark.slow
def test_policies_no_on_failure_and_always(stacks_tmp):
    (stacks_tmp / "trio").mkdir()
    (stacks_tmp / "trio" / "trio.local.yaml").write_text(textwrap.dedent(TRIO).format(py=sys.executable,
                                                                                       flaky=FLAKY))
    with running_native_stack("trio", stacks_dir=stacks_tmp) as stack:
        seen = tree_of(stack)
        log = stack.state_dir / "logs" / "supervisor.log"
        once = stack.kill("once")
        wait_for(lambda: stack.service("once")["state"] == "down", 10, "once marked down")
        wait_for(lambda: stack.service("flaky")["state"] == "down", 20, "flaky gave up")
        stack.wait_healthy("steady", timeout=5)  # the others keep running, as with compose
        events = log.read_text()
        assert "once exited with signal SIGKILL; it stays down: restart: no" in events
        assert "flaky exited with code 3; restart 1 in 0.5s (restart: on-failure:2)" in events
        assert "flaky exited with code 3; restart 2 in 1.0s (restart: on-failure:2)" in events  # backoff doubles
        assert "flaky exited with code 3; it stays down: gave up after 2 restarts" in events
        assert stack.pid("once") is None and stack.pid("flaky") is None
        assert not psutil.pid_exists(once) and stack.service("once")["last_exit"] == "signal SIGKILL"
        status = subprocess.run([*IBT, "stacks", "status", "--state-dir", str(stack.state_dir)], env=ibt_env(),
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 1 and "stopped" in status.stdout and "signal SIGKILL" in status.stdout

        shell = stack.pid("wrapped")
        orphan = descendants(shell)
        assert orphan, "the wrapped server is the shell's child"
        stack.kill("wrapped")
        new_shell = stack.wait_healthy("wrapped", not_pid=shell, timeout=15)
        assert_gone(orphan, [], timeout=5)  # the supervisor cleared what was left of the old process group
        assert descendants(new_shell) and httpx.get(stack.url("wrapped"), timeout=5).status_code == 200

        steady = stack.kill("steady")
        new_steady = stack.wait_healthy("steady", not_pid=steady, timeout=15)
        assert httpx.get(stack.url("steady"), timeout=5).status_code == 200
        back = stack.restart("once")  # a service that stayed down can be started again by hand
        assert back != once and httpx.get(stack.url("once"), timeout=5).status_code == 200
        seen |= tree_of(stack) | {psutil.Process(new_steady), psutil.Process(back)}
        ports = [stack.ports["steady"], stack.ports["once"], stack.ports["wrapped"]]
    assert_gone(list(seen), ports)


@pytest.mark.slow
def test_a_service_that_cannot_be_started_again_stays_down_alone(stacks_tmp):
    """Its env_file vanished after the first start: that service stays down, the supervisor and the rest go on."""
    (stacks_tmp / "pair").mkdir()
    (stacks_tmp / "pair" / "fragile.env").write_text("GREETING=hello\n")
    server = f'["{sys.executable}", "-m", "http.server", "--bind", "127.0.0.1"'
    (stacks_tmp / "pair" / "pair.local.yaml").write_text(textwrap.dedent(f"""
        services:
          steady:
            image: python:3.11
            restart: always
            x-ibt: {{native: {{command: {server}, "${{IBT_PORT_STEADY}}"], port: "${{IBT_PORT_STEADY}}"}}}}
          fragile:
            image: python:3.11
            restart: always
            env_file: fragile.env
            x-ibt: {{native: {{command: {server}, "${{IBT_PORT_FRAGILE}}"], port: "${{IBT_PORT_FRAGILE}}"}}}}
    """))
    with running_native_stack("pair", stacks_dir=stacks_tmp) as stack:
        (stacks_tmp / "pair" / "fragile.env").unlink()
        stack.kill("fragile")
        wait_for(lambda: stack.service("fragile")["state"] == "down", 10, "fragile marked down")
        events = (stack.state_dir / "logs" / "supervisor.log").read_text()
        assert "fragile cannot be started again; it stays down: fragile: env_file" in events
        assert stack.pid("steady") is not None and stack.state.read_run()["status"] == "healthy"
        failed = subprocess.run([*IBT, "stacks", "restart", "fragile", "--state-dir", str(stack.state_dir)],
                                env=ibt_env(), capture_output=True, text=True, timeout=60)
        assert failed.returncode == 1 and "fragile cannot be started again" in failed.stderr


@pytest.mark.slow
@pytest.mark.skipif(find_pg_bindir() is None, reason="PostgreSQL binaries not installed")
def test_killed_postgres_recovers_with_its_data(stacks_tmp):
    """kill -9 of the postmaster: its backends go, the new server replays the WAL and what was committed is there;
    `ibt stacks restart db` (SIGINT, PostgreSQL's fast shutdown) keeps it too."""
    (stacks_tmp / "pg").mkdir()
    (stacks_tmp / "pg" / "pg.local.yaml").write_text(textwrap.dedent("""
        services:
          db:
            image: postgres:15
            restart: on-failure
            environment: {POSTGRES_USER: probe, POSTGRES_PASSWORD: probe, POSTGRES_DB: probe}
            stop_signal: SIGINT
            x-ibt:
              native: {kind: postgres, port: "${IBT_PORT_DB}", data: "${IBT_STATE}/db/data"}
    """))
    with running_native_stack("pg", stacks_dir=stacks_tmp) as stack:
        port = stack.ports["db"]

        def sql(query: str) -> str:
            return subprocess.run([str(find_pg_bindir() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "probe",
                                   "-d", "probe", "-tAc", query], env={**ibt_env(), "PGPASSWORD": "probe"},
                                  check=True, capture_output=True, text=True, timeout=30).stdout.strip()

        sql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the crash')")
        postmaster = stack.pid("db")
        backends = descendants(postmaster)
        seen = tree_of(stack)
        psutil.Process(postmaster).kill()
        after_crash = stack.wait_healthy("db", not_pid=postmaster, timeout=60)
        assert sql("SELECT v FROM kept") == "before the crash"
        assert stack.service("db")["last_exit"] == "signal SIGKILL"
        after_restart = stack.restart("db")
        assert after_restart not in (postmaster, after_crash)
        assert sql("SELECT v FROM kept") == "before the crash"
        seen |= tree_of(stack)
    assert_gone([*seen, *backends], [port])


@pytest.mark.slow
def test_foreground_stack_restart_and_ctrl_c_heals_nothing():
    state, port = state_dir(), free_port()
    env = ibt_env(mcp_hub=port)
    proc = subprocess.Popen([*IBT, "stacks", "run", "mcp-hub", "--native", "--state-dir", str(state)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        stack = NativeStack(state)
        wait_for(lambda: (state / "run" / "stack.json").exists() and stack.pid("mcp-hub") is not None
                 and stack.service("mcp-hub")["healthy"], 60, "hub healthy", proc)
        first = stack.pid("mcp-hub")
        restart = subprocess.run([*IBT, "stacks", "restart", "mcp-hub", "--state-dir", str(state)], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert restart.returncode == 0, restart.stdout + restart.stderr
        second = stack.pid("mcp-hub")
        assert second != first and httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        tree = [psutil.Process(proc.pid), *descendants(proc.pid)]
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "mcp-hub restart requested" in out and f"mcp-hub healthy again (pid {second}" in out
        assert "exited with" not in out, "Ctrl+C must not be taken for a crash"
        events = (state / "logs" / "supervisor.log").read_text()
        assert "mcp-hub restart requested" in events and "exited with" not in events
        assert_gone(tree, [port])
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run([*IBT, "stacks", "stop", "--state-dir", str(state)], capture_output=True, timeout=120)
        import shutil

        shutil.rmtree(state, ignore_errors=True)
