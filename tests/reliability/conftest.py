"""The fault suite's stack: the real native stack (`ibt stacks run prefect mcp-hub sandbox`: PostgreSQL, Prefect,
the hub, both simulators — Jules on its live profile) under the supervisor, so services can be restarted and killed
mid-run. Every test adds one row to `docs/reliability.md` (written when the suite ends)."""

from __future__ import annotations

import contextlib
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from agentic.testing import environment
from tests.report_sections import table, write_section
from agentic.testing.sandbox import FAST_WORKFLOW, SANDBOX_GITHUB_TOKEN, SANDBOX_JULES_KEY, sandbox_env
from agentic.testing.stack import running_native_stack
from agentic.dispatch.claims import LOCK_NAME
from agentic.dispatch.session_queue import SESSIONS_LIMIT
from agentic.workflows.status_comment import status_marker

REPORT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
SECRETS = {"GITHUB_TOKEN": SANDBOX_GITHUB_TOKEN, "JULES_API_KEY": SANDBOX_JULES_KEY}
ROWS: list[dict] = []


@dataclass
class Stack:
    native: object
    env: dict[str, str]
    github_url: str
    jules_url: str
    hub_url: str
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def github(self, user: str = "agent") -> httpx.Client:
        token = SANDBOX_GITHUB_TOKEN if user == "agent" else f"sim-token-{user}"
        return httpx.Client(base_url=self.github_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def sim(self, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, self.jules_url.removesuffix("/v1alpha") + path, timeout=10, **kwargs)

    def new_issue(self, title: str, body: str) -> tuple[int, str]:
        with self.github("alice") as gh:
            response = gh.post("/repos/acme/widgets/issues",
                               json={"title": f"{title} [r{next(self.counter)}-{os.getpid()}]", "body": body})
            response.raise_for_status()
        number = response.json()["number"]
        return number, f"https://github.com/acme/widgets/issues/{number}"

    def comments(self, number: int) -> list[dict]:
        with self.github() as gh:
            return gh.get(f"/repos/acme/widgets/issues/{number}/comments", params={"per_page": 100}).json()

    def status_comments(self, number: int) -> list[dict]:
        marker = status_marker(f"acme/widgets#{number}")
        return [c for c in self.comments(number) if c["body"].startswith(marker)]

    def sessions(self, number: int) -> list[dict]:
        sessions = self.sim("GET", "/_sim/sessions").json()["sessions"]
        return [s for s in sessions if f"acme/widgets#{number}@" in (s.get("prompt") or "")]

    def comment_as(self, user: str, number: int, body: str) -> None:
        with self.github(user) as gh:
            gh.post(f"/repos/acme/widgets/issues/{number}/comments", json={"body": body}).raise_for_status()


@pytest.fixture(scope="session")
def stack():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from agentic.deployment.servers import hub_server_definitions
    from agentic.hub.client import HubClient

    with running_native_stack("prefect", "mcp-hub", "sandbox", env={
            "JULES_SIM_PROFILE": "live", "JULES_SIM_TICK_SECONDS": "0.15"}) as native:
        github_url, hub_url = native.url("github-sim"), native.url("mcp-hub")
        jules_url = native.url("jules-sim") + "/v1alpha"
        api_url = native.url("prefect") + "/api"
        env = {**sandbox_env(github_url, jules_url, hub_url, **FAST_WORKFLOW), "PREFECT_API_URL": api_url}
        with environment(env), temporary_settings({PREFECT_API_URL: api_url}):
            stack = Stack(native, env, github_url, jules_url, hub_url)
            client = HubClient(hub_url)
            from agentic.settings import Settings

            settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
            for name, config in hub_server_definitions(settings).items():
                client.upsert_server(name, config)
            for name in hub_server_definitions(settings):
                client.wait_connected(name, timeout=180)
            yield stack


async def audit(stack: Stack, *, injected: str, number: int, result, flow_run_ids: list[str] | None = None,
                expect_pr: bool = True) -> dict:
    """One row of docs/reliability.md: what happened to the issue, counted from the services themselves."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

    sessions, statuses = stack.sessions(number), stack.status_comments(number)
    pr = getattr(result, "pull_request_url", None)
    haystack = [c["body"] for c in stack.comments(number)]
    haystack.append(httpx.get(f"{stack.hub_url}/api/servers", timeout=10).text)
    haystack.append(str(result))
    ids = [i for i in (flow_run_ids or []) if i]
    async with get_client() as client:
        if ids:
            logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)), limit=200)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))
            runs = [await client.read_flow_run(i) for i in ids]
            haystack += [log.message for log in logs] + [str(a.data) for a in artifacts]
            haystack += [str(r.parameters) for r in runs]
        # Every run is over: no one may still hold a concurrency slot (a slot Prefect forgot blocks every later run).
        held = 0
        for name in (LOCK_NAME, SESSIONS_LIMIT):
            with contextlib.suppress(ObjectNotFound):
                held += (await client.read_global_concurrency_limit_by_name(name)).active_slots
    leaked = sum(secret in text for secret in SECRETS.values() for text in haystack)
    if pr:
        outcome = f"PR #{pr.rsplit('/', 1)[-1]}"
    elif isinstance(result, BaseException):
        outcome = f"{type(result).__name__}: {str(result)[:80]}"
    else:
        outcome = f"{result.status}: {result.message[:80]}"
    row = {"injected": injected, "outcome": outcome.replace("|", "/"),
           "runs lost": int(expect_pr and not pr), "duplicate sessions": max(0, len(sessions) - 1),
           "duplicate comments": max(0, len(statuses) - 1), "slots leaked": held, "secrets leaked": leaked}
    ROWS.append(row)
    return row


def assert_clean(row: dict) -> None:
    assert (row["runs lost"], row["duplicate sessions"], row["duplicate comments"], row["slots leaked"],
            row["secrets leaked"]) == (0, 0, 0, 0, 0), row


COLLECTED: list[str] = []


def pytest_collection_modifyitems(session, config, items):
    here = str(Path(__file__).parent)
    COLLECTED[:] = [item.nodeid for item in items if str(item.path).startswith(here)]


def pytest_sessionfinish(session, exitstatus):
    # Only a run of the whole suite rewrites the report: a slice (-k, one file) would leave a partial table.
    full = len(list(Path(__file__).parent.glob("test_*.py"))) and len(ROWS) >= 15 and len(ROWS) == len(COLLECTED)
    if not ROWS or not full:
        return
    head = ["injected", "outcome", "runs lost", "duplicate sessions", "duplicate comments", "slots leaked",
            "secrets leaked"]
    lines = ["# Reliability: the fault suite's results", "",
             "Generated by `scripts/test.sh tests/reliability` (tests/reliability/, part of CI) on the real native "
             "stack — PostgreSQL, Prefect, the MCP hub and both simulators, Jules on its live profile — with faults "
             "injected mid-run. Counts come from the services: sessions from the Jules simulator, status comments "
             "from the GitHub simulator, slots from Prefect (the dispatch lock's and `jules-sessions`' slots still "
             "held once the run is over); secrets are the sandbox keys, searched in the issue's comments, the hub's "
             "listing, the run's Prefect logs, artifacts and parameters, and the result.", "",
             *table(head, ROWS)]
    totals = {h: sum(row[h] for row in ROWS) for h in head[2:]}
    lines += ["", f"{len(ROWS)} rows; totals: " + ", ".join(f"{k} {v}" for k, v in totals.items()) + "."]
    write_section("native", lines, REPORT)  # the Docker suite's section (tests/docker) is kept
