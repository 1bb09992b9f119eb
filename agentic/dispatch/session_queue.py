"""The queue in front of Jules: its plan quotas as Prefect concurrency objects, configured once (issue #11).

(Not `queue.py`: a flow loaded from its file path puts this folder on sys.path, where it would shadow the
stdlib `queue`.)

Three of Prefect's own mechanisms, each doing one job (docs/architecture.md, "The queue"):

- **deployment concurrency, ENQUEUE** — at most `cap + QUEUE_PREFETCH_RUNS` runs of the deployment hold a
  process; the rest wait server-side in `AwaitingConcurrencySlot` (no process, visible in the UI);
- **`jules-sessions`**, a global concurrency limit of `cap` slots held as a lease for a session's whole life
  (the server frees the slot of a holder that died);
- **`jules-sessions-per-day`**, a rate limit (`slot_decay_per_second = per_day / day`) taken once per created
  session, once the run holds its `jules-sessions` slot (a token is never given back: one taken before a slot
  wait that times out would be a day's session spent on nothing).

A run that gets a process but no session slot waits in-process and its status comment says "queued, N ahead";
Jules' own 429 (its day boundary, sessions made elsewhere) is the last line: the run retries the create without
losing its place (jules_workflow._dispatch). Pure parts (`QuotaPlan`, `runs_ahead`) are tested without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from agentic.settings import Settings
from agentic.stacks.prefect_server import LEASES_ON_DISK

SESSIONS_LIMIT = "jules-sessions"
DAILY_LIMIT = "jules-sessions-per-day"
# Server settings that make Prefect's waiting fast enough to keep every Jules slot busy: a refused deployment run is
# re-offered after this many seconds (default 30) and a refused lease is retried after at most this (default 30).
SERVER_QUEUE_ENV = {"PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
                    "PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": "1", **LEASES_ON_DISK}
WAITING_STATES = ("SCHEDULED", "PENDING", "RUNNING")


@dataclass(frozen=True)
class LimitSpec:
    name: str
    limit: int
    slot_decay_per_second: float | None = None


@dataclass(frozen=True)
class QuotaPlan:
    """Jules' plan quotas (settings) and what they become in Prefect."""

    concurrent: int | None
    per_day: int | None
    day_seconds: float = 86400.0
    prefetch: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> QuotaPlan:
        return cls(settings.jules_max_concurrent_sessions, settings.jules_sessions_per_day,
                   settings.jules_day_seconds, settings.queue_prefetch_runs)

    def limits(self) -> list[LimitSpec]:
        specs = []
        if self.concurrent is not None:
            specs.append(LimitSpec(SESSIONS_LIMIT, self.concurrent))
        if self.per_day is not None:
            specs.append(LimitSpec(DAILY_LIMIT, self.per_day, self.per_day / self.day_seconds))
        return specs

    @property
    def deployment_limit(self) -> int | None:
        """Runs of the deployment that may hold a process: the session cap plus the prefetched ones."""
        return None if self.concurrent is None else self.concurrent + self.prefetch

    def deployment_concurrency(self) -> Any:
        from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

        if self.deployment_limit is None:
            return None
        return ConcurrencyLimitConfig(limit=self.deployment_limit, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)

    def describe(self) -> str:
        if not self.limits():
            return "no Jules quotas configured (JULES_MAX_CONCURRENT_SESSIONS, JULES_SESSIONS_PER_DAY)"
        parts = [f"{s.name} limit {s.limit}" + (f", decay {s.slot_decay_per_second:.4g}/s"
                                                 if s.slot_decay_per_second else "") for s in self.limits()]
        if self.deployment_limit is not None:
            parts.append(f"deployment concurrency {self.deployment_limit} (ENQUEUE)")
        return "; ".join(parts)


def retry_delay(attempt: int, base: float, cap: float = 300.0, draw: Callable[[], float] = random.random) -> float:
    """Wait before create attempt `attempt + 1`: `base` doubled per attempt, capped, then jittered to between half and
    all of it, so that runs refused together (parallel creates) come back apart."""
    full = min(cap, base * 2.0 ** max(0, attempt - 1))
    return full / 2 + draw() * full / 2


