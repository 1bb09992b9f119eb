"""The hub's input contract (issue #10 item 3): every bad input gets a clear error and changes nothing.

The hub holds two servers the product uses — `jules` (the shipped inline OpenAPI definition) and `github` (a stdio
MCP server): in this process (its ASGI app) for the request checks and the documents it fetches by URL (served
through its openapi transport), a real process (`python -m agentic.hub`, github a real stdio server) for what needs
a socket. Each bad request must answer the documented status with
mcphub's envelope `{success: false, message}`, the message must name the field and quote at most ~60 characters
of the input, and afterwards the listing and the settings file must be exactly as before.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from starlette.staticfiles import StaticFiles

from agentic.hub.client import HubClient
from agentic.schemas import load_server_definition
from agentic.testing import environment
from agentic.testing.inprocess import hub_client, hub_in_process, hub_request

MB = 1024 * 1024
LONG = "x" * 10_000
ENV = {"HUB_TEST_FTP_URL": "ftp://files.example.com/s3cr3t-path", "HUB_TEST_CRLF": "ok\r\nX-Injected: 1",
       "HUB_TEST_API": "http://127.0.0.1:9", "HUB_TEST_METADATA": "http://169.254.169.254/computeMetadata/v1"}
# Where the in-process hub finds documents given by `openapi.url`: a loopback address (the egress checks allow it)
# that its openapi transport answers, from the `documents` folder.
DOCS_URL = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def real_hub(tmp_path_factory, hub_tools):
    """A hub process, for what only a socket shows (a streamed body, curl, its memory)."""
    settings = tmp_path_factory.mktemp("contract") / "mcp_settings.json"
    with hub_tools.running_hub(settings, env=ENV) as running:
        client = HubClient(running.url)
        assert client.upsert_server("jules", load_server_definition("jules")["config"]) == "added"
        assert client.upsert_server("github", hub_tools.stdio_config()) == "added"
        client.wait_connected("jules", timeout=30)
        client.wait_connected("github", timeout=30)
        yield running


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> Path:
    """The folder of OpenAPI documents the in-process hub reaches at DOCS_URL."""
    return tmp_path_factory.mktemp("docs")


@pytest.fixture(scope="module")
def hub(tmp_path_factory, documents):
    """The same hub in this process (create_app with its lifespan): `jules` and a disabled stdio `github`; its
    openapi servers' HTTP goes to a static file server of `documents` in this process."""
    settings = tmp_path_factory.mktemp("contract-local") / "mcp_settings.json"
    files = httpx.ASGITransport(app=StaticFiles(directory=documents))
    with environment(ENV), hub_in_process(settings, openapi_transport=files) as local:
        client = local.client()
        assert client.upsert_server("jules", load_server_definition("jules")["config"]) == "added"
        assert client.upsert_server("github", {"type": "stdio", "command": "npx", "enabled": False}) == "added"
        client.wait_connected("jules", timeout=30)
        yield local


def snapshot(hub) -> tuple[bytes, int, str]:
    """What a rejected request must leave alone: the settings file (bytes, mtime) and the full listing."""
    return (hub.settings.read_bytes(), hub.settings.stat().st_mtime_ns,
            hub_request(hub, "GET", "/api/servers").text)


def refused(response: httpx.Response, status: int, *fields: str, echo: str | None = None) -> str:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert body["success"] is False and set(body) == {"success", "message"}, body
    message = body["message"]
    for field in fields:
        assert field in message, (field, message)
    assert len(message) < 400, message
    if echo is not None:   # the input is quoted, but never past the cap
        assert echo[:61] not in message, message
    return message


def post(hub, body=None, *, content: bytes | None = None, headers: dict | None = None) -> httpx.Response:
    if content is None:
        content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    return hub_request(hub, "POST", "/api/servers", content=content, headers=headers)


def doc(paths: dict, **extra) -> dict:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "servers": [{"url": "http://127.0.0.1:9/v1"}], "paths": paths, **extra}


def openapi(document: dict) -> dict:
    return {"type": "openapi", "openapi": {"schema": document}}


ONE_OP = {"/a": {"get": {"operationId": "getA"}}}
NODE = {"type": "object", "properties": {"name": {"type": "string"},
                                         "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}
CYCLIC = doc({"/nodes": {"post": {"operationId": "createNode", "requestBody": {"content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Node"}}}}}}}, components={"schemas": {"Node": NODE}})
# A -> B -> A through aliases only: no schema at the end (used to connect with a placeholder accepting anything).
ALIAS_CYCLE = doc({"/a": {"post": {"operationId": "postA", "requestBody": {"content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/A"}}}}}}}, components={"schemas": {
        "A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A", "description": "b"}}})

