"""The hub and the webhook receiver over HTTPS with a test certificate made at test time (trustme, never a committed
key): real processes, started as `python -m agentic.hub` / `python -m agentic.triggers` are in production.

Clients verify by default: without the test CA they refuse the server; with AGENTIC_CA_BUNDLE they accept it. A
plain-HTTP call to the TLS port fails, and so does a call without the hub's token (or an unsigned delivery)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from agentic.errors import HubError, HubUnavailable
from agentic.hub.client import HubClient
from agentic.settings import get_settings
from agentic.stacks.ports import free_port
from agentic.hub.mcp_client import connect_hub

TOKEN = "tls-test-token"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost, as PEM files."""
    where = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": where / "ca.pem", "cert": where / "server.pem", "key": where / "server.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    leaf.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    for extra in leaf.cert_chain_pems[1:]:
        extra.write_to_path(str(paths["cert"]), append=True)
    leaf.private_key_pem.write_to_path(str(paths["key"]))
    other = trustme.CA().issue_cert("127.0.0.1")  # a key that does not match `cert`
    paths["wrong_key"] = where / "wrong.key"
    other.private_key_pem.write_to_path(str(paths["wrong_key"]))
    return paths


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env_file = tmp / "empty.env"
    env_file.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_HUB_", "TRIGGERS_", "GITHUB_", "OTEL_"))}
    return {**env, "AGENTIC_ENV_FILE": str(env_file), "PYTHONUNBUFFERED": "1", **extra}


