"""The whole sandbox as real processes: GitHub simulator, Jules simulator and the MCP hub with the product's servers
preloaded exactly as `deploy.py` preloads them. Used by the e2e tests, the benchmarks and `ibt demo`.

    with running_sandbox() as sandbox:
        settings = sandbox.settings          # URLs and sandbox keys; LLM_MODEL=sandbox
        os.environ.update(sandbox.env)       # for child processes (CLI, served deployments)
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agentic.settings import PACKAGE_DIR, Settings
from agentic.stacks.ports import free_port
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until

SANDBOX_GITHUB_TOKEN = "sim-token-agent"  # agentic/sandbox/demo.yaml: issue-agent[bot]
SANDBOX_JULES_KEY = "sandbox-jules-key"
SANDBOX_JULES_GITHUB_TOKEN = "sim-token-jules"  # demo.yaml: jules-sandbox[bot] pushes branches and opens PRs
DEMO_SEED = PACKAGE_DIR / "sandbox" / "demo.yaml"
# Workflow settings that make a simulated session (tick 0.1 s) run in seconds: tests and benchmarks use these.
FAST_WORKFLOW = {"poll_min_seconds": "0.2", "poll_max_seconds": "1", "stuck_after_seconds": "6",
                 # no scheduled archive sweep: a test that closes a PR runs the sweep itself, and expects it to act
                 "archive_sweep_interval_seconds": "0",
                 "claim_stale_seconds": "4", "quota_retry_seconds": "0.5", "quota_wait_seconds": "60",
                 "jules_create_retry_seconds": "0.5",
                 "session_timeout_seconds": "120"}


@dataclass
class Sandbox:
    github_url: str
    jules_url: str
    hub_url: str
    workdir: Path
    tick_seconds: float
    env: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings(_env_file=None, **{k.lower(): v for k, v in self.env.items()})  # type: ignore[arg-type, call-arg]

    def github(self) -> httpx.Client:
        """A client for the GitHub simulator's REST API, authenticated like the product."""
        return httpx.Client(base_url=self.github_url, headers={"Authorization": f"Bearer {SANDBOX_GITHUB_TOKEN}"},
                            timeout=10)

    def jules(self) -> httpx.Client:
        return httpx.Client(base_url=self.jules_url, headers={"X-Goog-Api-Key": SANDBOX_JULES_KEY}, timeout=10)


def sandbox_env(github_url: str, jules_url: str, hub_url: str, **workflow: str) -> dict[str, str]:
    """Environment that points the product at the sandbox (what `ibt stacks run sandbox` prints)."""
    return {
        "MCP_SERVER_URL": hub_url, "GITHUB_API_URL": github_url, "JULES_API_URL": jules_url,
        "GITHUB_TOKEN": SANDBOX_GITHUB_TOKEN, "JULES_API_KEY": SANDBOX_JULES_KEY, "LLM_MODEL": "sandbox",
        **{k.upper(): v for k, v in workflow.items()},
    }


@contextlib.contextmanager
def running_sandbox(*, tick_seconds: float = 0.1, seed: Path = DEMO_SEED, jules_config: Path | None = None,
                    preload: bool = True, jules_profile: str | None = None, **workflow: str) -> Iterator[Sandbox]:
    """Start both simulators and a hub on free ports, preload the product's hub servers, stop everything after.

    `jules_profile="live"` runs the Jules simulator as the live API behaves (docs/sandbox-jules.md, "The live
    profile"); None keeps the config's profile (`documented` unless `jules_config` or JULES_SIM_PROFILE says so)."""
    from agentic.deployment.servers import hub_server_definitions
    from agentic.hub.client import HubClient

    workdir = Path(tempfile.mkdtemp(prefix="agentic-sandbox-"))
    gh_port, jules_port, hub_port = free_port(), free_port(), free_port()
    github_url, jules_url = f"http://127.0.0.1:{gh_port}", f"http://127.0.0.1:{jules_port}/v1alpha"
    hub_url = f"http://127.0.0.1:{hub_port}"
    py = sys.executable
    services = [
        ("github-sim", [py, "-m", "agentic.sandbox.github", "--port", str(gh_port), "--seed", str(seed)],
         f"{github_url}/_sim/health"),
        ("jules-sim", [py, "-m", "agentic.sandbox.jules", "--port", str(jules_port), "--github-url", github_url,
                       "--github-token", SANDBOX_JULES_GITHUB_TOKEN, "--source", "acme/widgets",
                       "--api-key", SANDBOX_JULES_KEY, "--tick-seconds", str(tick_seconds),
                       *(["--config", str(jules_config)] if jules_config else []),
                       *(["--profile", jules_profile] if jules_profile else [])],
         f"http://127.0.0.1:{jules_port}/_sim/health"),
        ("hub", [py, "-m", "agentic.hub", "--host", "127.0.0.1", "--port", str(hub_port),
                 "--settings", str(workdir / "mcp_settings.json")], f"{hub_url}/health"),
    ]
    procs = []
    try:
        for name, argv, health in services:
            log = workdir / f"{name}.log"
            proc = start_process(argv, log_path=log)
            procs.append(proc)
            wait_until(functools.partial(http_ok, health), timeout=60, what=name, proc=proc, log_path=log)
        sandbox = Sandbox(github_url=github_url, jules_url=jules_url, hub_url=hub_url, workdir=workdir,
                          tick_seconds=tick_seconds, env=sandbox_env(github_url, jules_url, hub_url, **workflow))
        if preload:
            client = HubClient(hub_url)
            for name, config in hub_server_definitions(sandbox.settings).items():
                client.upsert_server(name, config)
            for name in hub_server_definitions(sandbox.settings):
                client.wait_connected(name, timeout=180)
        yield sandbox
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)