# (id, body, status, fields the message must name, echoed input that must be cut)
CASES = [
    ("name-padded", {"name": "  jules  ", "config": openapi(doc(ONE_OP))}, 400,
     ["`name`", "'  jules  '", "not trimmed"], None),
    ("name-trailing-space", {"name": "github ", "type": "stdio", "command": "npx"}, 400, ["`name`", "not trimmed"],
     None),
    ("name-10000-chars", {"name": LONG, "type": "stdio", "command": "npx"}, 400, ["`name`", "10000 characters"],
     LONG),
    ("name-bad-chars", {"name": "bad name!", "type": "stdio", "command": "npx"}, 400, ["`name`", "letters"], None),
    ("name-leading-dash", {"name": "-x", "type": "stdio", "command": "npx"}, 400, ["`name`"], None),
    ("name-not-string", {"name": 123, "type": "stdio", "command": "npx"}, 400, ["`name`", "got the number 123"], None),
    ("name-missing", {"config": {"type": "stdio", "command": "npx"}}, 400, ["`name` is required"], None),
    ("name-case-duplicate", {"name": "JULES", "config": openapi(doc(ONE_OP))}, 400,
     ["`name`", "'JULES'", "'jules'", "letter case"], None),
    ("name-case-duplicate-flat", {"name": "GitHub", "type": "stdio", "command": "npx"}, 400,
     ["'GitHub'", "'github'", "letter case"], None),
    ("config-missing", {"name": "newserver"}, 400, ["`config` is missing"], None),
    ("config-empty", {"name": "newserver", "config": {}}, 400, ["`config` is missing"], None),
    ("config-not-object", {"name": "newserver", "config": "npx"}, 400, ["`config` must be an object"], None),
    ("body-list", [{"name": "newserver"}], 400, ["JSON object", "a list"], None),
    ("type-unknown", {"name": "newserver", "config": {"type": "ftp", "command": "npx"}}, 400,
     ["`type`", "'ftp'", "stdio, sse, streamable-http, openapi"], None),
    ("type-long", {"name": "newserver", "config": {"type": LONG, "command": "npx"}}, 400, ["`type`"], LONG),
    ("type-not-inferable", {"name": "newserver", "config": {"args": ["x"]}}, 400, ["`type` is missing"], None),
    ("stdio-no-command", {"name": "newserver", "config": {"type": "stdio"}}, 400, ["`command`"], None),
    ("stdio-command-var-empty", {"name": "newserver", "config": {"type": "stdio", "command": "${HUB_TEST_UNSET}"}},
     400, ["`command`", "empty after ${VAR} expansion"], None),
    ("args-not-strings", {"name": "newserver", "type": "stdio", "command": "npx", "args": ["-y", 5]}, 400,
     ["`args[1]`", "got the number 5"], None),
    ("env-number", {"name": "newserver", "type": "stdio", "command": "npx", "env": {"PORT": 8080}}, 400,
     ["`env.PORT`", "must be a string", "got the number 8080"], None),
    ("env-object", {"name": "newserver", "type": "stdio", "command": "npx", "env": {"A": {"b": 1}}}, 400,
     ["`env.A`", "an object"], None),
    ("env-null", {"name": "newserver", "type": "stdio", "command": "npx", "env": {"A": None}}, 400,
     ["`env.A`", "got null"], None),
    ("env-bool", {"name": "newserver", "type": "stdio", "command": "npx", "env": {"DEBUG": True}}, 400,
     ["`env.DEBUG`", "got true"], None),
    ("env-list", {"name": "newserver", "type": "stdio", "command": "npx", "env": ["A=1"]}, 400,
     ["`env` must be an object"], None),
    ("env-bad-name", {"name": "newserver", "type": "stdio", "command": "npx", "env": {"A=B": "1"}}, 400,
     ["`env`", "variable name"], None),
    ("headers-on-stdio", {"name": "newserver", "type": "stdio", "command": "npx", "headers": {"a": "b"}}, 400,
     ["`headers` is not supported"], None),
    ("headers-number", {"name": "newserver", "config": {"type": "streamable-http", "url": "http://127.0.0.1:9/mcp",
                                                        "headers": {"X-Retries": 3}}}, 400,
     ["`headers.X-Retries`", "got the number 3"], None),
    ("headers-crlf-after-expansion", {"name": "newserver", "config": {
        "type": "streamable-http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-A": "${HUB_TEST_CRLF}"}}}, 400,
     ["`headers.X-A`", "line break", "after ${VAR} expansion"], None),
    ("url-missing", {"name": "newserver", "config": {"type": "streamable-http"}}, 400, ["`url`", "required"], None),
    ("url-var-unset", {"name": "newserver", "config": {"type": "streamable-http", "url": "${HUB_TEST_UNSET}/mcp"}},
     400, ["`url`", "'${HUB_TEST_UNSET}/mcp'", "after ${VAR} expansion"], None),
    ("url-var-not-http", {"name": "newserver", "config": {"type": "sse", "url": "${HUB_TEST_FTP_URL}"}}, 400,
     ["`url`", "not an http:// or https:// URL", "after ${VAR} expansion"], ENV["HUB_TEST_FTP_URL"]),
    ("url-no-host", {"name": "newserver", "config": {"type": "streamable-http", "url": "http://"}}, 400,
     ["`url`", "with a host"], None),
    ("url-javascript", {"name": "newserver", "config": {"type": "streamable-http", "url": "javascript:alert(1)"}},
     400, ["`url`"], None),
    ("url-not-string", {"name": "newserver", "config": {"type": "sse", "url": ["http://a"]}}, 400,
     ["`url`", "a list"], None),
    ("url-long", {"name": "newserver", "config": {"type": "sse", "url": "http://" + LONG}}, 400,
     ["`url`", "longer than 2048"], LONG),
    ("url-long-host", {"name": "newserver", "config": {"type": "sse", "url": "http://" + "h" * 300 + "/mcp"}}, 400,
     ["`url`", "with a host"], None),
    ("enabled-string", {"name": "newserver", "type": "stdio", "command": "npx", "enabled": "yes"}, 400,
     ["`enabled`", "true or false"], None),
    ("options-timeout-negative", {"name": "newserver", "type": "stdio", "command": "npx",
                                  "options": {"timeout": -5}}, 400, ["`options.timeout`", "positive"], None),
    ("options-timeout-string", {"name": "newserver", "type": "stdio", "command": "npx",
                                "options": {"connectTimeout": "60s"}}, 400, ["`options.connectTimeout`"], None),
    ("openapi-nothing", {"name": "newserver", "config": {"type": "openapi", "openapi": {}}}, 400,
     ["`openapi.url` or `openapi.schema`"], None),
    ("openapi-url-var-not-http", {"name": "newserver", "config": {"type": "openapi", "openapi": {
        "url": "${HUB_TEST_FTP_URL}/openapi.json"}}}, 400, ["`openapi.url`", "after ${VAR} expansion"],
     ENV["HUB_TEST_FTP_URL"]),
    ("openapi-baseurl-bad", {"name": "newserver", "config": {"type": "openapi", "openapi": {
        "schema": doc(ONE_OP), "baseUrl": "${HUB_TEST_UNSET}"}}}, 400, ["`openapi.baseUrl`", "is empty"], None),
    ("openapi-no-base-url", {"name": "newserver", "config": openapi({**doc(ONE_OP), "servers": [{"url": "/v1"}]})},
     400, ["`openapi.schema.servers[0].url`", "`openapi.baseUrl`"], None),
    ("openapi-no-operations", {"name": "newserver", "config": openapi(doc({}))}, 400,
     ["`openapi.schema`", "no operations"], None),
    ("openapi-only-parameters", {"name": "newserver", "config": openapi(doc({"/a": {"parameters": []}}))}, 400,
     ["`openapi.schema`", "no operations"], None),
    ("openapi-paths-missing", {"name": "newserver", "config": openapi({"openapi": "3.1.0"})}, 400,
     ["`openapi.schema.paths`"], None),
    ("openapi-swagger2", {"name": "newserver", "config": openapi({"swagger": "2.0", "paths": ONE_OP})}, 400,
     ["`openapi.schema`", "Swagger 2.0"], None),
    ("openapi-dangling-ref", {"name": "newserver", "config": openapi(doc({"/a": {"post": {
        "operationId": "postA", "requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Missing"}}}}}}}))}, 400,
     ["`openapi.schema`", "unresolvable $ref", "'#/components/schemas/Missing'", "#/paths/~1a/post"], None),
    ("openapi-dangling-ref-unused", {"name": "newserver", "config": openapi(doc(ONE_OP, components={
        "schemas": {"A": {"$ref": "#/components/schemas/Gone"}}}))}, 400, ["unresolvable $ref"], None),
    ("openapi-external-ref", {"name": "newserver", "config": openapi(doc({"/a": {"get": {
        "operationId": "getA", "parameters": [{"$ref": "common.yaml#/parameters/Page"}]}}}))}, 400,
     ["external $ref", "'common.yaml#/parameters/Page'"], None),
    ("openapi-ref-alias-cycle", {"name": "newserver", "config": openapi(ALIAS_CYCLE)}, 400,
     ["`openapi.schema`", "$ref cycle through aliases", "'#/components/schemas/A' -> '#/components/schemas/B' -> "
      "'#/components/schemas/A'"], None),
    ("openapi-ref-self-alias", {"name": "newserver", "config": openapi(doc(ONE_OP, components={"schemas": {
        "Me": {"$ref": "#/components/schemas/Me"}}}))}, 400,
     ["$ref cycle through aliases", "'#/components/schemas/Me' -> '#/components/schemas/Me'"], None),
    ("url-metadata", {"name": "newserver", "config": {"type": "streamable-http",
                                                      "url": "http://169.254.169.254/latest/meta-data/"}}, 400,
     ["`url`", "link-local / cloud metadata address", "MCP_HUB_ALLOWED_UPSTREAMS"], None),
    ("url-metadata-decimal", {"name": "newserver", "config": {"type": "sse", "url": "http://2852039166/"}}, 400,
     ["`url`", "cloud metadata"], None),
    ("url-metadata-name", {"name": "newserver", "config": {"type": "sse",
                                                           "url": "http://metadata.google.internal/x"}}, 400,
     ["`url`", "cloud metadata service"], None),
    ("url-metadata-ipv6-link-local", {"name": "newserver", "config": {"type": "streamable-http",
                                                                      "url": "http://[fe80::1]:8080/mcp"}}, 400,
     ["`url`", "link-local"], None),
    ("url-metadata-via-var", {"name": "newserver", "config": {"type": "streamable-http",
                                                              "url": "${HUB_TEST_METADATA}/mcp"}}, 400,
     ["`url`", "'${HUB_TEST_METADATA}/mcp'", "after ${VAR} expansion points at a link-local / cloud metadata address"],
     ENV["HUB_TEST_METADATA"]),
    ("openapi-baseurl-metadata", {"name": "newserver", "config": {"type": "openapi", "openapi": {
        "schema": doc(ONE_OP), "baseUrl": "http://169.254.169.254/v1"}}}, 400, ["`openapi.baseUrl`", "metadata"],
     None),
    ("openapi-operations-over-limit", {"name": "newserver", "config": openapi(doc(
        {f"/p{i}": {"get": {}} for i in range(20_000)}))}, 400,
     ["`openapi.schema`", "20000 operations", "the limit is 500", "--max-openapi-operations"], None),
    ("openapi-duplicate-operation-id", {"name": "newserver", "config": openapi(doc({
        "/a": {"get": {"operationId": "same"}}, "/b": {"get": {"operationId": "same"}}}))}, 400,
     ["operationId 'same' is used twice", "GET /b"], None),
    ("openapi-bad-parameter", {"name": "newserver", "config": openapi(doc({"/a": {"get": {
        "operationId": "getA", "parameters": [{"name": "q"}]}}}))}, 400, ["GET /a", "`parameters[0]`"], None),
    ("openapi-operation-not-object", {"name": "newserver", "config": openapi(doc({"/a": {"get": "yes"}}))}, 400,
     ["operation GET /a must be an object"], None),
    ("openapi-exponential-refs", {"name": "newserver", "config": openapi(doc(
        {"/a": {"post": {"operationId": "postA", "requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/S0"}}}}}}},
        components={"schemas": {**{f"S{i}": {"type": "object", "properties": {
            "l": {"$ref": f"#/components/schemas/S{i + 1}"}, "r": {"$ref": f"#/components/schemas/S{i + 1}"}}}
            for i in range(30)}, "S30": {"type": "string"}}}))}, 400, ["expand to more than"], None),
    ("openapi-security-type", {"name": "newserver", "config": {"type": "openapi", "openapi": {
        "schema": doc(ONE_OP), "security": {"type": "magic"}}}}, 400, ["`openapi.security.type`", "'magic'"], None),
    ("openapi-security-value-number", {"name": "newserver", "config": {"type": "openapi", "openapi": {
        "schema": doc(ONE_OP), "security": {"type": "apiKey", "apiKey": {"name": "X-Key", "in": "header",
                                                                         "value": 1234}}}}}, 400,
     ["`openapi.security.apiKey.value`", "got the number 1234"], None),
    ("jules-replaced-by-bad-config", {"name": "jules", "config": openapi(doc({}))}, 400,
     ["`openapi.schema`", "no operations"], None),
    ("github-replaced-by-bad-env", {"name": "github", "type": "stdio", "command": "npx",
                                    "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": 12345}}, 400,
     ["`env.GITHUB_PERSONAL_ACCESS_TOKEN`", "got the number 12345"], None),
]


