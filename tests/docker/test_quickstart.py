"""The seed's Quick Start, verbatim, against containers: `docker compose -f prefect.local.yaml -f mcp-hub.local.yaml
up`, the health curls, the hub's server list, `cd agentic && python deployment/deploy.py --deploy-only`, then a
sandbox issue (the simulators in their own containers) to a pull request through the hub in its container; the
README's Troubleshooting commands; and the same stack through `ibt stacks` on the Docker path."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from tests.docker.conftest import checkout, container_ip, ensure_images, require_free_ports, sh, wait_http, write_env

COMPOSE = "docker compose -f stacks/prefect/prefect.local.yaml -f stacks/mcp-hub/mcp-hub.local.yaml"
SANDBOX = "docker compose -f stacks/sandbox/sandbox.local.yaml"
ISSUE = "https://github.com/acme/widgets/issues/1"

pytestmark = pytest.mark.timeout(1500)


@pytest.fixture
def quickstart(tmp_path, user_env):
    ensure_images("prefect", "mcp-hub", "sandbox")
    require_free_ports(4200, 3000, 15432, 3101, 3102)
    repo = checkout(tmp_path)
    # An open hub on loopback, as natively with the sandbox: the seed's curls carry no token (docs/stacks.md).
    env = {**user_env, "IBT_HUB_TOKEN_FILE": "", "PYTHONPATH": str(repo)}
    try:
        yield repo, env
    finally:
        for files in (COMPOSE, SANDBOX):
            sh(f"{files} down -v --remove-orphans", repo, env, check=False, timeout=300)


def test_the_seed_quick_start_verbatim_reaches_a_pull_request(quickstart):
    repo, env = quickstart
    # The simulators first, in their own containers: their addresses go into agentic/.env like a user's URLs.
    sh(f"{SANDBOX} up -d --wait --pull never", repo, env, timeout=600)
    github = f"http://{container_ip('ibt', 'github-sim')}:3101"
    jules = f"http://{container_ip('ibt', 'jules-sim')}:3102/v1alpha"
    sh("cp agentic/.env.example agentic/.env", repo, env)
    write_env(repo / "agentic/.env", {"GITHUB_TOKEN": "sim-token-agent", "JULES_API_KEY": "sandbox-jules-key",
                                      "GITHUB_API_URL": github, "JULES_API_URL": jules, "LLM_MODEL": "sandbox",
                                      "GITHUB_WEB_URL": "https://github.com",  # the simulator's html_url
                                      "POLL_INTERVAL_SECONDS": "1"})

    # The seed's command, as printed (in the background, as a user keeps it in a terminal).
    up = subprocess.Popen(f"{COMPOSE} up", shell=True, cwd=repo, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_http("http://localhost:4200/api/health", timeout=300).status_code == 200
        assert wait_http("http://localhost:3000/health", timeout=120).status_code == 200
        assert sh("curl -s http://localhost:4200/api/health", repo, env).stdout.strip() == "true"
        assert '"status"' in sh("curl -s http://localhost:3000/health", repo, env).stdout
        servers = sh("curl -s http://localhost:3000/api/servers", repo, env).stdout
        assert '"success"' in servers and '"data"' in servers, servers

        deploy = sh("cd agentic && python deployment/deploy.py --deploy-only", repo, env, timeout=600)
        assert "jules-agent-deployment" in deploy.stdout + deploy.stderr
        listed = httpx.get("http://localhost:3000/api/servers", timeout=10).json()["data"]
        status = {server["name"]: server["status"] for server in listed}
        assert status.get("github") == "connected", listed  # the npm server, started inside the hub's container
        assert status.get("jules") == "connected" and status.get("github-rest") == "connected", status

        run = sh(f"python -m agentic.workflows.jules_workflow {ISSUE} --json", repo, env, timeout=900, check=False)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert '"pull_request_url"' in run.stdout or "/pull/" in run.stdout, run.stdout
        pulls = httpx.get(f"{github}/repos/acme/widgets/pulls", params={"state": "all"},
                          headers={"Authorization": "Bearer sim-token-agent"}, timeout=10).json()
        assert [p for p in pulls if "#1" in (p.get("body") or "")], pulls
        sessions = httpx.get(f"{jules}/sessions", headers={"X-Goog-Api-Key": "sandbox-jules-key"}, timeout=10).json()
        assert len(sessions.get("sessions", [])) == 1, sessions

        # The README's Troubleshooting, as printed for Docker.
        logs = sh(f"{COMPOSE} logs mcp-hub", repo, env).stdout
        assert "MCP hub on http://0.0.0.0:3000" in logs, logs[-2000:]
        assert "prefect" in sh(f"{COMPOSE} ps", repo, env).stdout
    finally:
        up.terminate()
        try:
            up.wait(timeout=120)
        except subprocess.TimeoutExpired:
            up.kill()


def test_ibt_stacks_takes_the_docker_path(tmp_path, user_env):
    """`ibt stacks run` with an engine: compose up, then status, logs, restart SERVICE and stop — the same commands
    as natively, on containers. The hub keeps its default token in `.ibt/mcp-hub/token` on the host, where the
    README's curls (and deploy.py) read it."""
    ensure_images("prefect", "mcp-hub")
    require_free_ports(4200, 3000, 15432)
    repo = checkout(tmp_path)
    env = {**user_env, "PYTHONPATH": str(repo)}
    ibt = "python -m agentic.cli stacks"
    try:
        up = sh(f"{ibt} run prefect mcp-hub -d", repo, env, timeout=600)
        assert "Docker engine found: docker compose" in up.stdout
        status = sh(f"{ibt} status", repo, env)
        assert "prefect" in status.stdout and "healthy" in status.stdout and "mcp-hub" in status.stdout
        assert "MCP hub on" in sh(f"{ibt} logs mcp-hub", repo, env).stdout

        token = (repo / ".ibt/mcp-hub/token").read_text().strip()
        assert len(token) >= 32
        readme = (repo / "README.md").read_text()
        block = readme[readme.index("export MCP_HUB_TOKEN=$(cat .ibt/mcp-hub/token)"):]
        curls = block[:block.index("```")].splitlines()
        listing = sh("\n".join([curls[0], curls[2]]), repo, env).stdout  # the lines as a user pastes them
        assert '"success":true' in listing.replace(" ", ""), listing
        assert httpx.get("http://localhost:3000/api/servers", timeout=10).status_code == 401, "auth is on"
        before = wait_http("http://localhost:3000/health").status_code
        sh(f"{ibt} restart mcp-hub", repo, env, timeout=300)
        assert before == wait_http("http://localhost:3000/health").status_code == 200
        down = sh(f"{ibt} stop", repo, env, timeout=300)
        assert down.returncode == 0
        assert sh(f"{ibt} status", repo, env, check=False).returncode == 1
        time.sleep(1)
        with pytest.raises(httpx.HTTPError):
            httpx.get("http://localhost:4200/api/health", timeout=3)
    finally:
        sh(f"{COMPOSE} down -v --remove-orphans", repo, env, check=False, timeout=300)


def test_a_missing_image_is_refused_without_reaching_for_a_registry(tmp_path, user_env):
    repo = checkout(tmp_path)
    (repo / "stacks/mcp-hub/mcp-hub.local.yaml").write_text(
        (repo / "stacks/mcp-hub/mcp-hub.local.yaml").read_text().replace("image: ibt-app:local",
                                                                          "image: ibt-app:not-built"))
    proc = sh("python -m agentic.cli stacks run mcp-hub -d", repo, {**user_env, "PYTHONPATH": str(repo)},
              check=False, timeout=120)
    assert proc.returncode == 1
    assert "no image ibt-app:not-built" in proc.stderr and "ibt images build mcp-hub" in proc.stderr, proc.stderr
