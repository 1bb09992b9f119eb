"""What the steps of one flow run receive: four parts with one role each, frozen together.

    deps    RunDeps      the clients and settings (deps.py: made once, from Settings)
    job     IssueJob     the inputs, read once before anything is written (the issue, Jules' source, rival PRs)
    book    ClaimBook    the durable record (reporter.py over agentic/dispatch/claims.py)
    report  Reporter     what people see (status comment, artifacts, progress) and the lifecycle state

Nothing here needs a flow run: `IssueRun.build` takes the Prefect run's URL and logger as values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from agentic.errors import AgenticError
from agentic.github.issue_ref import IssueRef
from agentic.github.models import Issue, PullRequest
from agentic.lifecycle import Phase
from agentic.workflows.deps import RunDeps
from agentic.workflows.reporter import ClaimBook, Reporter, Status, Usage, WorkflowResult
from agentic.workflows.status_comment import StatusView

__all__ = ["ClaimBook", "Ended", "IssueJob", "IssueRun", "Reporter", "RunDeps", "Status", "Usage", "WorkflowResult"]


class Ended(AgenticError):
    """The run stops here with a phase the status comment shows (timed_out, stuck, queued) and a reason."""

    def __init__(self, phase: Phase, reason: str, status: Status = "failed") -> None:
        super().__init__(reason)
        self.phase, self.reason, self.status = phase, reason, status


@dataclass(frozen=True)
class IssueJob:
    ref: IssueRef
    issue: Issue
    run_id: str
    source: dict[str, Any] = field(default_factory=dict)
    # open or merged PRs that already close the issue
    fixing_prs: list[PullRequest] = field(default_factory=list)
    wait_expired: bool = False  # started because a suspended run's wait ran out (plan_approval.expired_wait_trigger)


@dataclass(frozen=True)
class IssueRun:
    deps: RunDeps
    job: IssueJob
    book: ClaimBook
    report: Reporter

    @classmethod
    def build(cls, deps: RunDeps, job: IssueJob, book: ClaimBook, *, prefect_run_url: str | None,
              logger: logging.Logger | logging.LoggerAdapter) -> IssueRun:
        # The reporter may be pinged by our own text (questions for them); model and Jules text never pings anyone.
        view = StatusView(issue_key=job.ref.key, prefect_run_url=prefect_run_url,
                          mentions=[job.issue.author] if job.issue.author else [])
        reporter = Reporter(ref=job.ref, github=deps.github, book=book, view=view, logger=logger,
                            jules_calls=lambda: deps.jules.calls, clock=deps.clock)
        return cls(deps=deps, job=job, book=book, report=reporter)