@pytest.mark.parametrize("body, status, fields, echo", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_server_definitions_are_refused_and_change_nothing(hub, body, status, fields, echo):
    before = snapshot(hub)
    refused(post(hub, body), status, *fields, echo=echo)
    assert snapshot(hub) == before


@pytest.mark.parametrize("content, headers, status, fields", [
    (b"{nope", {"Content-Type": "application/json"}, 400, ["not valid JSON"]),
    (b"", {"Content-Type": "application/json"}, 400, ["request body is empty"]),
    (b"   \n", {"Content-Type": "application/json"}, 400, ["request body is empty"]),
    (b"\xff\xfe{}", {"Content-Type": "application/json"}, 400, ["UTF-8"]),
    (b"[" * 50_000 + b"]" * 50_000, {"Content-Type": "application/json"}, 400, ["nests deeper than 100"]),
    (json.dumps({"name": "newserver", "type": "stdio", "command": "npx"}).encode(), {"Content-Type": "text/plain"},
     415, ["`Content-Type` must be application/json", "'text/plain'"]),
    # curl -d without -H sends a form content type
    (b'{"name": "newserver", "type": "stdio", "command": "npx"}',
     {"Content-Type": "application/x-www-form-urlencoded"}, 415, ["`Content-Type`", "-H 'Content-Type"]),
    (b'{"name": "newserver", "type": "stdio", "command": "npx"}', {}, 415, ["no Content-Type header"]),
], ids=["invalid-json", "empty", "blank", "not-utf8", "nested-50000", "text-plain", "form", "no-content-type"])
def test_malformed_requests_are_refused_and_change_nothing(hub, content, headers, status, fields):
    before = snapshot(hub)
    refused(post(hub, content=content, headers=headers), status, *fields)
    assert snapshot(hub) == before


def test_a_10_mb_body_is_refused_before_it_is_read(real_hub):
    """413 with mcphub's envelope, for a declared and for a streamed (chunked) 10 MB body; the hub's memory and
    the settings file do not grow (before the cap: a 26 MB settings file and +137 MB RSS)."""
    hub = real_hub
    hub_process = psutil.Process(hub.proc.pid)
    big = {"name": "big", "type": "stdio", "command": "npx", "description": "d" * (10 * MB)}
    before = snapshot(hub)
    rss_before = hub_process.memory_info().rss
    size_before = hub.settings.stat().st_size
    started = time.monotonic()
    for _ in range(3):
        refused(post(hub, big), 413, "request body too large", "the limit is 1 MB", "--max-body-bytes")
    elapsed = time.monotonic() - started

    def chunks() -> Iterator[bytes]:
        payload = json.dumps(big).encode()
        for i in range(0, len(payload), 64 * 1024):
            yield payload[i:i + 64 * 1024]

    streamed = hub_request(hub, "POST", "/api/servers", content=chunks(), headers={"Content-Type": "application/json"},
                          timeout=30)
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    refused(streamed, 413, "request body too large")
    # One byte over the cap is refused too; the cap itself is accepted (checked on a route that reads the body).
    over = hub_request(hub, "PUT", "/api/system-config", content=b" " * MB + b"{}",
                     headers={"Content-Type": "application/json"})
    refused(over, 413, "request body too large")
    at_cap = hub_request(hub, "PUT", "/api/system-config", content=b"{}" + b" " * (MB - 2),
                       headers={"Content-Type": "application/json"})
    refused(at_cap, 400, "no valid system config field")
    assert hub.settings.stat().st_size == size_before
    assert snapshot(hub) == before
    assert "big" not in {s["name"] for s in hub_client(hub).list_servers()}
    grown = hub_process.memory_info().rss - rss_before
    assert grown < 8 * MB, f"the hub grew by {grown / MB:.1f} MB for refused bodies"
    assert elapsed < 10


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_posting_a_10_mb_file_gets_413_without_uploading_it(real_hub, tmp_path):
    hub = real_hub
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "big", "type": "stdio", "command": "npx", "description": "d" * (10 * MB)}))
    before = snapshot(hub)
    done = subprocess.run(["curl", "-s", "-o", str(tmp_path / "out.json"), "-w", "%{http_code} %{size_upload}",
                           "-X", "POST", f"{hub.url}/api/servers", "-H", "Content-Type: application/json",
                           "-d", f"@{big}"], capture_output=True, text=True, timeout=60)
    code, uploaded = done.stdout.split()
    assert code == "413", done
    assert float(uploaded) < MB   # refused on Content-Length: curl's `Expect: 100-continue` is never answered
    assert json.loads((tmp_path / "out.json").read_text())["success"] is False
    assert snapshot(hub) == before


