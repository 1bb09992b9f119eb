"""The run's lifecycle: `step(state, observation) -> (state, actions)`, written as a transition table.

A row per phase, plus `ENTRY` where every run starts (a run re-enters at any arrow: a retry, a resume, a re-trigger
after an end — docs/architecture.md); a column per kind of observation. A missing cell raises
`UnexpectedObservation` naming the phase: never a silent guess. The Jules session's own machine
(agentic/jules/follow.py) is composed in: a `Polled` observation advances it, and its actions (a plan to show, a
question, the end) come out of `step` unchanged. No clock, no I/O.

    state = IssueState()                                   # entering
    state, actions = step(state, Triaging())               # -> triage,     [ShowStatus(triage)]
    state, actions = step(state, Triaged("needs_info"))    # -> needs_info, [ShowStatus(needs_info)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from agentic.errors import AgenticError
from agentic.jules import states
from agentic.jules.follow import Action, FollowView, advance
from agentic.jules.models import Activity, Session
from agentic.lifecycle.phases import ENDED, SESSION, STOPS, CiWatch, Phase

ENTRY = "entry"  # the row of a run that has observed nothing yet


class UnexpectedObservation(AgenticError):
    """An observation the lifecycle has no transition for in the current phase: a bug in the flow, not bad input."""

    def __init__(self, phase: Phase | str, observation: Observation) -> None:
        super().__init__(f"{type(observation).__name__} is not expected in phase {phase!s}")
        self.phase, self.observation = phase, observation


# --- observations: what the flow saw -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Triaging:
    """A new dispatch begins: the issue is read and judged."""


@dataclass(frozen=True)
class Triaged:
    """The triage's verdict through the automation gate (agent/automation.py): dispatch, or why not."""

    decision: Literal["dispatch", "needs_info", "rejected", "held"]


@dataclass(frozen=True)
class Refused:
    """The issue gets no session before triage: closed, locked (`duplicate=False`) or already fixed by a PR."""

    duplicate: bool


@dataclass(frozen=True)
class Waiting:
    """No Jules capacity yet: the queue's slot, a 429, or "Could not get source"."""


@dataclass(frozen=True)
class SessionSeen:
    """The session's state as read (any raw Jules state: canonicalised here)."""

    state: str | None


@dataclass(frozen=True)
class Polled:
    """A poll of the session: its state and the activities not seen before. Advances the Jules machine."""

    session: Session
    activities: Sequence[Activity] = ()


@dataclass(frozen=True)
class PlanDecided:
    """The run decided on a plan (approved or asked for a revision); the stream confirms it later."""

    plan_id: str


@dataclass(frozen=True)
class PullRequestOpened:
    """The session's pull request is recorded (found in its outputs or on GitHub)."""


@dataclass(frozen=True)
class CiStarted:
    """The pull request's CI is watched: waiting for checks, or (`fixing`) a failure went to Jules."""

    fixing: bool = False


@dataclass(frozen=True)
class CiSettled:
    outcome: CiWatch


@dataclass(frozen=True)
class Stopped:
    """The flow ends the run itself: a limit, an error, a failed session, capacity that never came."""

    phase: Phase


Observation = (Triaging | Triaged | Refused | Waiting | SessionSeen | Polled | PlanDecided | PullRequestOpened
               | CiStarted | CiSettled | Stopped)


# --- actions: what the flow is to do ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShowStatus:
    """Render the status comment in this phase (and store the phase in the claim)."""

    phase: Phase


LifecycleAction = ShowStatus | Action


@dataclass(frozen=True)
class IssueState:
    phase: Phase = Phase.TRIAGE
    entering: bool = True  # nothing observed yet by this run: the ENTRY row applies
    follow: FollowView | None = field(default=None, compare=False)  # the Jules machine's view, once following

    @property
    def row(self) -> Phase | str:
        return ENTRY if self.entering else self.phase

    @property
    def ended(self) -> bool:
        return self.phase in ENDED


# --- transitions ---------------------------------------------------------------------------------------------------

Result = tuple[IssueState, list[LifecycleAction]]
Handler = Callable[[IssueState, Observation], Result]


def _to(phase: Phase, state: IssueState) -> Result:
    return replace(state, phase=phase, entering=False), [ShowStatus(phase)]


def session_phase(raw: str | None) -> Phase:
    """The phase a Jules state shows as (an unknown state as IN_PROGRESS, agentic/jules/states.py)."""
    name = states.canonical(raw)
    return Phase.SESSION_QUEUED if name == "STATE_UNSPECIFIED" else Phase(name)


def _triaging(state: IssueState, obs: Observation) -> Result:
    """-> triage"""
    return _to(Phase.TRIAGE, state)


_DECIDED = {"needs_info": Phase.NEEDS_INFO, "rejected": Phase.REJECTED, "held": Phase.HELD}


def _triaged(state: IssueState, obs: Observation) -> Result:
    """-> needs_info · rejected · held (dispatch: stays, nothing to show)"""
    assert isinstance(obs, Triaged)
    if obs.decision == "dispatch":  # no new phase to show: the session (or the queue) comes next
        return replace(state, entering=False), []
    return _to(_DECIDED[obs.decision], state)


def _refused(state: IssueState, obs: Observation) -> Result:
    """-> duplicate (a PR fixes it) · rejected (closed, locked)"""
    assert isinstance(obs, Refused)
    return _to(Phase.DUPLICATE if obs.duplicate else Phase.REJECTED, state)


