"""The one way the product talks to GitHub: the `GitHubClient` Protocol, typed on agentic/github/models.py.

Two implementations, each over the transport its caller has:

- `HubGitHub` (here): the flow, the batch and the archive sweep — each operation one tool call through the hub's
  `github-rest` server (the `openapi` server built from `agentic/github.schema.json`, docs/github-tools.md; the
  seed's npm GitHub server cannot edit a comment, react, read a permission or request reviewers). `RunDeps` makes it
  over the run's hub session.
- `GitHubRest` (rest.py): the webhook receiver, straight on the REST API (it must answer within GitHub's 10 s
  whether or not a hub is up). It implements only `GitHubAccess`, the part both share, plus its own reads.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from agentic.errors import BadIssueUrl, IssueNotFound
from agentic.github.issue_ref import IssueRef
from agentic.github.models import CheckRun, Comment, Commit, Issue, PullRequest, Review, ReviewComment
from agentic.hub.mcp_client import HubTools, ToolCallFailed

__all__ = ["GitHubAccess", "GitHubClient", "HubGitHub", "pull_number"]

SERVER = "github-rest"
NPM_SERVER = "github"  # the seed's npm GitHub server: the batch's issue listing (`list_issues`)
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})


def tool(name: str) -> str:
    """A github-rest tool the flow needs: a definition pruned to a hub's body limit keeps it
    (agentic/deployment/servers.py GITHUB_REST_OPERATIONS; tests/hub/test_mcphub_replay.py checks the two agree)."""
    return f"{SERVER}-{name}"


def best_effort(name: str) -> str:
    """A github-rest tool only the review relay uses, best effort: a pruned definition leaves it out."""
    return f"{SERVER}-{name}"


def pull_number(pull_request_url: str) -> int:
    """The number at the end of a pull request's URL (`…/pull/12`)."""
    return int(pull_request_url.rstrip("/").rsplit("/", 1)[-1])


class GitHubAccess(Protocol):
    """What the receiver and the flow both do: ask whether a login may write, acknowledge an issue (👀)."""

    async def can_write(self, ref: IssueRef, login: str) -> bool:
        """`login` has write access (write, maintain or admin) on `ref`'s repository; not a collaborator: False."""
        ...

    async def add_reaction(self, ref: IssueRef, content: str = "eyes") -> None:
        """A reaction on the issue; idempotent (GitHub answers a repeat with the existing one)."""
        ...


class GitHubClient(GitHubAccess, Protocol):
    """Every operation the product performs on GitHub (issue #22). `ref` names the repository (and, for issue
    operations, the issue); pull requests are named by their number in that repository."""

    async def read_issue(self, ref: IssueRef) -> Issue:
        """The issue and its comments; IssueNotFound, or BadIssueUrl for a pull request, before any side effect."""
        ...

    async def list_open_issues(self, owner: str, repo: str, label: str | None = None) -> list[Issue]:
        """Every open issue of the repository (with `label`), oldest first; pull requests left out, comments not
        read (the batch hands each to a run, which reads it)."""
        ...

    async def list_comments(self, ref: IssueRef, since: datetime | None = None) -> list[Comment]: ...

    async def get_comment(self, ref: IssueRef, comment_id: int) -> Comment: ...

    async def create_comment(self, ref: IssueRef, body: str) -> Comment: ...

    async def update_comment(self, ref: IssueRef, comment_id: int, body: str) -> Comment: ...

    async def default_branch(self, ref: IssueRef) -> str: ...

    async def get_pull_request(self, ref: IssueRef, number: int) -> PullRequest: ...

    async def update_pull_request_body(self, ref: IssueRef, number: int, body: str) -> None: ...

    async def request_reviewers(self, ref: IssueRef, number: int, reviewers: list[str]) -> bool:
        """False when GitHub refuses (the reviewer authored the PR, is no collaborator): not worth failing."""
        ...

    async def find_pull_request_for_session(self, ref: IssueRef, session_id: str,
                                            session_url: str | None) -> str | None:
        """The URL of the open PR whose body or head branch names this Jules session."""
        ...

    async def find_fixing_pull_requests(self, ref: IssueRef) -> list[PullRequest]:
        """Open or merged PRs whose description closes the issue."""
        ...

    async def list_check_runs(self, ref: IssueRef, commit: str) -> list[CheckRun]: ...

    async def list_reviews(self, ref: IssueRef, number: int) -> list[Review]: ...

    async def list_review_comments(self, ref: IssueRef, number: int) -> list[ReviewComment]: ...

    async def review_comment_reactors(self, ref: IssueRef, comment_id: int, content: str = "eyes") -> frozenset[str]:
        """The logins that reacted with `content` on a diff comment."""
        ...

    async def list_pull_request_commits(self, ref: IssueRef, number: int) -> list[Commit]: ...


