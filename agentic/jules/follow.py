"""Following a Jules session, as a pure state machine: `advance(view, session, new_activities) -> (view, actions)`.

The view is a function of the session and its activity stream: rebuilt from the whole stream it is the same as the
one built poll by poll. That is what makes the flow reentrant — a resumed, retried or taken-over run replays the
activities and knows which plan was approved or revised (`planApproved`, `userMessaged` after a plan) and which
question was answered (`userMessaged` after `agentMessaged`), so it never approves, revises or answers twice.
No clock, no I/O: the shell (`agentic/workflows/follow_loop.py`) polls, performs the actions and re-reads the state.

Live behaviours handled (research note jules-api.md §9): approval carried forward (a revised plan that runs without
a second AWAITING_PLAN_APPROVAL never pauses the run), open state set, empty `outputs` with the diff in activity
`changeSet` artifacts, activities sharing a `createTime` (the shell lists with `>=` and this de-duplicates by id),
a question whose `agentMessaged` arrives before the state flips, activity after COMPLETED (ignored once finished).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from agentic.jules import states
from agentic.jules.models import Activity, ChangeSet, Plan, PullRequest, Session


@dataclass(frozen=True)
class Question:
    activity_id: str
    text: str
    asked_at: str


@dataclass
class FollowView:
    session_id: str
    state: str = "QUEUED"  # canonical (documented) name
    raw_state: str | None = None  # as Jules sent it
    seen: set[str] = field(default_factory=set)
    cursor: str | None = None  # newest createTime seen: the next list asks for `create_time>=cursor`
    plan: Plan | None = None
    plan_at: str | None = None
    decided_plans: set[str] = field(default_factory=set)  # approved (by anyone) or answered with a revision
    approval_given: bool = False  # live Jules carries one approval forward to revised plans
    question: Question | None = None  # asked and not answered yet
    moved_on: bool = False  # a plan or progress arrived after the open question: Jules went on without an answer
    latest: str | None = None  # last progress line
    failure_reason: str | None = None
    change_set: ChangeSet | None = None  # newest (cumulative) change set from activity artifacts
    finished: bool = False

    @property
    def waiting_on_people(self) -> bool:
        return self.state in states.WAITING_ON_PEOPLE


@dataclass(frozen=True)
class Note:
    """A timeline entry (artifact + log)."""

    event: str
    detail: str = ""


@dataclass(frozen=True)
class PlanShown:
    """A (new or revised) plan: publish it (artifact, status comment)."""

    plan: Plan


@dataclass(frozen=True)
class AskApproval:
    """Jules waits for a decision on this plan and nobody has decided it yet: ask people."""

    plan: Plan
    plan_at: str | None


@dataclass(frozen=True)
class AskReply:
    """Jules waits for an answer to this question and none was sent: relay a reply from the issue."""

    question: Question


@dataclass(frozen=True)
class Show:
    """Something a reader of the status comment sees changed."""


@dataclass(frozen=True)
class Finished:
    outcome: Literal["completed", "failed"]
    reason: str
    pull_request: PullRequest | None = None
    change_set: ChangeSet | None = None


Action = Note | PlanShown | AskApproval | AskReply | Show | Finished


def _visible(view: FollowView) -> tuple:
    return (view.state, view.plan.id if view.plan else None, view.question, view.latest)


def _order(activity: Activity) -> tuple[str, str]:
    return (activity.create_time, activity.id)


def advance(view: FollowView, session: Session, activities: Sequence[Activity]) -> tuple[FollowView, list[Action]]:
    """Fold new activities and the session's current state into the view; say what the shell must do next."""
    view = copy.deepcopy(view)
    if view.finished:
        return view, []
    before = _visible(view)
    actions: list[Action] = []
    for activity in sorted(activities, key=_order):
        if activity.id in view.seen:
            continue  # listed again by `>=` or by a re-entry: already folded in
        view.seen.add(activity.id)
        if activity.create_time and (view.cursor is None or activity.create_time > view.cursor):
            view.cursor = activity.create_time
        actions += _fold(view, activity)
    previous = view.raw_state
    view.raw_state = session.state or view.raw_state
    view.state = states.canonical(view.raw_state, default=view.state)
    if view.raw_state != previous and view.raw_state and view.raw_state not in states.DOCUMENTED:
        actions.append(Note("state", f"Jules reports {view.raw_state[:40]!r}, treated as {view.state}"))
    if view.question and view.state not in states.WAITING_ON_PEOPLE and view.moved_on:
        view.question = None  # Jules went on without an answer
    if view.state in states.TERMINAL:
        view.finished = True
        actions.append(_finish(view, session))
    elif view.state == "AWAITING_PLAN_APPROVAL" and view.plan and view.plan.id not in view.decided_plans:
        actions.append(AskApproval(view.plan, view.plan_at))
    elif view.state == "AWAITING_USER_FEEDBACK" and view.question:
        actions.append(AskReply(view.question))
    if _visible(view) != before:
        actions.append(Show())
    return view, actions


def _fold(view: FollowView, activity: Activity) -> list[Action]:
    actions: list[Action] = []
    if activity.change_set:
        view.change_set = activity.change_set
    if plan := activity.plan:
        view.plan, view.plan_at = plan, activity.create_time
        if view.question:
            view.moved_on = True
        actions += [PlanShown(plan), Note("plan", " / ".join(step.title for step in plan.steps))]
    elif activity.plan_approved is not None:
        plan_id = activity.plan_approved.get("planId") or (view.plan.id if view.plan else "")
        view.decided_plans.add(plan_id)
        view.approval_given = True
        actions.append(Note("plan-approved", plan_id))
    elif activity.user_messaged is not None:
        if view.question:
            view.question = None  # answered (by this run, an earlier one, or someone on jules.google.com)
            view.moved_on = False
        elif view.plan and view.plan.id not in view.decided_plans:
            view.decided_plans.add(view.plan.id)  # feedback on the plan: Jules revises it
        actions.append(Note("user-message", (activity.user_message or "")[:200]))
    elif activity.agent_messaged is not None:
        text = activity.agent_message or ""
        view.question = Question(activity.id, text, activity.create_time)
        view.moved_on = False
        actions.append(Note("jules-message", text[:200]))
    elif activity.progress_updated is not None:
        update = activity.progress_updated
        view.latest = update.get("title") or update.get("description") or view.latest
        if view.question:
            view.moved_on = True
        actions.append(Note("progress", view.latest or ""))
    elif activity.session_failed is not None:
        view.failure_reason = activity.session_failed.get("reason") or view.failure_reason
        actions.append(Note("failed", view.failure_reason or ""))
    elif activity.session_completed is not None:
        actions.append(Note("completed"))
    return actions


def _finish(view: FollowView, session: Session) -> Finished:
    change_set = session.change_set or view.change_set
    if view.state == "COMPLETED":
        return Finished("completed", "Jules completed the session", session.pull_request, change_set)
    if states.was_cancelled(view.raw_state):
        return Finished("failed", f"the session was cancelled ({view.raw_state})", None, change_set)
    return Finished("failed", view.failure_reason or "Jules reported the session FAILED", None, change_set)


def replay(session: Session, activities: Sequence[Activity]) -> tuple[FollowView, list[Action]]:
    """The view of a session from its whole stream: what a re-entering run starts from."""
    return advance(FollowView(session_id=session.id), session, activities)
