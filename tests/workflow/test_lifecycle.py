"""The run's lifecycle machine (agentic/lifecycle), cell by cell: every transition of the table, and every cell
left out raises a typed error naming the phase. Pure: no server, no Prefect."""

from __future__ import annotations

import pytest

from agentic.errors import AgenticError
from agentic.jules.follow import AskApproval, Finished, FollowView, Show
from agentic.jules.models import Activity, Session
from agentic.lifecycle import (ENDED, ENTRY, CiSettled, CiStarted, CiWatch, IssueState, Phase, PlanDecided, Polled,
                               PullRequestOpened, Refused, SessionSeen, ShowStatus, Stopped, Triaged, Triaging,
                               UnexpectedObservation, Waiting, step)
from agentic.lifecycle.machine import TABLE, session_phase

SID = "77"
SESSION_PHASES = [Phase.SESSION_QUEUED, Phase.PLANNING, Phase.AWAITING_PLAN_APPROVAL, Phase.IN_PROGRESS,
                  Phase.AWAITING_USER_FEEDBACK, Phase.PAUSED]


def session(state: str) -> Session:
    return Session.model_validate({"name": f"sessions/{SID}", "id": SID, "prompt": "p", "state": state})


def plan_activity() -> Activity:
    return Activity.model_validate({"name": f"sessions/{SID}/activities/a1", "id": "a1", "originator": "agent",
                                    "createTime": "2026-12-01T10:00:01Z",
                                    "planGenerated": {"plan": {"id": "p1", "steps": [{"id": "s", "title": "Fix"}]}}})


def at(row: Phase | str) -> IssueState:
    return IssueState() if row == ENTRY else IssueState(phase=Phase(row), entering=False)


# (row, observation, phase after). Polled rows are below: they carry the Jules machine.
SHOWN = [
    (ENTRY, Triaging(), Phase.TRIAGE),
    (ENTRY, Refused(duplicate=True), Phase.DUPLICATE),
    (ENTRY, Refused(duplicate=False), Phase.REJECTED),
    (ENTRY, Waiting(), Phase.QUEUED),
    (ENTRY, SessionSeen("PLANNING"), Phase.PLANNING),
    (ENTRY, PullRequestOpened(), Phase.COMPLETED),
    (ENTRY, CiStarted(), Phase.CI_RUNNING),
    (ENTRY, CiStarted(fixing=True), Phase.CI_FIXING),
    (ENTRY, CiSettled(CiWatch.PASSED), Phase.CI_PASSED),
    (Phase.TRIAGE, Triaged("needs_info"), Phase.NEEDS_INFO),
    (Phase.TRIAGE, Triaged("rejected"), Phase.REJECTED),
    (Phase.TRIAGE, Triaged("held"), Phase.HELD),
    (Phase.TRIAGE, Waiting(), Phase.QUEUED),
    (Phase.TRIAGE, SessionSeen("QUEUED"), Phase.SESSION_QUEUED),
    (Phase.TRIAGE, SessionSeen("PENDING"), Phase.SESSION_QUEUED),
    (Phase.QUEUED, Waiting(), Phase.QUEUED),
    (Phase.QUEUED, SessionSeen("QUEUED"), Phase.SESSION_QUEUED),
    (Phase.QUEUED, SessionSeen("STATE_UNSPECIFIED"), Phase.SESSION_QUEUED),
    (Phase.SESSION_QUEUED, SessionSeen("PLANNING"), Phase.PLANNING),
    (Phase.PLANNING, SessionSeen("AWAITING_PLAN_APPROVAL"), Phase.AWAITING_PLAN_APPROVAL),
    (Phase.AWAITING_PLAN_APPROVAL, SessionSeen("IN_PROGRESS"), Phase.IN_PROGRESS),
    (Phase.IN_PROGRESS, SessionSeen("AWAITING_USER_INPUT"), Phase.AWAITING_USER_FEEDBACK),
    (Phase.AWAITING_USER_FEEDBACK, SessionSeen("RUNNING"), Phase.IN_PROGRESS),
    (Phase.IN_PROGRESS, SessionSeen("PAUSED"), Phase.PAUSED),
    (Phase.IN_PROGRESS, SessionSeen("ARCHIVED"), Phase.IN_PROGRESS),  # unknown: followed as working
    (Phase.IN_PROGRESS, SessionSeen("COMPLETED_UNKNOWN"), Phase.COMPLETED),
    (Phase.IN_PROGRESS, SessionSeen("CANCELLED"), Phase.FAILED),
    (Phase.IN_PROGRESS, PullRequestOpened(), Phase.COMPLETED),
    (Phase.COMPLETED, SessionSeen("COMPLETED"), Phase.COMPLETED),
    (Phase.COMPLETED, PullRequestOpened(), Phase.COMPLETED),
    (Phase.COMPLETED, CiStarted(), Phase.CI_RUNNING),
    (Phase.COMPLETED, CiSettled(CiWatch.PASSED), Phase.CI_PASSED),
    (Phase.CI_RUNNING, CiStarted(fixing=True), Phase.CI_FIXING),
    (Phase.CI_RUNNING, CiStarted(), Phase.CI_RUNNING),
    (Phase.CI_FIXING, CiStarted(), Phase.CI_RUNNING),
    (Phase.CI_FIXING, CiSettled(CiWatch.FAILED), Phase.CI_FAILED),
    (Phase.CI_RUNNING, CiSettled(CiWatch.TIMED_OUT), Phase.CI_FAILED),
    (Phase.CI_RUNNING, CiSettled(CiWatch.CLOSED), Phase.COMPLETED),
    (Phase.CI_RUNNING, CiSettled(CiWatch.PASSED), Phase.CI_PASSED),
    (Phase.FAILED, SessionSeen("FAILED"), Phase.FAILED),
]


