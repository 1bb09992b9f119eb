"""Jules session states as an open set.

The documented API has nine states; the live one also sends `PENDING`, `RUNNING`, `AWAITING_USER_INPUT`,
`CANCELLED`/`CANCELED`, `COMPLETED_UNKNOWN` (research note jules-api.md §9) and may add more. Every raw value maps
to one of the documented names the rest of the product speaks; an unknown value maps to a conservative
non-terminal phase (keep following: the stuck detector bounds it) and is reported once, never a crash. Under an
unknown state the activity stream decides the end (`agentic.jules.follow`: a `sessionCompleted` or a PR output).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

DOCUMENTED = ("STATE_UNSPECIFIED", "QUEUED", "PLANNING", "AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK",
              "IN_PROGRESS", "PAUSED", "FAILED", "COMPLETED")
TERMINAL = frozenset({"COMPLETED", "FAILED"})
WAITING_ON_PEOPLE = frozenset({"AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK"})

# Observed variants -> the documented state they behave like.
VARIANTS = {
    "PENDING": "QUEUED",
    "RUNNING": "IN_PROGRESS",
    "AWAITING_USER_INPUT": "AWAITING_USER_FEEDBACK",
    "AWAITING_FEEDBACK": "AWAITING_USER_FEEDBACK",
    "AWAITING_APPROVAL": "AWAITING_PLAN_APPROVAL",
    "CANCELLED": "FAILED",
    "CANCELED": "FAILED",
    # Jules finished but does not say how; the flow then looks for a PR or a change set, as for COMPLETED.
    "COMPLETED_UNKNOWN": "COMPLETED",
    "SUCCEEDED": "COMPLETED",
}
UNKNOWN_FALLBACK = "IN_PROGRESS"
_reported: set[str] = set()


def canonical(raw: str | None, *, default: str = "QUEUED") -> str:
    """The documented state `raw` behaves like. Case and separators are forgiven (`in-progress`, `Running`)."""
    if not raw:
        return default
    name = _name(raw)
    if name in DOCUMENTED:
        return name
    if name in VARIANTS:
        return VARIANTS[name]
    if raw not in _reported:
        _reported.add(raw)
        logger.warning("unknown Jules session state %r: treated as %s", raw[:80], UNKNOWN_FALLBACK)
    return UNKNOWN_FALLBACK


def _name(raw: str) -> str:
    name = raw.strip().upper().replace("-", "_").replace(" ", "_")
    return name.removeprefix("STATE_") if name != "STATE_UNSPECIFIED" else name


def is_known(raw: str | None) -> bool:
    """True when `raw` is a documented state or an observed variant: what it means is known. False for a value
    `canonical` only guesses at (and for none at all)."""
    if not raw:
        return False
    return _name(raw) in DOCUMENTED or _name(raw) in VARIANTS


def is_terminal(raw: str | None) -> bool:
    return canonical(raw) in TERMINAL


def was_cancelled(raw: str | None) -> bool:
    if not raw:
        return False
    return raw.strip().upper() in ("CANCELLED", "CANCELED")
