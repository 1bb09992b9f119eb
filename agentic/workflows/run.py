"""What one flow run carries: its typed dependencies (settings, the hub, the Jules client, the claim, a clock) and
what it reports (the status comment view, the timeline, usage). Plain functions receive a `Run`; Prefect tasks
(`tasks.py`) wrap only the side effects."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from prefect import get_run_logger
from prefect.artifacts import acreate_link_artifact, acreate_markdown_artifact, acreate_table_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from agentic import lifecycle
from agentic.jules.client import JulesClient
from agentic.lifecycle import IssueState, Observation, Phase, ShowStatus
from agentic.settings import Settings
from agentic.dispatch import claims
from agentic.github import ops as github_ops
from agentic.workflows import progress
from agentic.hub.mcp_client import HubTools
from agentic.github.issue_ref import IssueRef
from agentic.workflows.status_comment import StatusView

Status = Literal["completed", "needs_info", "rejected", "duplicate", "failed"]


class Usage(BaseModel):
    llm_requests: int = 0
    llm_input_tokens: int = 0
    llm_output_tokens: int = 0
    llm_cost_usd: float | None = None
    jules_sessions: int = 0
    jules_api_calls: int = 0
    wall_seconds: float = 0.0

    def lines(self) -> list[str]:
        cost = "unknown (model not priced)" if self.llm_cost_usd is None else f"${self.llm_cost_usd:.4f}"
        return ["| | |", "|---|---|",
                f"| LLM | {self.llm_requests} requests, {self.llm_input_tokens} in / {self.llm_output_tokens} out "
                f"tokens, {cost} |",
                f"| Jules | {self.jules_sessions} session(s), {self.jules_api_calls} API calls |",
                f"| Wall time | {self.wall_seconds:.0f} s |"]


class WorkflowResult(BaseModel):
    status: Status
    issue: str
    message: str
    session_id: str | None = None
    session_url: str | None = None
    pull_request_url: str | None = None
    usage: Usage = Field(default_factory=Usage)


class Ended(Exception):
    """The run stops here with a phase the status comment shows (timed_out, stuck, queued) and a reason."""

    def __init__(self, phase: Phase, reason: str, status: Status = "failed") -> None:
        super().__init__(reason)
        self.phase, self.reason, self.status = phase, reason, status


@dataclass
class Run:
    hub: HubTools
    settings: Settings
    ref: IssueRef
    issue: github_ops.Issue
    claim: claims.Claim
    run_id: str
    first_claim: bool = False  # no run ever claimed this issue: nothing (comment, session) can exist yet
    source: dict = field(default_factory=dict)
    fixing_prs: list[dict] = field(default_factory=list)  # open or merged PRs that already close the issue
    wait_expired: bool = False  # started because a suspended run's wait ran out (plan_approval.expired_wait_trigger)
    ended: bool = False  # the status comment says how the run ended (jules_workflow._end): nothing left mid-phase
    clock: Callable[[], float] = time.monotonic
    view: StatusView = field(init=False)
    state: IssueState = field(default_factory=IssueState)  # the lifecycle (agentic/lifecycle)
    timeline: list[dict[str, str]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.claim_key = claims.claim_key(self.settings.github_api_url, self.ref)
        self.jules = JulesClient(self.hub)
        # The reporter may be pinged by our own text (questions for them); model and Jules text never pings anyone.
        self.view = StatusView(issue_key=self.ref.key, prefect_run_url=flow_run.get_flow_run_ui_url(),
                               mentions=[self.issue.author] if self.issue.author else [])
        self.started = self.clock()
        self.logger = get_run_logger()

    def event(self, what: str, detail: str = "") -> None:
        self.timeline.append({"time": datetime.now(UTC).strftime("%H:%M:%S"), "event": what, "detail": detail[:200]})
        self.logger.info("%s %s", what, detail[:200])
        progress.emit(state=self.view.phase, event=what, detail=detail, session_url=self.view.session_url,
                      elapsed=self.clock() - self.started)

    def step(self, observation: Observation) -> list[lifecycle.LifecycleAction]:
        """Advance the lifecycle (pure); the status comment shows the new phase at the next `show`."""
        self.state, actions = lifecycle.step(self.state, observation)
        self.view.phase = self.state.phase
        return actions

    async def show(self, observation: Observation | None = None) -> None:
        """Step the lifecycle with `observation`, then render the status comment (one, edited in place) when the
        step says so; without one, render the current phase again. The comment's id and the phase go to the claim."""
        from agentic.workflows.tasks import upsert_status

        if observation is not None and not any(isinstance(a, ShowStatus) for a in self.step(observation)):
            return
        self.usage.wall_seconds = self.clock() - self.started
        self.usage.jules_api_calls = self.jules.calls
        self.view.usage_lines = self.usage.lines()
        comment = await upsert_status(self.hub, self.ref, self.claim.status_comment_id, self.view.render(),
                                      search=not self.first_claim, bot_login=self.claim.bot_login)
        changed = ((comment.id, comment.author, self.state.phase)
                   != (self.claim.status_comment_id, self.claim.bot_login, self.claim.phase))
        self.claim.status_comment_id, self.claim.bot_login = comment.id, comment.author or self.claim.bot_login
        self.claim.phase = self.state.phase
        if changed or self.first_claim:
            await claims.update(self.claim_key, self.run_id, self.claim)

    def result(self, status: Status, message: str, record: claims.SessionRecord | None = None) -> WorkflowResult:
        return WorkflowResult(status=status, issue=str(self.ref), message=message, usage=self.usage,
                              session_id=record.session_id if record else None,
                              session_url=record.url if record else None,
                              pull_request_url=record.pull_request_url if record else None)

    async def report(self, record: claims.SessionRecord | None) -> None:
        """Artifacts of the run: timeline, usage and cost, the pull request link."""
        self.usage.wall_seconds = self.clock() - self.started
        await acreate_table_artifact(self.timeline, key="jules-timeline", description=f"Timeline of {self.ref}")
        await acreate_markdown_artifact("\n".join(["### Usage and estimated cost", "", *self.usage.lines()]),
                                        key="jules-cost", description=f"Usage for {self.ref}")
        if record and record.pull_request_url:
            await acreate_link_artifact(record.pull_request_url, link_text=f"Pull request for {self.ref}",
                                        key="jules-pull-request")