def test_put_toggle_and_system_config_refuse_bad_input(hub):
    before = snapshot(hub)
    cases = [
        (hub_request(hub, "PUT", "/api/servers/jules", json={"config": openapi(doc({}))}), 400,
         ["`openapi.schema`", "no operations"]),
        (hub_request(hub, "PUT", "/api/servers/github", json={"config": {"type": "stdio", "command": "npx",
                                                                     "env": {"N": 1}}}), 400, ["`env.N`"]),
        (hub_request(hub, "PUT", "/api/servers/github", json={"config": {"type": "stdio", "command": "npx"},
                                                          "newName": "  github2  "}), 400,
         ["`newName`", "not trimmed"]),
        (hub_request(hub, "PUT", "/api/servers/github", json={"config": {"type": "stdio", "command": "npx"},
                                                          "newName": "Jules"}), 400, ["'Jules'", "letter case"]),
        (hub_request(hub, "PUT", "/api/servers/github", json={"config": {"type": "stdio", "command": "npx"},
                                                          "newName": "jules"}), 400, ["'jules' already exists"]),
        (hub_request(hub, "PUT", "/api/servers/jules%20", json={"config": {"type": "stdio", "command": "npx"}}), 404,
         ["Server not found"]),
        (hub_request(hub, "PUT", "/api/servers/" + LONG, json={"config": {"type": "stdio", "command": "npx"}}), 404,
         ["Server not found"]),
        (hub_request(hub, "PUT", "/api/servers/jules", json=["config"]), 400, ["JSON object", "a list"]),
        (hub_request(hub, "POST", "/api/servers/jules/toggle", json={"enabled": "false"}), 400, ["`enabled`"]),
        (hub_request(hub, "POST", "/api/servers/jules/toggle", content=b"enabled=false"), 415, ["`Content-Type`"]),
        (hub_request(hub, "PUT", "/api/system-config", json={"nameSeparator": ""}), 400, ["`nameSeparator`"]),
        (hub_request(hub, "PUT", "/api/system-config", json={"nameSeparator": LONG}), 400, ["`nameSeparator`"]),
        (hub_request(hub, "PUT", "/api/system-config", json={"routing": "open"}), 400, ["`routing` must be an object"]),
        (hub_request(hub, "POST", "/api/tools/call/jules", json={"toolName": 5}), 400, ["`toolName`"]),
        (hub_request(hub, "POST", "/api/tools/call/jules", json={"toolName": "t", "arguments": [1]}), 400,
         ["`arguments`"]),
    ]
    for response, status, fields in cases:
        refused(response, status, *fields, echo=LONG)
    unknown = hub_request(hub, "POST", "/api/tools/call/jules", json={"toolName": LONG}).json()["data"]
    assert unknown["isError"] is True
    assert unknown["content"][0]["text"] == f"Unknown tool: jules-{LONG[:54]}... (10006 characters)"
    assert snapshot(hub) == before
    jules = hub_client(hub).get_server("jules")
    assert jules["status"] == "connected" and "jules-createSession" in {t["name"] for t in jules["tools"]}


