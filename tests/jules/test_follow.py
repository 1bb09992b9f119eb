"""The session-following state machine on recorded, real-shaped activity streams — no server, no Prefect.

Shapes follow agentic/jules.schema.json; the behaviours beyond the docs are the live ones of jules-api.md §9."""

from __future__ import annotations

import itertools
import logging

import pytest

from agentic.jules import states
from agentic.jules.follow import (AskApproval, AskReply, Finished, FollowView, Note, PlanShown, Show, advance,
                                  replay)
from agentic.jules.models import Activity, Session

_ids = itertools.count(1)
SID = "1234567"


def act(kind: str, payload: dict | None = None, *, t: str, artifacts: list | None = None) -> Activity:
    n = next(_ids)
    raw = {"name": f"sessions/{SID}/activities/a{n}", "id": f"a{n}", "createTime": t,
           "originator": "user" if kind == "userMessaged" else "agent", kind: payload or {}}
    if artifacts:
        raw["artifacts"] = artifacts
    return Activity.model_validate(raw)


def plan(plan_id: str, *titles: str, t: str) -> Activity:
    steps = [{"id": f"{plan_id}-{i}", "title": title, "index": i} for i, title in enumerate(titles)]
    return act("planGenerated", {"plan": {"id": plan_id, "steps": steps, "createTime": t}}, t=t)


def session(state: str, pr: str | None = None, outputs: list | None = None) -> Session:
    raw = {"name": f"sessions/{SID}", "id": SID, "prompt": "p", "state": state,
           "outputs": outputs if outputs is not None else ([{"pullRequest": {"url": pr, "title": "Fix"}}] if pr else [])}
    return Session.model_validate(raw)


def kinds(actions) -> list[type]:
    return [type(a) for a in actions if not isinstance(a, Note)]


def T(second: int) -> str:
    return f"2026-12-01T10:00:{second:02d}.000000Z"


def drive(polls):
    """Run the machine poll by poll: [(session, [activities]), ...] -> (view, actions per poll)."""
    view, out = FollowView(session_id=SID), []
    for sess, activities in polls:
        view, actions = advance(view, sess, activities)
        out.append(actions)
    return view, out


def test_happy_path_ends_with_the_pull_request():
    p = plan("p1", "Reproduce", "Fix", "Test", t=T(2))
    view, out = drive([
        (session("QUEUED"), []),
        (session("PLANNING"), [p]),
        (session("IN_PROGRESS"), [act("planApproved", {"planId": "p1"}, t=T(3)),
                                  act("progressUpdated", {"title": "Running tests"}, t=T(4))]),
        (session("COMPLETED", pr="https://github.com/acme/widgets/pull/9"), [act("sessionCompleted", t=T(5))]),
    ])
    assert PlanShown(p.plan) in out[1] and view.latest == "Running tests"
    (finished,) = [a for a in out[-1] if isinstance(a, Finished)]
    assert finished.outcome == "completed" and finished.pull_request.url.endswith("/pull/9")
    assert not any(isinstance(a, AskApproval) for a in itertools.chain(*out))  # auto-approved plan: never asks


def test_plan_awaiting_approval_is_asked_once_even_while_the_state_lags():
    p1 = plan("p1", "Step", t=T(1))
    view, actions = advance(FollowView(session_id=SID), session("AWAITING_PLAN_APPROVAL"), [p1])
    assert AskApproval(p1.plan, T(1)) in actions
    # The flow approved; Jules still reports AWAITING_PLAN_APPROVAL on the next read and no activity yet:
    view.decided_plans.add("p1")
    view, actions = advance(view, session("AWAITING_PLAN_APPROVAL"), [])
    assert kinds(actions) == []
    view, actions = advance(view, session("IN_PROGRESS"), [act("planApproved", {"planId": "p1"}, t=T(2))])
    assert AskApproval not in kinds(actions)


def test_revise_then_approve_on_the_documented_api():
    p1, p2 = plan("p1", "Old", t=T(1)), plan("p2", "New", t=T(4))
    view, out = drive([
        (session("AWAITING_PLAN_APPROVAL"), [p1]),
        (session("AWAITING_PLAN_APPROVAL"), [act("userMessaged", {"userMessage": "Please revise: add a test"},
                                                 t=T(2))]),  # still showing p1: it was answered, do not ask again
        (session("AWAITING_PLAN_APPROVAL"), [p2]),
        (session("IN_PROGRESS"), [act("planApproved", {"planId": "p2"}, t=T(5))]),
        (session("COMPLETED", pr="https://github.com/acme/widgets/pull/2"), []),
    ])
    asks = [a.plan.id for a in itertools.chain(*out) if isinstance(a, AskApproval)]
    assert asks == ["p1", "p2"]
    assert view.decided_plans == {"p1", "p2"} and view.finished