@pytest.mark.parametrize(("row", "observation", "after"), SHOWN, ids=lambda v: str(v))
def test_each_transition_shows_its_phase(row, observation, after):
    state, actions = step(at(row), observation)
    assert (state.phase, state.entering, actions) == (after, False, [ShowStatus(after)])


@pytest.mark.parametrize("row", [ENTRY, *Phase], ids=str)
@pytest.mark.parametrize("end", sorted(Phase), ids=str)
def test_every_phase_may_stop_but_only_in_a_stopping_phase(row, end):
    stops = {Phase.QUEUED, Phase.FAILED, Phase.TIMED_OUT, Phase.STUCK, Phase.NOT_STARTED, Phase.ERROR}
    if end in stops:
        state, actions = step(at(row), Stopped(end))
        assert (state.phase, actions, state.ended) == (end, [ShowStatus(end)], end in ENDED)
    else:
        with pytest.raises(UnexpectedObservation, match=f"Stopped is not expected in phase {row}"):
            step(at(row), Stopped(end))


def test_a_dispatch_verdict_shows_nothing_new():
    state, actions = step(at(Phase.TRIAGE), Triaged("dispatch"))
    assert (state.phase, state.entering, actions) == (Phase.TRIAGE, False, [])


def test_polling_composes_the_jules_machine():
    """A poll advances the session's own machine: its actions come out unchanged, its state becomes the phase."""
    state, _ = step(at(Phase.TRIAGE), SessionSeen("QUEUED"))
    state, actions = step(state, Polled(session("AWAITING_PLAN_APPROVAL"), [plan_activity()]))
    assert state.phase is Phase.AWAITING_PLAN_APPROVAL and state.follow is not None
    assert {type(a) for a in actions if isinstance(a, (Show, AskApproval))} == {Show, AskApproval}
    # The run decides the plan: the machine knows it at once, so the next poll does not ask again.
    decided, none = step(state, PlanDecided("p1"))
    assert none == [] and decided.follow.decided_plans == {"p1"} and state.follow.decided_plans == set()
    again, actions = step(decided, Polled(session("AWAITING_PLAN_APPROVAL")))
    assert not [a for a in actions if isinstance(a, AskApproval)]
    done, actions = step(again, Polled(session("COMPLETED")))
    assert done.phase is Phase.COMPLETED and [type(a) for a in actions if isinstance(a, Finished)] == [Finished]