_CLOSES = r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\s*:?\s+(?:{repo})?#{number}\b"
_PAGE = 100  # one page: the review relay and the PR searches read no further


class HubGitHub:
    """GitHubClient through the hub's `github-rest` tools, over a run's hub session."""

    def __init__(self, hub: HubTools) -> None:
        self.hub = hub

    async def read_issue(self, ref: IssueRef) -> Issue:
        args = {"owner": ref.owner, "repo": ref.repo, "issue_number": ref.number}
        try:
            raw = await self.hub.call(tool("getIssue"), args)
        except ToolCallFailed as exc:
            if exc.status in (404, 410):
                raise IssueNotFound(f"issue {ref} does not exist or the GitHub token cannot see it") from exc
            raise
        if raw.get("pull_request"):
            raise BadIssueUrl(f"{ref} is a pull request, not an issue")
        return Issue.from_api(ref, raw, comments=await self.list_comments(ref))

    async def list_open_issues(self, owner: str, repo: str, label: str | None = None) -> list[Issue]:
        """Through the npm server's `list_issues`, page by page (GitHub's issue listing includes pull requests)."""
        seen: dict[int, Issue] = {}
        page = 1
        while True:
            args: dict[str, Any] = {"owner": owner, "repo": repo, "state": "open", "per_page": _PAGE, "page": page,
                                    "sort": "created", "direction": "asc"}
            if label:
                args["labels"] = [label]
            raw = await self.hub.call(f"{NPM_SERVER}-list_issues", args)
            items = raw if isinstance(raw, list) else []
            for item in items:
                if "pull_request" in item or item.get("state", "open") != "open":
                    continue
                seen[item["number"]] = Issue.from_api(IssueRef(owner=owner, repo=repo, number=item["number"]), item)
            if len(items) < _PAGE:
                return [seen[n] for n in sorted(seen)]
            page += 1

    async def list_comments(self, ref: IssueRef, since: datetime | None = None) -> list[Comment]:
        args: dict[str, Any] = {"owner": ref.owner, "repo": ref.repo, "issue_number": ref.number, "per_page": _PAGE}
        if since:
            args["since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        comments: list[Comment] = []
        page = 1
        while True:
            raw = await self.hub.call(tool("listIssueComments"), {**args, "page": page})
            comments += [Comment.from_api(item) for item in raw or []]
            if not raw or len(raw) < _PAGE:
                return comments
            page += 1

    async def get_comment(self, ref: IssueRef, comment_id: int) -> Comment:
        raw = await self.hub.call(best_effort("getIssueComment"),
                                  {"owner": ref.owner, "repo": ref.repo, "comment_id": comment_id})
        return Comment.from_api(raw)

    async def create_comment(self, ref: IssueRef, body: str) -> Comment:
        raw = await self.hub.call(tool("createIssueComment"), {"owner": ref.owner, "repo": ref.repo,
                                                               "issue_number": ref.number, "body": {"body": body}})
        return Comment.from_api(raw)

    async def update_comment(self, ref: IssueRef, comment_id: int, body: str) -> Comment:
        raw = await self.hub.call(tool("updateIssueComment"), {"owner": ref.owner, "repo": ref.repo,
                                                               "comment_id": comment_id, "body": {"body": body}})
        return Comment.from_api(raw)

    async def add_reaction(self, ref: IssueRef, content: str = "eyes") -> None:
        await self.hub.call(tool("createIssueReaction"), {"owner": ref.owner, "repo": ref.repo,
                                                          "issue_number": ref.number, "body": {"content": content}})

    async def can_write(self, ref: IssueRef, login: str) -> bool:
        try:
            raw = await self.hub.call(tool("getCollaboratorPermission"),
                                      {"owner": ref.owner, "repo": ref.repo, "username": login})
        except ToolCallFailed as exc:
            if exc.status == 404:
                return False
            raise
        return raw.get("permission") in WRITE_PERMISSIONS or (raw.get("role_name") in WRITE_PERMISSIONS)

    async def default_branch(self, ref: IssueRef) -> str:
        raw = await self.hub.call(tool("getRepo"), {"owner": ref.owner, "repo": ref.repo})
        return raw.get("default_branch") or "main"

    async def get_pull_request(self, ref: IssueRef, number: int) -> PullRequest:
        raw = await self.hub.call(tool("getPullRequest"), {"owner": ref.owner, "repo": ref.repo, "pull_number": number})
        return PullRequest.from_api(raw)

    async def list_check_runs(self, ref: IssueRef, commit: str) -> list[CheckRun]:
        """Newest first; the first 100 (one page) is enough to judge. `commit`: a SHA or a branch name."""
        raw = await self.hub.call(tool("listCheckRunsForRef"), {"owner": ref.owner, "repo": ref.repo, "ref": commit,
                                                               "per_page": _PAGE})
        runs = raw.get("check_runs") if isinstance(raw, dict) else None
        return [CheckRun.from_api(r) for r in runs or [] if isinstance(r, dict)]

    async def update_pull_request_body(self, ref: IssueRef, number: int, body: str) -> None:
        await self.hub.call(tool("updatePullRequest"),
                            {"owner": ref.owner, "repo": ref.repo, "pull_number": number, "body": {"body": body}})

    async def request_reviewers(self, ref: IssueRef, number: int, reviewers: list[str]) -> bool:
        try:
            await self.hub.call(tool("requestReviewers"), {"owner": ref.owner, "repo": ref.repo, "pull_number": number,
                                                           "body": {"reviewers": reviewers}})
        except ToolCallFailed as exc:
            if exc.status == 422:
                return False
            raise
        return True

    async def find_pull_request_for_session(self, ref: IssueRef, session_id: str,
                                            session_url: str | None) -> str | None:
        """For a session whose `outputs` came back empty: Jules links the session in the PR and names branches
        after the task."""
        raw = await self.hub.call(tool("listPullRequests"), {"owner": ref.owner, "repo": ref.repo, "state": "open",
                                                             "per_page": _PAGE, "sort": "created", "direction": "desc"})
        for pr in map(PullRequest.from_api, raw or []):
            text = f"{pr.body}\n{pr.head_ref}"
            if session_id in text or (session_url and session_url in text):
                return pr.html_url or None
        return None

    async def find_fixing_pull_requests(self, ref: IssueRef) -> list[PullRequest]:
        """`Fixes #N`, `Closes owner/repo#N`: the issue is already being fixed, a second PR would compete.
        Closed-unmerged PRs do not count. Newest first, one page."""
        pattern = re.compile(_CLOSES.format(repo=re.escape(ref.full_name), number=ref.number), re.IGNORECASE)
        raw = await self.hub.call(tool("listPullRequests"), {"owner": ref.owner, "repo": ref.repo, "state": "all",
                                                             "per_page": _PAGE, "sort": "updated", "direction": "desc"})
        return [pr for pr in map(PullRequest.from_api, raw or []) if not (pr.state == "closed" and not pr.merged)
                and (pattern.search(pr.body) or pattern.search(pr.title))]

    async def list_reviews(self, ref: IssueRef, number: int) -> list[Review]:
        raw = await self.hub.call(best_effort("listReviews"), self._pull_page(ref, number))
        return [Review.from_api(r) for r in raw or [] if isinstance(r, dict) and "id" in r]

    async def list_review_comments(self, ref: IssueRef, number: int) -> list[ReviewComment]:
        raw = await self.hub.call(best_effort("listReviewComments"), self._pull_page(ref, number))
        return [ReviewComment.from_api(c) for c in raw or [] if isinstance(c, dict)]

    async def review_comment_reactors(self, ref: IssueRef, comment_id: int, content: str = "eyes") -> frozenset[str]:
        raw = await self.hub.call(best_effort("listReviewCommentReactions"), {
            "owner": ref.owner, "repo": ref.repo, "comment_id": comment_id, "content": content, "per_page": _PAGE})
        return frozenset(str((r.get("user") or {}).get("login") or "") for r in raw or [] if isinstance(r, dict))

    async def list_pull_request_commits(self, ref: IssueRef, number: int) -> list[Commit]:
        raw = await self.hub.call(best_effort("listPullRequestCommits"), self._pull_page(ref, number))
        return [Commit.from_api(c) for c in raw or [] if isinstance(c, dict)]

    @staticmethod
    def _pull_page(ref: IssueRef, number: int) -> dict[str, Any]:
        return {"owner": ref.owner, "repo": ref.repo, "pull_number": number, "per_page": _PAGE}
