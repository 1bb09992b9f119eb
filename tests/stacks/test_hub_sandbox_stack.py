"""The hub and the simulators through `ibt` (native, detached): healthy on their `health` URLs, then stopped.

Before the hub existed this stack had to fail clearly instead; that branch is kept so the requirement stays tested
on checkouts without `agentic.hub`."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess

import httpx
import psutil
import pytest

from agentic.stacks.ports import free_port
from tests.stacks.conftest import IBT, assert_gone, ibt_env, state_dir

pytestmark = pytest.mark.slow

HUB_PRESENT = importlib.util.find_spec("agentic.hub.__main__") is not None
SIMS_PRESENT = all(importlib.util.find_spec(m) for m in ("agentic.sandbox.github.__main__",
                                                          "agentic.sandbox.jules.__main__"))


@pytest.fixture
def state():
    path = state_dir()
    yield path
    subprocess.run([*IBT, "stacks", "stop", "--state-dir", str(path)], capture_output=True, timeout=120)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(not SIMS_PRESENT, reason="simulators not built yet")
def test_hub_and_sandbox_come_up_and_stop(state):
    ports = {"mcp_hub": free_port(), "github_sim": free_port(), "jules_sim": free_port()}
    env = ibt_env(**ports)
    up = subprocess.run([*IBT, "stacks", "run", "mcp-hub", "sandbox", "-d", "--state-dir", str(state)], env=env,
                        capture_output=True, text=True, timeout=180)
    if not HUB_PRESENT:
        assert up.returncode == 1
        assert "mcp-hub exited with code" in up.stderr and "No module named agentic.hub" in up.stderr
        assert_gone([], list(ports.values()))
        return
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