def test_approval_carried_forward_never_pauses_for_the_revised_plan():
    """Live Jules: after one approval, a revised plan runs with no second AWAITING_PLAN_APPROVAL."""
    p1, p2 = plan("p1", "Old", t=T(1)), plan("p2", "Revised", t=T(4))
    view, out = drive([
        (session("AWAITING_PLAN_APPROVAL"), [p1]),
        (session("IN_PROGRESS"), [act("userMessaged", {"userMessage": "Please revise the plan: smaller"}, t=T(2))]),
        (session("IN_PROGRESS"), [p2, act("progressUpdated", {"title": "Editing"}, t=T(5))]),
        (session("COMPLETED", pr="https://github.com/acme/widgets/pull/3"), []),
    ])
    asks = [a.plan.id for a in itertools.chain(*out) if isinstance(a, AskApproval)]
    assert asks == ["p1"]  # the revised plan is shown, never asked
    assert any(isinstance(a, PlanShown) and a.plan.id == "p2" for a in out[2])
    assert view.plan.id == "p2" and out[-1][-2].outcome == "completed"


def test_question_then_answer():
    q = act("agentMessaged", {"agentMessage": "Which locale should slugify use?"}, t=T(3))
    view, out = drive([
        (session("AWAITING_USER_FEEDBACK"), [q]),
        (session("AWAITING_USER_FEEDBACK"), []),  # no reply yet: still asking, nothing new to show
        (session("IN_PROGRESS"), [act("userMessaged", {"userMessage": "en_US"}, t=T(6))]),
    ])
    assert AskReply in kinds(out[0]) and kinds(out[1]) == [AskReply]
    assert view.question is None and AskReply not in kinds(out[2])


def test_question_arriving_before_the_state_flips_is_kept():
    q = act("agentMessaged", {"agentMessage": "May I rename the function?"}, t=T(3))
    view, first = advance(FollowView(session_id=SID), session("IN_PROGRESS"), [q])
    assert view.question and view.question.text == "May I rename the function?" and Show() in first
    assert AskReply not in kinds(first)  # Jules is not waiting yet
    view, second = advance(view, session("AWAITING_USER_FEEDBACK"), [])
    assert second and isinstance(second[0], AskReply) and second[0].question.activity_id == q.id


def test_a_message_jules_moves_on_from_is_cleared():
    view, _ = advance(FollowView(session_id=SID), session("IN_PROGRESS"),
                      [act("agentMessaged", {"agentMessage": "FYI: tests were flaky"}, t=T(1)),
                       act("progressUpdated", {"title": "Fixing"}, t=T(2))])
    assert view.question is None and view.latest == "Fixing"


@pytest.mark.parametrize(("raw", "canonical"), [
    ("RUNNING", "IN_PROGRESS"), ("PENDING", "QUEUED"), ("AWAITING_USER_INPUT", "AWAITING_USER_FEEDBACK"),
    ("CANCELLED", "FAILED"), ("CANCELED", "FAILED"), ("COMPLETED_UNKNOWN", "COMPLETED"), ("PAUSED", "PAUSED"),
    ("in-progress", "IN_PROGRESS"), ("STATE_UNSPECIFIED", "STATE_UNSPECIFIED"), ("BRAND_NEW_STATE", "IN_PROGRESS"),
    (None, "QUEUED"), ("", "QUEUED"),
])
def test_open_state_set(raw, canonical):
    assert states.canonical(raw) == canonical


def test_unknown_and_variant_states_never_crash_and_are_noted():
    view, out = drive([
        (session("PENDING"), []),
        (session("RUNNING"), [act("progressUpdated", {"title": "Working"}, t=T(1))]),
        (session("TELEPORTING"), []),
        (session("AWAITING_USER_INPUT"), [act("agentMessaged", {"agentMessage": "Which file?"}, t=T(2))]),
    ])
    notes = [a.detail for a in itertools.chain(*out) if isinstance(a, Note) and a.event == "state"]
    assert any("TELEPORTING" in n and "IN_PROGRESS" in n for n in notes)
    assert view.state == "AWAITING_USER_FEEDBACK" and AskReply in kinds(out[-1])


