"""Exactly one Jules session per issue text, whatever the number of triggers, retries or crashes.

The record lives in Prefect (a Variable per issue, so in Prefect's PostgreSQL) and is only changed under a Prefect
global concurrency limit of 1 used as a mutex (`jules-dispatch-lock`), so two runs never both decide to create.

- `acquire`: the first run to arrive owns the issue; others see a live owner (fresh heartbeat) and stop as duplicates.
  An owner whose heartbeat is older than `stale_after` died (kill -9, lost machine): the next run takes over.
- The claim is written BEFORE `createSession`, and the session id right after; the Jules prompt carries a marker
  (issue key + text hash), so a run that died between "create" and "record" is recovered by finding that marker.
- One session per text hash; an edited issue (new hash) gets a new session only when the caller asks for it.
- Every write checks ownership under the lock: a run that lost its claim (paused too long, taken over) gets
  ClaimLost and stops writing, so there is never a last-writer-wins race between two owners.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency
from prefect.concurrency.context import ConcurrencyContext
from prefect.context import AsyncClientContext, SyncClientContext
from prefect.exceptions import ObjectAlreadyExists
from prefect.variables import Variable
from pydantic import BaseModel, Field

from agentic.errors import AgenticError
from agentic.github.issue_ref import IssueRef
from agentic.lifecycle.phases import CiWatch, Phase

LOCK_NAME = "jules-dispatch-lock"
# How long a claim operation keeps trying through a Prefect or PostgreSQL outage (restart, failover).
OUTAGE_BUDGET_SECONDS = 90.0
logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def _through_outages(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Retry a claim operation while Prefect (or its database) is unreachable or answers 5xx; every operation
    re-reads the record under the lock, so running it again is safe. ClaimLost is an answer, not an outage."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        deadline, delay = time.monotonic() + OUTAGE_BUDGET_SECONDS, 0.5
        while True:
            try:
                async with _own_prefect_context():  # a fresh client each attempt: never one an outage broke
                    return await fn(*args, **kwargs)
            except ClaimLost:
                raise
            except Exception as exc:  # Prefect raises httpx, HTTP-status and slot errors here
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("claims: %s failed (%s: %s); retrying in %.1fs", fn.__name__, type(exc).__name__,
                               str(exc)[:120], delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    return wrapper


@contextlib.asynccontextmanager
async def _own_prefect_context() -> AsyncIterator[None]:
    """Talk to Prefect through a client of our own and keep the lock's lease out of the run's books. get_client()
    hands out the flow run's client, which Prefect closes when the run ends: an operation that outlives its run (a
    cancelled heartbeat's update finishing, see _to_the_end) then failed inside the lock with 'The client cannot be
    started again after closing', could not release the lease either (the slot stayed taken until it expired) and
    retried into the same closed client for its whole outage budget. And the run's ConcurrencyContext, on exit,
    releases every lease taken in its context, so it would free the lock under an operation still inside it."""
    contexts: list[ContextVar[Any]] = [AsyncClientContext.__var__, SyncClientContext.__var__,
                                       ConcurrencyContext.__var__]
    tokens = [(var, var.set(None)) for var in contexts]
    try:
        async with AsyncClientContext():  # created with no client context above it: a new client, closed on exit
            with ConcurrencyContext():  # a lease whose release failed is released here, not by the run
                yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


_settling: set[asyncio.Future[Any]] = set()  # finishing claim operations whose callers were cancelled


def _to_the_end(
    undo: Callable[..., Awaitable[None] | None] | None = None,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """A claim operation, once started, finishes even if its caller is cancelled (a stopped run, a cancelled
    heartbeat); the caller still gets CancelledError at once. Cancelled while Prefect releases the lock's lease, the
    slot would stay taken until the lease expires, and every run's claim waits on it meanwhile (reproduced: a
    cancelled heartbeat left the next `release` waiting its whole 300 s). `undo(result, *args, **kwargs)` reverses
    what a finished operation did for a caller that is gone (an acquired claim is released)."""

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            operation = asyncio.ensure_future(fn(*args, **kwargs))
            try:
                return await asyncio.shield(operation)
            except asyncio.CancelledError:
                _settling.add(operation)
                operation.add_done_callback(functools.partial(_settle, undo, args, kwargs))
                raise

        return wrapper

    return decorate


def _settle(undo: Callable[..., Awaitable[None] | None] | None, args: tuple[Any, ...], kwargs: dict[str, Any],
            operation: asyncio.Future[Any]) -> None:
    _settling.discard(operation)
    if operation.cancelled() or operation.exception() is not None:  # retrieved: nobody is left to raise it to
        return
    if undo is not None and (reversal := undo(operation.result(), *args, **kwargs)) is not None:
        _settling.add(reversing := asyncio.ensure_future(reversal))
        reversing.add_done_callback(_settling.discard)


def _now() -> datetime:
    return datetime.now(UTC)


class ClaimLost(AgenticError):
    """Another run owns the issue now: this one must stop writing and end as a duplicate."""


class DispatchLockStuck(AgenticError, TimeoutError):
    """The dispatch lock stayed taken for the whole wait: another run holds it, or its slot leaked."""

    def __init__(self, waited: float) -> None:
        super().__init__(
            f"the dispatch lock `{LOCK_NAME}` stayed taken for {waited:.0f} s. If no other run is deciding a claim, "
            "its slot leaked: a Prefect server that keeps concurrency leases in memory forgets them when it restarts "
            "(docs/going-live.md, 'Concurrency leases survive a restart'). Set "
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect.server.concurrency.lease_storage.filesystem on the "
            "server and free the slot with "
            f"`prefect gcl update {LOCK_NAME} --active-slots 0`.")


class SessionRecord(BaseModel):
    text_hash: str
    marker: str
    session_id: str | None = None
    url: str | None = None
    state: str | None = None
    pull_request_url: str | None = None
    claimed_at: datetime = Field(default_factory=_now)
    # The CI loop (ci_loop.py): None = not watched yet; PENDING / WATCHING = a re-entry continues it; else its end.
    ci_state: CiWatch | None = None
    ci_rounds: int = 0
    ci_heads: list[str] = []  # head SHAs whose failure went to Jules, in order
    archived: bool = False  # the session was archived after its PR was merged or closed (archive.py)
    completed_head: str | None = None  # the PR's head when the session completed: later commits are listed


class Claim(BaseModel):
    issue: str
    owner_run_id: str | None = None
    heartbeat: datetime | None = None
    status_comment_id: int | None = None
    bot_login: str | None = None  # author of our status comment: the only author whose marker is trusted
    # The lifecycle phase the status comment shows (agentic/lifecycle): the receiver reads it here, never from the
    # comment's text. None: written before phases were stored.
    phase: Phase | None = None
    sessions: list[SessionRecord] = []

    def session_for(self, text_hash: str) -> SessionRecord | None:
        return next((s for s in self.sessions if s.text_hash == text_hash), None)


def text_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def marker_for(ref: IssueRef, digest: str) -> str:
    return f"jules-agent:{ref.key}@{digest}"


def claim_key(github_api_url: str, ref: IssueRef) -> str:
    """The issue's identity across GitHub instances: the same owner/repo#N on github.com and on a GitHub Enterprise
    server (or two sandboxes) are different issues."""
    return f"{github_api_url.rstrip('/').lower()}/{ref.key}"


def variable_name(key: str) -> str:
    # Variable names: lowercase letters, digits, '-' and '_' only.
    return "jules-claim-" + hashlib.sha256(key.encode()).hexdigest()[:24]


async def load(key: str) -> Claim | None:
    raw = await Variable.aget(variable_name(key))
    return Claim.model_validate(raw) if raw else None


async def save(key: str, claim: Claim) -> None:
    await Variable.aset(variable_name(key), claim.model_dump(mode="json"), overwrite=True, tags=[CLAIM_TAG])


_lock_ready: set[str] = set()  # Prefect API URLs where the lock is known to exist (one create per process)


async def _ensure_lock() -> None:
    async with get_client() as client:
        if str(client.api_url) in _lock_ready:
            return
        with contextlib.suppress(ObjectAlreadyExists):
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=LOCK_NAME, limit=1))
        _lock_ready.add(str(client.api_url))


@contextlib.asynccontextmanager
async def dispatch_lock(timeout: float = 300) -> AsyncIterator[None]:
    """Serialize claim decisions across every run, process and machine sharing the Prefect server."""
    await _ensure_lock()
    entered = False
    try:
        async with concurrency(LOCK_NAME, occupy=1, timeout_seconds=timeout, lease_duration=60, strict=True):
            entered = True
            yield
    except TimeoutError as exc:  # Prefect's AcquireConcurrencySlotTimeoutError: the lock was never ours
        if entered:
            raise
        raise DispatchLockStuck(timeout) from exc


class Acquired(BaseModel):
    owned: bool
    claim: Claim
    first: bool = False  # no run ever claimed this issue: nothing (comment, session) can exist yet


def _release_unwanted(acquired: Acquired, key: str, run_id: str, stale_after: float) -> Awaitable[None] | None:
    return release(key, run_id, acquired.claim) if acquired.owned else None


@_to_the_end(undo=_release_unwanted)
@_through_outages
async def acquire(key: str, run_id: str, stale_after: float) -> Acquired:
    """Own the issue, or learn that a live run already does."""
    async with dispatch_lock():
        existing = await load(key)
        claim = existing or Claim(issue=key)
        alive = claim.heartbeat is not None and _now() - claim.heartbeat < timedelta(seconds=stale_after)
        if claim.owner_run_id and claim.owner_run_id != run_id and alive:
            return Acquired(owned=False, claim=claim)
        claim.owner_run_id, claim.heartbeat = run_id, _now()
        await save(key, claim)
        return Acquired(owned=True, claim=claim, first=existing is None)


@_to_the_end()
@_through_outages
async def update(key: str, run_id: str, claim: Claim) -> None:
    """Write the owner's view (heartbeat refreshed) — only while this run still owns the claim (ClaimLost if not)."""
    async with dispatch_lock():
        current = await load(key)
        if current is not None and current.owner_run_id not in (run_id, None):
            raise ClaimLost(f"run {current.owner_run_id} took over {claim.issue}; run {run_id} stops here")
        claim.owner_run_id, claim.heartbeat = run_id, _now()
        await save(key, claim)