async def test_mcp_endpoint_of_an_unknown_server_is_404(hub):
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for name in ("ghost", "Jules", "jules%20", LONG):
        response = hub_request(hub, "POST", f"/mcp/{name}", json=initialize, headers=headers)
        assert response.status_code == 404, (name[:20], response.text[:300])
        body = response.json()
        assert body["jsonrpc"] == "2.0" and body["id"] is None and body["error"]["code"] == -32600
        assert body["error"]["message"].startswith("Server not found: '") and "GET /api/servers" in body["error"][
            "message"]
        assert LONG[:61] not in body["error"]["message"]
    assert hub_request(hub, "GET", "/mcp/ghost", headers=headers).status_code == 404
    # A known server still answers (the 404 is about the name, not the route).
    known = hub_request(hub, "POST", "/mcp/jules", json=initialize, headers=headers)
    assert known.status_code == 200 and known.json()["result"]["serverInfo"]["name"] == "agentic-mcp-hub"


def test_valid_edge_inputs_are_accepted(hub):
    """The checks refuse only what is bad: a `${VAR}` URL that expands to http, names with '.', '_' and '-',
    numbers written as strings, an OpenAPI document whose schema refers to itself."""
    client = hub_client(hub)
    accepted = {
        "remote.v2": {"type": "streamable-http", "url": "${HUB_TEST_API}/mcp", "headers": {"X-Retries": "3"},
                      "options": {"connectTimeout": 500}},
        "tree_api": openapi(CYCLIC),
        "a": {"type": "stdio", "command": "npx", "args": ["-y", "8080"], "env": {"PORT": "8080"},
              "enabled": False},
    }
    try:
        for name, config in accepted.items():
            response = post(hub, {"name": name, "config": config})
            assert response.status_code == 200 and response.json()["success"] is True, response.text
        tree = client.wait_connected("tree_api", timeout=30)
        (tool,) = tree["tools"]
        schema = json.dumps(tool["inputSchema"])
        assert "$ref" not in schema   # the cycle is cut, no dangling reference is published
        children = tool["inputSchema"]["properties"]["body"]["properties"]["children"]
        assert children["items"] == {"type": "object", "description": "recursive reference to Node (not expanded)"}
        stored = json.loads(hub.settings.read_text())["mcpServers"]
        assert stored["remote.v2"]["url"] == "${HUB_TEST_API}/mcp"   # stored as written, expanded when connecting
    finally:
        for name in accepted:
            client.delete_server(name)


