"""What a run does once it owns the issue's claim: answer from the record when the text was handled, refuse what
gets no session, triage, then create (or re-enter) the session, follow it and finish its pull request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prefect.concurrency.asyncio import AcquireConcurrencySlotTimeoutError

from agentic import observability
from agentic.agent import automation
from agentic.agent.brief import Triage, issue_brief
from agentic.agent.triage import IssueDeps, TriageOutcome, build_agent, issue_prompt, triage_issue
from agentic.dispatch import claims
from agentic.dispatch import session_queue as queue
from agentic.errors import JulesSessionFailed
from agentic.lifecycle import Phase, Refused, SessionSeen, Stopped, Triaged, Triaging
from agentic.lifecycle.phases import UNDECIDED
from agentic.workflows import review_relay, tasks
from agentic.workflows.follow_loop import follow
from agentic.workflows.pull_request import finish, resume_ci
from agentic.workflows.run import Ended, IssueRun, WorkflowResult
from agentic.workflows.session_start import create_session, show_position


@dataclass(frozen=True)
class RunOptions:
    """The flow's parameters beyond the issue URL (jules_agent_workflow's docstring)."""

    require_plan_approval: bool
    starting_branch: str | None = None
    new_session_on_edit: bool = False
    requested_by: str | None = None
    allow_closed: bool = False
    allow_locked: bool = False
    allow_existing_pr: bool = False
    go: bool = False  # a maintainer's `/jules go`: dispatch whatever the verdict (agent/automation.py)


async def all_of(*steps: Any) -> list[Any]:
    """Run independent steps side by side; let every one finish (the hub session they share stays open), then raise
    the first failure, typed and unwrapped."""
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


async def run_owned(run: IssueRun, options: RunOptions) -> WorkflowResult:
    digest = claims.text_hash(run.job.issue.title, run.job.issue.body)
    record = run.book.claim.session_for(digest)
    if answer := await _answered(run, record, options):
        return answer
    if record is None and not options.new_session_on_edit:
        record = _under_way(run.book.claim.sessions)
    if record is None and (answer := await _refused(run, options)):
        return answer
    run.report.view.details = []
    triage, branch, concerns = None, "", []
    # Re-entering a dispatched session (resumed after a suspension, a retry): triage and branch were decided
    # before, so the model is not asked again and the status comment does not flash back to "triage".
    if not (record is not None and record.session_id):
        judged, branch = await _judge(run, options)
        triage = judged.triage
        gate = automation.gate(triage, _automation_level(run), go=options.go, refused=judged.refusal is not None)
        run.report.event("gate", f"{gate.outcome}: {gate.why}")
        if not gate.dispatch:
            return await _not_dispatched(run, triage, gate)
        run.report.step(Triaged("dispatch"))
        concerns = automation.concerns(triage) if options.go else []
    # A record written by an earlier run may hide a session that run created before dying: look before creating.
    # A record this run writes cannot (the record is durable before any create).
    look_first = record is not None
    if record is None:
        record = claims.SessionRecord(text_hash=digest, marker=claims.marker_for(run.job.ref, digest))
        run.book.claim.sessions.append(record)
        await run.book.save()  # the claim is durable BEFORE the session exists
    return await _session(run, record, triage, branch, options, look_first=look_first, concerns=concerns)


async def _answered(run: IssueRun, done: claims.SessionRecord | None, options: RunOptions) -> WorkflowResult | None:
    """Handled before: answer without touching the status comment or spending tokens. (A run that died after
    COMPLETED but before finishing the PR has no pull_request_url yet and is finished by the session step.)"""
    sessions, limit = run.book.claim.sessions, run.deps.settings.max_sessions_per_issue
    if done and done.pull_request_url and done.ci_state in UNDECIDED:
        return await resume_ci(run, done, options.requested_by)
    if done and done.pull_request_url:
        await review_relay.after_end(run, done)  # a review since the run ended (the receiver re-enters per review)
    if done and (done.state == "FAILED" or done.pull_request_url):
        return run.report.result("duplicate", f"already handled by session {done.session_id}"
                                 + (f" (PR {done.pull_request_url})" if done.pull_request_url else " (FAILED)"), done)
    if done is not None:
        return None
    if options.new_session_on_edit:
        return run.report.result("duplicate", f"max {limit} session(s) per issue reached",
                                 sessions[-1]) if len(sessions) >= limit else None
    if sessions and _under_way(sessions) is None:
        return run.report.result("duplicate", f"issue edited after session {sessions[-1].session_id}; run with "
                                 "new_session_on_edit=True to start another", sessions[-1])
    return None


def _under_way(sessions: list[claims.SessionRecord]) -> claims.SessionRecord | None:
    """A session still under way (the issue was edited while a suspended run waited on people): the run continues
    it — the text it was dispatched for is in the record; the edit does not strand it."""
    return next((r for r in reversed(sessions)
                 if r.session_id and not r.pull_request_url and r.state not in ("FAILED", "COMPLETED")), None)


async def _refused(run: IssueRun, options: RunOptions) -> WorkflowResult | None:
    """A closed or locked issue, or one an open or merged PR already fixes, gets no session (each overridable).
    Only a new dispatch is refused: a run continuing its own session must not mistake Jules' PR for a rival."""
    issue, why, duplicate = run.job.issue, None, False
    if issue.state != "open" and not options.allow_closed:
        why = f"the issue is {issue.state}; run with `allow_closed=True` to hand it to Jules anyway"
    elif issue.locked and not options.allow_locked:
        why = (f"the issue is locked ({issue.lock_reason or 'no reason given'}); run with `allow_locked=True` to "
               "hand it to Jules anyway")
    elif not options.allow_existing_pr:
        ours = {r.pull_request_url for r in run.book.claim.sessions if r.pull_request_url}
        if pr := next((p for p in run.job.fixing_prs if p.html_url not in ours), None):
            duplicate = True
            why = (f"pull request #{pr.number} ({pr.state}{', merged' if pr.merged else ''}) "
                   f"already fixes this issue: {pr.html_url}; run with `allow_existing_pr=True` to start "
                   "another")
    if why is None:
        return None
    run.report.event("not-dispatched", why)
    await run.report.end(Refused(duplicate=duplicate), [f"**Not handed to Jules:** {why}."])
    return run.report.result("duplicate" if duplicate else "rejected", why)


