"""Jules API operations through the hub's `jules` server (tools `jules-<operationId>` generated from
`agentic/jules.schema.json`), each idempotent so that any re-entry of the flow can call it again:

- `create_session` creates only when no session carries the dispatch marker (looked up first on any re-entry);
  a create that may have happened (5xx, dropped answer) is never blindly repeated — only a 429 is retried as create.
- `approve_plan` reads the session first: not awaiting approval, or this plan already approved → done, no call;
  a 400 FAILED_PRECONDITION answer is re-checked the same way instead of failing the run.
- `send_message` is skipped when a `userMessaged` activity with the same text already exists since `since`.
- `list_activities` asks for `create_time>=since` (activities can share a timestamp; the follow machine
  de-duplicates by id) and treats the 404 live Jules gives right after create as "not yet", retryable.

Every list call is bounded (`PageWalk`): live Jules can answer a `nextPageToken` it already gave (the last page
keeps one); following it looped forever. A repeated token or `MAX_PAGES` pages end the walk with what was read,
and a warning says which list of which session stopped and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agentic import observability
from agentic.errors import JulesError, JulesQuotaExceeded, JulesSourceBusy, SourceNotConnected, TransientError
from agentic.github.issue_ref import IssueRef
from agentic.hub.mcp_client import HubTools, ToolCallFailed, TransientToolFailure
from agentic.jules import states
from agentic.jules.models import Activity, Session

SERVER = "jules"
logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
# Pages one list call reads at most (100 items each): far more than a session's activities, few enough that a
# server which never stops paging costs seconds, not a run.
MAX_PAGES = 50


@dataclass
class PageWalk:
    """The bound of one paged list: which token to ask for next, or why to stop. Pure (tested without a server).

    `follow(token)` after each page: the token to send next, or None to stop — the list ended (no token), the
    token was given before (a loop), or `max_pages` were read. `stopped` then says why, for the log."""

    max_pages: int = MAX_PAGES
    pages: int = 0
    seen: set[str] = field(default_factory=set)
    stopped: str | None = None

    def follow(self, token: str | None) -> str | None:
        self.pages += 1
        if not token:
            return None
        if token in self.seen:
            self.stopped = f"nextPageToken repeated after {self.pages} page(s)"
            return None
        if self.pages >= self.max_pages:
            self.stopped = f"still a nextPageToken after {self.pages} pages (the cap)"
            return None
        self.seen.add(token)
        return token


class MalformedAnswer(TransientError):
    """Jules (or the hub) answered something that is not the documented JSON: worth one more try."""


class ActivitiesNotReady(TransientError):
    """`activities.list` answered 404 for a session that exists: live Jules does this right after create."""


def tool(name: str) -> str:
    return f"{SERVER}-{name}"


def _raise_jules(exc: ToolCallFailed) -> None:
    if exc.status == 429:
        raise JulesQuotaExceeded(f"Jules quota reached: {exc}") from exc
    if exc.status is not None and exc.status < 500:
        raise JulesError(str(exc), status=exc.status) from exc
    raise exc


def _parse(model: type[M], raw: Any, what: str) -> M:
    if not isinstance(raw, dict):
        raise MalformedAnswer(f"Jules {what}: expected a JSON object, got {str(raw)[:120]!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise MalformedAnswer(f"Jules {what}: unexpected answer ({exc.error_count()} problems: "
                              f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']})") from None


def _source_busy(exc: JulesError) -> bool:
    """Live Jules' answer to parallel creates: 400 INVALID_ARGUMENT "Could not get source" for a source it lists."""
    cause = exc.__cause__
    return isinstance(cause, ToolCallFailed) and cause.status == 400 and "could not get source" in str(cause).lower()


def _precondition_failed(exc: ToolCallFailed) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    status = (body.get("error") or {}).get("status") if isinstance(body.get("error"), dict) else None
    return exc.status == 400 and (status == "FAILED_PRECONDITION" or "FAILED_PRECONDITION" in str(exc))


def _bound(session: Session) -> Session:
    """The session this run works on: its id goes on the run's log lines and on the current span."""
    observability.bind_session(session.id)
    return session


