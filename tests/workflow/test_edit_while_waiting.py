"""An issue edited while its run waits on people (plan approval) does not strand the live session: the next run —
a resume after suspension, or a re-trigger — continues that session instead of answering "issue edited"
(review finding). Real parts: Prefect on PostgreSQL, the hub, both simulators."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from agentic.workflows.jules_workflow import jules_agent_workflow
from tests.workflow.test_e2e import ACTIONABLE_BODY, assert_completed_once, comment_as, status_says

pytestmark = pytest.mark.slow


async def test_an_edit_during_the_wait_continues_the_same_session(sandbox, new_issue):
    number, url = new_issue("edited while waiting for approval", ACTIONABLE_BODY)
    first = asyncio.create_task(jules_agent_workflow(github_issue_url=url, require_plan_approval=True))
    await status_says(sandbox, number, "approval needed", timeout=240)
    with sandbox.github() as gh:  # the reporter adds a detail while the run waits
        gh.headers["Authorization"] = "Bearer sim-token-alice"
        gh.patch(f"/repos/acme/widgets/issues/{number}",
                 json={"body": ACTIONABLE_BODY + "\n\nAlso: names ending in '!' show it too."}).raise_for_status()
    first.cancel()  # the waiting process goes away (as a suspended run's does); the claim is released
    with contextlib.suppress(BaseException):
        await first

    async def approve() -> None:
        await asyncio.sleep(2)
        comment_as(sandbox, "octo-maintainer", number, "/approve")

    approving = asyncio.create_task(approve())
    result = await jules_agent_workflow(github_issue_url=url, require_plan_approval=True)
    await approving
    assert result.status == "completed", result  # not "duplicate: issue edited after session …"
    assert_completed_once(sandbox, number, result)  # one session, one status comment
