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

Under a state this machine does not know (e.g. `ARCHIVED`), the stream decides: a `sessionCompleted` activity or a
pull request in `outputs` ends the follow as completed, a `sessionFailed` as failed — instead of following "Jules is
working" until a timeout. Unknown states and unknown activity kinds are warned about once per session, by name.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from agentic.jules import states
from agentic.jules.models import ACTIVITY_KINDS, Activity, ChangeSet, Plan, PullRequest, Session

logger = logging.getLogger(__name__)


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
    ended_by: str | None = None  # the stream said the session ended: "sessionCompleted" or "sessionFailed"
    unknown: set[str] = field(default_factory=set)  # unknown states and activity kinds already reported
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


def _visible(view: FollowView) -> tuple[object, ...]:
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
    unknown_state = not states.is_known(view.raw_state)
    if unknown_state and view.raw_state and _first_report(view, f"state:{view.raw_state}"):
        logger.warning("Jules session %s: unknown state %r; its activities and outputs decide when it ends",
                       view.session_id, view.raw_state[:80])
    if view.question and view.state not in states.WAITING_ON_PEOPLE and view.moved_on:
        view.question = None  # Jules went on without an answer
    if unknown_state and (view.ended_by == "sessionCompleted" or session.pull_request):
        view.state = "COMPLETED"  # the stream says done, whatever the state's name
    elif unknown_state and view.ended_by == "sessionFailed":
        view.state = "FAILED"
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


def _first_report(view: FollowView, key: str) -> bool:
    if key in view.unknown:
        return False
    view.unknown.add(key)
    return True


def _fold(view: FollowView, activity: Activity) -> list[Action]:
    actions: list[Action] = []
    kind = activity.kind
    if kind not in ACTIVITY_KINDS.values():
        name = (kind or "(no kind)")[:80]
        if _first_report(view, f"activity:{name}"):
            logger.warning("Jules session %s: unknown activity kind %r (activity %s) ignored", view.session_id, name,
                           activity.id[:40])
            actions.append(Note("unknown-activity", name))
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
        view.ended_by = "sessionFailed"
        actions.append(Note("failed", view.failure_reason or ""))
    elif activity.session_completed is not None:
        view.ended_by = "sessionCompleted"
        actions.append(Note("completed"))
    return actions


def _finish(view: FollowView, session: Session) -> Finished:
    change_set = session.change_set or view.change_set
    if view.state == "COMPLETED":
        reason = "Jules completed the session" if states.is_known(view.raw_state) else (
            f"Jules completed the session (state {str(view.raw_state)[:40]!r} unknown; "
            f"{view.ended_by or 'a pull request output'} ended it)")
        return Finished("completed", reason, session.pull_request, change_set)
    if states.was_cancelled(view.raw_state):
        return Finished("failed", f"the session was cancelled ({view.raw_state})", None, change_set)
    return Finished("failed", view.failure_reason or "Jules reported the session FAILED", None, change_set)


def replay(session: Session, activities: Sequence[Activity]) -> tuple[FollowView, list[Action]]:
    """The view of a session from its whole stream: what a re-entering run starts from."""
    return advance(FollowView(session_id=session.id), session, activities)
