"""In-memory state of the Jules simulator: sessions, their activities, ids, timestamps and per-key quotas."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from agentic.sandbox.jules.config import JulesSimConfig
from agentic.sandbox.jules.google_errors import ApiError, error_info, not_found
from agentic.sandbox.jules.live import LiveTraits

TERMINAL_STATES = frozenset({"COMPLETED", "FAILED"})


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> datetime:
    """RFC 3339 with up to nanosecond fractions (Python parses at most microseconds)."""
    text = text.strip()
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class SessionRecord:
    """A session as the API shows it (`resource`, `activities`) plus what the simulator needs to drive it."""

    resource: dict[str, Any]
    key: str
    script: str
    fail_reason: str | None = None
    activities: list[dict[str, Any]] = field(default_factory=list)
    last_time: datetime | None = None
    task: asyncio.Task | None = None
    approved: asyncio.Event = field(default_factory=asyncio.Event)
    messages: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    plan: dict[str, Any] | None = None
    next_step: int = 0  # index in plan["steps"] of the step the script runs next
    closing_refs: str = "copy"  # copy | drop: does the PR body repeat the prompt's `Fixes #N` lines
    reactive: bool = False  # Reactive Mode: takes up @jules review comments on its PR by itself (reactive.py)
    traits: LiveTraits = field(default_factory=LiveTraits)  # live-profile behaviours (all off: documented)
    created_monotonic: float = field(default_factory=time.monotonic)

    @property
    def id(self) -> str:
        return self.resource["id"]

    @property
    def state(self) -> str:
        return self.resource["state"]

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class SessionStore:
    """Sessions by id, newest last; ids from a seeded generator so runs are reproducible."""

    def __init__(self, config: JulesSimConfig) -> None:
        self.config = config
        self.sessions: dict[str, SessionRecord] = {}
        self._rng = random.Random(config.seed)
        self._created_per_day: dict[tuple[str, date | int], int] = {}
        self._started = time.monotonic()

    # --- ids and time ---------------------------------------------------------------------------------------
    def new_session_id(self) -> str:
        while (candidate := str(self._rng.randrange(10**18, 10**19))) in self.sessions:
            pass
        return candidate

    def new_id(self) -> str:
        return f"{self._rng.getrandbits(64):016x}"

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def stamp(self, record: SessionRecord) -> str:
        """A timestamp strictly after the session's previous one: `create_time>"<last seen>"` never skips."""
        moment = self.now()
        if record.last_time is not None and moment <= record.last_time:
            moment = record.last_time + timedelta(microseconds=1)
        record.last_time = moment
        return rfc3339(moment)

    # --- sessions -------------------------------------------------------------------------------------------
    def get(self, session_id: str) -> SessionRecord:
        record = self.sessions.get(session_id)
        if record is None:
            raise not_found()
        return record

    def add(self, record: SessionRecord) -> None:
        self.sessions[record.id] = record
        day = self.quota_day()
        self._created_per_day[(record.key, day)] = self._created_per_day.get((record.key, day), 0) + 1

    def set_state(self, record: SessionRecord, state: str) -> None:
        record.resource["state"] = state
        record.resource["updateTime"] = self.stamp(record)

    def add_activity(self, record: SessionRecord, originator: str, kind: str, payload: dict[str, Any],
                     description: str | None = None, artifacts: list[dict[str, Any]] | None = None,
                     create_time: str | None = None) -> dict:
        """Append an activity; `create_time` backdates it to an earlier activity's time (live profile: two
        activities share a createTime although the second appears later)."""
        activity_id = self.new_id()
        activity: dict[str, Any] = {
            "name": f"sessions/{record.id}/activities/{activity_id}", "id": activity_id,
            "createTime": create_time or self.stamp(record), "originator": originator, kind: payload,
        }
        if description:
            activity["description"] = description
        if artifacts:
            activity["artifacts"] = artifacts
        record.activities.append(activity)
        record.resource["updateTime"] = activity["createTime"] if create_time is None else self.stamp(record)
        return activity

    # --- quotas ---------------------------------------------------------------------------------------------
    def quota_day(self) -> date | int:
        """The day a daily quota counts in: the UTC date, or the number of `day_seconds` since the start."""
        length = self.config.quota.day_seconds
        return self.now().date() if length is None else int((time.monotonic() - self._started) // length)

    def check_quota(self, key: str) -> None:
        """429 RESOURCE_EXHAUSTED when `key` is at its concurrent or daily session cap."""
        quota = self.config.quota
        active = sum(1 for r in self.sessions.values() if r.key == key and not r.terminal)
        if quota.max_concurrent_sessions is not None and active >= quota.max_concurrent_sessions:
            self._exhausted(f"You are currently at your concurrent task limit ({quota.max_concurrent_sessions} "
                            "sessions in progress). Wait for one to finish, then retry.", "concurrent_sessions")
        today = self._created_per_day.get((key, self.quota_day()), 0)
        if quota.max_sessions_per_day is not None and today >= quota.max_sessions_per_day:
            self._exhausted(f"You have reached your daily task limit ({quota.max_sessions_per_day} sessions). "
                            "Retry tomorrow.", "sessions_per_day")

    @staticmethod
    def _exhausted(description: str, limit: str) -> None:
        raise ApiError("RESOURCE_EXHAUSTED", f"Resource has been exhausted (e.g. check quota). {description}", [
            error_info("RATE_LIMIT_EXCEEDED", quota_limit=limit),
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"subject": "jules.googleapis.com/" + limit, "description": description}]},
        ])
