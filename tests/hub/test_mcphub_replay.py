"""The hub client against real mcphub behaviour, replayed (issue #14).

tests/hub/mcphub/old-ae3fe1c.json was recorded from the real mcphub build of 2025-05-17 by compat.py
(scripts/mcphub_compat.sh); newest.json is mcphub's current source, read route by route (files and commits cited in
it). `fake.py` answers as those transcripts say — the first test replays every recorded request against it and
fails on any difference — and the client, deploy.py's preload and the flow's tool calls run against the fake. A
change that breaks an mcphub user (Bearer instead of x-auth-token, a login that stops at the first 401, trusting
an HTML /health, a per-server GET, an openapi server the hub cannot host, a body over its limit, prefixed tool
names on a hub that has none) fails here.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import uvicorn

from agentic.deployment.servers import GITHUB_REST_OPERATIONS, body_size, fit_body_limit
from agentic.errors import ConfigError
from agentic.hub.client import AsyncHubClient, HubAuthRequired, HubClient, UnsupportedServerType
from agentic.schemas import load_server_definition
from agentic.settings import Settings
from agentic.stacks.ports import free_port
from agentic.hub.mcp_client import HubTools, resolve_tool_name
from tests.hub.mcphub.fake import FakeMcphub, load_transcript, recorded_tools

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("ae3fe1c", "newest")


@contextlib.contextmanager
def serving(fake: FakeMcphub) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _normal(value: Any) -> Any:
    """Volatile parts of an answer (tokens, times) as the transcripts write them."""
    if isinstance(value, dict):
        out = {k: ("<jwt>" if k == "token" else "<iso>" if k == "timestamp" else 0 if k == "createTime"
                   else "<bcrypt>" if k == "password" else _normal(v)) for k, v in value.items()}
        if "tools" in out and isinstance(out["tools"], list):
            out["tools"] = sorted(t.get("name") for t in out["tools"])
        out.pop("config", None), out.pop("owner", None), out.pop("prompts", None)
        return out
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


@pytest.mark.parametrize("profile", PROFILES)
def test_fake_answers_every_recorded_request_as_recorded(profile):
    transcript = load_transcript(profile)
    fake = FakeMcphub(profile)
    with serving(fake) as url, httpx.Client(base_url=url, timeout=10) as http:
        jwt = None
        for exchange in transcript["exchanges"]:
            request, expected = exchange["request"], exchange["response"]
            if exchange["name"] == "servers-connected":  # the real hub got these from deploy.py
                fake.servers.update({name: {"type": "stdio"} for name in recorded_tools(transcript)})
            headers = {"x-auth-token": jwt} if request["auth"] == "x-auth-token" else \
                {"Authorization": f"Bearer {jwt}"} if request["auth"] == "bearer-jwt" else {}
            if "json" in request:
                body: Any = request["json"]
            elif exchange["name"].startswith("post-"):
                name = exchange["name"].removeprefix("post-")
                body = {"name": name, "config": load_server_definition(name)["config"]}  # type: ignore[arg-type]
            elif exchange["name"] == "duplicate-post":
                body = {"name": "github", "config": {"type": "stdio", "command": "npx", "args": ["-y", "x"]}}
            else:
                body = None
            response = http.request(request["method"], request["path"], json=body, headers=headers)
            where = f"{profile} {exchange['name']}: {request['method']} {request['path']}"
            assert response.status_code == expected["status"], where
            assert response.headers["content-type"].split(";")[0] == expected["content_type"], where
            if "json" in expected:
                assert _normal(response.json()) == _normal(expected["json"]), where
            if expected["content_type"] == "application/json" and response.json().get("token"):
                jwt = response.json()["token"]


def _settings(url: str, **extra: Any) -> Settings:
    return Settings(_env_file=None, mcp_server_url=url, github_token="ghp_" + "t" * 36,  # type: ignore[call-arg]
                    jules_api_key="jules-key", github_api_url="http://127.0.0.1:9", mcp_hub_username="admin",
                    mcp_hub_password="admin123", **extra)


def test_old_build_capabilities_and_credentials():
    fake = FakeMcphub("ae3fe1c")
    with serving(fake) as url:
        with pytest.raises(HubAuthRequired, match="MCP_HUB_USERNAME and MCP_HUB_PASSWORD"):
            HubClient(url).health()  # 401 is a login to do, never "healthy"
        with pytest.raises(HubAuthRequired, match="login as 'admin'.*failed"):
            HubClient(url, username="admin", password="wrong").list_servers()
        client = HubClient(url, username="admin", password="admin123")
        assert client.health()["via"] == "/api/servers"  # /health is the dashboard's HTML there
        caps = client.capabilities()
        assert (caps.health_route, caps.auth, caps.login_path, caps.body_limit, caps.openapi) == \
            (False, "x-auth-token", "/auth/login", 100 * 1024, False)
        sent = [headers for method, path, headers in fake.requests if headers.get("x-auth-token")]
        assert sent and all("authorization" not in h for h in sent)
        # A JWT copied from the dashboard works as MCP_HUB_TOKEN: mcphub reads it from x-auth-token.
        assert HubClient(url, next(iter(fake.jwts))).list_servers() == []

        async def async_health() -> dict[str, Any]:
            async with AsyncHubClient(url, username="admin", password="admin123") as hub:
                return await hub.health()

        assert asyncio.run(async_health())["via"] == "/api/servers"


def test_deploy_on_the_old_build_preloads_github_then_says_why_not_the_rest():
    fake = FakeMcphub("ae3fe1c")
    from agentic.deployment import deploy

    with serving(fake) as url:
        with pytest.raises(typer.Exit) as exit_:
            deploy.preload_servers(_settings(url))
        assert exit_.value.exit_code == 1
        assert list(fake.servers) == ["github"]  # nothing refused half-added, no 400 on an openapi POST
        assert fake.servers["github"]["type"] == "stdio"
        assert not [p for m, p, _ in fake.requests if m == "GET" and p.startswith("/api/servers/")]
        with pytest.raises(UnsupportedServerType, match="upgrade mcphub.*MCP_OPENAPI_HUB_URL"):
            HubClient(url, username="admin", password="admin123").upsert_server(
                "jules", load_server_definition("jules")["config"])


def test_deploy_on_the_old_build_bridges_the_openapi_servers_from_a_hub_that_has_the_type():
    old, other = FakeMcphub("ae3fe1c"), FakeMcphub("newest")
    from agentic.deployment import deploy

    with serving(old) as url, serving(other) as openapi_url:
        deploy.preload_servers(_settings(url, mcp_openapi_hub_url=openapi_url))
        assert list(old.servers) == ["github", "agentic-openapi"]
        assert old.servers["agentic-openapi"] == {"type": "streamable-http", "url": f"{openapi_url}/mcp"}
        assert set(other.servers) == {"github-rest", "jules"}


def test_deploy_on_the_newest_source_preloads_all_three_with_its_login():
    fake = FakeMcphub("newest")
    from agentic.deployment import deploy

    with serving(fake) as url:
        deploy.preload_servers(_settings(url))
        assert list(fake.servers) == ["github", "github-rest", "jules"]
        caps = HubClient(url, username="admin", password="admin123").capabilities()
        assert (caps.health_route, caps.login_path, caps.openapi, caps.tool_prefix) == \
            (True, "/api/auth/login", True, True)
        # under the 1 MB limit the whole github-rest document goes, not a pruned one
        assert len(fake.servers["github-rest"]["openapi"]["schema"]["paths"]) == \
            len(load_server_definition("github-rest")["config"]["openapi"]["schema"]["paths"])


def test_a_hub_with_the_openapi_type_and_a_100_kb_limit_gets_github_rest_pruned():
    """mcphub between the two: `openapi` known, Express's fixed 100 KB limit answered with 500 (issue #14)."""
    fake = FakeMcphub("newest")
    fake.body_limit = 100 * 1024
    from agentic.deployment import deploy

    with serving(fake) as url:
        deploy.preload_servers(_settings(url))
        schema = fake.servers["github-rest"]["openapi"]["schema"]
        ops = {op["operationId"] for item in schema["paths"].values() for op in item.values()
               if isinstance(op, dict) and "operationId" in op}
        assert ops == GITHUB_REST_OPERATIONS
        assert body_size("github-rest", fake.servers["github-rest"]) <= 100 * 1024


