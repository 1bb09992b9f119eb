"""A Docker work pool (Prefect's prefect-docker): `ibt deploy --work-pool NAME` into a pool of type docker runs each
flow run in its own container from the product's image (`ibt-app:local`, nothing pulled). Five issues at once; the
worker is killed (-9) mid-run and another started: every run reaches its pull request with one Jules session (the
runs' containers outlive their worker; the reentrant core makes a re-entry harmless). The stack (Prefect, hub,
simulators) runs in containers on the compose network the runs join."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

import httpx
import pytest

from agentic.stacks.process import start_process, stop_process
from tests.docker.conftest import checkout, container_ip, ensure_images, require_free_ports, sh, wait_http

pytestmark = pytest.mark.timeout(1500)
COMPOSE = ("docker compose -f stacks/prefect/prefect.local.yaml -f stacks/mcp-hub/mcp-hub.local.yaml "
           "-f stacks/sandbox/sandbox.local.yaml")
POOL = "docker-jules"
ALICE = {"Authorization": "Bearer sim-token-alice"}
ISSUES = 5


def _pool_template(network: str) -> dict:
    """prefect-docker's own base job template, with this stack's defaults: the runs join the compose network and
    reach Prefect, the hub and the simulators by their service names."""
    # In a process of its own: this package's name, tests/docker, would shadow the `docker` library here.
    template = json.loads(subprocess.run(
        [sys.executable, "-c", "import json; from prefect_docker.worker import DockerWorker; "
                               "print(json.dumps(DockerWorker.get_default_base_job_template()))"],
        capture_output=True, text=True, check=True, cwd="/").stdout)
    props = template["variables"]["properties"]
    props["networks"]["default"] = [network]
    props["auto_remove"]["default"] = True
    props["stream_output"]["default"] = False
    props["env"]["default"] = {
        "PREFECT_API_URL": "http://prefect:4200/api", "MCP_SERVER_URL": "http://mcp-hub:3000",
        "GITHUB_API_URL": "http://github-sim:3101", "GITHUB_WEB_URL": "https://github.com",
        "JULES_API_URL": "http://jules-sim:3102/v1alpha", "GITHUB_TOKEN": "sim-token-agent",
        "JULES_API_KEY": "sandbox-jules-key", "LLM_MODEL": "sandbox", "POLL_INTERVAL_SECONDS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return template


def test_a_docker_pool_runs_five_issues_in_containers_and_survives_its_worker_killed(tmp_path, user_env):
    ensure_images("prefect", "mcp-hub", "sandbox")
    require_free_ports(4200, 3000, 15432, 3101, 3102)
    repo = checkout(tmp_path)
    env = {**user_env, "IBT_HUB_TOKEN_FILE": "", "PYTHONPATH": str(repo)}
    worker = None
    try:
        sh(f"{COMPOSE} up -d --wait --pull never", repo, env, timeout=900)
        wait_http("http://localhost:4200/api/health", timeout=120)
        github = f"http://{container_ip('ibt', 'github-sim')}:3101"
        jules = f"http://{container_ip('ibt', 'jules-sim')}:3102/v1alpha"
        host = {**env, "PREFECT_API_URL": "http://localhost:4200/api", "MCP_SERVER_URL": "http://localhost:3000",
                "GITHUB_API_URL": github, "GITHUB_WEB_URL": "https://github.com", "JULES_API_URL": jules,
                "GITHUB_TOKEN": "sim-token-agent", "JULES_API_KEY": "sandbox-jules-key", "LLM_MODEL": "sandbox",
                "AGENTIC_ENV_FILE": str(tmp_path / "none.env")}

        async def make_pool():
            from prefect import get_client
            from prefect.client.schemas.actions import WorkPoolCreate

            async with get_client() as client:
                await client.create_work_pool(WorkPoolCreate(name=POOL, type="docker",
                                                             base_job_template=_pool_template("ibt_default")))

        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: "http://localhost:4200/api"}):
            asyncio.run(make_pool())
        deploy = sh(f"python -m agentic.cli deploy --work-pool {POOL}", repo, host, timeout=600)
        assert f"work pool {POOL}: exists (type docker)" in deploy.stdout + deploy.stderr, deploy.stdout

        worker_env = {**host, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
        argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "docker"]
        worker = start_process(argv, env=worker_env, log_path=tmp_path / "worker-1.log")

        numbers = []
        with httpx.Client(base_url=github, headers=ALICE, timeout=10) as gh:
            for i in range(ISSUES):
                issue = gh.post("/repos/acme/widgets/issues", json={
                    "title": f"Trailing dash, pool run {i}",
                    "body": "`slugify()` in `src/widgets/slugify.py` keeps a trailing dash: slugify('Hello!') "
                            "returns 'hello-' instead of 'hello'.\n\n- [ ] no trailing dash"}).json()
                numbers.append(issue["number"])
        run_ids = [line for line in (
            sh(f"prefect deployment run jules-agent-workflow/jules-agent-deployment "
               f"--param github_issue_url=https://github.com/acme/widgets/issues/{n}", repo, host).stdout
            for n in numbers)]
        assert all("Created flow run" in out for out in run_ids), run_ids

        def sessions() -> list[dict]:
            root = jules.removesuffix("/v1alpha")
            return httpx.get(f"{root}/_sim/sessions", timeout=10).json()["sessions"]

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not sessions():
            time.sleep(1)
        containers = sh("docker ps --filter label=io.prefect.flow-run-id -q", repo, env).stdout.split()
        assert containers, "each run is a container of its own"
        stop_process(worker, sig=signal.SIGKILL)  # the worker dies mid-run
        worker = start_process(argv, env=worker_env, log_path=tmp_path / "worker-2.log")

        def pulls() -> dict[int, list]:
            with httpx.Client(base_url=github, headers=ALICE, timeout=10) as gh:
                listed = gh.get("/repos/acme/widgets/pulls", params={"state": "all", "per_page": 100}).json()
            return {n: [p for p in listed if f"#{n}" in (p.get("body") or "")] for n in numbers}

        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not all(pulls().values()):
            time.sleep(2)
        found = pulls()
        assert all(len(found[n]) == 1 for n in numbers), (found, (tmp_path / "worker-2.log").read_text()[-3000:])
        every = sessions()
        for n in numbers:
            mine = [s for s in every if f"acme/widgets#{n}@" in (s.get("prompt") or "")]
            assert len(mine) == 1, (n, mine)
    finally:
        if worker is not None:
            stop_process(worker)
        subprocess.run("docker ps -aq --filter label=io.prefect.flow-run-id | xargs -r docker rm -f", shell=True)
        sh(f"{COMPOSE} down -v --remove-orphans", repo, env, check=False, timeout=300)
