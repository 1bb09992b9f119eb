"""mcphub's REST dialect: the seed's curl bodies, CRUD, validation, faults, persistence, redaction, auth."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import httpx
import pytest

from agentic.errors import HubError, HubUnavailable
from agentic.hub.client import HubClient
from agentic.stacks.ports import free_port
from agentic.testing import environment
from agentic.testing.inprocess import hub_client, hub_in_process, hub_request

SEED_FLAT = ('{"name": "github", "type": "stdio", "command": "npx", "args": ["-y", '
             '"@modelcontextprotocol/server-github"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "your_token"}}')
SECRET = "ghp_" + "S3cr3tT0k3nValue" * 2


@pytest.fixture(scope="module")
def real_hub(tmp_path_factory, hub_tools):
    """A hub process: for curl, stdio children and their deaths."""
    settings = tmp_path_factory.mktemp("hub") / "mcp_settings.json"
    with hub_tools.running_hub(settings, env={"JULES_API_KEY": "jules-key-from-env-123"}) as running:
        yield running


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The same hub in this process (its ASGI app, lifespan running): for what is said over REST."""
    settings = tmp_path_factory.mktemp("hub-local") / "mcp_settings.json"
    with environment({"JULES_API_KEY": "jules-key-from-env-123"}), hub_in_process(settings) as local:
        yield local