@pytest.mark.parametrize("document, error", [
    (doc({}), "no operations"),
    (doc({"/a": {"get": {"operationId": "getA", "parameters": [{"$ref": "#/components/parameters/Gone"}]}}}),
     "unresolvable $ref '#/components/parameters/Gone'"),
    (doc({f"/p{i}": {"get": {}} for i in range(20_000)}), "the document has 20000 operations; the limit is 500"),
    ({"swagger": "2.0", "paths": ONE_OP}, "Swagger 2.0"),
    (ALIAS_CYCLE, "$ref cycle through aliases"),
], ids=["no-operations", "dangling-ref", "20000-operations", "swagger2", "ref-alias-cycle"])
def test_a_bad_document_behind_openapi_url_is_a_disconnected_server_with_its_error(hub, documents, document, error):
    """A URL cannot be checked when it is posted (mcphub does not fetch it either), so the server is added — and
    shows `disconnected` with the reason, never `connected`, and publishes no tools."""
    base = DOCS_URL
    (documents / "bad.json").write_text(json.dumps(document))
    client = hub_client(hub)
    client.upsert_server("baddoc", {"type": "openapi", "openapi": {"url": f"{base}/bad.json"}})
    try:
        deadline = time.monotonic() + 20
        seen = set()
        while time.monotonic() < deadline:
            server = client.get_server("baddoc")
            seen.add(server["status"])
            if server["status"] == "disconnected" and server["error"]:
                break
            time.sleep(0.05)
        assert server["status"] == "disconnected", server
        assert server["error"].startswith(f"RuntimeError: invalid OpenAPI document from {base}/bad.json: "), server
        assert error in server["error"]
        assert "connected" not in seen and server["tools"] == []
        assert not [t for t in client.list_tools() if t.startswith("baddoc-")]
        assert hub_request(hub, "GET", "/health").json()["status"] == "degraded"
    finally:
        client.delete_server("baddoc")


