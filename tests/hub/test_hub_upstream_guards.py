"""Issue #24's hub items on a real hub (in this process where no log or socket is read): unset `${VAR}`s are warned about (by name, never a value), and upstream
addresses are checked (metadata always refused, private ranges when configured, loopback allowed).
The `$ref` alias cycle and the refused URLs are rows of the bad-input corpus (test_hub_input_contract.py)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from agentic.hub.client import HubClient
from agentic.hub.egress import EgressPolicy, UpstreamRefused
from agentic.testing.inprocess import hub_in_process

SECRET = "s3cret-value-for-guards-0123"


def add(hub, name: str, config: dict) -> httpx.Response:
    return httpx.post(hub.url + "/api/servers", json={"name": name, "config": config}, timeout=30)


def test_an_unset_variable_is_a_warning_in_the_listing_and_the_log_by_name_only(tmp_path, hub_tools):
    settings = tmp_path / "mcp_settings.json"
    env = {"HUB_TEST_SET_SECRET": SECRET}
    with hub_tools.running_hub(settings, env=env) as running:
        client = HubClient(running.url)
        client.upsert_server("echo", hub_tools.stdio_config(env={
            "API_KEY": "${HUB_TEST_NEVER_SET}", "OTHER": "${HUB_TEST_SET_SECRET}", "PLAIN": "$HUB_TEST_ALSO_UNSET"}))
        server = client.wait_connected("echo", timeout=30)  # an empty value is not an error: it still connects
        listing = httpx.get(running.url + "/api/servers").text
        client.upsert_server("clean", hub_tools.stdio_config(env={"OTHER": "${HUB_TEST_SET_SECRET}"}))
        clean = client.wait_connected("clean", timeout=30)
    log = running.proc.stdout.read().decode()
    assert server["warnings"] == [
        "${HUB_TEST_ALSO_UNSET} is not set in the hub's environment: it expands to an empty string",
        "${HUB_TEST_NEVER_SET} is not set in the hub's environment: it expands to an empty string"]
    assert "warnings" not in clean
    assert "hub server echo: ${HUB_TEST_NEVER_SET} is not set" in log
    assert "HUB_TEST_SET_SECRET} is not set" not in log
    assert SECRET not in listing and SECRET not in log


def test_metadata_is_refused_and_private_ranges_only_when_configured(tmp_path, hub_tools, http_upstream):
    with hub_tools.running_hub(tmp_path / "a.json") as running:  # the default
        metadata = add(running, "meta", {"type": "streamable-http", "url": "http://169.254.169.254/mcp"})
        assert metadata.status_code == 400 and "cloud metadata" in metadata.json()["message"]
        assert add(running, "private", {"type": "streamable-http", "url": "http://10.0.0.5:9/mcp"}).status_code == 200
        assert add(running, "loopback", {"type": "streamable-http", "url": http_upstream}).status_code == 200
        HubClient(running.url).wait_connected("loopback", timeout=30)
    env = {"MCP_HUB_BLOCK_PRIVATE_UPSTREAMS": "true", "MCP_HUB_ALLOWED_UPSTREAMS": "10.9.0.0/16, 169.254.170.2"}
    with hub_tools.running_hub(tmp_path / "b.json", env=env) as running:
        private = add(running, "private", {"type": "streamable-http", "url": "http://10.0.0.5:9/mcp"})
        assert private.status_code == 400, private.text
        assert "private address (MCP_HUB_BLOCK_PRIVATE_UPSTREAMS is on)" in private.json()["message"]
        assert add(running, "other", {"type": "sse", "url": "http://192.168.1.20/sse"}).status_code == 400
        assert add(running, "listed", {"type": "sse", "url": "http://10.9.1.1/sse"}).status_code == 200
        assert add(running, "ecs", {"type": "sse", "url": "http://169.254.170.2/v2/creds"}).status_code == 200
        assert add(running, "loopback", {"type": "streamable-http", "url": http_upstream}).status_code == 200
        HubClient(running.url).wait_connected("loopback", timeout=30)


def test_a_stored_metadata_upstream_is_a_disconnected_server_with_the_reason(tmp_path, hub_tools):
    """A hand-edited settings file gets the same check at start: the hub never connects to it."""
    settings = hub_tools.write_settings(tmp_path / "mcp_settings.json", {
        "meta": {"type": "streamable-http", "url": "http://[::ffff:169.254.169.254]/mcp"}})
    with hub_in_process(settings) as hub:
        (server,) = hub.client().list_servers()
    assert server["status"] == "disconnected"
    assert server["error"].startswith("invalid config: `url` 'http://[::ffff:169.254.169.254]/mcp' points at a "
                                      "link-local / cloud metadata address")


class _ToMetadata(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/openapi.json")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_an_openapi_url_that_redirects_to_metadata_is_not_followed(tmp_path, hub_tools):
    """`openapi.url` passes the registration check (127.0.0.1) and redirects: every hop is checked."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ToMetadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with hub_tools.running_hub(tmp_path / "mcp_settings.json") as running:
            client = HubClient(running.url)
            url = f"http://127.0.0.1:{server.server_address[1]}/openapi.json"
            client.upsert_server("redirected", {"type": "openapi", "openapi": {"url": url}})
            deadline = time.monotonic() + 20
            while not (entry := client.get_server("redirected"))["error"] and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
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
