"""Keys only in Prefect Secret blocks (none in the environment): the sandbox run completes, the hub's definitions
name the keys (`${GITHUB_TOKEN}`) instead of holding them, and a scan of everything a run leaves finds none."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import httpx
import pytest

from agentic.deployment.servers import hub_server_definitions
from agentic.hub.secret_refs import fingerprint, resolvable
from agentic.settings import Settings
from tests.golive.conftest import AUTH, KEYS

pytestmark = pytest.mark.slow


def test_no_key_in_the_product_environment(golive):
    assert not any(golive.env.get(var) for var in KEYS)
    assert not any(os.environ.get(var) for var in KEYS)


def test_hub_settings_reference_the_keys(golive):
    stored = json.loads((golive.sandbox.workdir / "mcp_settings.json").read_text())["mcpServers"]
    assert stored["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == "${GITHUB_TOKEN}"
    assert "${JULES_API_KEY}" in json.dumps(stored["jules"]["openapi"]["security"])
    listing = httpx.get(golive.sandbox.hub_url + "/api/secrets", timeout=10).json()["data"]
    assert {var: listing[var]["source"] for var in KEYS} == {var: "prefect-block" for var in KEYS}
    assert listing["GITHUB_TOKEN"]["fingerprint"] == fingerprint(KEYS["GITHUB_TOKEN"])


def test_a_run_with_keys_only_in_blocks_completes_and_leaks_nothing(golive):
    result = golive.result
    assert not isinstance(result, BaseException), result
    assert result.status == "completed" and result.pull_request_url, result
    from agentic.stacks.prefect_server import drain_client_workers

    drain_client_workers()  # the run's logs reach the API before they are read
    haystack = asyncio.run(_everything_a_run_leaves(golive))
    leaks = [(name, where) for where, text in haystack for name, key in KEYS.items() if key in text]
    kinds = {where.split()[0] for where, _ in haystack}
    assert {"log", "artifact", "task", "variable", "comments", "hub", "parameters"} <= kinds, kinds
    assert leaks == []


async def _everything_a_run_leaves(golive) -> list[tuple[str, str]]:
    from prefect import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter,
                                                FlowRunFilterId, LogFilter, LogFilterFlowRunId)

    sandbox, hub = golive.sandbox, golive.sandbox.hub_url
    with sandbox.github() as gh:
        comments = gh.get(f"/repos/acme/widgets/issues/{golive.number}/comments", params={"per_page": 100}).json()
        pulls = gh.get("/repos/acme/widgets/pulls", params={"state": "all", "per_page": 100}).text
    found = [("comments", json.dumps(comments)), ("pulls", pulls), ("result", repr(golive.result))]
    for path in ("/api/servers", "/api/settings", "/api/logs", "/api/secrets"):
        found.append((f"hub {path}", httpx.get(hub + path, timeout=10).text))
    found += [(f"hub file {p.name}", p.read_text(errors="replace")) for p in sandbox.workdir.iterdir() if p.is_file()]
    for log in golive.native.state_dir.rglob("*.log"):
        found.append((f"stack log {log.name}", log.read_text(errors="replace")))
    run_id = golive.run_id
    async with get_client() as client:
        run = await client.read_flow_run(run_id)
        found += [("flow run", run.model_dump_json()), ("parameters", json.dumps(run.parameters, default=str))]
        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                                      limit=200)
        found += [("log", log.message) for log in logs]
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
        found += [(f"artifact {a.key}", json.dumps(a.data, default=str)) for a in artifacts]
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        found += [(f"task {t.name}", t.model_dump_json()) for t in tasks]
        variables = await client.read_variables()
        found += [(f"variable {v.name}", json.dumps(v.value, default=str)) for v in variables]
    return found


def test_definitions_use_values_when_the_hub_cannot_resolve_them():
    settings = Settings(_env_file=None, github_token="ghp_" + "a" * 36, jules_api_key="jk-1234567890")
    clear = hub_server_definitions(settings)
    assert clear["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == "ghp_" + "a" * 36
    refs = resolvable({"GITHUB_TOKEN": {"fingerprint": fingerprint("ghp_" + "a" * 36)},
                       "JULES_API_KEY": {"fingerprint": fingerprint("another value")}},
                      {"GITHUB_TOKEN": "ghp_" + "a" * 36, "JULES_API_KEY": "jk-1234567890"})
    assert refs == {"GITHUB_TOKEN"}  # the hub's JULES_API_KEY differs: that one is sent as a value
    mixed = hub_server_definitions(settings, refs)
    assert mixed["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == "${GITHUB_TOKEN}"
    assert "jk-1234567890" in json.dumps(mixed["jules"]) and "ghp_" not in json.dumps(mixed)


def test_blocks_win_over_the_environment_and_store_secrets_writes_them(golive):
    """`deploy.py --store-secrets` creates/updates the blocks from the environment; the flow's settings then
    take the block's value even when the environment holds another."""
    import subprocess
    import sys

    from agentic.secret_blocks import with_secret_blocks_sync
    from agentic.testing import environment

    env = {**golive.env, "OPENAI_API_KEY": "sk-golive-" + "b" * 20, "AGENTIC_ENV_FILE": os.devnull}
    done = subprocess.run([sys.executable, "-m", "agentic.cli", "deploy", "--store-secrets", "--skip-mcp-preload",
                           "--deploy-only"], env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "openai-api-key" in done.stderr and "sk-golive-" not in done.stdout + done.stderr
    with environment({**env, "OPENAI_API_KEY": "sk-stale-" + "c" * 20}):
        settings = with_secret_blocks_sync(Settings(_env_file=None))
    assert settings.openai_api_key.get_secret_value() == "sk-golive-" + "b" * 20
    assert settings.github_token.get_secret_value() == KEYS["GITHUB_TOKEN"]
    basic = base64.b64encode(AUTH.encode()).decode()
    gone = httpx.get(f"{golive.api_url}/block_types/slug/secret/block_documents/name/openai-api-key",
                     headers={"Authorization": f"Basic {basic}"}, timeout=10)
    assert gone.status_code == 200 and "sk-golive-" not in gone.text  # the API obfuscates without include_secrets


def test_a_restarted_hub_resolves_the_referenced_keys_from_the_blocks_at_start(golive, tmp_path):
    """The settings file holds `${JULES_API_KEY}` only: a new hub process on it (no key in its environment) reads
    the block before connecting, so its Jules tools authenticate; without the block's key Jules says 401/403."""
    import shutil
    import sys

    from agentic.stacks.ports import free_port
    from agentic.stacks.process import http_ok, start_process, stop_process, wait_until

    settings = tmp_path / "mcp_settings.json"
    shutil.copyfile(golive.sandbox.workdir / "mcp_settings.json", settings)
    stored = json.loads(settings.read_text())
    stored["mcpServers"] = {"jules": stored["mcpServers"]["jules"]}  # the openapi server alone: quick to connect
    settings.write_text(json.dumps(stored))

    def call(env: dict[str, str]) -> dict:
        port, log = free_port(), tmp_path / "hub.log"
        proc = start_process([sys.executable, "-m", "agentic.hub", "--port", str(port), "--settings", str(settings)],
                             env={**os.environ, **env}, log_path=log)
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), timeout=60, what="hub", proc=proc,
                       log_path=log)
            return httpx.post(f"http://127.0.0.1:{port}/api/tools/call/jules", json={"toolName": "listSources"},
                              timeout=60).json()["data"]
        finally:
            stop_process(proc)

    answered = call(golive.env)
    assert answered["isError"] is False and "acme/widgets" in json.dumps(answered["content"]), answered
    refused = call({**golive.env, "PREFECT_API_URL": ""})  # no block store: ${JULES_API_KEY} expands to ''
    assert refused["isError"] is True
