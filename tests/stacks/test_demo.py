"""`ibt demo` as a user runs it: a real subprocess, its own state dir, free ports. A first run leaves the stack up
with a pull request made in the simulator; a second run on the same state reuses the stack, reports the issue as
already handled (still exit 0) and, with `--stop`, leaves nothing behind."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

import httpx
import psutil
import pytest

from agentic.stacks.ports import free_port, port_holder
from tests.stacks.conftest import IBT, assert_gone, ibt_env, state_dir

pytestmark = pytest.mark.slow

PR_LINE = re.compile(r"pull request\s+(https://github\.com/acme/widgets/pull/(\d+))")


@pytest.fixture
def state():
    path = state_dir()
    yield path
    subprocess.run([*IBT, "stacks", "stop", "--state-dir", str(path)], capture_output=True, timeout=120)
    shutil.rmtree(path, ignore_errors=True)


def test_demo_makes_a_pull_request_and_reruns_cleanly(state):
    ports = {name: free_port() for name in ("postgres", "prefect", "mcp_hub", "github_sim", "jules_sim")}
    env = ibt_env(**ports)
    first = subprocess.run([*IBT, "demo", "--state-dir", str(state)], env=env, capture_output=True, text=True,
                           timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    match = PR_LINE.search(first.stdout)
    assert match, first.stdout
    # The pull request exists in the GitHub simulator (the stack is still up), and closes the demo issue.
    pr = httpx.get(f"http://127.0.0.1:{ports['github_sim']}/repos/acme/widgets/pulls/{match[2]}",
                   headers={"Authorization": "Bearer sim-token-agent"}, timeout=10).json()
    assert re.search(r"\b(?:Fixes|Closes|Resolves) #1\b", pr["body"] or "", re.IGNORECASE), pr
    assert f"http://127.0.0.1:{ports['prefect']}/runs/flow-run/" in first.stdout
    assert "Pull request ready" in first.stdout  # the status comment fetched from the simulator
    run = json.loads((state / "run" / "stack.json").read_text())
    supervisor = psutil.Process(run["supervisor"]["pid"])
    tree = [supervisor, *supervisor.children(recursive=True)]

    again = subprocess.run([*IBT, "demo", "--stop", "--state-dir", str(state)], env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already handled" in again.stdout and match[1] in again.stdout
    assert not (state / "run" / "stack.json").exists()
    assert_gone(tree, list(ports.values()))


def test_demo_busy_port_is_one_clear_line(state):
    ports = {name: free_port() for name in ("postgres", "prefect", "mcp_hub", "github_sim", "jules_sim")}
    blocker = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1", str(ports["mcp_hub"])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_holder(ports["mcp_hub"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        result = subprocess.run([*IBT, "demo", "--stop", "--state-dir", str(state)], env=ibt_env(**ports),
                                capture_output=True, text=True, timeout=60)
    finally:
        blocker.terminate()
        blocker.wait(10)
    assert result.returncode == 1
    assert f"port {ports['mcp_hub']}" in result.stderr and "held by" in result.stderr, result.stderr
    assert_gone([], [p for name, p in ports.items() if name != "mcp_hub"])