@_to_the_end()
@_through_outages
async def release(key: str, run_id: str, claim: Claim) -> None:
    async with dispatch_lock():
        current = await load(key) or claim
        if current.owner_run_id in (run_id, None):
            claim.owner_run_id, claim.heartbeat = None, None
            await save(key, claim)


async def heartbeat(key: str, run_id: str, claim: Claim, owner: asyncio.Task[Any], stale_after: float,
                    lost: asyncio.Event, log: logging.Logger | logging.LoggerAdapter[Any] = logger) -> None:
    """Keep the claim fresh for as long as `owner` runs (a beat every `stale_after`/3, sooner after a failed one):
    a live owner whose heartbeat went stale is taken over by the next run. Survives transient errors; on ClaimLost
    sets `lost` and cancels the owner, which must stop writing."""
    interval = stale_after / 3
    while not owner.done():
        await asyncio.sleep(interval)
        try:
            await update(key, run_id, claim)
            interval = stale_after / 3
        except ClaimLost as exc:
            log.warning("%s", exc)
            lost.set()
            owner.cancel()
            return
        except Exception as exc:  # noqa: BLE001 - Prefect or PostgreSQL blip: try again sooner
            log.warning("claim heartbeat failed (%s); retrying", exc)
            interval = max(1.0, stale_after / 12)


CLAIM_TAG = "jules-claim"
_PAGE = 200  # the Prefect server's largest page of variables


async def claim_variables(client: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(variable name, claim key) of every claim whose key starts with `prefix`, every page (the server answers at
    most 200 variables a request), filtered on the claims' tag by the server."""
    found: list[tuple[str, str]] = []
    offset = 0
    while True:
        response = await client.request("POST", "/variables/filter", json={
            "limit": _PAGE, "offset": offset, "variables": {"tags": {"all_": [CLAIM_TAG]}}})
        page = response.json()
        for variable in page:
            value = variable.get("value") if isinstance(variable.get("value"), dict) else {}
            if str(value.get("issue", "")).startswith(prefix):
                found.append((variable["name"], str(value["issue"])))
        if len(page) < _PAGE:
            return found
        offset += _PAGE


async def reset(github_api_url: str) -> int:
    """Forget every claim on one GitHub instance (a sandbox re-seeded from scratch: its issue numbers start over,
    so old claims would point at other issues). Returns how many were removed."""
    async with get_client() as client:
        found = await claim_variables(client, github_api_url.rstrip("/").lower() + "/")
        for name, _key in found:
            await client.delete_variable_by_name(name)
    return len(found)