def test_a_poll_of_the_same_session_continues_its_view():
    """A re-entry's first poll leaves the entry row; later polls of that session keep what the machine knew (a
    decided plan is not asked for again, even when Jules lists its activity once more)."""
    state, _ = step(IssueState(), Polled(session("AWAITING_PLAN_APPROVAL"), [plan_activity()]))
    assert state.entering is False and state.row is Phase.AWAITING_PLAN_APPROVAL
    state, _ = step(state, PlanDecided("p1"))
    again, actions = step(state, Polled(session("AWAITING_PLAN_APPROVAL"), [plan_activity()]))
    assert again.follow.decided_plans == {"p1"} and not [a for a in actions if isinstance(a, AskApproval)]
    assert again.entering is False


def test_a_poll_of_another_session_starts_a_new_view():
    state = IssueState(phase=Phase.IN_PROGRESS, entering=False, follow=FollowView(session_id="old", state="PAUSED"))
    state, _ = step(state, Polled(session("IN_PROGRESS")))
    assert state.follow.session_id == SID


def test_a_plan_decision_before_any_poll_is_unexpected():
    with pytest.raises(UnexpectedObservation, match="PlanDecided is not expected in phase AWAITING_PLAN_APPROVAL"):
        step(at(Phase.AWAITING_PLAN_APPROVAL), PlanDecided("p1"))


def _samples():
    return [Triaging(), Triaged("needs_info"), Refused(duplicate=False), Waiting(), SessionSeen("PLANNING"),
            Polled(session("PLANNING")), PlanDecided("p"), PullRequestOpened(), CiStarted(),
            CiSettled(CiWatch.PASSED)]


# The cells that exist (besides Stopped, everywhere): anything else raises.
ALLOWED = {
    ENTRY: {"Triaging", "Refused", "Waiting", "SessionSeen", "Polled", "PullRequestOpened", "CiStarted",
            "CiSettled"},
    Phase.TRIAGE: {"Triaged", "Waiting", "SessionSeen", "Polled"},
    Phase.QUEUED: {"Waiting", "SessionSeen", "Polled"},
    **{p: {"SessionSeen", "Polled", "PlanDecided", "PullRequestOpened"} for p in SESSION_PHASES},
    Phase.COMPLETED: {"SessionSeen", "Polled", "PullRequestOpened", "CiStarted", "CiSettled"},
    Phase.CI_RUNNING: {"CiStarted", "CiSettled"},
    Phase.CI_FIXING: {"CiStarted", "CiSettled"},
    Phase.FAILED: {"SessionSeen", "Polled"},
}


@pytest.mark.parametrize("row", [ENTRY, *Phase], ids=str)
def test_cells_left_out_raise_a_typed_error_naming_the_phase(row):
    allowed = ALLOWED.get(row, set())
    assert {cls.__name__ for cls in TABLE[row]} - {"Stopped"} == allowed
    for observation in _samples():
        name = type(observation).__name__
        if name in allowed:
            continue
        with pytest.raises(UnexpectedObservation) as caught:
            step(at(row), observation)
        assert isinstance(caught.value, AgenticError) and caught.value.phase == row
        assert str(caught.value) == f"{name} is not expected in phase {row}"


def test_ended_phases_accept_nothing_but_a_stop():
    for phase in ENDED - {Phase.FAILED}:
        assert set(TABLE[phase]) == {Stopped}


@pytest.mark.parametrize(("raw", "phase"), [(None, Phase.SESSION_QUEUED), ("in-progress", Phase.IN_PROGRESS),
                                            ("AWAITING_APPROVAL", Phase.AWAITING_PLAN_APPROVAL),
                                            ("SUCCEEDED", Phase.COMPLETED), ("WHATEVER", Phase.IN_PROGRESS)])
def test_jules_states_map_onto_phases(raw, phase):
    assert session_phase(raw) is phase


def test_phase_values_are_the_strings_older_claims_hold():
    assert Phase("needs_info") is Phase.NEEDS_INFO and Phase("AWAITING_PLAN_APPROVAL") is Phase.AWAITING_PLAN_APPROVAL
    assert CiWatch("watching") is CiWatch.WATCHING


def test_the_architecture_doc_shows_the_table_of_the_code():
    from pathlib import Path

    from agentic.lifecycle.machine import table_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs/architecture.md").read_text()
    shown = doc.split("<!-- lifecycle-table:start -->\n", 1)[1].split("\n<!-- lifecycle-table:end -->", 1)[0]
    assert shown.splitlines() == table_markdown()
