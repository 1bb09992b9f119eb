"""Waits on people — plan approval and Jules' questions — from GitHub or the Prefect UI.

A deployment run *suspends* (`asuspend_flow_run`: its process exits, the UI shows the `PlanDecision` / `Reply`
form); the webhook receiver or the poller resumes it on `/approve`, `/revise <text>` or a reply from a user with
write access (agentic/triggers/resume.py), and the flow restarts from the top in a new process: it finds its claim,
session and plan again (all durable), and the same keyed suspend call returns the input instead of suspending.
A direct Python call (no deployment, so no suspension) *pauses* in-process while a watcher reads the comments.

A suspended run whose wait runs out is failed by Prefect's server (`pause_expirations`), and nothing of ours would run
to say so on the issue: `expired_wait_trigger` (an automation beside the deployment) starts the deployment again for
that issue with `wait_expired`, and that run — reentrant like any other — ends the wait as timed out on the status
comment, or carries on if the decision or the reply arrived in the meantime.

Only comments created after the plan count (by time, so a run that re-enters later still sees a reply posted while
it was down); the watcher survives errors (logged, retried with backoff) and lists only comments `since` the plan.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prefect.context import FlowRunContext
from prefect.events import DeploymentEventTrigger
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import apause_flow_run, aresume_flow_run, asuspend_flow_run
from prefect.input import RunInput
from pydantic import Field

from agentic.github.models import Comment
from agentic.lifecycle import Phase
from agentic.workflows.run import Ended, IssueRun


class PlanDecision(RunInput):
    """The form the Prefect UI shows on a run paused for plan approval."""

    approve: bool = Field(default=True, description="Approve Jules' plan as posted on the issue.")
    revision: str = Field(default="", description="If not approving: what Jules should change in the plan.")


class Reply(RunInput):
    """The form the Prefect UI shows on a run suspended on Jules' question (a reply on the issue resumes it too)."""

    answer: str = Field(default="", description="Your answer to Jules' question; empty: read the issue's replies.")


# The pause keys name what a suspended run waits for: the receiver routes a comment by them (triggers/resume.py).
PLAN_KEY, QUESTION_KEY = "plan-", "question-"


# What Prefect's server writes on a suspended or paused run whose timeout passed (server/services/pause_expirations.py).
PAUSE_EXPIRED_MESSAGE = "The flow was paused and never resumed."


def expired_wait_trigger(flow_name: str, deployment_name: str) -> DeploymentEventTrigger:
    """The deployment's automation: a run of `flow_name/deployment_name` failed because its wait on people expired →
    a new run of that deployment for the same issue with `wait_expired=True`. One event per failed run, so one
    reconciling run (each deployment's automation matches only its own runs)."""
    return DeploymentEventTrigger(
        name="a wait on people ran out",
        description="Ends the issue's plan-approval or question wait as timed out on its status comment.",
        expect={"prefect.flow-run.Failed"},
        match={"prefect.state-message": PAUSE_EXPIRED_MESSAGE},
        match_related=[{"prefect.resource.role": "flow", "prefect.resource.name": flow_name},  # all must match
                       {"prefect.resource.role": "deployment", "prefect.resource.name": deployment_name}],
        parameters={"github_issue_url": "{{ flow_run.parameters.github_issue_url }}", "wait_expired": True})


def wait_ran_out(run: IssueRun, began: datetime | None) -> bool:
    """This run reconciles an expired wait (`wait_expired`) and the wait at hand is that one: it began at least the
    timeout ago. A newer wait (a revised plan, a second question) is waited on as usual."""
    if not run.job.wait_expired:
        return False
    timeout = timedelta(seconds=run.deps.settings.plan_approval_timeout_seconds)
    return began is None or datetime.now(UTC) - began >= timeout


def can_suspend(run: IssueRun) -> bool:
    """Only a deployment run can be suspended (something must start its process again on resume)."""
    context = FlowRunContext.get()
    return bool(run.deps.settings.suspend_waits and context and context.flow_run and context.flow_run.deployment_id)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def after(comment: Comment, moment: datetime | None) -> bool:
    """Created at or after `moment` (GitHub stamps whole seconds, so the plan's second counts as after)."""
    return moment is None or comment.created_at >= moment.replace(microsecond=0)