def test_cancelled_is_a_failure_that_says_so():
    _, actions = advance(FollowView(session_id=SID), session("CANCELED"), [])
    (finished,) = [a for a in actions if isinstance(a, Finished)]
    assert finished.outcome == "failed" and "cancelled" in finished.reason


def test_failed_carries_the_reason():
    view, actions = advance(FollowView(session_id=SID), session("FAILED"),
                            [act("sessionFailed", {"reason": "could not build"}, t=T(1))])
    assert [a for a in actions if isinstance(a, Finished)][0].reason == "could not build"


def test_empty_outputs_with_the_diff_in_activity_artifacts():
    patch = {"changeSet": {"source": "sources/github/acme/widgets",
                           "gitPatch": {"unidiffPatch": "--- a/x\n+++ b/x\n", "suggestedCommitMessage": "Fix x"}}}
    first = act("progressUpdated", {"title": "edit 1"}, t=T(1), artifacts=[patch])
    cumulative = {"changeSet": {"gitPatch": {"unidiffPatch": "--- a/x\n+++ b/x\n@@ all @@\n"}}}
    last = act("sessionCompleted", t=T(2), artifacts=[cumulative])
    _, out = drive([(session("IN_PROGRESS"), [first]), (session("COMPLETED", outputs=[]), [last])])
    (finished,) = [a for a in out[-1] if isinstance(a, Finished)]
    assert finished.outcome == "completed" and finished.pull_request is None
    assert finished.change_set.git_patch.unidiff_patch.endswith("@@ all @@\n")  # the last one is cumulative


def test_activities_sharing_a_create_time_are_each_folded_once():
    a, b = (act("progressUpdated", {"title": "first"}, t=T(1)), act("progressUpdated", {"title": "second"}, t=T(1)))
    view, first = advance(FollowView(session_id=SID), session("IN_PROGRESS"), [a])
    assert view.cursor == T(1)
    # The next list asks `create_time>=cursor`: both come back; only b is new.
    view, second = advance(view, session("IN_PROGRESS"), [a, b])
    assert [n.detail for n in second if isinstance(n, Note)] == ["second"] and view.latest == "second"


def test_activity_after_completed_is_ignored():
    view, _ = advance(FollowView(session_id=SID), session("COMPLETED", pr="https://github.com/a/b/pull/1"), [])
    view, actions = advance(view, session("COMPLETED", pr="https://github.com/a/b/pull/1"),
                            [act("progressUpdated", {"title": "pushed again"}, t=T(9))])
    assert actions == [] and view.latest is None


def test_a_plan_without_an_id_gets_a_stable_one():
    raw = act("planGenerated", {"plan": {"steps": [{"title": "x"}]}}, t=T(1))
    assert raw.plan.id == f"activity-{raw.id}" == raw.plan.id


STREAM = [  # a question, a plan revised once, approval, progress, completion with the diff only in artifacts
    (session("PLANNING"), [plan("p1", "A", t=T(1))]),
    (session("AWAITING_PLAN_APPROVAL"), []),
    (session("AWAITING_PLAN_APPROVAL"), [act("userMessaged", {"userMessage": "revise"}, t=T(2)),
                                         plan("p2", "B", t=T(3))]),
    (session("IN_PROGRESS"), [act("planApproved", {"planId": "p2"}, t=T(4))]),
    (session("AWAITING_USER_FEEDBACK"), [act("agentMessaged", {"agentMessage": "ok?"}, t=T(5))]),
    (session("IN_PROGRESS"), [act("userMessaged", {"userMessage": "yes"}, t=T(6)),
                              act("progressUpdated", {"title": "done soon"}, t=T(7))]),
]


def test_replaying_the_whole_stream_gives_the_view_built_poll_by_poll():
    """Re-entry (retry, crash, resume, another worker) starts from `replay`: it must not ask for anything the
    earlier run already settled."""
    incremental, _ = drive(STREAM)
    all_activities = [a for _, batch in STREAM for a in batch]
    replayed, actions = replay(STREAM[-1][0], all_activities)
    for attr in ("state", "plan", "decided_plans", "approval_given", "question", "latest", "cursor", "seen"):
        assert getattr(replayed, attr) == getattr(incremental, attr), attr
    assert not any(isinstance(a, (AskApproval, AskReply)) for a in actions)


