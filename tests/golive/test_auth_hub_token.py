"""The hub's token, on by default outside the sandbox: the stack's hub generates it on first start (0600, printed
once, kept), requires it on /api and /mcp; the sandbox's runs (simulators in the stack) keep an open hub."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agentic.stacks.compose import Stack, default_stacks_dir
from agentic.stacks.native import plan, runner_variables
from agentic.stacks.ports import free_port
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _hub_argv(stacks: list[str], tmp_path: Path, **environ: str) -> list[str]:
    services = plan(Stack.load(stacks, default_stacks_dir()), runner_variables(tmp_path, ROOT, environ=environ))
    return next(s.argv for s in services if s.name == "mcp-hub")


@pytest.mark.slow
def test_the_stack_hub_generates_its_token_and_logs_it_privately(golive):
    stack = golive.native  # `ibt stacks run prefect mcp-hub` as outside the sandbox (tests/golive/conftest.py)
    token_file = stack.state_dir / "mcp-hub" / "token"
    token = token_file.read_text().strip()
    log = stack.state.log("mcp-hub")
    assert stat.S_IMODE(token_file.stat().st_mode) == stat.S_IMODE(log.stat().st_mode) == 0o600
    assert log.read_text().count(token) == 1
    hub = stack.url("mcp-hub")
    assert httpx.get(f"{hub}/api/servers", timeout=10).status_code == 401
    assert httpx.get(f"{hub}/api/servers", headers={"Authorization": f"Bearer {token}"},
                     timeout=10).status_code == 200


def test_the_stack_hub_has_a_token_file_unless_the_sandbox_runs_with_it(tmp_path):
    alone = _hub_argv(["mcp-hub"], tmp_path)
    assert alone[alone.index("--token-file") + 1] == "token"
    with_sandbox = _hub_argv(["prefect", "mcp-hub", "sandbox"], tmp_path)
    assert with_sandbox[with_sandbox.index("--token-file") + 1] == ""
    chosen = _hub_argv(["mcp-hub", "sandbox"], tmp_path, IBT_HUB_TOKEN_FILE="token")
    assert chosen[chosen.index("--token-file") + 1] == "token"


def _start_hub(tmp_path: Path, port: int) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"hub-{port}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("MCP_HUB_TOKEN", "MCP_HUB_TOKEN_FILE")}
    proc = start_process([sys.executable, "-m", "agentic.hub", "--port", str(port), "--settings",
                          str(tmp_path / "mcp_settings.json"), "--token-file", "token"], env=env, log_path=log)
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), timeout=60, what="hub", proc=proc, log_path=log)
    return proc, log


def test_generated_once_0600_printed_once_and_required_on_api_and_mcp(tmp_path):
    port = free_port()
    proc, log = _start_hub(tmp_path, port)
    try:
        token = (tmp_path / "token").read_text().strip()
        assert len(token) >= 40 and stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600
        hub = f"http://127.0.0.1:{port}"
        mcp = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        accept = {"Accept": "application/json, text/event-stream"}
        assert httpx.get(f"{hub}/api/servers", timeout=10).status_code == 401
        assert httpx.get(f"{hub}/api/secrets", timeout=10).status_code == 401
        assert httpx.post(f"{hub}/mcp", json=mcp, headers=accept, timeout=10).status_code == 401
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{hub}/api/servers", headers=bearer, timeout=10).status_code == 200
        assert httpx.post(f"{hub}/mcp", json=mcp, headers={**accept, **bearer}, timeout=10).status_code == 200
    finally:
        stop_process(proc)
    assert log.read_text().count(token) == 1
    proc, log = _start_hub(tmp_path, free_port())  # second start: the same token, not shown again
    stop_process(proc)
    assert (tmp_path / "token").read_text().strip() == token and token not in log.read_text()


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_readable_token_file_is_tightened(tmp_path, mode):
    from agentic.hub.auth import token_from_file

    path = tmp_path / "token"
    path.write_text("kept-token\n")
    os.chmod(path, mode)
    assert token_from_file(path) == ("kept-token", False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_clients_use_the_stack_hubs_token_file_only_for_a_local_hub(tmp_path):
    from agentic.secret_blocks import with_secret_blocks_sync
    from agentic.settings import Settings

    (tmp_path / "mcp-hub").mkdir()
    (tmp_path / "mcp-hub" / "token").write_text("local-hub-token\n")
    local = Settings(_env_file=None, state_dir=tmp_path, secret_blocks=False, mcp_server_url="http://127.0.0.1:3000")
    assert with_secret_blocks_sync(local).mcp_hub_token.get_secret_value() == "local-hub-token"
    remote = local.model_copy(update={"mcp_server_url": "https://hub.example.com"})
    assert with_secret_blocks_sync(remote).mcp_hub_token is None
    given = Settings(_env_file=None, state_dir=tmp_path, secret_blocks=False, mcp_hub_token="set-by-team")
    assert with_secret_blocks_sync(given).mcp_hub_token.get_secret_value() == "set-by-team"