@contextlib.contextmanager
def _serving(args: list[str], env: dict[str, str], url: str, ca: Path) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{args[1]} exited {proc.returncode}: {proc.stdout.read()[-2000:]}")
            try:
                httpx.get(url + "/health", verify=str(ca), timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def hub_url(pki, tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("hub")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    args = ["-m", "agentic.hub", "--port", str(port), "--settings", str(tmp / "mcp_settings.json"),
            "--ssl-certfile", str(pki["cert"]), "--ssl-keyfile", str(pki["key"])]
    with _serving(args, _env(tmp, MCP_HUB_TOKEN=TOKEN), url, pki["ca"]):
        yield url


def test_hub_answers_https_to_a_client_that_trusts_the_ca(hub_url, pki):
    settings = get_settings(agentic_ca_bundle=pki["ca"])
    with HubClient(hub_url, TOKEN, verify=settings.tls_verify) as client:
        assert client.health()["status"] in ("ok", "healthy")
        assert client.list_servers() == []


def test_hub_refuses_tokenless_and_is_refused_without_the_ca(hub_url, pki):
    settings = get_settings(agentic_ca_bundle=pki["ca"])
    with HubClient(hub_url, None, verify=settings.tls_verify) as client, pytest.raises(HubError, match="401"):
        client.list_servers()
    # Default verification (system CAs): the private CA is not trusted, the call fails before any request is sent.
    with HubClient(hub_url, TOKEN) as client, pytest.raises(HubUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        client.list_servers()


def test_plain_http_to_the_tls_port_fails(hub_url):
    plain = hub_url.replace("https://", "http://")
    with HubClient(plain, TOKEN) as client, pytest.raises(HubUnavailable):
        client.list_servers()


async def test_mcp_sessions_verify_with_the_ca_bundle(hub_url, pki):
    settings = get_settings(agentic_ca_bundle=pki["ca"], mcp_server_url=hub_url)
    async with connect_hub(settings.hub_mcp_url, TOKEN, verify=settings.tls_verify) as hub:
        assert await hub.list_tool_names() == []
    with pytest.raises(HubUnavailable, match="CERTIFICATE_VERIFY_FAILED|SSL"):
        async with connect_hub(settings.hub_mcp_url, TOKEN, connect_budget=0.5):
            pass
    # Tokenless: the hub answers 401 (the MCP SDK 2.3 reports it as a generic error response, not the status).
    with pytest.raises(HubError, match="refused the token|error response"):
        async with connect_hub(settings.hub_mcp_url, None, verify=settings.tls_verify, connect_budget=0.5):
            pass


def test_receiver_answers_https_and_refuses_unsigned_and_plain_http(pki, tmp_path):
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    env = _env(tmp_path, TRIGGERS_SSL_CERTFILE=str(pki["cert"]), TRIGGERS_SSL_KEYFILE=str(pki["key"]),
               GITHUB_WEBHOOK_SECRET="tls-secret", PREFECT_API_URL="http://127.0.0.1:9/api")
    with _serving(["-m", "agentic.triggers", "--port", str(port)], env, url, pki["ca"]):
        health = httpx.get(url + "/health", verify=str(pki["ca"]), timeout=5)
        assert health.status_code == 200 and health.json()["signatures"] == "checked"
        unsigned = httpx.post(url + "/api/github/webhooks", verify=str(pki["ca"]), timeout=5, content=b"{}",
                              headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1",
                                       "Content-Type": "application/json"})
        assert unsigned.status_code == 401
        with pytest.raises(httpx.TransportError):
            httpx.get(url.replace("https://", "http://") + "/health", timeout=5)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url + "/health", timeout=5)


@pytest.mark.parametrize("which, message", [
    ("cert-only", "needs both a certificate and its key"),
    ("wrong-key", "cannot load TLS certificate"),
])
def test_a_bad_certificate_pair_is_one_clear_line(pki, tmp_path, which, message):
    key = [] if which == "cert-only" else ["--ssl-keyfile", str(pki["wrong_key"])]
    proc = subprocess.run([sys.executable, "-m", "agentic.hub", "--port", str(free_port()), "--settings",
                           str(tmp_path / "s.json"), "--ssl-certfile", str(pki["cert"]), *key],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


async def test_the_batch_flow_reads_issues_through_a_hub_behind_a_private_ca(hub_url, pki, tmp_path, monkeypatch):
    """`ibt batch` reaches the hub like the main flow does: with AGENTIC_CA_BUNDLE (it once connected with the
    system CAs only, and failed behind a private CA while the flow worked)."""
    from agentic.deployment.servers import hub_server_definitions
    from agentic.schemas import GITHUB_REST_SERVER_NAME
    from agentic.sandbox.github import DEMO_SEED
    from agentic.triggers.batch import batch_issues

    port = free_port()
    github = f"http://127.0.0.1:{port}"
    args = ["-m", "agentic.sandbox.github", "--port", str(port), "--seed", str(DEMO_SEED)]
    sim = subprocess.Popen([sys.executable, *args], env=_env(tmp_path), stdout=subprocess.DEVNULL,
                           stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{github}/_sim/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and sim.poll() is None, "the GitHub simulator did not start"
                time.sleep(0.2)
        settings = get_settings(agentic_ca_bundle=pki["ca"], github_api_url=github, github_token="sim-token-agent",
                                jules_api_key="unused")
        servers = hub_server_definitions(settings)
        with HubClient(hub_url, TOKEN, verify=settings.tls_verify) as client:
            for name in ("github", GITHUB_REST_SERVER_NAME):  # batch lists with the npm server's list_issues
                client.upsert_server(name, servers[name])
        for key, value in {"MCP_SERVER_URL": hub_url, "MCP_HUB_TOKEN": TOKEN, "AGENTIC_CA_BUNDLE": str(pki["ca"]),
                           "GITHUB_API_URL": github, "GITHUB_TOKEN": "sim-token-agent"}.items():
            monkeypatch.setenv(key, value)
        result = await batch_issues.fn(repo="acme/widgets", dry_run=True)
        assert result.items
        assert all(item.url.startswith("https://github.com/acme/widgets/issues/") for item in result.items)
    finally:
        sim.terminate()
        sim.wait(10)


def test_the_receiver_reaches_a_github_behind_a_private_ca(pki, tmp_path):
    """The receiver checks the sender's permission and puts 👀 on the issue through GitHub's REST API with
    AGENTIC_CA_BUNDLE, as a GitHub Enterprise Server behind a private CA needs (it once used the system CAs only:
    every trigger answered 503 "GitHub unavailable"). Prefect is unreachable here, so the answer is Prefect's 503."""
    import hashlib
    import hmac
    import json
    import threading

    import uvicorn

    from agentic.sandbox.github import DEMO_SEED, create_app, load_seed_file

    sim_port, port, secret = free_port(), free_port(), "tls-secret"
    github = f"https://127.0.0.1:{sim_port}"
    server = uvicorn.Server(uvicorn.Config(create_app({"seed": load_seed_file(DEMO_SEED)}), host="127.0.0.1",
                                           port=sim_port, log_level="warning", ssl_certfile=str(pki["cert"]),
                                           ssl_keyfile=str(pki["key"])))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        gh = httpx.Client(base_url=github, verify=str(pki["ca"]), timeout=10,
                          headers={"Authorization": "Bearer sim-token-alice"})
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the GitHub simulator did not start"
            time.sleep(0.1)
        issue = gh.post("/repos/acme/widgets/issues", json={"title": "TLS trigger", "body": "b"}).json()
        comment = gh.post(f"/repos/acme/widgets/issues/{issue['number']}/comments", json={"body": "/jules"}).json()
        payload = {"action": "created", "issue": issue, "comment": comment, "sender": comment["user"],
                   "repository": gh.get("/repos/acme/widgets").json()}
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "tls-1",
                   "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
        env = _env(tmp_path, GITHUB_WEBHOOK_SECRET=secret, GITHUB_API_URL=github, GITHUB_TOKEN="sim-token-agent",
                   AGENTIC_CA_BUNDLE=str(pki["ca"]), PREFECT_API_URL="http://127.0.0.1:9/api",
                   TRIGGERS_DEADLINE_SECONDS="6")
        url = f"http://127.0.0.1:{port}"
        with _serving(["-m", "agentic.triggers", "--port", str(port)], env, url, pki["ca"]):
            answer = httpx.post(url + "/api/github/webhooks", content=body, headers=headers, timeout=30)
        reactions = gh.get(f"/repos/acme/widgets/issues/{issue['number']}/reactions").json()
        assert answer.status_code == 503 and "Prefect" in answer.json()["reason"], answer.text
        assert [(r["content"], r["user"]["login"]) for r in reactions] == [("eyes", "issue-agent[bot]")], reactions
    finally:
        server.should_exit = True
        thread.join(15)