def test_a_cyclic_document_behind_openapi_url_connects_without_dangling_refs(hub, documents):
    (documents / "tree.json").write_text(json.dumps(CYCLIC))
    client = hub_client(hub)
    client.upsert_server("tree-url", {"type": "openapi", "openapi": {"url": f"{DOCS_URL}/tree.json"}})
    try:
        server = client.wait_connected("tree-url", timeout=30)
        assert [t["name"] for t in server["tools"]] == ["tree-url-createNode"]
        assert "$ref" not in json.dumps(server["tools"])
    finally:
        client.delete_server("tree-url")


def test_limits_are_configurable(tmp_path, monkeypatch):
    """--max-body-bytes / --max-openapi-operations (here through their env variables, which create_app reads);
    the CLI refuses a limit below 1 before it starts anything."""
    import uvicorn
    from typer.testing import CliRunner

    from agentic.hub.__main__ import app as cli

    settings = tmp_path / "mcp_settings.json"
    env = {"MCP_HUB_MAX_BODY_BYTES": "4096", "MCP_HUB_MAX_OPENAPI_OPERATIONS": "3"}
    three = doc({f"/p{i}": {"get": {"operationId": f"op{i}"}} for i in range(3)})
    four = doc({f"/p{i}": {"get": {"operationId": f"op{i}"}} for i in range(4)})
    with environment(env), hub_in_process(settings) as hub:
        big = {"name": "big", "type": "stdio", "command": "npx", "description": "d" * 5000}
        refused(post(hub, big), 413, "the limit is 4 KB (4096 bytes")
        refused(post(hub, {"name": "four", "config": openapi(four)}), 400, "4 operations; the limit is 3")
        assert post(hub, {"name": "three", "config": openapi(three)}).status_code == 200
        assert len(hub.client().wait_connected("three", timeout=30)["tools"]) == 3
    def serve(*args, **kwargs):   # were the limit accepted, the CLI would serve (forever, in this process)
        raise AssertionError("the hub started with --max-body-bytes 0")

    monkeypatch.setattr(uvicorn, "run", serve)
    bad = CliRunner().invoke(cli, ["--settings", str(settings), "--max-body-bytes", "0"])
    assert bad.exit_code == 2 and "--max-body-bytes" in bad.output, bad.output


