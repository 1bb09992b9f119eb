"""The product: a GitHub issue URL in, a Jules pull request (or a clear reason why not) out.

The flow is a reentrant function of durable state — the claim record (agentic/dispatch/claims.py), the Jules session
and its activities (agentic/jules/), the issue's comments — so any re-entry (task retry, crash, re-trigger, resume,
another worker) reads that state and continues without repeating a side effect (docs/architecture.md). It is a
driver: it observes, steps the pure lifecycle (agentic/lifecycle) through the Reporter, and performs through Prefect
tasks with declared retries (tasks.py). This module opens the run — clients (deps.py), reads, the claim — and keeps
its claim alive; owned.py decides what the owned run does.

    jules_agent_workflow(github_issue_url="https://github.com/acme/widgets/issues/1")
    python -m agentic.workflows.jules_workflow https://github.com/acme/widgets/issues/1
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from agentic import observability
from agentic.dispatch import claims
from agentic.errors import JulesSessionFailed
from agentic.github.issue_ref import IssueRef, parse_issue_url
from agentic.lifecycle import Phase, Stopped
from agentic.workflows import FLOW_NAME, recovery, tasks
from agentic.workflows.owned import RunOptions, all_of, run_owned
from agentic.workflows.plan_approval import PlanDecision
from agentic.workflows.run import ClaimBook, IssueJob, IssueRun, RunDeps, Usage, WorkflowResult

__all__ = ["FLOW_NAME", "PlanDecision", "Usage", "WorkflowResult", "jules_agent_workflow"]
# Before any flow run starts in this process (a worker imports this module first), so that Prefect's run spans are
# exported too. A no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/going-live.md#observability).
observability.configure_tracing("agentic-flow")


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
    go: bool = False,
) -> WorkflowResult:
    """Hand a GitHub issue to Google Jules and follow it to a pull request, reporting on the issue."""
    ref = parse_issue_url(github_issue_url)  # a bad URL fails here, before any side effect
    run_id = str(flow_run.get_id())
    async with RunDeps.from_settings() as deps, observability.traced_run(github_issue_url, str(ref), run_id):
        options = RunOptions(
            require_plan_approval=deps.settings.require_plan_approval if require_plan_approval is None
            else require_plan_approval, starting_branch=starting_branch, new_session_on_edit=new_session_on_edit,
            requested_by=requested_by, allow_closed=allow_closed, allow_locked=allow_locked,
            allow_existing_pr=allow_existing_pr, go=go)
        job = await _read(deps, ref, run_id, wait_expired)
        book = await _claim(deps, ref, run_id, crash_recoveries)
        if isinstance(book, WorkflowResult):
            return book
        run = IssueRun.build(deps, job, book, prefect_run_url=flow_run.get_flow_run_ui_url(), logger=get_run_logger())
        crashing = crash_recoveries > recovery.MAX_CRASH_RECOVERIES
        return await _drive(run, _stop_crashing(run, crash_recoveries) if crashing else run_owned(run, options))


async def _read(deps: RunDeps, ref: IssueRef, run_id: str, wait_expired: bool) -> IssueJob:
    """A missing issue or a repo Jules is not connected to fails here, before any side effect. Side by side: the
    issue, Jules' source, and the PRs that may already fix the issue."""
    issue, source, fixing = await all_of(tasks.read_issue(deps.github, ref), tasks.resolve_source(deps.jules, ref),
                                         tasks.find_fixing_pull_requests(deps.github, ref))
    return IssueJob(ref=ref, issue=issue, run_id=run_id, source=source, fixing_prs=fixing, wait_expired=wait_expired)


async def _claim(deps: RunDeps, ref: IssueRef, run_id: str, crash_recoveries: int) -> ClaimBook | WorkflowResult:
    """The issue's claim, or the answer that another live run has it."""
    key = claims.claim_key(deps.settings.github_api_url, ref)
    acquired = await claims.acquire(key, run_id, deps.settings.claim_stale_seconds)
    if not acquired.owned and crash_recoveries and await recovery.owner_is_gone(acquired.claim.owner_run_id):
        # Continuing a crashed run: its claim looks alive until its heartbeat goes stale, but Prefect already
        # says that run ended. Take it over now rather than leave the issue to nobody.
        acquired = await claims.acquire(key, run_id, 0)
    if acquired.owned:
        return ClaimBook(key=key, run_id=run_id, claim=acquired.claim, first=acquired.first)
    last = acquired.claim.sessions[-1] if acquired.claim.sessions else None
    return WorkflowResult(status="duplicate", issue=str(ref),
                          message=f"run {acquired.claim.owner_run_id} is already handling {ref}",
                          session_id=last.session_id if last else None, session_url=last.url if last else None,
                          pull_request_url=last.pull_request_url if last else None)


async def _drive(run: IssueRun, work: Coroutine[Any, Any, WorkflowResult]) -> WorkflowResult:
    """Run the owned work under the run's budget while a heartbeat keeps the claim; every way out leaves the status
    comment saying how the run ended, and the claim released (unless another run took it over)."""
    settings, book, report = run.deps.settings, run.book, run.report
    owned = asyncio.create_task(work)
    lost = asyncio.Event()
    beating = asyncio.create_task(claims.heartbeat(book.key, book.run_id, book.claim, owned,
                                                   settings.claim_stale_seconds, lost, report.logger))
    try:
        async with asyncio.timeout(settings.run_budget_seconds):
            return await owned
    except TimeoutError:
        # The whole run's budget is spent (the follow loop's own limits should have ended it first).
        await report.end(Stopped(Phase.TIMED_OUT), [f"**This run exceeded its overall limit of "
                         f"{settings.run_budget_seconds:.0f}s (RUN_TIMEOUT_SECONDS).** Re-run the flow to continue "
                         "where it stopped."])
        raise JulesSessionFailed(f"{run.job.ref}: run exceeded {settings.run_budget_seconds:.0f}s") from None
    except claims.ClaimLost as exc:
        lost.set()
        return report.result("duplicate", str(exc))
    except Exception as exc:
        # An end no step wrote (a final 4xx, retries spent): the comment must not stay mid-phase.
        if not report.ended and book.claim.status_comment_id is not None:
            try:
                await report.end(Stopped(Phase.ERROR), [f"**{type(exc).__name__}:** {str(exc)[:300]}", "",
                                 "Re-run the Prefect flow for this issue to continue where it stopped."])
            except Exception as unwritten:  # noqa: BLE001 - the run's own error is the one to raise
                report.logger.warning("the status comment could not say how the run ended: %s", unwritten)
        raise
    except asyncio.CancelledError:
        if lost.is_set():
            return report.result("duplicate", f"another run took over {run.job.ref}; this one stopped writing")
        raise
    finally:
        beating.cancel()
        if not lost.is_set():
            await claims.release(book.key, book.run_id, book.claim)


async def _stop_crashing(run: IssueRun, crashes: int) -> WorkflowResult:
    """A run that crashes every time ends the chain of successors, saying so on the issue."""
    reason = (f"this issue's runs stopped {crashes} times in a row (their process died); not continuing on its "
              "own. Re-run the flow once the cause is fixed: it continues where it stopped.")
    await run.report.end(Stopped(Phase.ERROR), [f"**Stopped:** {reason}"])
    return run.report.result("failed", reason)


if __name__ == "__main__":
    # The seed's entry point: `ibt run`'s command line (agentic/cli/run.py). Imported only when run as a script, so
    # the flow module never depends on the CLI above it.
    import sys

    from agentic.cli.run import run_cli

    raise SystemExit(run_cli(sys.argv[1:]))
