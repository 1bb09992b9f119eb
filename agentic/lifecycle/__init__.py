"""The run's lifecycle as one pure state machine: `step(state, observation) -> (state, actions)` (machine.py) over
the phases a run shows and stores in its claim (phases.py). No clock, no I/O: the flow observes, steps, performs."""

from agentic.lifecycle.machine import (
    ENTRY,
    CiSettled,
    CiStarted,
    IssueState,
    LifecycleAction,
    Observation,
    PlanDecided,
    Polled,
    PullRequestOpened,
    Refused,
    SessionSeen,
    ShowStatus,
    Stopped,
    Triaged,
    Triaging,
    UnexpectedObservation,
    Waiting,
    step,
)
from agentic.lifecycle.phases import ENDED, CiWatch, Phase

__all__ = ["ENDED", "ENTRY", "CiSettled", "CiStarted", "CiWatch", "IssueState", "LifecycleAction", "Observation",
           "Phase", "PlanDecided", "Polled", "PullRequestOpened", "Refused", "SessionSeen", "ShowStatus", "Stopped",
           "Triaged", "Triaging", "UnexpectedObservation", "Waiting", "step"]
