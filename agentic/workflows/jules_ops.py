"""Jules API operations the flow performs, each one tool call through the hub's `jules` server
(tools generated from `agentic/jules.schema.json`)."""

from __future__ import annotations

from typing import Any

from agentic.errors import JulesError, JulesQuotaExceeded, SourceNotConnected
from agentic.workflows.hub_tools import HubTools, ToolCallFailed
from agentic.workflows.issue_ref import IssueRef

SERVER = "jules"
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED"})


def tool(name: str) -> str:
    return f"{SERVER}-{name}"


def _raise_jules(exc: ToolCallFailed) -> None:
    if exc.status == 429:
        raise JulesQuotaExceeded(f"Jules quota reached: {exc}") from exc
    if exc.status is not None and exc.status < 500:
        raise JulesError(str(exc)) from exc
    raise exc


async def find_source(hub: HubTools, ref: IssueRef) -> dict[str, Any]:
    """The Jules source for the repository; SourceNotConnected when the Jules GitHub app is not installed there."""
    wanted = f"sources/github/{ref.owner}/{ref.repo}"
    try:
        raw = await hub.call(tool("listSources"), {"filter": f"name={wanted}"})
    except ToolCallFailed as exc:
        _raise_jules(exc)
    for source in (raw or {}).get("sources", []):
        if source.get("name", "").lower() == wanted.lower():
            return source
    raise SourceNotConnected(f"Jules is not connected to {ref.full_name}: install the Jules GitHub app on the "
                             "repository (jules.google.com → Settings → Repositories), then retry")


async def create_session(hub: HubTools, *, prompt: str, title: str, source: str, branch: str,
                         require_plan_approval: bool) -> dict[str, Any]:
    body = {"prompt": prompt, "title": title, "requirePlanApproval": require_plan_approval,
            "automationMode": "AUTO_CREATE_PR",
            "sourceContext": {"source": source, "githubRepoContext": {"startingBranch": branch}}}
    try:
        return await hub.call(tool("createSession"), {"body": body})
    except ToolCallFailed as exc:
        _raise_jules(exc)
        raise


async def find_session_by_marker(hub: HubTools, marker: str, max_pages: int = 5) -> dict[str, Any] | None:
    """A session whose prompt carries `marker`: how a resumed run finds the session it created before a crash."""
    token: str | None = None
    for _ in range(max_pages):
        args: dict[str, Any] = {"pageSize": 100}
        if token:
            args["pageToken"] = token
        raw = await hub.call(tool("listSessions"), args) or {}
        for session in raw.get("sessions", []):
            if marker in (session.get("prompt") or ""):
                return session
        token = raw.get("nextPageToken")
        if not token:
            return None
    return None


async def get_session(hub: HubTools, session_id: str) -> dict[str, Any]:
    return await hub.call(tool("getSession"), {"sessionId": session_id})


async def list_new_activities(hub: HubTools, session_id: str, after: str | None) -> list[dict[str, Any]]:
    """Activities created after the RFC 3339 time `after` (all when None), oldest first, every page."""
    activities: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        args: dict[str, Any] = {"sessionId": session_id, "pageSize": 100}
        if after:
            args["filter"] = f'create_time>"{after}"'
        if token:
            args["pageToken"] = token
        raw = await hub.call(tool("listActivities"), args) or {}
        activities += raw.get("activities", [])
        token = raw.get("nextPageToken")
        if not token:
            return sorted(activities, key=lambda a: a.get("createTime", ""))


async def approve_plan(hub: HubTools, session_id: str) -> None:
    await hub.call(tool("approvePlan"), {"sessionId": session_id, "body": {}})


async def send_message(hub: HubTools, session_id: str, text: str) -> None:
    await hub.call(tool("sendMessage"), {"sessionId": session_id, "body": {"prompt": text}})


def pull_request_of(session: dict[str, Any]) -> dict[str, Any] | None:
    for output in session.get("outputs") or []:
        if "pullRequest" in output:
            return output["pullRequest"]
    return None
