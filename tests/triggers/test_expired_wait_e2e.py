"""A suspended run whose wait on people runs out leaves the issue saying so (issue #11): Prefect's server fails the
suspended run, the deployment's automation (plan_approval.expired_wait_trigger) starts a reconciling run for the
same issue, and that run ends the wait on the status comment as timed out — one session, one status comment, and
no second reconciling run. Real parts: the product's deployment served by `flow.serve`, Prefect on PostgreSQL with
its pause-expiration and automation services, the hub, both simulators."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from agentic.stacks.process import start_process, stop_process
from tests.triggers.test_suspend_e2e import SERVE, _deployment, _log, wait_for
from tests.workflow.test_e2e import ACTIONABLE_BODY, sessions_for, status_comments, status_says

pytestmark = pytest.mark.slow
TIMEOUT = 10  # PLAN_APPROVAL_TIMEOUT_SECONDS of the served deployment


async def test_an_expired_plan_wait_ends_as_timed_out_on_the_issue(sandbox, prefect_api_url, new_issue, tmp_path):
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter
    from prefect.deployments import arun_deployment

    name = f"expired-wait-{os.getpid()}"
    env = {**os.environ, **sandbox.env, "PREFECT_API_URL": prefect_api_url, "REQUIRE_PLAN_APPROVAL": "true",
           "PLAN_APPROVAL_TIMEOUT_SECONDS": str(TIMEOUT), "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "AGENTIC_ENV_FILE": str(tmp_path / "none.env")}
    server = start_process([sys.executable, str(SERVE), name], env=env, log_path=tmp_path / "serve.log")
    number, url = new_issue("nobody approves this plan", ACTIONABLE_BODY)
    try:
        async with get_client() as client:
            deployment = await wait_for("the deployment", lambda: _deployment(client, name), timeout=60)

            async def automation():  # serve creates it right after the deployment
                return [a for a in await client.read_automations_by_name("a wait on people ran out")
                        if any(m.root.get("prefect.resource.name") == name for m in a.trigger.match_related)]

            await wait_for("the deployment's automation", automation, timeout=30)
            first = await arun_deployment(f"jules-agent-workflow/{name}", parameters={"github_issue_url": url},
                                          timeout=0)

            async def state_of(run_id, *names: str):
                run = await client.read_flow_run(run_id)
                return run.state if run.state.name in names else None

            try:
                await wait_for("the plan suspension", lambda: state_of(first.id, "Suspended"), timeout=150)
            except AssertionError:
                raise AssertionError(f"{(await client.read_flow_run(first.id)).state}\n{_log(tmp_path)}") from None
            await status_says(sandbox, number, "approval needed", timeout=30)
            expired = await wait_for("the wait to expire", lambda: state_of(first.id, "Failed"), timeout=TIMEOUT + 60)
            assert expired.message == "The flow was paused and never resumed."

            async def reconciling():
                runs = await client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                    flow_run_filter=FlowRunFilter())
                return [r for r in runs if r.id != first.id]

            (second,) = await wait_for("the automation's run", reconciling, timeout=60)
            assert second.parameters == {"github_issue_url": url, "wait_expired": True}
            ended = await wait_for("the reconciling run to end", lambda: state_of(second.id, "Failed", "Completed"),
                                   timeout=120)
            assert ended.is_failed(), (ended, _log(tmp_path))  # ended as timed out, like an in-process pause
            body = await status_says(sandbox, number, "Timed out", timeout=30)
            assert f"no plan decision within {TIMEOUT}s" in body
            assert "approval needed" not in body and "/approve" not in body
            await asyncio.sleep(6)  # the reconciling run's own Failed event matches no automation: no third run
            assert len(await reconciling()) == 1
        assert len(status_comments(sandbox, number)) == 1 and len(sessions_for(sandbox, number)) == 1
    finally:
        stop_process(server)
