"""The hub and the simulators through `ibt --native -d` (an engine may answer here: native is said, not assumed):
healthy on their `health` URLs, then stopped."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import psutil
import pytest

from agentic.stacks.ports import free_port
from tests.stacks.conftest import IBT, assert_gone, ibt_env, state_dir

pytestmark = pytest.mark.slow


@pytest.fixture
def state():
    path = state_dir()
    yield path
    subprocess.run([*IBT, "stacks", "stop", "--state-dir", str(path)], capture_output=True, timeout=120)
    shutil.rmtree(path, ignore_errors=True)


def test_hub_and_sandbox_come_up_and_stop(state):
    ports = {"mcp_hub": free_port(), "github_sim": free_port(), "jules_sim": free_port()}
    env = ibt_env(**ports)
    up = subprocess.run([*IBT, "stacks", "run", "mcp-hub", "sandbox", "--native", "-d", "--state-dir", str(state)], env=env,
                        capture_output=True, text=True, timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    run = json.loads((state / "run" / "stack.json").read_text())
    supervisor = psutil.Process(run["supervisor"]["pid"])
    tree = [supervisor, *supervisor.children(recursive=True)]
    assert httpx.get(f"http://127.0.0.1:{ports['mcp_hub']}/health", timeout=5).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{ports['github_sim']}/_sim/health", timeout=5).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{ports['jules_sim']}/_sim/health", timeout=5).status_code == 200
    assert (state / "mcp-hub" / "mcp_settings.json").exists(), "the hub's settings are seeded into the state dir"
    stop = subprocess.run([*IBT, "stacks", "stop", "--state-dir", str(state)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert stop.returncode == 0
    assert_gone(tree, list(ports.values()))