async def _judge(run: IssueRun, options: RunOptions) -> tuple[TriageOutcome, str]:
    """Independent steps side by side: the reaction, the first status comment, the judgment, the branch."""
    async def branch() -> str:
        return options.starting_branch or await tasks.read_default_branch(run.deps.github, run.job.ref)

    try:
        _, _, judged, branch_name = await all_of(tasks.react(run.deps.github, run.job.ref), run.report.show(Triaging()),
                                                 _triage(run, options.go), branch())
    except Exception as exc:
        if run.book.claim.status_comment_id is not None:
            await run.report.end(Stopped(Phase.FAILED), [f"**Could not read or triage the issue:** {str(exc)[:300]}"])
        raise
    return judged, branch_name


@observability.traced("triage")
async def _triage(run: IssueRun, go: bool) -> TriageOutcome:
    settings, ref, issue, usage = run.deps.settings, run.job.ref, run.job.issue, run.report.usage
    agent = build_agent(settings, hub=run.deps.triage_tools)
    prompt = issue_prompt(repo=ref.full_name, number=ref.number, title=issue.title, body=issue.body,
                          labels=issue.labels, author=issue.author, max_body_chars=settings.max_issue_body_chars,
                          go=go)
    # The agent's read-only GitHub tools are pinned to this repository through its typed deps. A maintainer's
    # `/jules go` needs a brief whatever the verdict: the issue itself stands in when the model wrote none.
    outcome = await triage_issue(agent, prompt, settings, deps=IssueDeps(ref.owner, ref.repo),
                                 fallback=issue_brief(issue.title, issue.body) if go else None)
    usage.llm_requests += outcome.requests
    usage.llm_input_tokens += outcome.input_tokens
    usage.llm_output_tokens += outcome.output_tokens
    if outcome.cost_usd is not None:
        usage.llm_cost_usd = float(Decimal(str(usage.llm_cost_usd or 0)) + outcome.cost_usd)
    triage = outcome.triage
    run.report.event("triage", f"{triage.decision} ({triage.confidence} confidence): {'; '.join(triage.reasons)}")
    return outcome