def test_pruned_definition_keeps_every_operation_the_flow_calls_and_resolves_every_ref():
    called = set(re.findall(r'tool\("(\w+)"\)', (ROOT / "agentic/github/client.py").read_text()))
    assert called and called <= GITHUB_REST_OPERATIONS
    config, note = fit_body_limit("github-rest", load_server_definition("github-rest")["config"], 100 * 1024)
    assert note and "pruned" in note
    schema = config["openapi"]["schema"]
    text = str(schema)
    for ref in set(re.findall(r"#/components/(\w+)/([\w.-]+)", text)):
        assert ref[1] in schema["components"][ref[0]], ref
    with pytest.raises(ConfigError, match="body limit"):
        fit_body_limit("github-rest", load_server_definition("github-rest")["config"], 10 * 1024)


@pytest.mark.parametrize(("wanted", "listed", "expected"), [
    ("github-get_issue", ["get_issue", "github-rest-getIssue"], "get_issue"),  # old build: bare names
    ("github-rest-getIssue", ["get_issue", "github-rest-getIssue"], "github-rest-getIssue"),  # bridged, exact
    ("jules-getSession", ["agentic-openapi-jules-getSession"], "agentic-openapi-jules-getSession"),  # prefixed
    ("github-get_issue", ["github-get_issue", "get_issue"], "github-get_issue"),  # exact wins
    ("github-rest-getIssue", ["getIssue"], "getIssue"),
    ("x-run", ["a-run", "b-run"], None),  # ambiguous: refuse to guess
    ("github-get_issue", ["get_issue_comments"], None),
])
def test_tool_name_resolution(wanted, listed, expected):
    assert resolve_tool_name(wanted, listed) == expected