def _waiting(state: IssueState, obs: Observation) -> Result:
    """-> queued"""
    return _to(Phase.QUEUED, state)


def _session_seen(state: IssueState, obs: Observation) -> Result:
    """-> the session's state (canonical: QUEUED … PAUSED, COMPLETED, FAILED)"""
    assert isinstance(obs, SessionSeen)
    return _to(session_phase(obs.state), state)


def _polled(state: IssueState, obs: Observation) -> Result:
    """-> the session's state as the Jules machine folds the poll; its actions out"""
    assert isinstance(obs, Polled)
    view = state.follow if state.follow and state.follow.session_id == obs.session.id else None
    view, actions = advance(view or FollowView(session_id=obs.session.id), obs.session, obs.activities)
    return replace(state, phase=session_phase(view.state), entering=False, follow=view), list(actions)


def _plan_decided(state: IssueState, obs: Observation) -> Result:
    """-> stays (the Jules machine knows the plan is decided)"""
    assert isinstance(obs, PlanDecided)
    if state.follow is None:
        raise UnexpectedObservation(state.row, obs)
    view = replace(state.follow, decided_plans=state.follow.decided_plans | {obs.plan_id})
    return replace(state, follow=view), []


def _pull_request(state: IssueState, obs: Observation) -> Result:
    """-> COMPLETED"""
    return _to(Phase.COMPLETED, state)


def _ci_started(state: IssueState, obs: Observation) -> Result:
    """-> ci_running · ci_fixing"""
    assert isinstance(obs, CiStarted)
    return _to(Phase.CI_FIXING if obs.fixing else Phase.CI_RUNNING, state)


_SETTLED = {CiWatch.PASSED: Phase.CI_PASSED, CiWatch.CLOSED: Phase.COMPLETED}


def _ci_settled(state: IssueState, obs: Observation) -> Result:
    """-> ci_passed · ci_failed (failed, timed out) · COMPLETED (PR closed)"""
    assert isinstance(obs, CiSettled)
    return _to(_SETTLED.get(obs.outcome, Phase.CI_FAILED), state)


def _stopped(state: IssueState, obs: Observation) -> Result:
    """-> queued · FAILED · timed_out · stuck · not_started · error"""
    assert isinstance(obs, Stopped)
    if obs.phase not in STOPS:
        raise UnexpectedObservation(state.row, obs)
    return _to(obs.phase, state)


def _rows(phases: Iterable[Phase | str], cells: Mapping[type, Handler]) -> dict[Phase | str, dict[type, Handler]]:
    return {phase: dict(cells) for phase in phases}


def _in_order(phases: Iterable[Phase]) -> list[Phase]:
    order = list(Phase)
    return sorted(phases, key=order.index)


# Every row may stop; the rest, row by row. Read top to bottom it is the diagram in docs/architecture.md.
_CI: dict[type, Handler] = {CiStarted: _ci_started, CiSettled: _ci_settled}
_FOLLOW: dict[type, Handler] = {SessionSeen: _session_seen, Polled: _polled}
TABLE: dict[Phase | str, dict[type, Handler]] = {
    **_rows([ENTRY], {Triaging: _triaging, Refused: _refused, Waiting: _waiting, PullRequestOpened: _pull_request,
                      **_FOLLOW, **_CI}),
    **_rows([Phase.TRIAGE], {Triaged: _triaged, Waiting: _waiting, **_FOLLOW}),
    **_rows([Phase.QUEUED], {Waiting: _waiting, **_FOLLOW}),
    **_rows(_in_order(SESSION),
            {**_FOLLOW, PlanDecided: _plan_decided, PullRequestOpened: _pull_request}),
    # A session that ended: its last poll (the follow loop returns), then its pull request and CI.
    **_rows([Phase.COMPLETED], {**_FOLLOW, PullRequestOpened: _pull_request, **_CI}),
    **_rows([Phase.CI_RUNNING, Phase.CI_FIXING], _CI),
    **_rows([Phase.FAILED], _FOLLOW),
    **_rows(_in_order(ENDED - {Phase.FAILED}), {}),
}
for _row in TABLE.values():
    _row[Stopped] = _stopped
assert set(TABLE) == {ENTRY, *Phase}, "every phase has a row"


def step(state: IssueState, observation: Observation) -> Result:
    """The next state and what to do. Raises UnexpectedObservation when the phase has no such transition."""
    handler = TABLE[state.row].get(type(observation))
    if handler is None:
        raise UnexpectedObservation(state.row, observation)
    return handler(state, observation)


def table_markdown() -> list[str]:
    """The table as docs/architecture.md shows it (a test keeps the two equal): rows with the same cells together."""
    groups: dict[tuple[tuple[type, Handler], ...], list[str]] = {}
    for row, cells in TABLE.items():
        groups.setdefault(tuple((o, h) for o, h in cells.items() if o is not Stopped), []).append(str(row))
    lines = ["| phase (row) | observation | leads to |", "|---|---|---|"]
    for shared, rows in groups.items():
        for observation, handler in shared or ((None, None),):
            lines.append(f"| {', '.join(rows)} | {observation.__name__ if observation else '—'} | "
                         f"{(handler.__doc__ or '').removeprefix('-> ') if handler else 'nothing but Stopped'} |")
    lines.append(f"| every row | Stopped | {(_stopped.__doc__ or '').removeprefix('-> ')} |")
    return lines
