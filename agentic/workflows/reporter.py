"""What a run tells people: the ONE status comment (edited in place), the timeline and usage artifacts, live
progress in this process, and the run's result. It also holds the run's lifecycle state (agentic/lifecycle): every
change of phase is stepped here and shown from here, so the comment and the claim never disagree."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from prefect.artifacts import acreate_link_artifact, acreate_markdown_artifact, acreate_table_artifact
from pydantic import BaseModel, Field

from agentic import lifecycle
from agentic.dispatch import claims
from agentic.github.client import GitHubClient
from agentic.github.issue_ref import IssueRef
from agentic.lifecycle import IssueState, LifecycleAction, Observation, ShowStatus
from agentic.workflows import progress
from agentic.workflows.status_comment import StatusView

Status = Literal["completed", "needs_info", "rejected", "held", "duplicate", "failed"]


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


@dataclass
class ClaimBook:
    """The run's durable record (agentic/dispatch/claims.py) and how to write it: only while this run owns it."""

    key: str
    run_id: str
    claim: claims.Claim
    first: bool = False  # no run ever claimed this issue: nothing (comment, session) can exist yet

    async def save(self) -> None:
        await claims.update(self.key, self.run_id, self.claim)


@dataclass
class Reporter:
    ref: IssueRef
    github: GitHubClient
    book: ClaimBook
    view: StatusView
    logger: logging.Logger | logging.LoggerAdapter
    jules_calls: Callable[[], int] = lambda: 0
    clock: Callable[[], float] = time.monotonic
    state: IssueState = field(default_factory=IssueState)
    timeline: list[dict[str, str]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    ended: bool = False  # the status comment says how the run ended: nothing left mid-phase
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def event(self, what: str, detail: str = "") -> None:
        self.timeline.append({"time": datetime.now(UTC).strftime("%H:%M:%S"), "event": what, "detail": detail[:200]})
        self.logger.info("%s %s", what, detail[:200])
        progress.emit(state=self.view.phase, event=what, detail=detail, session_url=self.view.session_url,
                      elapsed=self.clock() - self.started)

    def step(self, observation: Observation) -> list[LifecycleAction]:
        """Advance the lifecycle (pure); the status comment shows the new phase at the next `show`."""
        self.state, actions = lifecycle.step(self.state, observation)
        self.view.phase = self.state.phase
        return actions

    async def show(self, observation: Observation | None = None) -> None:
        """Step the lifecycle with `observation`, then render the status comment when the step says so; without
        one, render the current phase again. The comment's id and the phase go to the claim."""
        from agentic.workflows.tasks import upsert_status

        if observation is not None and not any(isinstance(a, ShowStatus) for a in self.step(observation)):
            return
        self.usage.wall_seconds = self.clock() - self.started
        self.usage.jules_api_calls = self.jules_calls()
        self.view.usage_lines = self.usage.lines()
        claim = self.book.claim
        comment = await upsert_status(self.github, self.ref, claim.status_comment_id, self.view.render(),
                                      search=not self.book.first, bot_login=claim.bot_login)
        changed = ((comment.id, comment.author, self.state.phase)
                   != (claim.status_comment_id, claim.bot_login, claim.phase))
        claim.status_comment_id, claim.bot_login = comment.id, comment.author or claim.bot_login
        claim.phase = self.state.phase
        if changed or self.book.first:
            await self.book.save()

    async def end(self, how: Observation, details: list[str], record: claims.SessionRecord | None = None) -> None:
        """Every way out after the status comment exists leaves it saying what happened — never mid-phase."""
        self.view.details, self.view.question = details, None
        self.ended = True
        actions = self.step(how)
        if record is not None:
            record.state = self.state.phase.value  # in the claim the comment's write saves
        if any(isinstance(a, ShowStatus) for a in actions):
            await self.show()
        await self.artifacts(record)

    def result(self, status: Status, message: str, record: claims.SessionRecord | None = None) -> WorkflowResult:
        return WorkflowResult(status=status, issue=str(self.ref), message=message, usage=self.usage,
                              session_id=record.session_id if record else None,
                              session_url=record.url if record else None,
                              pull_request_url=record.pull_request_url if record else None)

    async def artifacts(self, record: claims.SessionRecord | None) -> None:
        """Artifacts of the run: timeline, usage and cost, the pull request link."""
        self.usage.wall_seconds = self.clock() - self.started
        await acreate_table_artifact(self.timeline, key="jules-timeline", description=f"Timeline of {self.ref}")
        await acreate_markdown_artifact("\n".join(["### Usage and estimated cost", "", *self.usage.lines()]),
                                        key="jules-cost", description=f"Usage for {self.ref}")
        if record and record.pull_request_url:
            await acreate_link_artifact(record.pull_request_url, link_text=f"Pull request for {self.ref}",
                                        key="jules-pull-request")