def test_reentry_while_jules_still_shows_an_approved_plan_does_not_ask_again():
    activities = [plan("p1", "A", t=T(1)), act("planApproved", {"planId": "p1"}, t=T(2))]
    _, actions = replay(session("AWAITING_PLAN_APPROVAL"), activities)
    assert AskApproval not in kinds(actions)


def test_reentry_after_an_answer_was_relayed_does_not_relay_again():
    activities = [act("agentMessaged", {"agentMessage": "which?"}, t=T(1)),
                  act("userMessaged", {"userMessage": "this one"}, t=T(2))]
    view, actions = replay(session("AWAITING_USER_FEEDBACK"), activities)
    assert view.question is None and AskReply not in kinds(actions)


# --- an unknown state does not hide the end (issue #24) ---------------------------------------------------------
def test_session_completed_under_an_unknown_state_ends_the_follow():
    """`ARCHIVED` then `sessionCompleted` and an open PR: the run kept showing "Jules is working" for 30 minutes."""
    view, out = drive([
        (session("IN_PROGRESS"), [act("progressUpdated", {"title": "Editing"}, t=T(1))]),
        (session("ARCHIVED"), [act("sessionCompleted", t=T(2))]),
    ])
    (finished,) = [a for a in out[-1] if isinstance(a, Finished)]
    assert finished.outcome == "completed" and "ARCHIVED" in finished.reason
    assert view.finished and view.state == "COMPLETED"


def test_a_pull_request_output_under_an_unknown_state_ends_the_follow():
    _, actions = advance(FollowView(session_id=SID), session("ARCHIVED", pr="https://github.com/acme/widgets/pull/4"),
                         [act("progressUpdated", {"title": "Pushed"}, t=T(1))])
    (finished,) = [a for a in actions if isinstance(a, Finished)]
    assert finished.outcome == "completed" and finished.pull_request.url.endswith("/pull/4")


def test_session_failed_under_an_unknown_state_ends_the_follow_as_failed():
    _, actions = advance(FollowView(session_id=SID), session("ARCHIVED"),
                         [act("sessionFailed", {"reason": "tests never passed"}, t=T(1))])
    (finished,) = [a for a in actions if isinstance(a, Finished)]
    assert (finished.outcome, finished.reason) == ("failed", "tests never passed")


def test_an_unknown_state_alone_keeps_following():
    view, actions = advance(FollowView(session_id=SID), session("ARCHIVED"),
                            [act("progressUpdated", {"title": "Working"}, t=T(1))])
    assert not view.finished and not any(isinstance(a, Finished) for a in actions)


def test_a_known_working_state_after_session_completed_keeps_following():
    """A completed session that was sent a follow-up works again (IN_PROGRESS): the old sessionCompleted must not
    end the new follow — only an unknown state hands the decision to the stream."""
    view, out = drive([
        (session("IN_PROGRESS"), [act("sessionCompleted", t=T(1)), act("userMessaged", {"userMessage": "more"}, t=T(2))]),
        (session("RUNNING"), [act("progressUpdated", {"title": "Again"}, t=T(3))]),
    ])
    assert not view.finished and not any(isinstance(a, Finished) for a in itertools.chain(*out))


def test_unknown_states_and_activity_kinds_are_warned_about_once_by_name(caplog, monkeypatch):
    monkeypatch.setattr(states, "_reported", set())
    archived = act("sessionArchived", {"reason": "user"}, t=T(2))
    with caplog.at_level(logging.WARNING, logger="agentic.jules"):
        view, out = drive([
            (session("HIBERNATING"), [archived, act("progressUpdated", {"title": "x"}, t=T(3))]),
            (session("HIBERNATING"), [act("sessionArchived", {}, t=T(4))]),  # the same kind again
            (session("HIBERNATING"), []),
        ])
    warnings = [r.getMessage() for r in caplog.records if r.name == "agentic.jules.follow"]
    assert len([w for w in warnings if "'sessionArchived'" in w]) == 1
    assert len([w for w in warnings if "'HIBERNATING'" in w]) == 1
    assert all(SID in w for w in warnings)
    notes = [a.detail for a in itertools.chain(*out) if isinstance(a, Note) and a.event == "unknown-activity"]
    assert notes == ["sessionArchived"] and not view.finished


def test_activity_kind_names():
    assert act("planApproved", {"planId": "p"}, t=T(1)).kind == "planApproved"
    assert act("sessionArchived", {}, t=T(1)).kind == "sessionArchived"
    assert Activity.model_validate({"id": "x", "createTime": T(1), "updateTime": T(2)}).kind is None
