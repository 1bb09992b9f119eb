"""stacks/production/compose.yaml booted for real: certificates made at test time, Caddy in front of Prefect (TLS,
Prefect's basic auth through it), the hub and the receiver on TLS with their tokens, the worker on its pool, Prefect
on an external PostgreSQL (a container of its own, reached like a database host outside the stack). The simulators
join the project (production-sandbox.yaml); GitHub's webhook (the simulator's, signed) starts each run, which the
worker container takes to a pull request — also with prefect, mcp-hub or the worker restarted, or the hub's process
killed, mid-run."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from agentic.stacks.ports import free_port
from tests.docker.conftest import checkout, ensure_images, sh, write_env
from tests.report_sections import table, write_section

pytestmark = pytest.mark.timeout(1800)
COMPOSE = "docker compose -f stacks/production/compose.yaml"
WITH_SIMS = f"{COMPOSE} -f {Path(__file__).parent / 'production-sandbox.yaml'}"
# The default bridge's gateway: the host, as every container sees it (an external database lives there).
GATEWAY = subprocess.run(["docker", "network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}"],
                         capture_output=True, text=True).stdout.strip() or "172.17.0.1"
ALICE = {"Authorization": "Bearer sim-token-alice"}


@dataclass
class Production:
    repo: Path
    env: dict[str, str]
    ca: str
    auth: tuple[str, str]
    hub_token: str
    secrets: tuple[str, ...]
    prefect: str
    hub: str
    triggers: str
    github: str
    jules: str

    def compose(self, args: str, **kwargs) -> subprocess.CompletedProcess[str]:
        return sh(f"{WITH_SIMS} {args}", self.repo, self.env, **kwargs)


@pytest.fixture(scope="module")
def production(tmp_path_factory, request):
    ensure_images("production", "prefect")
    from tests.docker.conftest import PY

    user_env = {k: v for k, v in os.environ.items() if not k.startswith(("IBT_", "PREFECT_", "MCP_", "GITHUB_"))}
    user_env["PATH"] = f"{Path(PY).parent}{os.pathsep}{user_env['PATH']}"
    repo = checkout(tmp_path_factory.mktemp("production"))
    certs = repo / "stacks/production/certs"
    certs.mkdir()
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    for name in ("prefect", "hub", "triggers"):
        cert = ca.issue_cert("prefect-proxy", "mcp-hub", "triggers", "localhost", "127.0.0.1")
        cert.private_key_pem.write_to_path(str(certs / f"{name}.key"))
        cert.cert_chain_pems[0].write_to_path(str(certs / f"{name}.pem"))
        os.chmod(certs / f"{name}.key", 0o644)  # read by the containers' own users

    password = secrets.token_hex(8)
    hub_token, webhook_secret = secrets.token_hex(16), secrets.token_hex(16)
    ports = {name: free_port() for name in ("IBT_PORT_PREFECT", "IBT_PORT_MCP_HUB", "IBT_PORT_TRIGGERS",
                                            "SIM_GITHUB_PORT", "SIM_JULES_PORT", "PG")}
    database = f"ibt-test-external-pg-{ports['PG']}"
    env = {**user_env, **{k: str(v) for k, v in ports.items()}, "PYTHONPATH": str(repo),
           "PREFECT_API_DATABASE_CONNECTION_URL":
               f"postgresql+asyncpg://prefect:prefect@{GATEWAY}:{ports['PG']}/prefect",
           "PREFECT_SERVER_API_AUTH_STRING": f"admin:{password}", "PREFECT_API_AUTH_STRING": f"admin:{password}",
           "PREFECT_PUBLIC_URL": f"https://localhost:{ports['IBT_PORT_PREFECT']}", "CA_BUNDLE": "/certs/ca.pem",
           "GITHUB_WEBHOOK_SECRET": webhook_secret}
    sh("cp agentic/.env.example agentic/.env", repo, env)
    # The containers' view: GitHub and Jules are the simulators on the compose network.
    write_env(repo / "agentic/.env", {
        "MCP_HUB_TOKEN": hub_token, "GITHUB_WEBHOOK_SECRET": webhook_secret, "GITHUB_TOKEN": "sim-token-agent",
        "JULES_API_KEY": "sandbox-jules-key", "GITHUB_API_URL": "http://github-sim:3101",
        "GITHUB_WEB_URL": "https://github.com", "JULES_API_URL": "http://jules-sim:3102/v1alpha",
        "LLM_MODEL": "sandbox", "POLL_INTERVAL_SECONDS": "1", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY": "30"})
    stack = Production(repo, env, str(certs / "ca.pem"), ("admin", password), hub_token,
                       (hub_token, webhook_secret, password),
                       f"https://localhost:{ports['IBT_PORT_PREFECT']}/api",
                       f"https://localhost:{ports['IBT_PORT_MCP_HUB']}",
                       f"https://localhost:{ports['IBT_PORT_TRIGGERS']}",
                       f"http://127.0.0.1:{ports['SIM_GITHUB_PORT']}", f"http://127.0.0.1:{ports['SIM_JULES_PORT']}")
    try:
        sh(f"docker run -d --name {database} -e POSTGRES_USER=prefect -e POSTGRES_PASSWORD=prefect "
           f"-e POSTGRES_DB=prefect -p {GATEWAY}:{ports['PG']}:5432 postgres:15", repo, env)
        stack.compose("up -d --wait --pull never", timeout=900)
        yield stack
    finally:
        logs = stack.compose("logs --no-color", check=False).stdout
        (Path(str(request.config.rootpath)) / ".pytest-production.log").write_text(logs) if os.environ.get(
            "AGENTIC_KEEP_LOGS") else None
        stack.compose("down -v --remove-orphans", check=False, timeout=300)
        sh(f"docker rm -f -v {database}", repo, env, check=False)


def test_production_compose_boots_behind_tls_and_auth(production):
    p = production
    assert httpx.get(f"{p.prefect}/health", verify=p.ca, auth=p.auth).json() is True
    assert httpx.get(f"{p.prefect}/flows/filter", verify=p.ca).status_code == 401, "Prefect's auth, through Caddy"
    # TLS only: plain HTTP on the published port gets Caddy's refusal, never Prefect.
    plain = httpx.get(p.prefect.replace("https://", "http://") + "/health", timeout=5)
    assert plain.status_code == 400 and "HTTPS" in plain.text, plain.text

    assert httpx.get(f"{p.hub}/health", verify=p.ca).status_code == 200
    assert httpx.get(f"{p.hub}/api/servers", verify=p.ca).status_code == 401
    assert httpx.get(f"{p.hub}/api/servers", verify=p.ca,
                     headers={"Authorization": f"Bearer {p.hub_token}"}).status_code == 200

    assert httpx.get(f"{p.triggers}/health", verify=p.ca).status_code == 200
    unsigned = httpx.post(f"{p.triggers}/api/github/webhooks", verify=p.ca, json={"zen": "hi"},
                          headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "1"})
    assert unsigned.status_code == 401, unsigned.text

    ps = p.compose("ps --format '{{.Service}} {{.Health}}'").stdout.split("\n")
    health = dict(line.split(" ", 1) for line in ps if line.strip())
    assert {k: v for k, v in health.items() if not k.endswith("-sim")} == dict.fromkeys(
        ["prefect", "prefect-proxy", "mcp-hub", "triggers", "worker"], "healthy"), ps


def _sessions_for(p: Production, number: int) -> list[dict]:
    sessions = httpx.get(f"{p.jules}/_sim/sessions", timeout=10).json()["sessions"]
    return [s for s in sessions if f"acme/widgets#{number}@" in (s.get("prompt") or "")]


def _pull_for(p: Production, number: int) -> dict | None:
    pulls = httpx.get(f"{p.github}/repos/acme/widgets/pulls", params={"state": "all", "per_page": 100},
                      headers=ALICE, timeout=10).json()
    fixing = [pr for pr in pulls if f"#{number}" in (pr.get("body") or "")]
    assert len(fixing) <= 1, fixing
    return fixing[0] if fixing else None


def _wait(what: str, probe, timeout: float, p: Production):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(1)
    tail = p.compose("logs --no-color --tail 40 triggers worker", check=False).stdout
    runs = httpx.post(f"{p.prefect}/flow_runs/filter", verify=p.ca, auth=p.auth, json={"limit": 20}).json()
    states = [(r["name"], r["state_name"], r["parameters"].get("github_issue_url")) for r in runs]
    raise AssertionError(f"timed out waiting for {what}\nflow runs: {states}\n{tail[-6000:]}")


def _all_healthy(p: Production) -> bool:
    ps = p.compose("ps --format '{{.Service}} {{.Health}}'", check=False).stdout.split("\n")
    health = dict(line.split(" ", 1) for line in ps if line.strip())
    return len(health) == 7 and set(health.values()) == {"healthy"}


def _crash(p: Production, service: str) -> None:
    """The service's process dies (kill -9 of the container's PID 1 from the host): its restart policy brings it
    back. (`docker kill` is a manual stop, which `unless-stopped` leaves down.)"""
    cid = p.compose(f"ps -q {service}").stdout.strip()
    pid = int(sh(f"docker inspect -f '{{{{.State.Pid}}}}' {cid}", p.repo, p.env).stdout.strip())
    os.kill(pid, signal.SIGKILL)


FAULTS = {
    "none": None,
    "docker compose restart prefect": lambda p: p.compose("restart prefect", timeout=300),
    "docker compose restart mcp-hub": lambda p: p.compose("restart mcp-hub", timeout=300),
    "docker compose restart worker": lambda p: p.compose("restart worker", timeout=300),
    "the hub's process killed (-9)": lambda p: _crash(p, "mcp-hub"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_signed_webhook_run_reaches_the_pull_request_over_tls(production, fault):
    """The label → the simulator's signed webhook → the receiver (TLS) → a run in the pool (Prefect behind Caddy,
    basic auth) → the worker container → the hub (TLS, token) → Jules → the PR; the fault, if any, lands while
    Jules' session runs. One session, one status comment, no secret in any container's log."""
    p = production
    # The previous case's fault has healed (GitHub does not retry a delivery the receiver failed while Prefect was
    # down: a person redelivers it; here the next label simply waits for a healthy stack).
    _wait("every service healthy", lambda: _all_healthy(p), 300, p)
    if not getattr(production, "deployed", False):
        deploy = p.compose("exec -T worker python -m agentic.cli deploy --work-pool jules", timeout=600)
        assert "work pool jules" in deploy.stdout + deploy.stderr, deploy.stdout + deploy.stderr
        production.deployed = True  # type: ignore[attr-defined]
    issue = httpx.post(f"{p.github}/repos/acme/widgets/issues", headers=ALICE, timeout=10, json={
        "title": f"Trailing dash ({fault})",
        "body": "`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
                "slugify('Hello!') returns 'hello-' instead of 'hello'.\n\n- [ ] no trailing dash"}).json()
    number = issue["number"]
    labeled = httpx.post(f"{p.github}/repos/acme/widgets/issues/{number}/labels", headers=ALICE, timeout=10,
                         json={"labels": ["jules"]})
    assert labeled.status_code == 200, labeled.text
    if FAULTS[fault] is not None:
        _wait("the Jules session", lambda: _sessions_for(p, number), 300, p)
        FAULTS[fault](p)
    pull = _wait("the pull request", lambda: _pull_for(p, number), 600, p)
    sessions = _sessions_for(p, number)
    comments = httpx.get(f"{p.github}/repos/acme/widgets/issues/{number}/comments", headers=ALICE, timeout=10).json()
    status = [c for c in comments if c["user"]["login"] == "issue-agent[bot]"]
    logs = p.compose("logs --no-color", timeout=120).stdout
    leaked = sum(secret in logs for secret in p.secrets)
    ROWS.append({"injected": f"{fault} while the session runs" if FAULTS[fault] else "no fault (the baseline)",
                 "outcome": f"PR #{pull['number']}", "runs lost": 0, "duplicate sessions": len(sessions) - 1,
                 "duplicate comments": len(status) - 1, "secrets leaked": leaked})
    assert pull["state"] == "open"
    assert len(sessions) == 1, sessions
    assert len(status) == 1, [c["body"][:80] for c in status]
    assert not leaked, "a secret reached the logs"


ROWS: list[dict] = []


@pytest.fixture(scope="module", autouse=True)
def report():
    """The rows join docs/reliability.md (their own section) when every case of this module ran."""
    yield
    if len(ROWS) == len(FAULTS):
        head = ["injected", "outcome", "runs lost", "duplicate sessions", "duplicate comments", "secrets leaked"]
        totals = {h: sum(row[h] for row in ROWS) for h in head[2:]}
        write_section("docker", [
            "## In containers: the production compose", "",
            "Generated by `scripts/test.sh tests/docker/test_production.py` (part of CI): stacks/production/compose.yaml "
            "with certificates made at test time, Prefect behind Caddy with basic auth on an external PostgreSQL, "
            "the hub and the receiver on TLS with their tokens, the worker container on its pool; each run starts "
            "from the GitHub simulator's signed webhook. Counts come from the simulators; secrets (the hub token, the "
            "webhook secret, Prefect's password) are searched in every container's log.", "",
            *table(head, ROWS), "",
            f"{len(ROWS)} rows; totals: " + ", ".join(f"{k} {v}" for k, v in totals.items()) + "."])
