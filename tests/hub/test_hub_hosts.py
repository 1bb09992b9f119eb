"""DNS-rebinding protection (issue #25 item 3): `/api` and `/mcp` answer only to allowed Host and Origin names.

Real hub processes; plain HTTP for the refusals (a rebinding page is a browser, not an MCP client) and the MCP SDK
for the names real clients use.
"""

from __future__ import annotations

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agentic.hub.hosts import HostPolicy, host_name

TOKEN = "hub-token-for-host-tests-0123456789"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _get(url: str, host: str | None = None, origin: str | None = None, token: str | None = None) -> httpx.Response:
    headers = {**({"Host": host} if host else {}), **({"Origin": origin} if origin else {}),
               **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.get(url, headers=headers, timeout=10)


def _initialize(url: str, host: str | None = None, origin: str | None = None,
                token: str | None = None) -> httpx.Response:
    headers = {**MCP_HEADERS, **({"Host": host} if host else {}), **({"Origin": origin} if origin else {}),
               **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.post(url, json=INIT, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def open_hub(tmp_path_factory, hub_tools):
    """The default: bound to 127.0.0.1, no token — the hub a rebinding page would reach."""
    with hub_tools.running_hub(tmp_path_factory.mktemp("hosts") / "mcp_settings.json",
                               args=["--host", "127.0.0.1"]) as running:
        yield running


def test_a_foreign_host_is_refused_on_api_and_mcp(open_hub):
    port = open_hub.url.rsplit(":", 1)[1]
    api = _get(f"{open_hub.url}/api/servers", host=f"evil.example:{port}")
    assert api.status_code == 421
    assert api.json() == {"success": False, "message": api.json()["message"]}
    assert "'evil.example:" in api.json()["message"] and "MCP_HUB_ALLOWED_HOSTS" in api.json()["message"]
    mcp = _initialize(open_hub.mcp_url, host="evil.example")
    assert mcp.status_code == 421 and mcp.json()["error"]["code"] == -32600
    assert "DNS-rebinding" in mcp.json()["error"]["message"]
    assert _initialize(f"{open_hub.mcp_url}/echo", host="evil.example").status_code == 421
    assert _get(f"{open_hub.url}/health", host="evil.example").status_code == 200  # health checks stay open


def test_a_foreign_origin_is_refused_even_with_an_allowed_host(open_hub):
    refused = _get(f"{open_hub.url}/api/servers", origin="http://evil.example")
    assert refused.status_code == 403 and "'http://evil.example'" in refused.json()["message"]
    assert _initialize(open_hub.mcp_url, origin="https://evil.example:443").status_code == 403
    assert _initialize(open_hub.mcp_url, origin="null").status_code == 403


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST."])
def test_loopback_names_and_same_origin_pass(open_hub, name):
    port = open_hub.url.rsplit(":", 1)[1]
    assert _get(f"{open_hub.url}/api/servers", host=f"{name}:{port}").status_code == 200
    assert _get(f"{open_hub.url}/api/servers", origin=f"http://{name}:{port}").status_code == 200
    assert _initialize(open_hub.mcp_url, host=f"{name}:{port}").status_code == 200


async def test_mcp_sdk_clients_on_loopback_names_keep_working(open_hub):
    for url in (open_hub.mcp_url, open_hub.mcp_url.replace("127.0.0.1", "localhost")):
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            assert (await session.list_tools()).tools == []


def test_configured_names_are_allowed_and_only_those(tmp_path, hub_tools):
    """Docker's service name and a production name, by flag; a wildcard bind with no token takes only those."""
    with hub_tools.running_hub(tmp_path / "mcp_settings.json", args=["--host", "0.0.0.0"],
                               env={"MCP_HUB_ALLOWED_HOSTS": "mcp-hub, hub.example.com"}) as running:
        for name in ("mcp-hub:3000", "hub.example.com", "127.0.0.1"):
            assert _get(f"{running.url}/api/servers", host=name).status_code == 200, name
        assert _initialize(running.mcp_url, host="mcp-hub:3000", origin="https://hub.example.com").status_code == 200
        assert _get(f"{running.url}/api/servers", host="evil.example").status_code == 421


def test_a_wildcard_bind_without_names_accepts_any_host_only_while_a_token_is_required(tmp_path, hub_tools):
    """The production compose: `--host 0.0.0.0` with its token, clients at https://mcp-hub:3000 — no name to set.
    A foreign Origin is still refused; the same hub with no token answers only to loopback names."""
    with hub_tools.running_hub(tmp_path / "a.json", token=TOKEN, args=["--host", "0.0.0.0"]) as running:
        assert _get(f"{running.url}/api/servers", host="mcp-hub:3000", token=TOKEN).status_code == 200
        assert _initialize(running.mcp_url, host="mcp-hub:3000", token=TOKEN).status_code == 200
        assert _get(f"{running.url}/api/servers", host="mcp-hub:3000").status_code == 401  # the token still counts
        assert _get(f"{running.url}/api/servers", host="mcp-hub:3000", origin="http://evil.example",
                    token=TOKEN).status_code == 403
    with hub_tools.running_hub(tmp_path / "b.json", args=["--host", "0.0.0.0"]) as running:
        assert _get(f"{running.url}/api/servers", host="mcp-hub:3000").status_code == 421
        assert _get(f"{running.url}/api/servers").status_code == 200


def test_star_turns_the_host_check_off(tmp_path, hub_tools):
    with hub_tools.running_hub(tmp_path / "mcp_settings.json", args=["--allowed-hosts", "*"]) as running:
        assert _get(f"{running.url}/api/servers", host="anything.example").status_code == 200


@pytest.mark.parametrize(("raw", "name"), [("[::1]:3000", "::1"), ("::1", "::1"), ("Hub.Example.:443", "hub.example"),
                                           ("mcp-hub", "mcp-hub"), ("127.0.0.1:80", "127.0.0.1")])
def test_host_names_are_compared_bare(raw, name):
    assert host_name(raw) == name


def test_the_bind_host_is_allowed():
    policy = HostPolicy.build("10.1.2.3", "")
    assert policy.host_allowed("10.1.2.3:3000", token_required=False)
    assert not policy.host_allowed("10.9.9.9", token_required=True)
