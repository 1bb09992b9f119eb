"""What a run can be doing, as the status comment shows it and the claim stores it.

The values are the strings the status comment and the claims used before this enum existed (Jules' own state names
in capitals, the run's own in lowercase), so a claim written by an older run still reads.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    TRIAGE = "triage"  # reading the issue, the model judging it
    QUEUED = "queued"  # waiting for Jules capacity: our queue, a 429, "Could not get source"
    # Jules' session, by its canonical state (agentic/jules/states.py)
    SESSION_QUEUED = "QUEUED"
    PLANNING = "PLANNING"
    AWAITING_PLAN_APPROVAL = "AWAITING_PLAN_APPROVAL"
    IN_PROGRESS = "IN_PROGRESS"
    AWAITING_USER_FEEDBACK = "AWAITING_USER_FEEDBACK"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"  # the session ended with a pull request (or its CI is not watched)
    # after the pull request opens: its CI (agentic/workflows/ci_loop.py)
    CI_RUNNING = "ci_running"
    CI_FIXING = "ci_fixing"
    CI_PASSED = "ci_passed"
    CI_FAILED = "ci_failed"
    # ends
    FAILED = "FAILED"
    NEEDS_INFO = "needs_info"
    REJECTED = "rejected"
    HELD = "held"  # the automation level keeps the verdict for a maintainer's `/jules go` (agent/automation.py)
    DUPLICATE = "duplicate"
    TIMED_OUT = "timed_out"
    STUCK = "stuck"
    NOT_STARTED = "not_started"
    ERROR = "error"


SESSION = frozenset({Phase.SESSION_QUEUED, Phase.PLANNING, Phase.AWAITING_PLAN_APPROVAL, Phase.IN_PROGRESS,
                     Phase.AWAITING_USER_FEEDBACK, Phase.PAUSED})
PULL_REQUEST = frozenset({Phase.COMPLETED, Phase.CI_RUNNING, Phase.CI_FIXING})
ENDED = frozenset({Phase.CI_PASSED, Phase.CI_FAILED, Phase.FAILED, Phase.NEEDS_INFO, Phase.REJECTED, Phase.HELD,
                   Phase.DUPLICATE, Phase.TIMED_OUT, Phase.STUCK, Phase.NOT_STARTED, Phase.ERROR})
# What `Stopped` may end a run in: the flow's own ends (a limit, an error, capacity that never came).
STOPS = frozenset({Phase.QUEUED, Phase.FAILED, Phase.TIMED_OUT, Phase.STUCK, Phase.NOT_STARTED, Phase.ERROR})


class CiWatch(StrEnum):
    """The CI watch of one session's pull request, stored in its SessionRecord (a re-entry continues from it)."""

    PENDING = "pending"  # the PR is recorded, not finished (Fixes #N, reviewer) nor its CI decided
    WATCHING = "watching"
    NONE = "none"  # the repository has no CI
    OFF = "off"  # CI_WATCH=off
    PASSED = "passed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CLOSED = "closed"  # merged or closed before CI settled


UNDECIDED = frozenset({CiWatch.PENDING, CiWatch.WATCHING})
