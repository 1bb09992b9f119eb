"""The session state machine, one activity kind at a time, with exact actions and view fields: what mutation
testing (scripts/mutation.sh) showed test_follow.py left unchecked — the Notes of the timeline, the defaults
when a payload is empty, the finish reasons, and that advance() never mutates the view it is given."""

from __future__ import annotations

import itertools

from agentic.jules.follow import (AskApproval, AskReply, Finished, FollowView, Note, PlanShown, Question, Show,
                                  advance, replay)
from agentic.jules.models import Activity, Session

SID = "7654321"
_ids = itertools.count(1)


def T(second: int) -> str:
    return f"2026-12-01T11:00:{second:02d}.000000Z"


def act(kind: str, payload: dict | None = None, *, t: str, artifacts: list | None = None) -> Activity:
    n = next(_ids)
    raw = {"name": f"sessions/{SID}/activities/m{n}", "id": f"m{n}", "createTime": t,
           "originator": "user" if kind == "userMessaged" else "agent", kind: payload or {}}
    if artifacts:
        raw["artifacts"] = artifacts
    return Activity.model_validate(raw)


def plan(plan_id: str, *titles: str, t: str) -> Activity:
    steps = [{"id": f"{plan_id}-{i}", "title": title, "index": i} for i, title in enumerate(titles)]
    return act("planGenerated", {"plan": {"id": plan_id, "steps": steps, "createTime": t}}, t=t)


def session(state: str | None, pr: str | None = None) -> Session:
    raw = {"name": f"sessions/{SID}", "id": SID, "prompt": "p",
           "outputs": [{"pullRequest": {"url": pr, "title": "Fix"}}] if pr else []}
    if state is not None:
        raw["state"] = state
    return Session.model_validate(raw)


def change_set(patch: str) -> list[dict]:
    return [{"changeSet": {"source": f"sessions/{SID}", "gitPatch": {"unidiffPatch": patch}}}]


def notes(actions) -> list[Note]:
    return [a for a in actions if isinstance(a, Note)]


def test_a_plan_is_shown_with_its_step_titles():
    p = plan("p1", "Read slugify", "Strip the dash", t=T(1))
    view, actions = advance(FollowView(session_id=SID), session("PLANNING"), [p])
    assert actions == [PlanShown(p.plan), Note("plan", "Read slugify / Strip the dash"), Show()]
    assert view.plan == p.plan and view.plan_at == T(1) and view.cursor == T(1) and view.seen == {p.id}


def test_plan_approved_names_the_plan_and_is_remembered():
    p = plan("p1", "Do it", t=T(1))
    view, _ = advance(FollowView(session_id=SID), session("AWAITING_PLAN_APPROVAL"), [p])
    assert view.approval_given is False
    view, actions = advance(view, session("IN_PROGRESS"), [act("planApproved", {"planId": "p1"}, t=T(2))])
    assert notes(actions) == [Note("plan-approved", "p1")]
    assert view.approval_given is True and view.decided_plans == {"p1"}
    # The approval names its plan: that one is decided, even when another plan is on show.
    view, actions = advance(view, session("IN_PROGRESS"), [act("planApproved", {"planId": "p0"}, t=T(3))])
    assert notes(actions) == [Note("plan-approved", "p0")] and view.decided_plans == {"p1", "p0"}
    # Without a planId the approval is of the plan on show; with no plan at all, of "".
    view, actions = advance(FollowView(session_id=SID), session("AWAITING_PLAN_APPROVAL"),
                            [plan("p9", "x", t=T(1)), act("planApproved", {}, t=T(2))])
    assert Note("plan-approved", "p9") in actions and view.decided_plans == {"p9"} and view.approval_given is True
    view, actions = advance(FollowView(session_id=SID), session("IN_PROGRESS"), [act("planApproved", {}, t=T(1))])
    assert notes(actions) == [Note("plan-approved", "")] and view.decided_plans == {""}