async def _watch_issue(run: IssueRun, plan_at: datetime | None, consumed: set[int]) -> None:
    since = (plan_at or datetime.now(UTC)) - timedelta(seconds=2)
    delay = run.deps.settings.poll_min_seconds
    while True:
        await asyncio.sleep(delay)
        try:
            decision = await _decision_on_issue(run, plan_at, since, consumed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the watcher must outlive a flaky hub or GitHub
            run.report.logger.warning("plan watcher: %s (retrying)", exc)
            delay = min(delay * 2, run.deps.settings.poll_max_seconds)
            continue
        delay = run.deps.settings.poll_min_seconds
        if decision is not None:
            await _resume(run, decision)
            return


def decision_from_text(text: str) -> PlanDecision | None:
    """`/approve` or `/revise <what to change>` at the start of a comment; anything else is no decision."""
    text = text.strip()
    if text.startswith("/approve"):
        return PlanDecision(approve=True, revision="")
    if text.startswith("/revise"):
        return PlanDecision(approve=False, revision=text.removeprefix("/revise").strip()[:2000])
    return None


async def _decision_on_issue(run: IssueRun, plan_at: datetime | None, since: datetime,
                             consumed: set[int]) -> PlanDecision | None:
    for comment in await run.deps.github.list_comments(run.job.ref, since=since):
        decision = decision_from_text(comment.body)
        if comment.id in consumed or not after(comment, plan_at) or decision is None:
            continue
        consumed.add(comment.id)
        text = comment.body.strip()
        if comment.author.lower().endswith("[bot]"):  # as in the receiver: bots never decide (tokens leak)
            run.report.event("ignored", f"{text.split()[0]} from @{comment.author} (a bot)")
            continue
        if not await run.deps.github.can_write(run.job.ref, comment.author):
            run.report.event("ignored", f"{text.split()[0]} from @{comment.author} (no write access)")
            continue
        run.report.event("plan-decision", f"@{comment.author}: {text[:80]}")
        return decision
    return None


async def _resume(run: IssueRun, decision: PlanDecision) -> None:
    # The pause may not be recorded yet (NotPausedError) or Prefect may blip: keep trying for a minute.
    for attempt in range(120):
        try:
            await aresume_flow_run(run.job.run_id, run_input=decision.model_dump())
            return
        except Exception as exc:  # noqa: BLE001 - retried; logged when it lasts
            if attempt % 20 == 19:
                run.report.logger.warning("could not resume the paused run yet: %s", exc)
            await asyncio.sleep(0.5)


async def wait_plan_decision(run: IssueRun, plan_id: str, plan_at: str | None) -> PlanDecision:
    """Wait until a decision arrives from the UI form or the issue; Ended('timed_out') when none comes in time."""
    consumed: set[int] = set()
    timeout, key = run.deps.settings.plan_approval_timeout_seconds, f"{PLAN_KEY}{plan_id}"
    if can_suspend(run):
        # A decision posted while nothing watched (before the plan was seen, or before a restart) counts first.
        moment = parse_time(plan_at)
        found = await _decision_on_issue(run, moment, (moment or datetime.now(UTC)) - timedelta(seconds=2), consumed)
        if found is not None:
            return found
        if wait_ran_out(run, moment):
            raise Ended(Phase.TIMED_OUT, f"no plan decision within {timeout:.0f}s")
        run.report.event("suspended", "waiting for /approve or /revise; no process is held")
        # Exits the process (prefect's Pause signal); on resume the flow restarts and this call returns the input.
        # Past `timeout` the server fails the suspended run.
        return await asuspend_flow_run(wait_for_input=PlanDecision, timeout=timeout, key=key)
    watcher = asyncio.create_task(_watch_issue(run, parse_time(plan_at), consumed))
    try:
        return await apause_flow_run(wait_for_input=PlanDecision, timeout=timeout,
                                     poll_interval=max(1, int(run.deps.settings.poll_min_seconds)), key=key)
    except FlowPauseTimeout:
        raise Ended(Phase.TIMED_OUT, f"no plan decision within {timeout}s") from None
    finally:
        watcher.cancel()


async def wait_reply(run: IssueRun, activity_id: str, last_comment_id: int | None) -> Reply:
    """Suspend until a reply to Jules' question `activity_id` arrives (a deployment run only).

    The key carries the newest comment id: a comment that resumed the run but was no reply (see
    follow_loop._relay_answer) changes the key, so the next wait suspends again instead of returning the old input."""
    run.report.event("suspended", "waiting for a reply to Jules' question; no process is held")
    return await asuspend_flow_run(wait_for_input=Reply, timeout=run.deps.settings.plan_approval_timeout_seconds,
                                   key=f"{QUESTION_KEY}{activity_id}-{last_comment_id or 0}")
