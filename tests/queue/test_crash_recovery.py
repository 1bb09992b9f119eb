"""A run whose process dies is continued by a new run (agentic/workflows/recovery.py): the worker running it is
stopped mid-run as a container restart stops it (SIGTERM to its process group, SIGKILL 10 s later); Prefect marks the
run Crashed — by the engine's own handler, or by the zombie automation once its heartbeats stop — and the
deployment's crash trigger starts the deployment again for the same issue. A new worker takes that run to the pull
request: one Jules session, one status comment. Real parts: Prefect on PostgreSQL with its automation services, a
`prefect worker start` process, the hub, the npm GitHub server and both simulators."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid

import pytest
from prefect import get_client

from agentic.stacks.process import start_process, stop_process
from agentic.workflows import recovery
from tests.queue.test_batch_and_worker import BODY, _cleanup, _register, _runs_of, sandbox_sessions
from tests.workflow.test_e2e import status_comments
from tests.workflow.test_resilience import sim

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def _wait(what: str, probe, timeout: float, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(1)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{log.read_text()[-3000:]}" if log else ""))


async def test_a_run_whose_worker_is_stopped_mid_run_is_continued_to_the_pull_request(sandbox, new_issue, tmp_path):
    number, url = new_issue("Crash me once", BODY)
    name = f"crash-test-{uuid.uuid4().hex[:8]}"
    pool = f"pool-{name}"
    deployment_id = await _register(pool, name)
    await recovery.ensure_zombie_automation()
    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5",
           "PREFECT_RUNNER_HEARTBEAT_FREQUENCY": "30"}
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--limit", "2"]
    first_log, second_log = tmp_path / "worker-1.log", tmp_path / "worker-2.log"
    worker = start_process(argv, env=env, log_path=first_log)
    successor = None
    try:
        async with get_client() as client:
            # Jules answers slowly for a while, so the run is still following when its worker stops (on a quiet
            # machine the whole run can otherwise end before the stop).
            sim(sandbox, "POST", "/_sim/faults", json={"faults": [
                {"kind": "latency", "seconds": 5, "count": 4, "route": "listActivities"}]}).raise_for_status()
            first = await client.create_flow_run_from_deployment(deployment_id, parameters={"github_issue_url": url})

            async def running():
                run = await client.read_flow_run(first.id)
                return run.state is not None and run.state.is_running()

            await _wait("the first run to start", running, 120, first_log)
            await asyncio.sleep(3)  # into the run: the issue is read, the claim written
            stop_process(worker, timeout=10, sig=signal.SIGTERM)  # what `docker compose restart worker` does

            async def crashed():
                run = await client.read_flow_run(first.id)
                return run.state if run.state is not None and run.state.is_final() else None

            state = await _wait("the first run to be marked ended", crashed, recovery.ZOMBIE_AFTER_SECONDS + 60)
            assert state.is_crashed(), state

            async def continued():
                return [r for r in await _runs_of(deployment_id) if r.id != first.id]

            try:
                (successor,) = await _wait("the crash trigger's run", continued, 60)
            except AssertionError:  # why not: the automation and what it did
                events = (await client._client.post("/events/filter", json={
                    "filter": {"event": {"prefix": ["prefect.automation", "prefect.flow-run.Crashed"]}}})).json()
                raise AssertionError([(e["event"], e.get("payload")) for e in events["events"]]) from None
            assert successor.parameters == {"github_issue_url": url, "crash_recoveries": 1}
            worker = start_process(argv, env=env, log_path=second_log)

            async def done():
                run = await client.read_flow_run(successor.id)
                return run.state if run.state is not None and run.state.is_final() else None

            ended = await _wait("the successor to end", done, 300, second_log)
            assert ended.is_completed(), (ended, second_log.read_text()[-3000:])
        sessions = [s for s in sandbox_sessions(sandbox) if f"acme/widgets#{number}@" in (s.get("prompt") or "")]
        assert len(sessions) == 1 and sessions[0]["state"] == "COMPLETED", sessions
        assert len(status_comments(sandbox, number)) == 1
        with sandbox.github() as gh:
            pulls = gh.get("/repos/acme/widgets/pulls", params={"state": "all", "per_page": 100}).json()
        assert len([p for p in pulls if f"#{number}" in (p.get("body") or "")]) == 1
        await asyncio.sleep(5)
        assert len(await _runs_of(deployment_id)) == 2, "the successor's own end starts nothing"
    finally:
        sim(sandbox, "DELETE", "/_sim/faults")
        stop_process(worker)
        await _cleanup(deployment_id, pool)