def test_a_user_message_is_noted_capped_and_decides_an_open_plan():
    p = plan("p1", "Do it", t=T(1))
    long = "r" * 300
    view, actions = advance(FollowView(session_id=SID), session("PLANNING"),
                            [p, act("userMessaged", {"userMessage": long}, t=T(2))])
    assert notes(actions)[-1] == Note("user-message", "r" * 200)
    assert view.decided_plans == {"p1"}  # feedback on the plan: Jules revises it, never asked again
    view, actions = advance(FollowView(session_id=SID), session("IN_PROGRESS"), [act("userMessaged", {}, t=T(1))])
    assert notes(actions) == [Note("user-message", "")] and view.decided_plans == set()


def test_a_question_is_kept_with_its_time_then_answered():
    text = "q" * 250
    ask = act("agentMessaged", {"agentMessage": text}, t=T(3))
    view, actions = advance(FollowView(session_id=SID), session("AWAITING_USER_FEEDBACK"), [ask])
    assert view.question == Question(ask.id, text, T(3)) and view.moved_on is False
    assert actions == [Note("jules-message", "q" * 200), AskReply(view.question), Show()]
    view, actions = advance(view, session("IN_PROGRESS"), [act("userMessaged", {"userMessage": "yes"}, t=T(4))])
    assert view.question is None and view.moved_on is False and notes(actions) == [Note("user-message", "yes")]
    empty = act("agentMessaged", {}, t=T(5))
    view, actions = advance(FollowView(session_id=SID), session("AWAITING_USER_FEEDBACK"), [empty])
    assert view.question == Question(empty.id, "", T(5)) and notes(actions) == [Note("jules-message", "")]


def test_moving_on_is_tracked_and_reset():
    ask = act("agentMessaged", {"agentMessage": "Which one?"}, t=T(1))
    view, _ = advance(FollowView(session_id=SID), session("AWAITING_USER_FEEDBACK"), [ask])
    view, _ = advance(view, session("AWAITING_USER_FEEDBACK"), [plan("p2", "new", t=T(2))])
    assert view.moved_on is True and view.question is not None  # still waiting: the question stays
    view, _ = advance(view, session("AWAITING_USER_FEEDBACK"), [act("agentMessaged", {"agentMessage": "Again?"},
                                                                    t=T(3))])
    assert view.moved_on is False and view.question.text == "Again?"
    view, _ = advance(view, session("AWAITING_USER_FEEDBACK"), [act("progressUpdated", {"title": "t"}, t=T(4))])
    assert view.moved_on is True
    view, _ = advance(view, session("AWAITING_USER_FEEDBACK"), [act("userMessaged", {"userMessage": "a"}, t=T(5))])
    assert view.question is None and view.moved_on is False


def test_progress_title_then_description_then_the_previous_line():
    view, actions = advance(FollowView(session_id=SID), session("IN_PROGRESS"),
                            [act("progressUpdated", {"title": "Editing", "description": "d"}, t=T(1))])
    assert view.latest == "Editing" and notes(actions) == [Note("progress", "Editing")]
    view, actions = advance(view, session("IN_PROGRESS"), [act("progressUpdated", {"description": "Tests"}, t=T(2))])
    assert view.latest == "Tests" and notes(actions) == [Note("progress", "Tests")]
    view, actions = advance(view, session("IN_PROGRESS"), [act("progressUpdated", {}, t=T(3))])
    assert view.latest == "Tests" and notes(actions) == [Note("progress", "Tests")]
    view, actions = advance(FollowView(session_id=SID), session("IN_PROGRESS"), [act("progressUpdated", {}, t=T(1))])
    assert view.latest is None and notes(actions) == [Note("progress", "")]


def test_failure_reasons_and_completion_notes():
    view, actions = advance(FollowView(session_id=SID), session("IN_PROGRESS"),
                            [act("sessionFailed", {"reason": "tests failed"}, t=T(1))])
    assert view.failure_reason == "tests failed" and notes(actions) == [Note("failed", "tests failed")]
    view, actions = advance(view, session("IN_PROGRESS"), [act("sessionFailed", {}, t=T(2))])
    assert view.failure_reason == "tests failed" and notes(actions) == [Note("failed", "tests failed")]
    view, actions = advance(FollowView(session_id=SID), session("IN_PROGRESS"), [act("sessionFailed", {}, t=T(1))])
    assert notes(actions) == [Note("failed", "")]
    view, actions = advance(FollowView(session_id=SID), session("IN_PROGRESS"), [act("sessionCompleted", {}, t=T(1))])
    assert notes(actions) == [Note("completed")] and not view.finished  # the state, not the activity, finishes


