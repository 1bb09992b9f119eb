"""List calls: opaque page tokens, page sizes, and the two AIP-160 filters Jules supports.

    sources.list     filter `name=sources/a OR name=sources/b`
    activities.list  filter `create_time>"2026-01-01T00:00:00Z"` (> >= < <= =, joined by AND)
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agentic.sandbox.jules.google_errors import invalid_argument
from agentic.sandbox.jules.store import parse_rfc3339

MAX_PAGE_SIZE = 100  # larger requests are coerced, as upstream
DEFAULT_PAGE_SIZES = {"listSources": 30, "listSessions": 30, "listActivities": 50}
_TIME_TERM = re.compile(r'^\s*create_time\s*(>=|<=|>|<|=)\s*"?([^"\s]+)"?\s*$')
_NAME_TERM = re.compile(r'^\s*name\s*=\s*"?([^"\s]+)"?\s*$')
_COMPARE: dict[str, Callable[[datetime, datetime], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
}


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def page(items: list[dict[str, Any]], query: dict[str, Any], operation_id: str, *,
         repeat_last: bool = False) -> tuple[list[dict], str | None]:
    """(this page, next page token or None). Tokens are opaque to clients: base64 of an offset.
    `repeat_last` (live listActivities): the last page still gives a token — the end of the list — and that token
    answers an empty page with the same token again, so a client that pages until no token never stops."""
    size = query.get("pageSize") or DEFAULT_PAGE_SIZES[operation_id]
    if size < 0:
        raise invalid_argument("page_size must not be negative.", "page_size")
    size = min(size, MAX_PAGE_SIZE)
    offset = 0
    if query.get("pageToken"):
        try:
            offset = int(base64.urlsafe_b64decode(query["pageToken"].encode()).decode().removeprefix("o:"))
        except (ValueError, UnicodeDecodeError):
            raise invalid_argument("Invalid page token.", "page_token") from None
    end = offset + size
    if end < len(items):
        token: str | None = _token(end)
    else:
        token = _token(max(offset, len(items))) if repeat_last else None
    return items[offset:end], token


def name_filter(text: str) -> list[str]:
    names = []
    for term in re.split(r"\s+OR\s+", text.strip()):
        match = _NAME_TERM.match(term)
        if not match:
            raise invalid_argument(f"Invalid filter '{text}': only name=sources/... terms joined by OR are "
                                   "supported.", "filter")
        names.append(match.group(1))
    return names


def time_filter(text: str) -> Callable[[datetime], bool]:
    checks = []
    for term in re.split(r"\s+AND\s+", text.strip()):
        match = _TIME_TERM.match(term)
        if not match:
            raise invalid_argument(f"Invalid filter '{text}': expected create_time>\"<RFC 3339 timestamp>\" "
                                   "(operators > >= < <= =, joined by AND).", "filter")
        op, raw = match.groups()
        try:
            checks.append((_COMPARE[op], parse_rfc3339(raw)))
        except ValueError:
            raise invalid_argument(f"Invalid timestamp '{raw}' in filter: use RFC 3339, e.g. "
                                   "2026-01-01T00:00:00Z.", "filter") from None
    return lambda moment: all(compare(moment, bound) for compare, bound in checks)


def without_empty(data: dict[str, Any]) -> dict[str, Any]:
    """Proto3 JSON: default values (false, empty list, empty string) are omitted from responses."""
    return {k: v for k, v in data.items() if v not in (None, False, [], "")}
