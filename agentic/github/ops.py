"""GitHub operations the flow performs, each one tool call through the hub's `github-rest` server.

The seed's npm GitHub server has no tool to edit a comment, react, read a collaborator's permission or request
reviewers, so the flow uses the hub's `openapi` server built from `agentic/github.schema.json`
(see docs/github-tools.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agentic.errors import BadIssueUrl, IssueNotFound
from agentic.github.issue_ref import IssueRef
from agentic.github.models import CheckRun, Comment, Issue, PullRequest
from agentic.hub.mcp_client import HubTools, ToolCallFailed

__all__ = ["CheckRun", "Comment", "Issue", "PullRequest"]  # the data of these operations: agentic/github/models.py

SERVER = "github-rest"
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})


def tool(name: str) -> str:
    return f"{SERVER}-{name}"


async def read_issue(hub: HubTools, ref: IssueRef) -> Issue:
    """The issue and its comments. A pull request or a missing issue is an error before any side effect."""
    args = {"owner": ref.owner, "repo": ref.repo, "issue_number": ref.number}
    try:
        raw = await hub.call(tool("getIssue"), args)
    except ToolCallFailed as exc:
        if exc.status in (404, 410):
            raise IssueNotFound(f"issue {ref} does not exist or the GitHub token cannot see it") from exc
        raise
    if raw.get("pull_request"):
        raise BadIssueUrl(f"{ref} is a pull request, not an issue")
    return Issue(
        ref=ref, title=raw.get("title") or "", body=raw.get("body") or "",
        author=(raw.get("user") or {}).get("login", ""),
        state=raw.get("state", "open"), locked=bool(raw.get("locked")), lock_reason=raw.get("active_lock_reason"),
        labels=[label["name"] for label in raw.get("labels", [])],
        html_url=raw.get("html_url", ""), comments=await list_comments(hub, ref),
    )


async def list_comments(hub: HubTools, ref: IssueRef, since: datetime | None = None) -> list[Comment]:
    args: dict[str, Any] = {"owner": ref.owner, "repo": ref.repo, "issue_number": ref.number, "per_page": 100}
    if since:
        args["since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    comments: list[Comment] = []
    page = 1
    while True:
        raw = await hub.call(tool("listIssueComments"), {**args, "page": page})
        comments += [Comment.from_api(item) for item in raw or []]
        if not raw or len(raw) < 100:
            return comments
        page += 1


async def create_comment(hub: HubTools, ref: IssueRef, body: str) -> Comment:
    raw = await hub.call(tool("createIssueComment"),
                         {"owner": ref.owner, "repo": ref.repo, "issue_number": ref.number, "body": {"body": body}})
    return Comment.from_api(raw)


async def update_comment(hub: HubTools, ref: IssueRef, comment_id: int, body: str) -> Comment:
    raw = await hub.call(tool("updateIssueComment"),
                         {"owner": ref.owner, "repo": ref.repo, "comment_id": comment_id, "body": {"body": body}})
    return Comment.from_api(raw)


async def add_reaction(hub: HubTools, ref: IssueRef, content: str = "eyes") -> None:
    """GitHub answers 200 with the existing reaction on a repeat, so this is idempotent."""
    await hub.call(tool("createIssueReaction"),
                   {"owner": ref.owner, "repo": ref.repo, "issue_number": ref.number, "body": {"content": content}})


async def can_write(hub: HubTools, ref: IssueRef, username: str) -> bool:
    try:
        raw = await hub.call(tool("getCollaboratorPermission"),
                             {"owner": ref.owner, "repo": ref.repo, "username": username})
    except ToolCallFailed as exc:
        if exc.status == 404:
            return False
        raise
    return raw.get("permission") in WRITE_PERMISSIONS or (raw.get("role_name") in WRITE_PERMISSIONS)


async def default_branch(hub: HubTools, ref: IssueRef) -> str:
    raw = await hub.call(tool("getRepo"), {"owner": ref.owner, "repo": ref.repo})
    return raw.get("default_branch") or "main"


def pull_number(pull_request_url: str) -> int:
    """The number at the end of a pull request's URL (`…/pull/12`)."""
    return int(pull_request_url.rstrip("/").rsplit("/", 1)[-1])


async def get_pull_request(hub: HubTools, ref: IssueRef, number: int) -> PullRequest:
    raw = await hub.call(tool("getPullRequest"), {"owner": ref.owner, "repo": ref.repo, "pull_number": number})
    return PullRequest.from_api(raw)


async def list_check_runs(hub: HubTools, ref: IssueRef, commit: str) -> list[CheckRun]:
    """Check runs on `commit` (a SHA or branch name), newest first; the first 100 (one page) is enough to judge."""
    raw = await hub.call(tool("listCheckRunsForRef"), {"owner": ref.owner, "repo": ref.repo, "ref": commit,
                                                      "per_page": 100})
    runs = raw.get("check_runs") if isinstance(raw, dict) else None
    return [CheckRun.from_api(r) for r in runs or [] if isinstance(r, dict)]


async def update_pull_request_body(hub: HubTools, ref: IssueRef, number: int, body: str) -> None:
    await hub.call(tool("updatePullRequest"),
                   {"owner": ref.owner, "repo": ref.repo, "pull_number": number, "body": {"body": body}})


async def request_reviewers(hub: HubTools, ref: IssueRef, number: int, reviewers: list[str]) -> bool:
    """False when GitHub refuses (e.g. the reviewer authored the PR or is not a collaborator): not worth failing."""
    try:
        await hub.call(tool("requestReviewers"), {"owner": ref.owner, "repo": ref.repo, "pull_number": number,
                                                  "body": {"reviewers": reviewers}})
    except ToolCallFailed as exc:
        if exc.status == 422:
            return False
        raise
    return True


async def find_pull_request_for_session(hub: HubTools, ref: IssueRef, session_id: str,
                                        session_url: str | None) -> str | None:
    """The open PR Jules opened for a session whose `outputs` came back empty: its body or head branch names the
    session (Jules links the session in the PR and names branches after the task)."""
    raw = await hub.call(tool("listPullRequests"), {"owner": ref.owner, "repo": ref.repo, "state": "open",
                                                    "per_page": 100, "sort": "created", "direction": "desc"})
    for pr in map(PullRequest.from_api, raw or []):
        text = f"{pr.body}\n{pr.head_ref}"
        if session_id in text or (session_url and session_url in text):
            return pr.html_url or None
    return None


_CLOSES = r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\s*:?\s+(?:{repo})?#{number}\b"


async def find_fixing_pull_requests(hub: HubTools, ref: IssueRef) -> list[PullRequest]:
    """Open or merged PRs whose description closes this issue (`Fixes #N`, `Closes owner/repo#N`): the issue is
    already being fixed, a second PR would compete. Closed-unmerged PRs do not count. Newest first, one page."""
    import re

    pattern = re.compile(_CLOSES.format(repo=re.escape(ref.full_name), number=ref.number), re.IGNORECASE)
    raw = await hub.call(tool("listPullRequests"), {"owner": ref.owner, "repo": ref.repo, "state": "all",
                                                    "per_page": 100, "sort": "updated", "direction": "desc"})
    return [pr for pr in map(PullRequest.from_api, raw or []) if not (pr.state == "closed" and not pr.merged)
            and (pattern.search(pr.body) or pattern.search(pr.title))]
