"""Issue #24's hub items on the hub in this process: unset `${VAR}`s are warned about (by name, never a value), and
upstream addresses are checked (metadata always refused, private ranges when configured, loopback allowed).
The `$ref` alias cycle and the refused URLs are rows of the bad-input corpus (test_hub_input_contract.py)."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from agentic.hub.egress import EgressPolicy, UpstreamRefused
from agentic.testing import environment
from agentic.testing.inprocess import InProcessHub, hub_in_process

SECRET = "s3cret-value-for-guards-0123"
# An inline document: an openapi server connects without fetching anything.
ONE_OP = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://127.0.0.1:9/v1"}],
          "paths": {"/a": {"get": {"operationId": "getA"}}}}


def add(hub: InProcessHub, name: str, config: dict) -> httpx.Response:
    return hub.http.post("/api/servers", json={"name": name, "config": config})


def error_of(hub: InProcessHub, name: str) -> str:
    deadline = time.monotonic() + 20
    while not (entry := hub.client().get_server(name))["error"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return entry["error"]


def test_an_unset_variable_is_a_warning_in_the_listing_and_the_log_by_name_only(tmp_path, caplog):
    settings = tmp_path / "mcp_settings.json"
    caplog.set_level(logging.WARNING, logger="agentic.hub")
    with environment({"HUB_TEST_SET_SECRET": SECRET}), hub_in_process(settings) as hub:
        client = hub.client()
        client.upsert_server("echo", {"type": "openapi", "openapi": {"schema": ONE_OP}, "headers": {
            "X-Api-Key": "${HUB_TEST_NEVER_SET}", "X-Other": "${HUB_TEST_SET_SECRET}",
            "X-Plain": "$HUB_TEST_ALSO_UNSET"}})
        server = client.wait_connected("echo", timeout=30)  # an empty value is not an error: it still connects
        listing = hub.http.get("/api/servers").text
        client.upsert_server("clean", {"type": "openapi", "openapi": {"schema": ONE_OP},
                                       "headers": {"X-Other": "${HUB_TEST_SET_SECRET}"}})
        clean = client.wait_connected("clean", timeout=30)
    log = caplog.text
    assert server["warnings"] == [
        "${HUB_TEST_ALSO_UNSET} is not set in the hub's environment: it expands to an empty string",
        "${HUB_TEST_NEVER_SET} is not set in the hub's environment: it expands to an empty string"]
    assert "warnings" not in clean
    assert "hub server echo: ${HUB_TEST_NEVER_SET} is not set" in log
    assert "HUB_TEST_SET_SECRET} is not set" not in log
    assert SECRET not in listing and SECRET not in log


def test_metadata_is_refused_and_private_ranges_only_when_configured(tmp_path):
    """Loopback stays allowed: the hub connects to it (nothing listens on port 9 there, so the connection fails —
    a refused address would never be tried)."""
    loopback = {"type": "streamable-http", "url": "http://127.0.0.1:9/mcp", "options": {"connectTimeout": 3000}}
    tried = "ConnectError: All connection attempts failed"
    with hub_in_process(tmp_path / "a.json") as hub:  # the default
        metadata = add(hub, "meta", {"type": "streamable-http", "url": "http://169.254.169.254/mcp"})
        assert metadata.status_code == 400 and "cloud metadata" in metadata.json()["message"]
        assert add(hub, "private", {"type": "streamable-http", "url": "http://10.0.0.5:9/mcp"}).status_code == 200
        assert add(hub, "loopback", loopback).status_code == 200
        assert error_of(hub, "loopback") == tried
    env = {"MCP_HUB_BLOCK_PRIVATE_UPSTREAMS": "true", "MCP_HUB_ALLOWED_UPSTREAMS": "10.9.0.0/16, 169.254.170.2"}
    with environment(env), hub_in_process(tmp_path / "b.json") as hub:
        private = add(hub, "private", {"type": "streamable-http", "url": "http://10.0.0.5:9/mcp"})
        assert private.status_code == 400, private.text
        assert "private address (MCP_HUB_BLOCK_PRIVATE_UPSTREAMS is on)" in private.json()["message"]
        assert add(hub, "other", {"type": "sse", "url": "http://192.168.1.20/sse"}).status_code == 400
        assert add(hub, "listed", {"type": "sse", "url": "http://10.9.1.1/sse"}).status_code == 200
        assert add(hub, "ecs", {"type": "sse", "url": "http://169.254.170.2/v2/creds"}).status_code == 200
        assert add(hub, "loopback", loopback).status_code == 200
        assert error_of(hub, "loopback") == tried


def test_a_stored_metadata_upstream_is_a_disconnected_server_with_the_reason(tmp_path, hub_tools):
    """A hand-edited settings file gets the same check at start: the hub never connects to it."""
    settings = hub_tools.write_settings(tmp_path / "mcp_settings.json", {
        "meta": {"type": "streamable-http", "url": "http://[::ffff:169.254.169.254]/mcp"}})
    with hub_in_process(settings) as hub:
        (server,) = hub.client().list_servers()
    assert server["status"] == "disconnected"
    assert server["error"].startswith("invalid config: `url` 'http://[::ffff:169.254.169.254]/mcp' points at a "
                                      "link-local / cloud metadata address")


async def _to_metadata(request) -> RedirectResponse:
    return RedirectResponse("http://169.254.169.254/latest/openapi.json", status_code=302)


def test_an_openapi_url_that_redirects_to_metadata_is_not_followed(tmp_path):
    """`openapi.url` passes the registration check (127.0.0.1) and redirects: every hop is checked. (The redirecting
    server answers through the hub's openapi transport, which would answer the metadata URL too if it were asked.)"""
    redirector = httpx.ASGITransport(app=Starlette(routes=[Route("/{path:path}", _to_metadata)]))
    with hub_in_process(tmp_path / "mcp_settings.json", openapi_transport=redirector) as hub:
        hub.client().upsert_server("redirected", {"type": "openapi",
                                                  "openapi": {"url": "http://127.0.0.1:9/openapi.json"}})
        error_of(hub, "redirected")
        entry = hub.client().get_server("redirected")
    assert entry["status"] == "disconnected" and entry["tools"] == []
    assert entry["error"].startswith("UpstreamRefused: host 169.254.169.254 is a link-local / cloud metadata"), entry


@pytest.mark.parametrize(("host", "addresses", "refused"), [
    ("api.example.com", ["93.184.216.34"], False),
    ("rebound.example.com", ["93.184.216.34", "169.254.169.254"], True),  # any one refused address refuses it
    ("localhost", ["127.0.0.1", "::1"], False),
    ("internal.example.com", ["10.1.2.3"], False),  # private: allowed unless MCP_HUB_BLOCK_PRIVATE_UPSTREAMS
])
def test_every_resolved_address_is_checked(host, addresses, refused):
    policy = EgressPolicy.from_env({})
    if refused:
        with pytest.raises(UpstreamRefused, match=f"{host} \\(169.254.169.254\\) is a link-local"):
            policy.check_host(host, addresses)
    else:
        policy.check_host(host, addresses)


async def test_the_connect_check_resolves_the_name():
    policy = EgressPolicy.from_env({"MCP_HUB_BLOCK_PRIVATE_UPSTREAMS": "1"})
    await policy.check_resolved("http://localhost:9/mcp")  # loopback stays allowed
    with pytest.raises(UpstreamRefused):
        await policy.check_resolved("http://169.254.169.254/")
