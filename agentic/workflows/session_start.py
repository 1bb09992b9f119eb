"""Creating the one Jules session for an issue text, through Jules' refusals: a 429 (quota) and, under parallel
load, 400 "Could not get source" queue the run (bounded) instead of failing it. Every create after the first looks
for the dispatch marker first, so an answer that hid a created session never makes a second one."""

from __future__ import annotations

import asyncio

from agentic.agent.brief import Triage, issue_brief, render_prompt, session_title
from agentic.dispatch import claims
from agentic.dispatch import session_queue as queue
from agentic.errors import JulesQuotaExceeded, JulesSessionFailed, JulesSourceBusy
from agentic.jules.models import Session
from agentic.lifecycle import Phase, Stopped, Waiting
from agentic.workflows import FLOW_NAME, tasks
from agentic.workflows.run import Ended, IssueRun


async def create_session(run: IssueRun, triage: Triage, record: claims.SessionRecord, *, look_first: bool,
                         require_plan_approval: bool, branch: str, concerns: list[str]) -> Session:
    """The session for `record`, created (or found by its marker); queued while Jules refuses for capacity.
    `concerns`: the triage's doubts a maintainer's `/jules go` overruled, fenced into the prompt for Jules."""
    job, settings = run.job, run.deps.settings
    # The issue's own text goes to Jules too, fenced and capped as data (agentic/agent/brief.py).
    brief = triage.brief or issue_brief(job.issue.title, job.issue.body)  # the gate dispatches with a brief
    prompt = render_prompt(brief, issue_number=job.ref.number, issue_url=job.issue.html_url,
                           marker=record.marker, issue_title=job.issue.title, issue_body=job.issue.body,
                           max_body_chars=settings.max_issue_body_chars, concerns=concerns)
    title = session_title(brief, job.ref.number)
    deadline = run.deps.clock() + settings.quota_wait_seconds
    busy = 0
    while True:
        try:
            session = await tasks.create_session(run.deps.jules, marker=record.marker, prompt=prompt, title=title,
                                                 source=job.source["name"], branch=branch,
                                                 require_plan_approval=require_plan_approval, look_first=look_first)
            break
        except JulesQuotaExceeded as exc:
            await _quota_refused(run, exc, deadline)
        except JulesSourceBusy as exc:
            busy += 1
            await _source_busy(run, record, exc, busy)
        # The refused create may have made the session after all (a lost success): never make a second one.
        look_first = True
    run.report.usage.jules_sessions += 1
    return session


async def _quota_refused(run: IssueRun, exc: JulesQuotaExceeded, deadline: float) -> None:
    settings = run.deps.settings
    if run.deps.clock() >= deadline:
        raise Ended(Phase.QUEUED, f"Jules quota still exhausted after {settings.quota_wait_seconds:.0f}s: {exc}. "
                                  "Retry later or raise the plan's limits.") from exc
    if run.report.state.phase is not Phase.QUEUED:
        run.report.view.details = ["Jules answered 429 (quota reached); this run is queued and retries automatically."]
        await run.report.show(Waiting())
        run.report.event("queued", str(exc))
    await asyncio.sleep(settings.quota_retry_seconds)


async def _source_busy(run: IssueRun, record: claims.SessionRecord, exc: JulesSourceBusy, busy: int) -> None:
    attempts = run.deps.settings.jules_create_attempts
    run.report.event("source-busy", f"attempt {busy} of {attempts}: {exc}")
    if busy >= attempts:
        await run.report.end(Stopped(Phase.NOT_STARTED), [
            f"**Jules answered “Could not get source” to {busy} session creates** (what it answers when too many "
            "sessions are created at once). Nothing was started; re-run the Prefect flow for this issue later."],
            record)
        raise JulesSessionFailed(f"{run.job.ref}: Jules refused createSession {busy} times: {exc}") from None
    delay = queue.retry_delay(busy, run.deps.settings.jules_create_retry_seconds)
    run.report.view.details = [f"Jules answered “Could not get source” (it does when many sessions are created at "
                               f"once): this run is queued and creates again in {delay:.0f}s (attempt {busy + 1} of "
                               f"{attempts})."]
    await run.report.show(Waiting())
    await asyncio.sleep(delay)


async def show_position(run: IssueRun) -> None:
    """While the run waits for a session slot, its status comment says how many runs are ahead (from Prefect)."""
    ahead = await queue.position(FLOW_NAME, run.job.run_id)
    details = [f"Waiting for a Jules session slot: queued, {ahead} ahead." if ahead is not None
               else "Waiting for a Jules session slot: queued."]
    if run.report.state.phase is not Phase.QUEUED or run.report.view.details != details:
        run.report.view.details = details
        await run.report.show(Waiting())
        run.report.event("queued", details[0])
