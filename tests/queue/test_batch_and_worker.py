"""Batch and workers against the real services: Prefect on PostgreSQL, the hub, the npm GitHub server, both
simulators. A worker in a separate process (`prefect worker start --pool`) takes a run of a work-pool deployment to a
pull request; `batch_issues` queues each matching open issue once, however often it is re-run."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

import pytest
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter
from prefect.client.schemas.objects import StateType

from agentic.errors import ConfigError
from agentic.stacks.process import start_process, stop_process
from agentic.dispatch import claims
from agentic.triggers.batch import batch_issues
from agentic.github.issue_ref import parse_issue_url
from agentic.workflows.jules_workflow import FLOW_NAME

pytestmark = pytest.mark.slow

BODY = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
        "slugify('Hello!') returns 'hello-' instead of 'hello'.\n\n- [ ] no trailing dash\n- [ ] a test covers it")


async def _runs_of(deployment_id: str) -> list:
    async with get_client() as client:
        return await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


async def _cleanup(deployment_id: str, pool: str | None = None) -> None:
    async with get_client() as client:
        for run in await _runs_of(deployment_id):
            await client.delete_flow_run(run.id)
        await client.delete_deployment(deployment_id)
        if pool:
            await client.delete_work_pool(pool)


async def _register(pool: str, name: str, **settings: str) -> str:
    from agentic.deployment.pools import adeploy_to_pool
    from agentic.settings import Settings
    from agentic.dispatch.session_queue import QuotaPlan

    return (await adeploy_to_pool(pool, QuotaPlan.from_settings(Settings(_env_file=None, **settings)), name=name))[0]


async def test_batch_queues_each_open_issue_once_and_skips_done_ones(sandbox, new_issue):
    label = f"batch-{uuid.uuid4().hex[:8]}"
    numbers = [new_issue(f"Batch item {i}", BODY, labels=[label])[0] for i in range(3)]
    new_issue("Not labelled", BODY)
    name = f"batch-test-{uuid.uuid4().hex[:8]}"
    deployment_id = await _register(f"pool-{name}", name)  # registered, served by nobody: runs stay Scheduled
    deployment = f"{FLOW_NAME}/{name}"
    try:
        dry = await batch_issues(repo="acme/widgets", label=label, dry_run=True, deployment=deployment)
        assert [(i.number, i.outcome) for i in dry.items] == [(n, "would-queue") for n in numbers]
        assert await _runs_of(deployment_id) == []  # a dry run starts nothing
        # The same through `ibt batch` (a separate process, as a user runs it): one JSON line, exit 0.
        import json
        import subprocess

        cli = subprocess.run([sys.executable, "-m", "agentic.cli", "batch", "--repo", "acme/widgets", "--label",
                              label, "--dry-run", "--json"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "TRIGGERS_DEPLOYMENT": deployment})
        assert cli.returncode == 0, cli.stderr[-2000:]
        answer = json.loads(cli.stdout.strip().splitlines()[-1])
        assert answer["counts"] == {"would-queue": 3} and answer["dry_run"] is True
        bad = subprocess.run([sys.executable, "-m", "agentic.cli", "batch", "--repo", "nope"], capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode == 2 and "OWNER/REPO" in bad.stderr

        first = await batch_issues(repo="acme/widgets", label=label, limit=2, deployment=deployment)
        assert [(i.number, i.outcome) for i in first.items] == [(numbers[0], "queued"), (numbers[1], "queued")]
        # Re-run after an "interrupt": the two are found again (same idempotency key), the third is new.
        again = await batch_issues(repo="acme/widgets", label=label, deployment=deployment)
        assert [i.outcome for i in again.items] == ["already-queued", "already-queued", "queued"]
        assert [i.flow_run_id for i in again.items[:2]] == [i.flow_run_id for i in first.items]
        runs = await _runs_of(deployment_id)
        assert len(runs) == 3 and {r.parameters["github_issue_url"] for r in runs} == \
            {f"https://github.com/acme/widgets/issues/{n}" for n in numbers}
        assert all(r.state_type == StateType.SCHEDULED for r in runs)
        # "queued, N ahead" counts the waiting runs created before this one (read from Prefect).
        from agentic.dispatch.session_queue import position

        ids = [i.flow_run_id for i in again.items]
        ahead = [await position(FLOW_NAME, run_id) for run_id in ids]
        assert None not in ahead and sorted(a - min(ahead) for a in ahead) == [0, 1, 2]

        # An issue whose session finished (claim with a PR for this text) is skipped before Prefect is asked.
        ref = parse_issue_url(f"https://github.com/acme/widgets/issues/{numbers[0]}")
        with sandbox.github() as gh:
            issue = gh.get(f"/repos/acme/widgets/issues/{numbers[0]}").json()
        record = claims.SessionRecord(text_hash=claims.text_hash(issue["title"], issue["body"]), marker="m",
                                      session_id="1", state="COMPLETED", pull_request_url="https://x/pull/1")
        key = claims.claim_key(sandbox.settings.github_api_url, ref)
        await claims.save(key, claims.Claim(issue=str(ref), sessions=[record]))
        last = await batch_issues(repo="acme/widgets", label=label, deployment=deployment)
        assert [i.outcome for i in last.items] == ["done", "already-queued", "already-queued"]
        assert len(await _runs_of(deployment_id)) == 3  # zero duplicates over four batch runs
    finally:
        await _cleanup(deployment_id, f"pool-{name}")


async def test_batch_refuses_bad_input_before_any_side_effect(connections):
    for repo in ("acme", "acme/widgets/extra", "", "a b/c"):
        with pytest.raises(ConfigError, match="OWNER/REPO"):
            await batch_issues.fn(repo=repo)
    with pytest.raises(ConfigError, match="--limit"):
        await batch_issues.fn(repo="acme/widgets", limit=0)
    assert connections == []  # neither the hub nor GitHub nor Prefect was asked anything


async def test_a_worker_in_another_process_takes_a_run_to_a_pull_request(sandbox, new_issue, tmp_path):
    number, url = new_issue("Worker run", BODY)
    name = f"worker-test-{uuid.uuid4().hex[:8]}"
    pool = f"pool-{name}"
    deployment_id = await _register(pool, name, jules_max_concurrent_sessions="2")
    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
    log = tmp_path / "worker.log"
    worker = start_process([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--limit", "2"],
                           env=env, log_path=log)
    try:
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id, parameters={"github_issue_url": url})
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                run = await client.read_flow_run(run.id)
                if run.state and run.state.is_final():
                    break
                assert worker.poll() is None, log.read_text()[-2000:]
                await asyncio.sleep(1)
            assert run.state and run.state.is_completed(), (run.state, log.read_text()[-3000:])
        assert "Worker" in log.read_text() or "worker" in log.read_text()  # the worker process ran it
        sessions = [s for s in sandbox_sessions(sandbox) if f"acme/widgets#{number}@" in (s.get("prompt") or "")]
        assert len(sessions) == 1 and sessions[0]["state"] == "COMPLETED", sessions
        with sandbox.github() as gh:
            pulls = gh.get("/repos/acme/widgets/pulls", params={"state": "all", "per_page": 100}).json()
        fixing = [p for p in pulls if f"#{number}" in (p.get("body") or "")]
        assert len(fixing) == 1, [p.get("body") for p in pulls][-3:]
    finally:
        stop_process(worker)
        await _cleanup(deployment_id, pool)


def sandbox_sessions(sandbox) -> list[dict]:
    import httpx

    root = sandbox.jules_url.removesuffix("/v1alpha")
    return httpx.get(root + "/_sim/sessions", timeout=10).json()["sessions"]


async def test_deploy_work_pool_flag_creates_pool_deployment_and_quota_limits_idempotently(sandbox, prefect_api_url):
    """`deploy.py --work-pool NAME` as the README runs it: the pool (process type), the deployment in it with the
    ENQUEUE limit, and Jules' quotas as global concurrency limits; a second deploy updates instead of duplicating."""
    import subprocess
    from pathlib import Path

    from prefect.exceptions import ObjectNotFound

    pool = f"pool-cli-{uuid.uuid4().hex[:8]}"
    agentic_dir = Path(__file__).resolve().parents[2] / "agentic"

    def deploy(concurrent: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "COLUMNS": "200", "JULES_MAX_CONCURRENT_SESSIONS": concurrent,
               "JULES_SESSIONS_PER_DAY": "15", "QUEUE_PREFETCH_RUNS": "2"}
        return subprocess.run([sys.executable, "deployment/deploy.py", "--skip-mcp-preload", "--prefect-api-url",
                               prefect_api_url, "--work-pool", pool], cwd=agentic_dir, capture_output=True,
                              text=True, timeout=180, env=env)

    try:
        first = deploy("3")
        assert first.returncode == 0, first.stderr[-2000:]
        assert f"work pool {pool}: created" in first.stderr and "prefect worker start --pool" in first.stderr
        second = deploy("4")
        assert second.returncode == 0 and f"work pool {pool}: exists (type process)" in second.stderr
        async with get_client() as client:
            assert (await client.read_work_pool(pool)).type == "process"
            deployment = await client.read_deployment_by_name(f"{FLOW_NAME}/jules-agent-deployment")
            assert deployment.work_pool_name == pool
            assert deployment.entrypoint == "agentic.workflows.jules_workflow.jules_agent_workflow"
            assert deployment.global_concurrency_limit.limit == 6  # 4 + prefetch 2: updated, not added
            assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE"
            expiry = [a for a in await client.read_automations_by_name("a wait on people ran out")
                      if any(getattr(action, "deployment_id", None) == deployment.id for action in a.actions)]
            assert len(expiry) == 1  # the second deploy updated it, not added one
            sessions = await client.read_global_concurrency_limit_by_name("jules-sessions")
            daily = await client.read_global_concurrency_limit_by_name("jules-sessions-per-day")
            assert (sessions.limit, daily.limit) == (4, 15)
            assert daily.slot_decay_per_second == pytest.approx(15 / 86400)
    finally:
        async with get_client() as client:  # later tests expect no quota limits and no pool deployment
            for name in ("jules-sessions", "jules-sessions-per-day"):
                try:
                    await client.delete_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    pass
            try:
                found = await client.read_deployment_by_name(f"{FLOW_NAME}/jules-agent-deployment")
                if found.work_pool_name == pool:
                    await client.delete_deployment(found.id)
                await client.delete_work_pool(pool)
            except ObjectNotFound:
                pass


async def test_the_days_token_is_taken_only_once_the_session_slot_is_held(prefect_api_url):
    """A rate limit's token is never given back: a run that waits for a session slot and gives up must not have
    spent one of the day's sessions. One slot, held here; a second run times out waiting for it."""
    from prefect.exceptions import ObjectNotFound

    from agentic.dispatch.session_queue import DAILY_LIMIT, SESSIONS_LIMIT, QuotaPlan, apply_quotas, session_slot

    async with get_client() as client:
        await apply_quotas(client, QuotaPlan(concurrent=1, per_day=10))
    try:
        async with session_slot(new_session=True, timeout_seconds=10, poll_seconds=1):
            with pytest.raises(TimeoutError):
                async with session_slot(new_session=True, timeout_seconds=2, poll_seconds=1):
                    pytest.fail("the one session slot is held: a second run cannot hold it too")
            async with get_client() as client:
                daily = await client.read_global_concurrency_limit_by_name(DAILY_LIMIT)
            assert daily.active_slots == 1  # the holder's token only
    finally:
        async with get_client() as client:  # later tests expect no quota limits
            for name in (SESSIONS_LIMIT, DAILY_LIMIT):
                try:
                    await client.delete_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    pass
