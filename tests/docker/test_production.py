"""stacks/production/compose.yaml booted for real: certificates made at test time, Caddy in front of Prefect (TLS,
Prefect's basic auth through it), the hub and the receiver on TLS with their tokens, the worker on its pool, Prefect
on an external PostgreSQL (a container of its own, reached like a database host outside the stack)."""

from __future__ import annotations

import os
import secrets

import httpx
import pytest
import trustme

from agentic.stacks.ports import free_port
from tests.docker.conftest import checkout, ensure_images, sh, write_env

pytestmark = pytest.mark.timeout(1500)
COMPOSE = "docker compose -f stacks/production/compose.yaml"
GATEWAY = "172.17.0.1"  # the default bridge's gateway: the host, as every container sees it


def test_production_compose_boots_behind_tls_and_auth(tmp_path, user_env):
    ensure_images("production", "prefect")
    repo = checkout(tmp_path)
    certs = repo / "stacks/production/certs"
    certs.mkdir()
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    for name in ("prefect", "hub", "triggers"):
        cert = ca.issue_cert(name if name != "prefect" else "prefect-proxy", "mcp-hub", "triggers", "localhost",
                             "127.0.0.1")
        cert.private_key_pem.write_to_path(str(certs / f"{name}.key"))
        cert.cert_chain_pems[0].write_to_path(str(certs / f"{name}.pem"))
        os.chmod(certs / f"{name}.key", 0o644)  # read by the containers' own users

    auth = f"admin:{secrets.token_hex(8)}"
    hub_token, webhook_secret = secrets.token_hex(16), secrets.token_hex(16)
    pg_port = free_port()
    ports = {"IBT_PORT_PREFECT": free_port(), "IBT_PORT_MCP_HUB": free_port(), "IBT_PORT_TRIGGERS": free_port()}
    database = f"ibt-test-external-pg-{pg_port}"
    env = {**user_env, **{k: str(v) for k, v in ports.items()}, "PYTHONPATH": str(repo),
           "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://prefect:prefect@{GATEWAY}:{pg_port}/prefect",
           "PREFECT_SERVER_API_AUTH_STRING": auth, "PREFECT_API_AUTH_STRING": auth,
           "PREFECT_PUBLIC_URL": f"https://localhost:{ports['IBT_PORT_PREFECT']}", "CA_BUNDLE": "/certs/ca.pem"}
    sh("cp agentic/.env.example agentic/.env", repo, env)
    write_env(repo / "agentic/.env", {"MCP_HUB_TOKEN": hub_token, "GITHUB_WEBHOOK_SECRET": webhook_secret})
    try:
        sh(f"docker run -d --name {database} -e POSTGRES_USER=prefect -e POSTGRES_PASSWORD=prefect "
           f"-e POSTGRES_DB=prefect -p {GATEWAY}:{pg_port}:5432 postgres:15", repo, env)
        sh(f"{COMPOSE} up -d --wait --pull never", repo, env, timeout=900)

        verify = str(certs / "ca.pem")
        prefect = f"https://localhost:{ports['IBT_PORT_PREFECT']}/api"
        user, password = auth.split(":")
        assert httpx.get(f"{prefect}/health", verify=verify, auth=(user, password)).json() is True
        assert httpx.get(f"{prefect}/flows/filter", verify=verify).status_code == 401, "Prefect's auth, through Caddy"
        # TLS only: plain HTTP on the published port gets Caddy's refusal, never Prefect.
        plain = httpx.get(f"http://localhost:{ports['IBT_PORT_PREFECT']}/api/health", timeout=5)
        assert plain.status_code == 400 and "HTTPS" in plain.text, plain.text

        hub = f"https://localhost:{ports['IBT_PORT_MCP_HUB']}"
        assert httpx.get(f"{hub}/health", verify=verify).status_code == 200
        assert httpx.get(f"{hub}/api/servers", verify=verify).status_code == 401
        assert httpx.get(f"{hub}/api/servers", verify=verify,
                         headers={"Authorization": f"Bearer {hub_token}"}).status_code == 200

        triggers = f"https://localhost:{ports['IBT_PORT_TRIGGERS']}"
        assert httpx.get(f"{triggers}/health", verify=verify).status_code == 200
        unsigned = httpx.post(f"{triggers}/api/github/webhooks", verify=verify, json={"zen": "hi"},
                              headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "1"})
        assert unsigned.status_code == 401, unsigned.text

        ps = sh(f"{COMPOSE} ps --format '{{{{.Service}}}} {{{{.Health}}}}'", repo, env).stdout.split("\n")
        health = dict(line.split(" ", 1) for line in ps if line.strip())
        assert health == dict.fromkeys(["prefect", "prefect-proxy", "mcp-hub", "triggers", "worker"], "healthy"), ps
        secrets_seen = sh(f"{COMPOSE} logs", repo, env).stdout
        for secret in (hub_token, webhook_secret, password):
            assert secret not in secrets_seen, "a secret reached the logs"
    finally:
        sh(f"{COMPOSE} down -v --remove-orphans", repo, env, check=False, timeout=300)
        sh(f"docker rm -f -v {database}", repo, env, check=False)