async def apply_quotas(client: Any, plan: QuotaPlan) -> list[LimitSpec]:
    """Create or update the global concurrency limits of `plan` (idempotent: a re-deploy changes only values)."""
    specs = plan.limits()
    for spec in specs:
        await client.upsert_global_concurrency_limit_by_name(spec.name, spec.limit,
                                                             slot_decay_per_second=spec.slot_decay_per_second)
    return specs


def runs_ahead(waiting: Iterable[tuple[datetime, str]], me: datetime, holding: int) -> int:
    """Runs ahead of the one created at `me`: those created before it that are not final, minus the ones that hold
    a session slot (`holding`, the lease count) — they are being served, not waiting."""
    earlier = sum(1 for created, _ in waiting if created < me)
    return max(0, earlier - holding)


async def read_all_flow_runs(client: Any, **filters: Any) -> list[Any]:
    """Every flow run matching `filters` (the API answers at most 200 per request)."""
    runs: list[Any] = []
    while True:
        page = await client.read_flow_runs(**filters, limit=200, offset=len(runs))
        runs.extend(page)
        if len(page) < 200:
            return runs


async def position(flow_name: str, flow_run_id: str) -> int | None:
    """How many runs of `flow_name` wait ahead of this one (from Prefect); None when Prefect cannot say."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    try:
        async with get_client() as client:
            me = await client.read_flow_run(UUID(flow_run_id))
            runs = await read_all_flow_runs(
                client, flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                    any_=[StateType(s) for s in WAITING_STATES]))))
            holding = 0
            with contextlib.suppress(Exception):  # no limit configured: nobody holds a slot we can count
                holding = int((await client.read_global_concurrency_limit_by_name(SESSIONS_LIMIT)).active_slots)
    except Exception:  # noqa: BLE001 - the position is information; a Prefect blip must not stop the wait
        return None
    if me.created is None:
        return None
    return runs_ahead(((r.created, r.state_type.value) for r in runs if r.id != me.id and r.created), me.created,
                      holding)


async def _every(seconds: float, first_after: float, action: Callable[[], Awaitable[None]],
                 stop: asyncio.Event) -> None:
    """Run `action` every `seconds` until `stop`; an action under way is let finish (it edits a comment)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), first_after)
    while not stop.is_set():
        with contextlib.suppress(Exception):
            await action()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


@contextlib.asynccontextmanager
async def session_slot(*, new_session: bool, timeout_seconds: float, poll_seconds: float,
                       while_waiting: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator[None]:
    """Hold a `jules-sessions` lease for the body (a session's life), then take a daily token, when a session
    will be created (`new_session`).
    `while_waiting` runs every `poll_seconds` while the slot is not yet ours (the status comment's position).
    Both limits are no-ops until created (apply_quotas)."""
    from prefect.concurrency.asyncio import concurrency, rate_limit

    if not new_session:
        # The session exists (a resumed or re-entered run): its lease went with the suspended process, and waiting
        # for a new one behind runs that hold theirs while Jules answers 429 would deadlock. Jules' own cap (429)
        # still holds; the lease only gates new sessions.
        yield
        return
    stop = asyncio.Event()
    ticker = asyncio.create_task(_every(poll_seconds, min(1.0, poll_seconds), while_waiting, stop)) \
        if while_waiting else None

    async def stop_ticker() -> None:
        stop.set()
        if ticker:
            await asyncio.gather(ticker, return_exceptions=True)

    try:
        async with concurrency(SESSIONS_LIMIT, occupy=1, strict=False, timeout_seconds=timeout_seconds):
            # The day's token only once the slot is ours: a rate limit's token is never given back, so a run that
            # gave up waiting for a slot would have spent one of the day's sessions on nothing. Holding the slot
            # while the day's quota refills keeps nobody out: every new session needs a token too.
            await rate_limit(DAILY_LIMIT, occupy=1, timeout_seconds=timeout_seconds, strict=False)
            await stop_ticker()
            yield
    finally:
        stop.set()
        if ticker and not ticker.done():
            ticker.cancel()
