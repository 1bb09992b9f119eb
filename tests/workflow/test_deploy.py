"""`deploy.py` as the README runs it: each failure is one clear line and exit 1; --deploy-only registers the deployment
and leaves the hub with the three servers connected (secrets redacted in its listing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from agentic.stacks.ports import free_port

AGENTIC = Path(__file__).resolve().parents[2] / "agentic"


def deploy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "JULES_API_KEY")}
    return subprocess.run([sys.executable, "deployment/deploy.py", *args], cwd=AGENTIC, capture_output=True,
                          text=True, timeout=180, env={**base, "COLUMNS": "200", **(env or {})})


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if "✗" in line]


def test_hub_down_is_one_line():
    proc = deploy("--mcp-hub-url", f"http://127.0.0.1:{free_port()}", "--prefect-api-url",
                  f"http://127.0.0.1:{free_port()}/api")
    assert proc.returncode == 1
    (line,) = error_lines(proc)
    assert "MCP hub not healthy" in line and "ibt stacks run mcp-hub" in line
    assert "Traceback" not in proc.stderr


def test_prefect_down_is_one_line(sandbox):
    proc = deploy("--mcp-hub-url", sandbox.hub_url, "--prefect-api-url", f"http://127.0.0.1:{free_port()}/api")
    assert proc.returncode == 1
    (line,) = error_lines(proc)
    assert "Prefect API not reachable" in line and "Traceback" not in proc.stderr


def test_missing_key_is_one_line_and_changes_nothing(sandbox, prefect_api_url):
    before = httpx.get(f"{sandbox.hub_url}/api/servers").json()["data"]
    proc = deploy("--mcp-hub-url", sandbox.hub_url, "--prefect-api-url", prefect_api_url,
                  env={"GITHUB_TOKEN": "", "JULES_API_KEY": sandbox.env["JULES_API_KEY"]})
    assert proc.returncode == 1
    (line,) = error_lines(proc)
    assert "GITHUB_TOKEN is not set" in line
    assert httpx.get(f"{sandbox.hub_url}/api/servers").json()["data"] == before


def test_deploy_only_preloads_servers_and_registers_the_deployment(sandbox, prefect_api_url):
    proc = deploy("--mcp-hub-url", sandbox.hub_url, "--prefect-api-url", prefect_api_url, "--deploy-only",
                  env={**{k: v for k, v in sandbox.env.items() if k != "MCP_SERVER_URL"},
                       "ARCHIVE_SWEEP_INTERVAL_SECONDS": "900"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The archive sweep beside it: on its schedule, one at a time; deleted again so no later test serves a due run.
    sweep = httpx.get(f"{prefect_api_url}/deployments/name/jules-archive-merged/jules-archive").json()
    try:
        assert [s["schedule"]["interval"] for s in sweep["schedules"]] == [900.0], sweep["schedules"]
        assert sweep["global_concurrency_limit"]["limit"] == 1, sweep
        assert "jules-archive-merged/jules-archive (every 900 s)" in proc.stderr  # the console writes to stderr
    finally:
        httpx.delete(f"{prefect_api_url}/deployments/{sweep['id']}").raise_for_status()
    servers = httpx.get(f"{sandbox.hub_url}/api/servers").json()["data"]
    assert {s["name"]: s["status"] for s in servers} == {"github": "connected", "github-rest": "connected",
                                                         "jules": "connected"}
    listing = httpx.get(f"{sandbox.hub_url}/api/servers").text + httpx.get(f"{sandbox.hub_url}/api/settings").text
    for secret in (sandbox.env["GITHUB_TOKEN"], sandbox.env["JULES_API_KEY"]):
        assert secret not in listing and secret not in proc.stderr + proc.stdout
    deployment = httpx.get(f"{prefect_api_url}/deployments/name/jules-agent-workflow/jules-agent-deployment")
    assert deployment.status_code == 200
    assert set(deployment.json()["tags"]) == {"jules", "github"}
    assert "github_issue_url" in deployment.json()["parameter_openapi_schema"]["properties"]
    # Its automation: an expired wait of one of its runs starts a reconciling run (plan_approval.expired_wait_trigger).
    automations = httpx.get(f"{prefect_api_url}/automations/related-to/prefect.deployment.{deployment.json()['id']}")
    (expiry,) = [a for a in automations.json() if a["name"] == "a wait on people ran out"]
    assert expiry["trigger"]["expect"] == ["prefect.flow-run.Failed"] and expiry["enabled"]
    assert expiry["actions"][0]["parameters"]["wait_expired"] is True
    # Secrets are settings, never flow parameters.
    assert not {"github_token", "jules_api_key"} & set(deployment.json()["parameter_openapi_schema"]["properties"])