def test_finish_reasons_carry_the_change_set():
    patch = change_set("--- a/x\n+++ b/x\n")
    done = act("progressUpdated", {"title": "pushed"}, t=T(1), artifacts=patch)
    view, actions = advance(FollowView(session_id=SID), session("COMPLETED", pr="https://github.com/a/b/pull/1"),
                            [done])
    (finished,) = [a for a in actions if isinstance(a, Finished)]
    assert finished.outcome == "completed" and finished.reason == "Jules completed the session"
    assert finished.pull_request.url == "https://github.com/a/b/pull/1" and finished.change_set == view.change_set
    assert view.change_set is not None and view.finished

    view, actions = advance(FollowView(session_id=SID), session("CANCELLED"), [act("progressUpdated", {"title": "x"},
                                                                                   t=T(1), artifacts=patch)])
    (finished,) = [a for a in actions if isinstance(a, Finished)]
    assert finished == Finished("failed", "the session was cancelled (CANCELLED)", None, view.change_set)
    assert finished.change_set is not None

    view, actions = advance(FollowView(session_id=SID), session("FAILED"), [act("progressUpdated", {"title": "x"},
                                                                                t=T(1), artifacts=patch)])
    (finished,) = [a for a in actions if isinstance(a, Finished)]
    assert finished == Finished("failed", "Jules reported the session FAILED", None, view.change_set)
    assert finished.change_set is not None
    # Finished is final: later polls do nothing.
    assert advance(view, session("FAILED"), [act("progressUpdated", {"title": "late"}, t=T(9))]) == (view, [])


def test_advance_does_not_touch_the_view_it_is_given():
    start = FollowView(session_id=SID)
    p = plan("p1", "x", t=T(1))
    view, _ = advance(start, session("AWAITING_PLAN_APPROVAL"), [p])
    assert start.seen == set() and start.plan is None and start.cursor is None and start.state == "QUEUED"
    again, _ = advance(view, session("IN_PROGRESS"), [act("planApproved", {"planId": "p1"}, t=T(2))])
    assert view.decided_plans == set() and again.decided_plans == {"p1"}


def test_a_variant_state_is_noted_once_and_a_missing_state_keeps_the_known_one():
    view, actions = advance(FollowView(session_id=SID), session("RUNNING"), [])
    assert Note("state", "Jules reports 'RUNNING', treated as IN_PROGRESS") in actions
    view, actions = advance(view, session("RUNNING"), [])
    assert notes(actions) == []  # the same raw state again: not noted again
    long = "X" * 50
    _, actions = advance(FollowView(session_id=SID), session(long), [])
    assert Note("state", f"Jules reports {'X' * 40!r}, treated as IN_PROGRESS") in actions
    view, _ = advance(FollowView(session_id=SID, state="PLANNING"), session(None), [])
    assert view.state == "PLANNING" and view.raw_state is None


def test_a_new_plan_alone_is_a_visible_change():
    view, _ = advance(FollowView(session_id=SID), session("AWAITING_PLAN_APPROVAL"), [plan("p1", "a", t=T(1))])
    view.decided_plans.add("p1")
    view, actions = advance(view, session("AWAITING_PLAN_APPROVAL"), [plan("p2", "b", t=T(2))])
    assert Show() in actions and AskApproval(view.plan, T(2)) in actions


def test_the_cursor_is_the_newest_time_whatever_the_order():
    a, b = act("progressUpdated", {"title": "1"}, t=T(5)), act("progressUpdated", {"title": "2"}, t=T(3))
    view, _ = advance(FollowView(session_id=SID), session("IN_PROGRESS"), [a, b])
    assert view.cursor == T(5) and view.latest == "1"  # folded in time order: the newest line wins
    view, _ = advance(view, session("IN_PROGRESS"), [act("progressUpdated", {"title": "3"}, t=T(4))])
    assert view.cursor == T(5)


def test_replay_starts_from_the_sessions_own_id():
    view, _ = replay(session("IN_PROGRESS"), [])
    assert view.session_id == SID
