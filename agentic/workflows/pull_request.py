"""After the session ends: its pull request (found even when Jules' `outputs` stay empty), `Fixes #N` and the
reviewer (read back before writing), then the CI watch (ci_loop.py) — each step durable in the record first, so a
re-entry continues from the last one."""

from __future__ import annotations

import asyncio

from agentic import observability
from agentic.dispatch import claims
from agentic.errors import JulesSessionFailed
from agentic.github.client import pull_number
from agentic.github.models import PullRequest
from agentic.jules.follow import Finished
from agentic.jules.models import Session
from agentic.lifecycle import CiSettled, CiWatch, Phase, PullRequestOpened, Stopped
from agentic.lifecycle.phases import UNDECIDED
from agentic.workflows import ci_loop, tasks
from agentic.workflows.run import IssueRun, WorkflowResult


@observability.traced("pull request")
async def finish(run: IssueRun, record: claims.SessionRecord, session: Session, finished: Finished,
                 requested_by: str | None) -> WorkflowResult:
    ref = run.job.ref
    if finished.outcome == "failed":
        await run.report.end(Stopped(Phase.FAILED), [f"Jules reported: {finished.reason}", "", "To retry: edit the "
                             "issue to clarify, then re-run with `new_session_on_edit=True`."], record)
        raise JulesSessionFailed(f"{ref}: Jules session {record.session_id} failed: {finished.reason}")
    pr_url = await _find_pull_request(run, session, finished)
    if not pr_url:
        await run.report.end(Stopped(Phase.FAILED), [f"Jules completed without opening a pull request. "
                             f"{describe_change(finished)}", f"See the session: {record.url}"], record)
        raise JulesSessionFailed(f"{ref}: session {record.session_id} completed without a pull request")
    record.pull_request_url, record.state = pr_url, "COMPLETED"
    # PENDING: the PR is not finished (Fixes #N, reviewer) nor its CI decided; a re-entry continues from here.
    record.ci_state = record.ci_state or CiWatch.PENDING
    await run.book.save()  # durable before the PR is touched
    reviewer = requested_by or run.job.issue.author
    view = run.report.view
    view.mentions = sorted({*view.mentions, reviewer})
    done = await tasks.finish_pull_request(run.deps.github, ref, pr_url, reviewer)
    record.completed_head = record.completed_head or done["head_sha"]  # commits after it are listed (reviews.py)
    view.pull_request_url, view.question, view.latest = pr_url, None, None
    title = finished.pull_request.title if finished.pull_request and finished.pull_request.title else "Pull request"
    view.details = [f"**{title}** — {pr_url} (closes #{ref.number})"
                    + (f"; review requested from @{reviewer}" if done["reviewer_requested"] else "")]
    run.report.event("pull-request", pr_url)
    await run.report.show(PullRequestOpened())
    ci = await follow_ci(run, record, done["number"])
    await run.report.artifacts(record)
    return run.report.result("completed", f"pull request {pr_url}" + (f"; CI {ci}" if ci else ""), record)


async def _find_pull_request(run: IssueRun, session: Session, finished: Finished) -> str | None:
    pr_url = finished.pull_request.url if finished.pull_request else None
    for _ in range(3):  # live Jules: `outputs` can stay empty although the PR exists; it may also appear late
        if pr_url:
            break
        pr_url = await tasks.find_pull_request(run.deps.github, run.job.ref, session)
        if not pr_url:
            await asyncio.sleep(run.deps.settings.poll_min_seconds)
            session = await tasks.get_session(run.deps.jules, session.id)
            pr_url = session.pull_request.url if session.pull_request else None
    return pr_url


async def follow_ci(run: IssueRun, record: claims.SessionRecord, pr_number: int) -> str | None:
    """After the PR opens: the CI loop (ci_loop.py), its final state on the status comment. None: not watched."""
    settings = run.deps.settings
    if record.ci_state not in (None, *UNDECIDED):
        return None
    if settings.ci_watch == "off":
        record.ci_state = CiWatch.OFF
        await run.book.save()
        return None
    if record.ci_state in (None, CiWatch.PENDING):
        pull: PullRequest = await tasks.read_pull(run.deps.github, run.job.ref, pr_number)
        base = pull.base_ref
        watched = settings.ci_watch == "on" or await ci_loop.has_ci(run, base)
        record.ci_state = CiWatch.WATCHING if watched else CiWatch.NONE
        await run.book.save()  # a re-entry continues the watch
        if not watched:
            return None
    outcome = await ci_loop.watch(run, record, pr_number)
    record.ci_state = CiWatch(outcome.state)
    if record.ci_state is CiWatch.CLOSED and record.session_id and not record.archived:
        await run.deps.jules.archive(record.session_id)  # merged or closed: the session must not push again
        record.archived = True
    await run.book.save()
    run.report.event("ci", f"{outcome.state} after {outcome.rounds} fix round(s)")
    run.report.view.details = [*run.report.view.details[:1], "", *outcome.details]
    await run.report.show(CiSettled(record.ci_state))
    return outcome.state


async def resume_ci(run: IssueRun, record: claims.SessionRecord, requested_by: str | None) -> WorkflowResult:
    """A re-entry after the PR was recorded: finish it (idempotent: `Fixes #N` and the reviewer are read back) if
    that had not happened, then continue the CI watch."""
    pr_url = record.pull_request_url or ""
    view = run.report.view
    view.session_id, view.session_url, view.pull_request_url = record.session_id, record.url, pr_url
    if record.ci_state is CiWatch.PENDING:
        await tasks.finish_pull_request(run.deps.github, run.job.ref, pr_url, requested_by or run.job.issue.author)
    view.details = [f"Pull request {pr_url} (closes #{run.job.ref.number})"]
    ci = await follow_ci(run, record, pull_number(pr_url))
    await run.report.artifacts(record)
    return run.report.result("completed", f"pull request {pr_url}" + (f"; CI {ci}" if ci else ""), record)


def describe_change(finished: Finished) -> str:
    patch = finished.change_set.git_patch if finished.change_set else None
    if not patch or not patch.unidiff_patch:
        return "It produced no change."
    files = sorted({line[6:] for line in patch.unidiff_patch.splitlines() if line.startswith("+++ b/")})
    message = f" (suggested commit: “{patch.suggested_commit_message[:120]}”)" if patch.suggested_commit_message else ""
    return f"It produced a change to {len(files)} file(s): {', '.join(files[:10])}{message}."