def _automation_level(run: IssueRun) -> automation.Level:
    """The repository's automation level from the trigger rules (TRIGGERS_RULES_PATH), `cautious` by default."""
    from agentic.triggers.rules import load_rules

    return load_rules(run.deps.settings.triggers_rules_path).for_repo(run.job.ref.full_name).automation


async def _not_dispatched(run: IssueRun, triage: Triage, gate: automation.Gate) -> WorkflowResult:
    """The status comment of an issue not handed to Jules: the verdict, its confidence and rationale, the reasons,
    the reporter's questions (three at most), and what a maintainer can do."""
    verdict = f"**Triage:** {triage.decision.replace('_', ' ')}, {triage.confidence} confidence"
    details = [verdict + (f": {triage.rationale}" if triage.rationale else "."), "",
               *[f"- {reason}" for reason in triage.reasons], "", gate.why]
    if triage.questions and gate.outcome == "needs_info":
        details += ["", f"@{run.job.issue.author}, could you answer these? Please edit the issue to add the "
                    "details, then comment `/jules` to try again (a maintainer has to if you lack write access).",
                    *[f"1. {q}" for q in triage.questions]]
    await run.report.end(Triaged(gate.outcome), details)
    return run.report.result(gate.outcome, f"{gate.why}; " + "; ".join(triage.reasons))  # type: ignore[arg-type]


async def _session(run: IssueRun, record: claims.SessionRecord, triage: Triage | None, branch: str,
                   options: RunOptions, *, look_first: bool, concerns: list[str]) -> WorkflowResult:
    """The queue (session_queue.py): a lease for the session's life, then a daily token if one is to be created;
    the session created or re-entered, followed to its end, its pull request finished."""
    settings, ref = run.deps.settings, run.job.ref
    run.report.view.details = []
    try:
        async with queue.session_slot(new_session=not record.session_id, timeout_seconds=settings.quota_wait_seconds,
                                      poll_seconds=settings.queue_slot_poll_seconds,
                                      while_waiting=lambda: show_position(run)):
            run.report.view.details = []  # the queue position no longer applies
            if record.session_id:
                session = await tasks.get_session(run.deps.jules, record.session_id)
            else:
                assert triage is not None  # a new session always follows a triage
                session = await create_session(run, triage, record, look_first=look_first, branch=branch,
                                               require_plan_approval=options.require_plan_approval,
                                               concerns=concerns)
            record.session_id, record.url, record.state = session.id, session.url, session.state
            await run.book.save()  # ...and the session id right after
            run.report.view.session_id, run.report.view.session_url = record.session_id, record.url
            run.report.event("session", f"{record.session_id} {record.url}")
            await run.report.show(SessionSeen(record.state))
            finished = await follow(run, session, record)
    except AcquireConcurrencySlotTimeoutError:
        # The queue's wait (a session slot or today's quota) ran out: queued no longer, nothing was created.
        await run.report.end(Stopped(Phase.QUEUED), [f"**Still no Jules capacity after "
                             f"{settings.quota_wait_seconds:.0f}s (QUOTA_WAIT_SECONDS).** Nothing was sent to Jules; "
                             "re-run the flow later or raise the plan's limits."], record)
        raise JulesSessionFailed(f"{ref}: no Jules capacity after {settings.quota_wait_seconds:.0f}s") from None
    except Ended as ended:
        await run.report.end(Stopped(ended.phase), [f"**{ended.reason}.** The Jules session may still finish on its "
                             f"own: check {record.url or 'jules.google.com'}. To retry, re-run the Prefect flow for "
                             "this issue."], record)
        raise JulesSessionFailed(f"{ref}: {ended.reason}") from None
    return await finish(run, record, session, finished, options.requested_by)
