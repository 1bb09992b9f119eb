"""Whether a failed tool call may succeed if sent again, decided once for the hub and its client.

Our hub marks each failed call's class in the result's `_meta` (`FAILURE_META`: `retryable`, and the upstream's HTTP
`status` when there is one); the flow's client (mcp_client.py) reads it there. The error text is parsed only for
hubs that give nothing else (mcphub), and never decides the class when the mark is present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

FAILURE_META = "agentic/failure"  # a `_meta` key (MCP: an optional prefix, labels then a slash, then a name)
_RATE_LIMIT = re.compile(r"rate limit", re.IGNORECASE)


@dataclass(frozen=True)
class FailureMark:
    retryable: bool
    status: int | None = None


def retryable_status(status: int, body_text: str = "") -> bool:
    """408, 429 and 5xx lift by themselves; so do GitHub's rate limits, which come as 403 (primary and secondary)."""
    return status in (408, 429) or status >= 500 or (status == 403 and _RATE_LIMIT.search(body_text) is not None)


def failure_meta(mark: FailureMark) -> dict[str, Any]:
    """The `_meta` of a failed call's result."""
    value: dict[str, Any] = {"retryable": mark.retryable}
    if mark.status is not None:
        value["status"] = mark.status
    return {FAILURE_META: value}


def read_failure_meta(meta: Any) -> FailureMark | None:
    """The mark in a result's `_meta`, or None when there is none or it is malformed (then the text decides)."""
    value = meta.get(FAILURE_META) if isinstance(meta, dict) else None
    if not isinstance(value, dict) or not isinstance(value.get("retryable"), bool):
        return None
    status = value.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        return None
    return FailureMark(value["retryable"], status)