def test_bad_entries_of_a_hand_edited_settings_file_are_disconnected_servers(tmp_path, hub_tools):
    """The same checks run on the settings file at start: each bad entry is a `disconnected` server carrying
    `invalid config: <message>`; the good one connects; the file is not rewritten."""
    settings = hub_tools.write_settings(tmp_path / "mcp_settings.json", {
        "ok": openapi(CYCLIC),
        "  padded  ": openapi(doc(ONE_OP)),
        "no-ops": openapi(doc({})),
        "env-number": hub_tools.stdio_config(env={"PORT": 8080}),
        "var-url": {"type": "streamable-http", "url": "${HUB_TEST_UNSET}/mcp"},
        "too-many": openapi(doc({f"/p{i}": {"get": {}} for i in range(501)})),
    })
    original = settings.read_bytes()
    with hub_in_process(settings) as hub:
        client = hub.client()
        client.wait_connected("ok", timeout=30)
        errors = {s["name"]: (s["status"], s["error"]) for s in client.list_servers() if s["name"] != "ok"}
    assert errors == {
        "  padded  ": ("disconnected", "invalid config: `name` '  padded  ' is not a valid server name: 1-64 letters, "
                                       "digits, '-', '_' or '.', starting with a letter or digit; leading/trailing "
                                       "spaces are not trimmed"),
        "no-ops": ("disconnected", "invalid config: `openapi.schema`: the document has no operations (no get/post/"
                                   "put/patch/delete under `paths`): it would publish no tools"),
        "env-number": ("disconnected", "invalid config: `env.PORT` must be a string (got the number 8080); write "
                                       "numbers and booleans in quotes"),
        "var-url": ("disconnected", "invalid config: `url` '${HUB_TEST_UNSET}/mcp' is not an http:// or https:// "
                                    "URL with a host after ${VAR} expansion"),
        "too-many": ("disconnected", "invalid config: `openapi.schema`: the document has 501 operations; the limit "
                                     "is 500 (--max-openapi-operations / MCP_HUB_MAX_OPENAPI_OPERATIONS)"),
    }
    assert settings.read_bytes() == original
