"""DNS-rebinding protection (issue #25 item 3): `/api` and `/mcp` answer only to allowed Host and Origin names.

The hub in this process (the guard is its outermost middleware); plain HTTP for the refusals (a rebinding page is a
browser, not an MCP client); a real hub process for the names the MCP SDK's clients send.
"""

from __future__ import annotations

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agentic.hub.hosts import HostPolicy, host_name
from agentic.testing.inprocess import HUB_BASE_URL, InProcessHub, hub_in_process

TOKEN = "hub-token-for-host-tests-0123456789"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _headers(host: str | None = None, origin: str | None = None, token: str | None = None) -> dict[str, str]:
    return {**({"Host": host} if host else {}), **({"Origin": origin} if origin else {}),
            **({"Authorization": f"Bearer {token}"} if token else {})}


def _get(hub: InProcessHub, path: str, host: str | None = None, origin: str | None = None,
         token: str | None = None) -> httpx.Response:
    return hub.http.get(path, headers=_headers(host, origin, token))


def _initialize(hub: InProcessHub, path: str = "/mcp", host: str | None = None, origin: str | None = None,
                token: str | None = None) -> httpx.Response:
    return hub.http.post(path, json=INIT, headers={**MCP_HEADERS, **_headers(host, origin, token)})


@pytest.fixture(scope="module")
def open_hub(tmp_path_factory):
    """The default: bound to 127.0.0.1, no token — the hub a rebinding page would reach (in this process: the
    host guard is the app's middleware; the SDK test below reaches a real process)."""
    with hub_in_process(tmp_path_factory.mktemp("hosts") / "mcp_settings.json") as hub:
        yield hub


def test_a_foreign_host_is_refused_on_api_and_mcp(open_hub):
    port = HUB_BASE_URL.rsplit(":", 1)[1]
    api = _get(open_hub, "/api/servers", host=f"evil.example:{port}")
    assert api.status_code == 421
    assert api.json() == {"success": False, "message": api.json()["message"]}
    assert "'evil.example:" in api.json()["message"] and "MCP_HUB_ALLOWED_HOSTS" in api.json()["message"]
    mcp = _initialize(open_hub, host="evil.example")
    assert mcp.status_code == 421 and mcp.json()["error"]["code"] == -32600
    assert "DNS-rebinding" in mcp.json()["error"]["message"]
    assert _initialize(open_hub, "/mcp/echo", host="evil.example").status_code == 421
    assert _get(open_hub, "/health", host="evil.example").status_code == 200  # health checks stay open


def test_a_foreign_origin_is_refused_even_with_an_allowed_host(open_hub):
    refused = _get(open_hub, "/api/servers", origin="http://evil.example")
    assert refused.status_code == 403 and "'http://evil.example'" in refused.json()["message"]
    assert _initialize(open_hub, origin="https://evil.example:443").status_code == 403
    assert _initialize(open_hub, origin="null").status_code == 403


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST."])
def test_loopback_names_and_same_origin_pass(open_hub, name):
    port = HUB_BASE_URL.rsplit(":", 1)[1]
    assert _get(open_hub, "/api/servers", host=f"{name}:{port}").status_code == 200
    assert _get(open_hub, "/api/servers", origin=f"http://{name}:{port}").status_code == 200
    assert _initialize(open_hub, host=f"{name}:{port}").status_code == 200


async def test_mcp_sdk_clients_on_loopback_names_keep_working(tmp_path, hub_tools):
    """A real process: the SDK's own Host and Origin headers, over a socket."""
    with hub_tools.running_hub(tmp_path / "mcp_settings.json", args=["--host", "127.0.0.1"]) as running:
        for url in (running.mcp_url, running.mcp_url.replace("127.0.0.1", "localhost")):
            async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                assert (await session.list_tools()).tools == []


def test_configured_names_are_allowed_and_only_those(tmp_path):
    """Docker's service name and a production name, by flag; a wildcard bind with no token takes only those."""
    with hub_in_process(tmp_path / "mcp_settings.json", bind_host="0.0.0.0",
                        allowed_hosts="mcp-hub, hub.example.com") as hub:
        for name in ("mcp-hub:3000", "hub.example.com", "127.0.0.1"):
            assert _get(hub, "/api/servers", host=name).status_code == 200, name
        assert _initialize(hub, host="mcp-hub:3000", origin="https://hub.example.com").status_code == 200
        assert _get(hub, "/api/servers", host="evil.example").status_code == 421


def test_a_wildcard_bind_without_names_accepts_any_host_only_while_a_token_is_required(tmp_path):
    """The production compose: `--host 0.0.0.0` with its token, clients at https://mcp-hub:3000 — no name to set.
    A foreign Origin is still refused; the same hub with no token answers only to loopback names."""
    with hub_in_process(tmp_path / "a.json", token=TOKEN, bind_host="0.0.0.0") as hub:
        assert _get(hub, "/api/servers", host="mcp-hub:3000", token=TOKEN).status_code == 200
        assert _initialize(hub, host="mcp-hub:3000", token=TOKEN).status_code == 200
        assert _get(hub, "/api/servers", host="mcp-hub:3000").status_code == 401  # the token still counts
        assert _get(hub, "/api/servers", host="mcp-hub:3000", origin="http://evil.example",
                    token=TOKEN).status_code == 403
    with hub_in_process(tmp_path / "b.json", bind_host="0.0.0.0") as hub:
        assert _get(hub, "/api/servers", host="mcp-hub:3000").status_code == 421
        assert _get(hub, "/api/servers").status_code == 200


def test_star_turns_the_host_check_off(tmp_path):
    with hub_in_process(tmp_path / "mcp_settings.json", allowed_hosts="*") as hub:
        assert _get(hub, "/api/servers", host="anything.example").status_code == 200


@pytest.mark.parametrize(("raw", "name"), [("[::1]:3000", "::1"), ("::1", "::1"), ("Hub.Example.:443", "hub.example"),
                                           ("mcp-hub", "mcp-hub"), ("127.0.0.1:80", "127.0.0.1")])
def test_host_names_are_compared_bare(raw, name):
    assert host_name(raw) == name


def test_the_bind_host_is_allowed():
    policy = HostPolicy.build("10.1.2.3", "")
    assert policy.host_allowed("10.1.2.3:3000", token_required=False)
    assert not policy.host_allowed("10.9.9.9", token_required=True)