@pytest.mark.parametrize("profile", PROFILES)
def test_flow_tool_calls_reach_the_tool_whatever_the_hub_names_it(profile):
    fake = FakeMcphub(profile)
    fake.servers.update({name: {"type": "stdio"} for name in recorded_tools(fake.transcript)})

    async def scenario(url: str) -> tuple[Any, Any]:
        hub = HubTools(f"{url}/mcp", reconnect_seconds=5)
        await hub.connect(budget=5)
        try:
            first = await hub.call("github-get_issue", {"owner": "acme", "repo": "widgets", "issue_number": 1})
            second = await hub.call("github-get_issue", {"owner": "acme", "repo": "widgets", "issue_number": 2})
            return first, second
        finally:
            await hub.close()

    with serving(fake) as url:
        first, second = asyncio.run(scenario(url))
    hub_name = "get_issue" if profile == "ae3fe1c" else "github-get_issue"
    assert first["tool"] == second["tool"] == hub_name
    assert second["arguments"]["issue_number"] == 2
    # old build: one refused call, then the hub's name for good; newest: exact at once
    assert fake.mcp_calls == (["github-get_issue", "get_issue", "get_issue"] if profile == "ae3fe1c"
                              else ["github-get_issue"] * 2)


def test_a_moved_api_is_in_the_document_too_since_mcphub_ignores_base_url():
    from agentic.deployment.servers import hub_server_definitions

    definitions = hub_server_definitions(_settings("http://127.0.0.1:9", jules_api_url="http://127.0.0.1:8/v1alpha"))
    assert definitions["github-rest"]["openapi"]["schema"]["servers"] == [{"url": "http://127.0.0.1:9"}]
    assert definitions["jules"]["openapi"]["schema"]["servers"] == [{"url": "http://127.0.0.1:8/v1alpha"}]
    assert definitions["jules"]["openapi"]["baseUrl"] == "http://127.0.0.1:8/v1alpha"
