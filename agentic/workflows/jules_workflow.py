"""The product: a GitHub issue URL in, a Jules pull request (or a clear reason why not) out.

The flow is a reentrant function of durable state — the claim record (claims.py), the Jules session and its
activities (agentic/jules/), the issue's comments — so any re-entry (task retry, crash, re-trigger, resume, another
worker) reads that state and continues without repeating a side effect (docs/architecture.md). Deterministic
Prefect tasks (tasks.py) do every side effect; one judgment step, the Pydantic AI agent, triages the issue and
writes the brief; follow_loop.py follows the session.

    jules_agent_workflow(github_issue_url="https://github.com/acme/widgets/issues/1")
    python -m agentic.workflows.jules_workflow https://github.com/acme/widgets/issues/1
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from prefect import flow
from prefect.concurrency.asyncio import AcquireConcurrencySlotTimeoutError
from prefect.runtime import flow_run

from agentic import observability
from agentic.agent.brief import Triage, render_prompt, session_title
from agentic.agent.triage import IssueDeps, build_agent, issue_prompt, triage_issue
from agentic.errors import JulesQuotaExceeded, JulesSessionFailed, JulesSourceBusy
from agentic.jules.follow import Finished
from agentic.jules.models import Session
from agentic.lifecycle import (CiSettled, CiWatch, Observation, Phase, PullRequestOpened, Refused, SessionSeen,
                               Stopped, Triaged, Triaging, Waiting)
from agentic.secret_blocks import with_secret_blocks
from agentic.settings import get_settings
from agentic.dispatch import claims, session_queue as queue
from agentic.github import ops as github_ops
from agentic.workflows import ci_loop, recovery, tasks
from agentic.workflows.follow_loop import follow
from agentic.hub.mcp_client import connect_hub
from agentic.github.issue_ref import parse_issue_url
from agentic.workflows.plan_approval import PlanDecision
from agentic.workflows.run import Ended, Run, Usage, WorkflowResult

FLOW_NAME = "jules-agent-workflow"
# Prefect global concurrency limit capping live Jules sessions, created from JULES_MAX_CONCURRENT_SESSIONS by deploy.py
# (or by hand: `prefect gcl create jules-sessions --limit 3`); a no-op until created (session_queue.py).
SESSIONS_LIMIT = queue.SESSIONS_LIMIT

__all__ = ["FLOW_NAME", "PlanDecision", "Usage", "WorkflowResult", "jules_agent_workflow"]
# Before any flow run starts in this process (a worker imports this module first), so that Prefect's run spans are
# exported too. A no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/going-live.md#observability).
observability.configure_tracing("agentic-flow")


async def _all(*steps: Any) -> list[Any]:
    """Run independent steps side by side; let every one finish (the hub session they share stays open), then raise
    the first failure, typed and unwrapped."""
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


@observability.traced("triage")
async def _triage(run: Run) -> Triage:
    agent = build_agent(run.settings)
    issue = run.issue
    prompt = issue_prompt(repo=run.ref.full_name, number=run.ref.number, title=issue.title, body=issue.body,
                          labels=issue.labels, author=issue.author, max_body_chars=run.settings.max_issue_body_chars)
    # The agent's read-only GitHub tools are pinned to this repository through its typed deps.
    outcome = await triage_issue(agent, prompt, run.settings, deps=IssueDeps(run.ref.owner, run.ref.repo))
    run.usage.llm_requests += outcome.requests
    run.usage.llm_input_tokens += outcome.input_tokens
    run.usage.llm_output_tokens += outcome.output_tokens
    if outcome.cost_usd is not None:
        run.usage.llm_cost_usd = float(Decimal(str(run.usage.llm_cost_usd or 0)) + outcome.cost_usd)
    run.event("triage", f"{outcome.triage.decision}: {'; '.join(outcome.triage.reasons)}")
    return outcome.triage


async def _dispatch(run: Run, triage: Triage, record: claims.SessionRecord, *, look_first: bool,
                    require_plan_approval: bool, branch: str) -> Session:
    """Create the one session for this issue text, queueing while Jules answers 429 or, under parallel load, 400
    "Could not get source" (bounded: `jules_create_attempts`). Every create after the first looks for the marker
    first, so an answer that hid a created session never makes a second one."""
    # The issue's own text goes to Jules too, fenced and capped as data (agentic/agent/brief.py).
    prompt = render_prompt(triage.brief, issue_number=run.ref.number, issue_url=run.issue.html_url,
                           marker=record.marker, issue_title=run.issue.title, issue_body=run.issue.body,
                           max_body_chars=run.settings.max_issue_body_chars)
    title = session_title(triage.brief, run.ref.number)
    deadline = run.clock() + run.settings.quota_wait_seconds
    attempts, busy = run.settings.jules_create_attempts, 0
    while True:
        try:
            session = await tasks.create_session(run.jules, marker=record.marker, prompt=prompt, title=title,
                                                 source=run.source["name"], branch=branch,
                                                 require_plan_approval=require_plan_approval, look_first=look_first)
            break
        except JulesQuotaExceeded as exc:
            if run.clock() >= deadline:
                raise Ended(Phase.QUEUED, f"Jules quota still exhausted after {run.settings.quota_wait_seconds:.0f}s: "
                                      f"{exc}. Retry later or raise the plan's limits.") from exc
            if run.state.phase is not Phase.QUEUED:
                run.view.details = ["Jules answered 429 (quota reached); this run is queued and retries automatically."]
                await run.show(Waiting())
                run.event("queued", str(exc))
            # A 429 created nothing, but an earlier pass of this loop may have been a lost success: look first.
            look_first = True
            await asyncio.sleep(run.settings.quota_retry_seconds)
        except JulesSourceBusy as exc:
            busy += 1
            run.event("source-busy", f"attempt {busy} of {attempts}: {exc}")
            if busy >= attempts:
                await _end(run, record, Stopped(Phase.NOT_STARTED), [
                    f"**Jules answered “Could not get source” to {busy} session creates** (what it answers when "
                    "too many sessions are created at once). Nothing was started; re-run the Prefect flow for this "
                    "issue later."])
                raise JulesSessionFailed(f"{run.ref}: Jules refused createSession {busy} times: {exc}") from None
            delay = queue.retry_delay(busy, run.settings.jules_create_retry_seconds)
            run.view.details = [f"Jules answered “Could not get source” (it does when many sessions are created at "
                                f"once): this run is queued and creates again in {delay:.0f}s (attempt {busy + 1} of "
                                f"{attempts})."]
            await run.show(Waiting())
            look_first = True  # the refused create may have made the session after all: never make a second one
            await asyncio.sleep(delay)
    run.usage.jules_sessions += 1
    return session


async def _show_position(run: Run) -> None:
    """While the run waits for a session slot, its status comment says how many runs are ahead (from Prefect)."""
    ahead = await queue.position(FLOW_NAME, run.run_id)
    details = [f"Waiting for a Jules session slot: queued, {ahead} ahead." if ahead is not None
               else "Waiting for a Jules session slot: queued."]
    if run.state.phase is not Phase.QUEUED or run.view.details != details:
        run.view.details = details
        await run.show(Waiting())
        run.event("queued", details[0])


async def _end(run: Run, record: claims.SessionRecord | None, how: Observation, details: list[str]) -> None:
    """Every way out after the status comment exists leaves it saying what happened — never mid-phase."""
    run.view.details, run.view.question = details, None
    run.ended = True
    await run.show(how)
    if record is not None:
        record.state = run.state.phase.value
    await run.report(record)


@observability.traced("pull request")
async def _finish(run: Run, record: claims.SessionRecord, session: Session, finished: Finished,
                  requested_by: str | None) -> WorkflowResult:
    ref = run.ref
    if finished.outcome == "failed":
        await _end(run, record, Stopped(Phase.FAILED), [f"Jules reported: {finished.reason}", "",
                   "To retry: edit the issue to clarify, then re-run with `new_session_on_edit=True`."])
        raise JulesSessionFailed(f"{ref}: Jules session {record.session_id} failed: {finished.reason}")
    pr_url = finished.pull_request.url if finished.pull_request else None
    for _ in range(3):  # live Jules: `outputs` can stay empty although the PR exists; it may also appear late
        if pr_url:
            break
        pr_url = await tasks.find_pull_request(run.hub, ref, session)
        if not pr_url:
            await asyncio.sleep(run.settings.poll_min_seconds)
            session = await tasks.get_session(run.jules, session.id)
            pr_url = session.pull_request.url if session.pull_request else None
    if not pr_url:
        produced = _describe_change(finished)
        await _end(run, record, Stopped(Phase.FAILED), [f"Jules completed without opening a pull request. {produced}",
                                           f"See the session: {record.url}"])
        raise JulesSessionFailed(f"{ref}: session {record.session_id} completed without a pull request")
    record.pull_request_url = pr_url
    record.state = "COMPLETED"
    # "pending": the PR is not finished (Fixes #N, reviewer) nor its CI decided; a re-entry continues from here.
    record.ci_state = record.ci_state or CiWatch.PENDING
    await claims.update(run.claim_key, run.run_id, run.claim)  # durable before the PR is touched
    reviewer = requested_by or run.issue.author
    run.view.mentions = sorted({*run.view.mentions, reviewer})
    done = await tasks.finish_pull_request(run.hub, ref, pr_url, reviewer)
    run.view.pull_request_url, run.view.question, run.view.latest = pr_url, None, None
    title = finished.pull_request.title if finished.pull_request and finished.pull_request.title else "Pull request"
    run.view.details = [f"**{title}** — {pr_url} (closes #{ref.number})"
                        + (f"; review requested from @{reviewer}" if done["reviewer_requested"] else "")]
    run.event("pull-request", pr_url)
    await run.show(PullRequestOpened())
    ci = await _follow_ci(run, record, done["number"])
    await run.report(record)
    return run.result("completed", f"pull request {pr_url}" + (f"; CI {ci}" if ci else ""), record)


async def _follow_ci(run: Run, record: claims.SessionRecord, pr_number: int) -> str | None:
    """After the PR opens: the CI loop (ci_loop.py), its final state on the status comment. None: not watched."""
    if record.ci_state not in (None, CiWatch.PENDING, CiWatch.WATCHING):
        return None
    if run.settings.ci_watch == "off":
        record.ci_state = CiWatch.OFF
        await claims.update(run.claim_key, run.run_id, run.claim)
        return None
    if record.ci_state in (None, CiWatch.PENDING):
        pull = await tasks.read_pull(run.hub, run.ref, pr_number)
        base = str((pull.get("base") or {}).get("ref") or "")
        watched = run.settings.ci_watch == "on" or await ci_loop.has_ci(run, base)
        record.ci_state = CiWatch.WATCHING if watched else CiWatch.NONE
        await claims.update(run.claim_key, run.run_id, run.claim)  # a re-entry continues the watch
        if not watched:
            return None
    outcome = await ci_loop.watch(run, record, pr_number)
    record.ci_state = CiWatch(outcome.state)
    if record.ci_state is CiWatch.CLOSED and record.session_id and not record.archived:
        await run.jules.archive(record.session_id)  # merged or closed: the session must not push again
        record.archived = True
    await claims.update(run.claim_key, run.run_id, run.claim)
    run.event("ci", f"{outcome.state} after {outcome.rounds} fix round(s)")
    run.view.details = [*run.view.details[:1], "", *outcome.details]
    await run.show(CiSettled(record.ci_state))
    return outcome.state


async def _resume_ci(run: Run, record: claims.SessionRecord, requested_by: str | None) -> WorkflowResult:
    """A re-entry after the PR was recorded: finish it (idempotent: `Fixes #N` and the reviewer are read back) if
    that had not happened, then continue the CI watch."""
    pr_url = record.pull_request_url or ""
    run.view.session_id, run.view.session_url, run.view.pull_request_url = record.session_id, record.url, pr_url
    if record.ci_state is CiWatch.PENDING:
        await tasks.finish_pull_request(run.hub, run.ref, pr_url, requested_by or run.issue.author)
    run.view.details = [f"Pull request {pr_url} (closes #{run.ref.number})"]
    ci = await _follow_ci(run, record, github_ops.pull_number(pr_url))
    await run.report(record)
    return run.result("completed", f"pull request {pr_url}" + (f"; CI {ci}" if ci else ""), record)


def _describe_change(finished: Finished) -> str:
    patch = finished.change_set.git_patch if finished.change_set else None
    if not patch or not patch.unidiff_patch:
        return "It produced no change."
    files = sorted({line[6:] for line in patch.unidiff_patch.splitlines() if line.startswith("+++ b/")})
    message = f" (suggested commit: “{patch.suggested_commit_message[:120]}”)" if patch.suggested_commit_message else ""
    return f"It produced a change to {len(files)} file(s): {', '.join(files[:10])}{message}."


async def _refuse_issue_state(run: Run, *, allow_closed: bool, allow_locked: bool,
                              allow_existing_pr: bool) -> WorkflowResult | None:
    """A closed or locked issue, or one an open or merged PR already fixes, gets no session (each overridable)."""
    issue, why, status = run.issue, None, "rejected"
    if issue.state != "open" and not allow_closed:
        why = f"the issue is {issue.state}; run with `allow_closed=True` to hand it to Jules anyway"
    elif issue.locked and not allow_locked:
        why = (f"the issue is locked ({issue.lock_reason or 'no reason given'}); run with `allow_locked=True` to "
               "hand it to Jules anyway")
    elif not allow_existing_pr:
        ours = {r.pull_request_url for r in run.claim.sessions if r.pull_request_url}
        if pr := next((p for p in run.fixing_prs if p.get("html_url") not in ours), None):
            status = "duplicate"
            why = (f"pull request #{pr.get('number')} ({pr.get('state')}{', merged' if pr.get('merged_at') else ''}) "
                   f"already fixes this issue: {pr.get('html_url')}; run with `allow_existing_pr=True` to start "
                   "another")
    if why is None:
        return None
    run.event("not-dispatched", why)
    await _end(run, None, Refused(duplicate=status == "duplicate"), [f"**Not handed to Jules:** {why}."])
    return run.result(status, why)  # type: ignore[arg-type]


async def _run_owned(run: Run, *, require_plan_approval: bool, starting_branch: str | None,
                     new_session_on_edit: bool, requested_by: str | None, allow_closed: bool = False,
                     allow_locked: bool = False, allow_existing_pr: bool = False) -> WorkflowResult:
    ref, claim = run.ref, run.claim
    digest = claims.text_hash(run.issue.title, run.issue.body)
    # Finished before: answer without touching the status comment or spending tokens. (A run that died after
    # COMPLETED but before finishing the PR has no pull_request_url yet and is finished below.)
    done = claim.session_for(digest)
    if done and done.pull_request_url and done.ci_state in (CiWatch.PENDING, CiWatch.WATCHING):
        return await _resume_ci(run, done, requested_by)
    if done and (done.state == "FAILED" or done.pull_request_url):
        return run.result("duplicate", f"already handled by session {done.session_id}"
                          + (f" (PR {done.pull_request_url})" if done.pull_request_url else " (FAILED)"), done)
    record = done
    if record is None and not new_session_on_edit:
        # A session still under way (the issue was edited while a suspended run waited on people): continue it —
        # the text it was dispatched for is in the record; the edit does not strand it.
        record = next((r for r in reversed(claim.sessions)
                       if r.session_id and not r.pull_request_url and r.state not in ("FAILED", "COMPLETED")), None)
    if record is None and claim.sessions and not new_session_on_edit:
        last = claim.sessions[-1]
        return run.result("duplicate", f"issue edited after session {last.session_id}; run with "
                          "new_session_on_edit=True to start another", last)
    if record is None and len(claim.sessions) >= run.settings.max_sessions_per_issue:
        return run.result("duplicate", f"max {run.settings.max_sessions_per_issue} session(s) per issue reached",
                          claim.sessions[-1])
    # Only a new dispatch is refused: a run continuing its own session must not mistake Jules' PR for a rival.
    if record is None and (refusal := await _refuse_issue_state(run, allow_closed=allow_closed,
                                                                allow_locked=allow_locked,
                                                                allow_existing_pr=allow_existing_pr)):
        return refusal
    run.view.details = []

    async def branch() -> str:
        return starting_branch or await tasks.read_default_branch(run.hub, ref)

    triage: Triage | None = None
    try:
        # Re-entering a dispatched session (resumed after a suspension, a retry): triage and branch were decided
        # before, so the model is not asked again and the status comment does not flash back to "triage".
        if not (record is not None and record.session_id):
            # Independent steps side by side: the reaction, the first status comment, the judgment, the branch.
            _, _, triage, branch_name = await _all(tasks.react(run.hub, ref), run.show(Triaging()), _triage(run),
                                                   branch())
    except Exception as exc:
        if run.claim.status_comment_id is not None:
            await _end(run, None, Stopped(Phase.FAILED), [f"**Could not read or triage the issue:** {str(exc)[:300]}"])
        raise
    if triage is not None and triage.decision != "actionable":
        details = [f"- {reason}" for reason in triage.reasons]
        if triage.questions:
            details += ["", f"@{run.issue.author}, could you answer these? Please edit the issue to add the "
                        "details, then comment `/jules` to try again (a maintainer has to if you lack write access).",
                        *[f"1. {q}" for q in triage.questions]]
        await _end(run, None, Triaged(triage.decision), details)
        return run.result(triage.decision, "; ".join(triage.reasons))
    if triage is not None:
        run.step(Triaged("actionable"))

    # A record written by an earlier run may hide a session that run created before dying: look before creating.
    # A record this run writes cannot (the record is durable before any create).
    look_first = record is not None
    if record is None:
        record = claims.SessionRecord(text_hash=digest, marker=claims.marker_for(ref, digest))
        claim.sessions.append(record)
        await claims.update(run.claim_key, run.run_id, claim)  # the claim is durable BEFORE the session exists
    run.view.details = []
    try:
        # The queue (session_queue.py): a lease for the session's life, then a daily token, if one is to be created.
        async with queue.session_slot(new_session=not record.session_id,
                                      timeout_seconds=run.settings.quota_wait_seconds,
                                      poll_seconds=run.settings.queue_slot_poll_seconds,
                                      while_waiting=lambda: _show_position(run)):
            run.view.details = []  # the queue position no longer applies
            if record.session_id:
                session = await tasks.get_session(run.jules, record.session_id)
            else:
                session = await _dispatch(run, triage, record, look_first=look_first,
                                          require_plan_approval=require_plan_approval, branch=branch_name)
            record.session_id, record.url, record.state = session.id, session.url, session.state
            await claims.update(run.claim_key, run.run_id, claim)  # ...and the session id right after
            run.view.session_id, run.view.session_url = record.session_id, record.url
            run.event("session", f"{record.session_id} {record.url}")
            await run.show(SessionSeen(record.state))
            finished = await follow(run, session, record)
    except AcquireConcurrencySlotTimeoutError:
        # The queue's wait (a session slot or today's quota) ran out: the run is queued no longer, nothing was created.
        await _end(run, record, Stopped(Phase.QUEUED), [f"**Still no Jules capacity after {run.settings.quota_wait_seconds:.0f}s "
                                           "(QUOTA_WAIT_SECONDS).** Nothing was sent to Jules; re-run the flow later "
                                           "or raise the plan's limits."])
        raise JulesSessionFailed(f"{ref}: no Jules capacity after {run.settings.quota_wait_seconds:.0f}s") from None
    except Ended as ended:
        await _end(run, record, Stopped(ended.phase), [f"**{ended.reason}.** The Jules session may still finish on its own: "
                                              f"check {record.url or 'jules.google.com'}. To retry, re-run the "
                                              "Prefect flow for this issue."])
        raise JulesSessionFailed(f"{ref}: {ended.reason}") from None
    return await _finish(run, record, session, finished, requested_by)


@flow(name=FLOW_NAME, log_prints=True, validate_parameters=True)
async def jules_agent_workflow(
    github_issue_url: str,
    require_plan_approval: bool | None = None,
    starting_branch: str | None = None,
    new_session_on_edit: bool = False,
    requested_by: str | None = None,
    allow_closed: bool = False,
    allow_locked: bool = False,
    allow_existing_pr: bool = False,
    wait_expired: bool = False,
    crash_recoveries: int = 0,
) -> WorkflowResult:
    """Hand a GitHub issue to Google Jules and follow it to a pull request, reporting on the issue."""
    settings = await with_secret_blocks(get_settings())  # keys from Prefect Secret blocks when present (#13)
    ref = parse_issue_url(github_issue_url)  # a bad URL fails here, before any side effect
    token = settings.mcp_hub_token.get_secret_value() if settings.mcp_hub_token else None
    run_id = str(flow_run.get_id())
    async with observability.traced_run(github_issue_url, str(ref), run_id), \
            connect_hub(settings.hub_mcp_url, token, verify=settings.tls_verify) as hub:
        from agentic.jules.client import JulesClient

        # A missing issue or a repo Jules is not connected to fails here, before any side effect.
        # Reads side by side: the issue, Jules' source, and the PRs that may already fix the issue.
        issue, source, fixing = await _all(tasks.read_issue(hub, ref), tasks.resolve_source(JulesClient(hub), ref),
                                           tasks.find_fixing_pull_requests(hub, ref))
        key = claims.claim_key(settings.github_api_url, ref)
        acquired = await claims.acquire(key, run_id, settings.claim_stale_seconds)
        if not acquired.owned and crash_recoveries and await recovery.owner_is_gone(acquired.claim.owner_run_id):
            # Continuing a crashed run: its claim looks alive until its heartbeat goes stale, but Prefect already
            # says that run ended. Take it over now rather than leave the issue to nobody.
            acquired = await claims.acquire(key, run_id, 0)
        if not acquired.owned:
            last = acquired.claim.sessions[-1] if acquired.claim.sessions else None
            return WorkflowResult(status="duplicate", issue=str(ref),
                                  message=f"run {acquired.claim.owner_run_id} is already handling {ref}",
                                  session_id=last.session_id if last else None, session_url=last.url if last else None,
                                  pull_request_url=last.pull_request_url if last else None)
        run = Run(hub=hub, settings=settings, ref=ref, issue=issue, claim=acquired.claim, run_id=run_id,
                  first_claim=acquired.first, source=source, fixing_prs=fixing, wait_expired=wait_expired)
        crashing = crash_recoveries > recovery.MAX_CRASH_RECOVERIES
        owned = asyncio.create_task(_stop_crashing(run, crash_recoveries) if crashing else _run_owned(
            run, require_plan_approval=settings.require_plan_approval if require_plan_approval is None
            else require_plan_approval, starting_branch=starting_branch, new_session_on_edit=new_session_on_edit,
            requested_by=requested_by, allow_closed=allow_closed, allow_locked=allow_locked,
            allow_existing_pr=allow_existing_pr))
        lost = asyncio.Event()
        beating = asyncio.create_task(claims.heartbeat(key, run_id, run.claim, owned, settings.claim_stale_seconds,
                                                       lost, run.logger))
        try:
            async with asyncio.timeout(settings.run_budget_seconds):
                return await owned
        except TimeoutError:
            # The whole run's budget is spent (the follow loop's own limits should have ended it first).
            await _end(run, None, Stopped(Phase.TIMED_OUT), [f"**This run exceeded its overall limit of "
                                                f"{settings.run_budget_seconds:.0f}s (RUN_TIMEOUT_SECONDS).** "
                                                "Re-run the flow to continue where it stopped."])
            raise JulesSessionFailed(f"{ref}: run exceeded {settings.run_budget_seconds:.0f}s") from None
        except claims.ClaimLost as exc:
            lost.set()
            return run.result("duplicate", str(exc))
        except Exception as exc:
            # An end no branch above wrote (a final 4xx, retries spent): the comment must not stay mid-phase.
            if not run.ended and run.claim.status_comment_id is not None:
                try:
                    await _end(run, None, Stopped(Phase.ERROR), [f"**{type(exc).__name__}:** {str(exc)[:300]}", "", "Re-run the "
                                                    "Prefect flow for this issue to continue where it stopped."])
                except Exception as unwritten:  # noqa: BLE001 - the run's own error is the one to raise
                    run.logger.warning("the status comment could not say how the run ended: %s", unwritten)
            raise
        except asyncio.CancelledError:
            if lost.is_set():
                return run.result("duplicate", f"another run took over {ref}; this one stopped writing")
            raise
        finally:
            beating.cancel()
            if not lost.is_set():
                await claims.release(key, run_id, run.claim)


async def _stop_crashing(run: Run, crashes: int) -> WorkflowResult:
    """A run that crashes every time ends the chain of successors, saying so on the issue."""
    reason = (f"this issue's runs stopped {crashes} times in a row (their process died); not continuing on its "
              "own. Re-run the flow once the cause is fixed: it continues where it stopped.")
    await _end(run, None, Stopped(Phase.ERROR), [f"**Stopped:** {reason}"])
    return run.result("failed", reason)


if __name__ == "__main__":
    # The seed's entry point: `ibt run`'s command line (agentic/cli/run.py). Imported only when run as a script, so
    # the flow module never depends on the CLI above it.
    import sys

    from agentic.cli.run import run_cli

    raise SystemExit(run_cli(sys.argv[1:]))