class JulesClient:
    def __init__(self, hub: HubTools) -> None:
        self.hub = hub

    @property
    def calls(self) -> int:
        return self.hub.calls_to(SERVER)

    async def _call(self, operation: str, arguments: dict[str, Any]) -> Any:
        try:
            return await self.hub.call(tool(operation), arguments)
        except TransientToolFailure as exc:
            if exc.status == 429:
                raise JulesQuotaExceeded(f"Jules quota reached: {exc}") from exc
            raise
        except ToolCallFailed as exc:
            _raise_jules(exc)
            raise

    @observability.traced("jules find_source")
    async def find_source(self, ref: IssueRef) -> dict[str, Any]:
        """The Jules source for the repository; SourceNotConnected when the Jules GitHub app is not installed."""
        wanted = f"sources/github/{ref.owner}/{ref.repo}"
        raw = await self._call("listSources", {"filter": f"name={wanted}"})
        source: dict[str, Any]
        for source in (raw or {}).get("sources", []) if isinstance(raw, dict) else []:
            if source.get("name", "").lower() == wanted.lower():
                return source
        raise SourceNotConnected(f"Jules is not connected to {ref.full_name}: install the Jules GitHub app on the "
                                 "repository (jules.google.com → Settings → Repositories), then retry")

    @observability.traced("jules find_session")
    async def find_session(self, marker: str, max_pages: int = 5) -> Session | None:
        """The session whose prompt carries `marker`: how a re-entering run finds the session created before."""
        walk, token = PageWalk(max_pages=max_pages), None
        while True:
            args: dict[str, Any] = {"pageSize": 100}
            if token:
                args["pageToken"] = token
            raw = await self._call("listSessions", args) or {}
            for item in raw.get("sessions", []) if isinstance(raw, dict) else []:
                if marker in (item.get("prompt") or ""):
                    return _bound(_parse(Session, item, "session"))
            token = walk.follow(raw.get("nextPageToken") if isinstance(raw, dict) else None)
            if token is None:
                if walk.stopped:
                    logger.warning("Jules listSessions looking for %s: %s; no session found in what was read",
                                   marker, walk.stopped)
                return None

    @observability.traced("jules create_session")
    async def create_session(self, *, marker: str, prompt: str, title: str, source: str, branch: str,
                             require_plan_approval: bool, look_first: bool) -> Session:
        """The one session for `marker`. `look_first` on any re-entry: an earlier attempt may have created it."""
        if look_first and (existing := await self.find_session(marker)):
            return existing
        body = {"prompt": prompt, "title": title, "requirePlanApproval": require_plan_approval,
                "automationMode": "AUTO_CREATE_PR",
                "sourceContext": {"source": source, "githubRepoContext": {"startingBranch": branch}}}
        try:
            raw = await self._call("createSession", {"body": body})
        except (TransientError, JulesError) as exc:
            if isinstance(exc, JulesQuotaExceeded):
                raise  # nothing was created: safe to create again later
            if isinstance(exc, JulesError) and _source_busy(exc):
                # The caller queues and creates again later, looking for the marker first (a 400 that created
                # anything after all is then found, not doubled).
                raise JulesSourceBusy(f"Jules answered createSession with {exc.__cause__}") from exc
            # The session may exist although the answer was lost (5xx, dropped socket, malformed body).
            if isinstance(exc, TransientError) and (existing := await self.find_session(marker)):
                logger.info("createSession failed (%s) but the session exists: %s", exc, existing.id)
                return existing
            raise
        return _bound(_parse(Session, raw, "session"))

    @observability.traced("jules get_session")
    async def get_session(self, session_id: str) -> Session:
        return _bound(_parse(Session, await self._call("getSession", {"sessionId": session_id}), "session"))

    @observability.traced("jules list_activities")
    async def list_activities(self, session_id: str, since: str | None = None) -> list[Activity]:
        """Activities created at or after `since` (all when None), oldest first, every page up to the walk's bound.
        A walk stopped early returns what it read: the next poll asks again from the newest one (`since`)."""
        activities: list[Activity] = []
        walk, token = PageWalk(), None
        while True:
            args: dict[str, Any] = {"sessionId": session_id, "pageSize": 100}
            if since:
                args["filter"] = f'create_time>="{since}"'
            if token:
                args["pageToken"] = token
            try:
                raw = await self._call("listActivities", args) or {}
            except JulesError as exc:
                if exc.status == 404:
                    raise ActivitiesNotReady(f"Jules has no activities for session {session_id} yet: {exc}") from exc
                raise
            if not isinstance(raw, dict):
                raise MalformedAnswer(f"Jules activities: expected a JSON object, got {str(raw)[:120]!r}")
            activities += [_parse(Activity, item, "activity") for item in raw.get("activities", [])]
            token = walk.follow(raw.get("nextPageToken"))
            if token is None:
                if walk.stopped:
                    logger.warning("Jules listActivities of session %s: %s; going on with the %d activities read",
                                   session_id, walk.stopped, len(activities))
                unique = {a.id: a for a in activities}  # a repeated page lists the same activities again
                return sorted(unique.values(), key=lambda a: (a.create_time, a.id))

    @observability.traced("jules archive")
    async def archive(self, session_id: str) -> bool:
        """Archive the session unless it already is (its PR was merged or closed: it must not push again). True when
        this call archived it."""
        if (await self.get_session(session_id)).archived:
            return False
        await self._call("archiveSession", {"sessionId": session_id, "body": {}})
        return True

    @observability.traced("jules approve_plan")
    async def approve_plan(self, session_id: str, plan_id: str) -> bool:
        """Approve `plan_id` unless it is no longer awaiting approval. True when this call approved it."""
        session = await self.get_session(session_id)
        if states.canonical(session.state) != "AWAITING_PLAN_APPROVAL":
            logger.info("plan %s of session %s not awaiting approval (%s): nothing to approve", plan_id, session_id,
                        session.state)
            return False
        try:
            await self._call("approvePlan", {"sessionId": session_id, "body": {}})
        except JulesError as exc:
            cause = exc.__cause__
            if isinstance(cause, ToolCallFailed) and _precondition_failed(cause):
                again = await self.get_session(session_id)
                if states.canonical(again.state) != "AWAITING_PLAN_APPROVAL":
                    return False  # approved by an earlier attempt whose answer was lost, or carried forward
            raise
        return True

    @observability.traced("jules send_message")
    async def send_message(self, session_id: str, text: str, *, since: str | None) -> bool:
        """Send `text` unless a `userMessaged` with the same text exists at or after `since`. True when sent."""
        wanted = " ".join(text.split())
        for activity in await self.list_activities(session_id, since):
            if activity.user_message is not None and " ".join(activity.user_message.split()) == wanted:
                return False
        await self._call("sendMessage", {"sessionId": session_id, "body": {"prompt": text}})
        return True