@pytest.mark.skipif(shutil.which("npx") is None or shutil.which("curl") is None, reason="needs npx and curl")
def test_seed_flat_curl_adds_the_real_github_server(real_hub):
    """The README's curl command, verbatim; the npm GitHub server connects and lists its tools (dummy token)."""
    hub = real_hub
    done = subprocess.run(["curl", "-s", "-X", "POST", f"{hub.url}/api/servers", "-H",
                           "Content-Type: application/json", "-d", SEED_FLAT], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0 and json.loads(done.stdout)["success"] is True, done.stdout
    client = hub_client(hub)
    server = client.wait_connected("github", timeout=120)
    tools = {t["name"] for t in server["tools"]}
    assert {"github-get_issue", "github-add_issue_comment", "github-create_pull_request"} <= tools
    assert server["config"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == "******"
    # Re-running through the client updates in place: one `github` entry, new env kept.
    config = {k: v for k, v in json.loads(SEED_FLAT).items() if k != "name"}
    assert client.upsert_server("github", config | {"env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "other"}}) == "updated"
    assert [s["name"] for s in client.list_servers()].count("github") == 1
    client.wait_connected("github", timeout=120)
    assert client.delete_server("github") is True


def test_seed_flat_body_posted_with_httpx_is_stored_as_the_same_server(hub):
    """The README's flat curl body, byte for byte, without curl or npx: the hub takes it as the stdio server
    `github` with the body's command, args and env (shown redacted), the same as the nested form would."""
    response = hub_request(hub, "POST", "/api/servers", content=SEED_FLAT.encode(),
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "message": "Server added successfully"}
    client = hub_client(hub)
    try:
        config = client.get_server("github")["config"]
        assert config["type"] == "stdio" and config["command"] == "npx"
        assert config["args"] == ["-y", "@modelcontextprotocol/server-github"]
        assert config["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "******"}
        stored = json.loads(hub.settings.read_text())["mcpServers"]["github"]
        assert stored["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "your_token"} and "name" not in stored
        again = hub_request(hub, "POST", "/api/servers", content=SEED_FLAT.encode(),
                           headers={"Content-Type": "application/json"})
        assert again.json()["message"] == "Server updated successfully"
        assert [s["name"] for s in client.list_servers()].count("github") == 1
    finally:
        client.delete_server("github")


def test_seed_jules_body_posted_as_file(hub, tmp_path):
    """`curl ... -d @agentic/jules.schema.json`: the file's bytes as the body; tools named jules-<operationId>."""
    from agentic.schemas import schema_path

    body = schema_path("jules").read_bytes()
    response = hub_request(hub, "POST", "/api/servers", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json() == {"success": True, "message": "Server added successfully"}
    client = hub_client(hub)
    server = client.wait_connected("jules", timeout=30)
    names = {t["name"] for t in server["tools"]}
    assert {"jules-createSession", "jules-getSession", "jules-approvePlan", "jules-sendMessage",
            "jules-listActivities"} <= names
    # The raw POST again updates instead of duplicating (documented difference from mcphub's 400).
    again = hub_request(hub, "POST", "/api/servers", content=body, headers={"Content-Type": "application/json"})
    assert again.status_code == 200 and again.json()["message"] == "Server updated successfully"
    assert client.upsert_server("jules", json.loads(body)["config"]) == "updated"
    assert [s["name"] for s in client.list_servers()].count("jules") == 1
    text = hub_request(hub, "GET", "/api/servers/jules").text + hub_request(hub, "GET", "/api/settings").text
    assert "jules-key-from-env-123" not in text   # expanded value never shown
    client.delete_server("jules")


@pytest.mark.parametrize("body, field", [
    ({"config": {"type": "stdio", "command": "x"}}, "name"),
    ({"name": "bad", "config": {"type": "stdio"}}, "command"),
    ({"name": "bad", "config": {"type": "streamable-http"}}, "url"),
    ({"name": "bad", "config": {"type": "openapi", "openapi": {}}}, "openapi.url"),
    ({"name": "bad", "config": {"type": "ftp", "command": "x"}}, "type"),
    ({"name": "bad", "config": {"command": "x", "env": ["A=1"]}}, "env"),
    ({"name": "bad", "config": {"command": "x", "headers": {"a": "b"}}}, "headers"),
    ({"name": "bad name!", "config": {"command": "x"}}, "name"),
    ({"name": "bad", "config": "nope"}, "config"),
])
def test_malformed_bodies_are_400_naming_the_field(hub, body, field):
    response = hub_request(hub, "POST", "/api/servers", json=body)
    assert response.status_code == 400
    assert response.json()["success"] is False and f"`{field}" in response.json()["message"]


def test_not_json_and_unknown_server(hub):
    response = hub_request(hub, "POST", "/api/servers", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]
    for method, path in (("GET", "/api/servers/ghost"), ("PUT", "/api/servers/ghost"),
                         ("DELETE", "/api/servers/ghost"), ("POST", "/api/servers/ghost/reload")):
        response = hub_request(hub, method, path, json={"config": {"command": "x"}})
        assert response.status_code == 404 and response.json()["success"] is False
    response = hub_request(hub, "POST", "/api/servers/ghost/toggle", json={})
    assert response.status_code == 400 and "`enabled`" in response.json()["message"]


def test_faulty_servers_are_reported_and_the_hub_keeps_serving(real_hub, hub_tools, sample_api):
    hub = real_hub
    client = hub_client(hub)
    client.upsert_server("good", hub_tools.stdio_config())
    client.upsert_server("crash", hub_tools.stdio_config("--mode", "crash"))
    client.upsert_server("hang", hub_tools.stdio_config("--mode", "hang", options={"connectTimeout": 1500}))
    client.upsert_server("garbage", hub_tools.stdio_config("--mode", "garbage", options={"connectTimeout": 1500}))
    client.upsert_server("missing-binary", {"type": "stdio", "command": "/nonexistent/mcp-server"})
    client.upsert_server("spec404", {"type": "openapi", "openapi": {"url": sample_api + "/missing.json"}})
    client.upsert_server("nohost", {"type": "streamable-http", "url": f"http://127.0.0.1:{free_port()}/mcp",
                                    "options": {"connectTimeout": 3000}})
    client.wait_connected("good", timeout=30)

    def error_of(name: str) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            server = client.get_server(name)
            if server["status"] == "disconnected" and server["error"]:
                return server["error"]
            time.sleep(0.2)
        raise AssertionError(f"{name} never reported an error: {server}")

    assert "FOO_API_URL" in error_of("crash")                      # the child's stderr is in the error
    assert "initialize" in error_of("hang")                         # connect timeout
    assert "not json-rpc" in error_of("garbage").lower() or "invalid output" in error_of("garbage")
    assert "nonexistent" in error_of("missing-binary") or "No such file" in error_of("missing-binary")
    assert "404" in error_of("spec404")
    assert error_of("nohost") == "ConnectError: All connection attempts failed"   # nothing listens on that port
    with pytest.raises(HubError, match="crash.*FOO_API_URL"):
        client.wait_connected("crash", timeout=0.5)

    health = hub_request(hub, "GET", "/health").json()
    assert health["status"] == "degraded" and health["servers"]["disconnected"] >= 6
    # The healthy server still answers through the hub.
    response = hub_request(hub, "POST", "/api/tools/call/good", json={"toolName": "add", "arguments": {"a": 3, "b": 4}})
    assert response.json()["data"]["content"][0]["text"] == "7"
    logs = hub_request(hub, "GET", "/api/logs").json()["data"]
    assert any(entry["source"] == "crash" and "FOO_API_URL" in entry["message"] for entry in logs)
    for name in ("good", "crash", "hang", "garbage", "missing-binary", "spec404", "nohost"):
        client.delete_server(name)
    assert hub_request(hub, "GET", "/health").json()["status"] == "healthy"


def test_a_dead_stdio_child_is_noticed_and_restarted(real_hub, hub_tools):
    """The child dies after connecting: the hub notices (its stdout closes) and shows `disconnected` with the
    reason and no tools, restarts it with backoff (a new process), and a tool call through the hub works again."""
    hub = real_hub
    import psutil

    client = hub_client(hub)
    client.upsert_server("phoenix", hub_tools.stdio_config(env={"HUB_TEST_SERVER": "phoenix"}))
    client.wait_connected("phoenix", timeout=30)

    def children() -> set[int]:
        """phoenix's child processes (marked by an env variable only its config sets)."""
        found = set()
        for proc in psutil.Process(hub.proc.pid).children(recursive=True):
            try:
                if proc.environ().get("HUB_TEST_SERVER") == "phoenix" and proc.is_running():
                    found.add(proc.pid)
            except psutil.Error:   # exited meanwhile
                pass
        return found

    def add(a: int, b: int) -> dict:
        response = hub_request(hub, "POST", "/api/tools/call/phoenix", json={"toolName": "add",
                                                                         "arguments": {"a": a, "b": b}})
        return response.json()["data"]

    assert add(1, 2)["content"][0]["text"] == "3"
    before = children()
    assert len(before) == 1, before
    for pid in before:
        psutil.Process(pid).kill()
    deadline = time.monotonic() + 15
    down = None
    while time.monotonic() < deadline and down is None:   # the backoff keeps it down >= 1 s: poll well inside that
        server = client.get_server("phoenix")
        if server["status"] == "disconnected":
            down = server
        time.sleep(0.05)
    assert down is not None, f"the hub never noticed the dead child: {client.get_server('phoenix')}"
    assert down["error"].startswith("the server process exited (its stdout closed); restarting it"), down
    assert down["tools"] == [] and "phoenix-add" not in client.list_tools()
    dead = add(1, 1)
    assert dead["isError"] is True and dead["content"][0]["text"] == "Unknown tool: phoenix-add"

    server = client.wait_connected("phoenix", timeout=30)
    assert server["error"] is None and "phoenix-add" in {t["name"] for t in server["tools"]}
    after = children()
    assert len(after) == 1 and not after & before   # a new process
    result = add(3, 4)
    assert result["isError"] is False and result["content"][0]["text"] == "7"
    client.delete_server("phoenix")


def test_persistence_redaction_and_auth(tmp_path, hub_tools):
    """In this process: the sample API is reached through the hub's openapi transport; `gh` (a stdio server with
    its token in env) is stored disabled, so no child starts — its redaction is of the stored config."""
    settings = tmp_path / "mcp_settings.json"
    token = "hub-token-" + "x" * 20
    github_like = {"type": "stdio", "command": hub_tools.python, "args": [hub_tools.upstream, "stdio"],
                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET}, "enabled": False}
    remote = {"type": "streamable-http", "url": "http://127.0.0.1:9/mcp",
              "headers": {"Authorization": f"Bearer {SECRET}x"}}
    api = {"type": "openapi", "openapi": {"url": hub_tools.sample_api_url + "/openapi.json",
                                           "security": {"type": "http", "http": {"scheme": "bearer",
                                                                                 "credentials": SECRET + "y"}}}}
    sample = hub_tools.sample_api_transport()
    with hub_in_process(settings, token=token, openapi_transport=sample) as hub:
        assert hub.http.get("/health").status_code == 200          # open
        for path in ("/api/servers", "/api/settings"):
            assert hub.http.get(path).status_code == 401
            assert hub.http.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert hub.http.post("/mcp", json={}).status_code == 401
        client = hub.client(token)
        for name, config in (("gh", github_like), ("remote", remote), ("api", api)):
            client.upsert_server(name, config)
        client.wait_connected("api", timeout=30)
        bodies = [hub.http.get(p, headers={"Authorization": f"Bearer {token}"}).text
                  for p in ("/api/servers", "/api/servers/gh", "/api/servers/remote", "/api/servers/api",
                            "/api/settings", "/api/logs")]
        for body in bodies:
            assert SECRET not in body
        assert json.loads(bodies[1])["data"]["config"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == "******"
        # mcphub-style login: JWT in x-auth-token.
        login = hub.http.post("/api/auth/login", json={"username": "admin", "password": token})
        jwt = login.json()["token"]
        assert hub.http.get("/api/servers", headers={"x-auth-token": jwt}).status_code == 200
        assert hub.client(username="admin", password=token).list_tools()
        bad = hub.http.post("/api/auth/login", json={"username": "admin", "password": "nope"})
        assert bad.status_code == 401
    stored = json.loads(settings.read_text())
    assert stored["mcpServers"]["gh"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == SECRET   # kept: needed to connect
    assert set(stored) >= {"mcpServers", "users", "groups", "systemConfig", "bearerKeys"}
    assert oct(settings.stat().st_mode & 0o777) == "0o600"
    # Restart on the same file: the servers are back and connect again.
    with hub_in_process(settings, token=token, openapi_transport=sample) as hub:
        client = hub.client(token)
        assert {s["name"] for s in client.list_servers()} == {"gh", "remote", "api"}
        client.wait_connected("api", timeout=30)
        assert "api-listItems" in client.list_tools()


def test_malformed_settings_file_fails_at_start(tmp_path, hub_tools):
    settings = tmp_path / "mcp_settings.json"
    settings.write_text('{"mcpServers": {"a": ')
    done = subprocess.run([hub_tools.python, "-m", "agentic.hub", "--port", str(free_port()), "--settings",
                           str(settings)], cwd=hub_tools.root, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert str(settings) in done.stderr and "not valid JSON" in done.stderr


def test_client_errors(hub):
    with pytest.raises(HubUnavailable, match="not reachable"):
        HubClient(f"http://127.0.0.1:{free_port()}").health()
    with pytest.raises(HubError, match="does not exist"):
        hub_client(hub).wait_connected("ghost", timeout=0.3)
    assert hub_client(hub).delete_server("ghost") is False


def test_upsert_against_mcphub_duplicate_answer():
    """Real mcphub answers 400 on a duplicate name: the client must PUT instead (mcphub's answers, recorded)."""
    calls = []

    def mcphub(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path, json.loads(request.content or b"{}")))
        if request.method == "POST":
            return httpx.Response(400, json={"success": False, "message": "Server name already exists"})
        return httpx.Response(200, json={"success": True, "message": "Server updated successfully"})

    client = HubClient("http://mcphub.test", transport=httpx.MockTransport(mcphub))
    assert client.upsert_server("jules", {"type": "openapi", "openapi": {"url": "http://x"}}) == "updated"
    assert [c[:2] for c in calls] == [("POST", "/api/servers"), ("PUT", "/api/servers/jules")]
    assert calls[1][2] == {"config": {"type": "openapi", "openapi": {"url": "http://x"}}}


def test_invalid_entries_in_the_settings_file_do_not_stop_the_hub(tmp_path, hub_tools):
    ok = {"type": "openapi", "openapi": {"schema": {
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://127.0.0.1:9/v1"}],
        "paths": {"/a": {"get": {"operationId": "getA"}}}}}}
    settings = hub_tools.write_settings(tmp_path / "mcp_settings.json", {
        "ok": ok,
        "weird": {"type": "ftp", "options": "x", "openapi": "nope"},
        "nocmd": {"type": "stdio", "args": 5},
    })
    with hub_in_process(settings) as hub:
        client = hub.client()
        client.wait_connected("ok", timeout=30)
        weird, nocmd = client.get_server("weird"), client.get_server("nocmd")
        assert weird["status"] == "disconnected" and "`type`" in weird["error"]
        assert nocmd["status"] == "disconnected" and "`command`" in nocmd["error"]
        assert hub.http.get("/health").json()["status"] == "degraded"


def test_a_login_jwt_counts_only_when_signed_by_the_hub():
    """The login JWT is checked by its signature: one signed with another key, an unsigned one (alg none), an
    expired one or a tampered payload get nothing; the hub's own token gets in."""
    import jwt as pyjwt

    from agentic.hub.auth import Auth

    auth = Auth("hub-token-for-jwt", lambda: [])
    good = auth.issue("admin")
    payload = {"user": {"username": "admin", "isAdmin": True}, "exp": int(time.time()) + 3600}
    header, _, signature = good.split(".")
    forged = {
        "another key": pyjwt.encode(payload, "not-the-hub-secret", algorithm="HS256"),
        "alg none": pyjwt.encode(payload, None, algorithm="none"),
        "expired": pyjwt.encode(payload | {"exp": int(time.time()) - 60}, auth._jwt_secret, algorithm="HS256"),
        "tampered": ".".join((header, pyjwt.utils.base64url_encode(json.dumps(payload | {"user": {
            "username": "mallory", "isAdmin": True}}).encode()).decode(), signature)),
    }
    assert auth.allowed({b"x-auth-token": good.encode()}, b"")
    assert auth.allowed({}, b"token=" + good.encode())
    for name, token in forged.items():
        assert not auth.allowed({b"x-auth-token": token.encode()}, b""), name
        assert not auth.allowed({}, b"token=" + token.encode()), name
