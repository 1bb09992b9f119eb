"""Plan approval from GitHub or the Prefect UI: the run pauses (the UI shows the `PlanDecision` form) while a
watcher accepts `/approve` or `/revise <text>` on the issue from a user with write access.

Only comments created after the plan count (by time, so a run that re-enters later still sees a reply posted while
it was down); the watcher survives errors (logged, retried with backoff) and lists only comments `since` the plan.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import apause_flow_run, aresume_flow_run
from prefect.input import RunInput
from pydantic import Field

from agentic.workflows import github_ops
from agentic.workflows.run import Ended, Run


class PlanDecision(RunInput):
    """The form the Prefect UI shows on a run paused for plan approval."""

    approve: bool = Field(default=True, description="Approve Jules' plan as posted on the issue.")
    revision: str = Field(default="", description="If not approving: what Jules should change in the plan.")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def after(comment: github_ops.Comment, moment: datetime | None) -> bool:
    """Created at or after `moment` (GitHub stamps whole seconds, so the plan's second counts as after)."""
    return moment is None or comment.created_at >= moment.replace(microsecond=0)


async def _watch_issue(run: Run, plan_at: datetime | None, consumed: set[int]) -> None:
    since = (plan_at or datetime.now(UTC)) - timedelta(seconds=2)
    delay = run.settings.poll_min_seconds
    while True:
        await asyncio.sleep(delay)
        try:
            decision = await _decision_on_issue(run, plan_at, since, consumed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the watcher must outlive a flaky hub or GitHub
            run.logger.warning("plan watcher: %s (retrying)", exc)
            delay = min(delay * 2, run.settings.poll_max_seconds)
            continue
        delay = run.settings.poll_min_seconds
        if decision is not None:
            await _resume(run, decision)
            return


async def _decision_on_issue(run: Run, plan_at: datetime | None, since: datetime,
                             consumed: set[int]) -> PlanDecision | None:
    for comment in await github_ops.list_comments(run.hub, run.ref, since=since):
        text = comment.body.strip()
        if comment.id in consumed or not after(comment, plan_at) or not text.startswith(("/approve", "/revise")):
            continue
        consumed.add(comment.id)
        if not await github_ops.can_write(run.hub, run.ref, comment.author):
            run.event("ignored", f"{text.split()[0]} from @{comment.author} (no write access)")
            continue
        run.event("plan-decision", f"@{comment.author}: {text[:80]}")
        if text.startswith("/approve"):
            return PlanDecision(approve=True, revision="")
        return PlanDecision(approve=False, revision=text.removeprefix("/revise").strip()[:2000])
    return None


async def _resume(run: Run, decision: PlanDecision) -> None:
    # The pause may not be recorded yet (NotPausedError) or Prefect may blip: keep trying for a minute.
    for attempt in range(120):
        try:
            await aresume_flow_run(run.run_id, run_input=decision.model_dump())
            return
        except Exception as exc:  # noqa: BLE001 - retried; logged when it lasts
            if attempt % 20 == 19:
                run.logger.warning("could not resume the paused run yet: %s", exc)
            await asyncio.sleep(0.5)


async def wait_plan_decision(run: Run, plan_id: str, plan_at: str | None) -> PlanDecision:
    """Pause until a decision arrives from the UI form or the issue; Ended('timed_out') when none comes in time."""
    consumed: set[int] = set()
    watcher = asyncio.create_task(_watch_issue(run, parse_time(plan_at), consumed))
    try:
        return await apause_flow_run(wait_for_input=PlanDecision, timeout=run.settings.plan_approval_timeout_seconds,
                                     poll_interval=max(1, int(run.settings.poll_min_seconds)), key=f"plan-{plan_id}")
    except FlowPauseTimeout:
        raise Ended("timed_out", f"no plan decision within {run.settings.plan_approval_timeout_seconds}s") from None
    finally:
        watcher.cancel()
