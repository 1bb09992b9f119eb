"""GitHub's resources as the product reads them: typed, with only the fields it uses.

Built from the REST API's JSON (`from_api`), whatever reaches it (the hub's `github-rest` tools, the simulator):
a field GitHub leaves out or sends as null takes its default, so a reader never guards against a missing key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from agentic.github.issue_ref import IssueRef


def _login(user: Any) -> str:
    return str(user.get("login") or "") if isinstance(user, dict) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Comment(BaseModel):
    id: int
    author: str
    body: str
    created_at: datetime

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Comment:
        return cls(id=raw["id"], author=_login(raw.get("user")), body=raw.get("body") or "",
                   created_at=raw["created_at"])


class Issue(BaseModel):
    ref: IssueRef
    title: str
    body: str
    author: str
    state: str
    locked: bool = False
    lock_reason: str | None = None
    labels: list[str]
    html_url: str
    comments: list[Comment] = []

    @classmethod
    def from_api(cls, ref: IssueRef, raw: dict[str, Any], comments: list[Comment] | None = None) -> Issue:
        return cls(ref=ref, title=str(raw.get("title") or ""), body=str(raw.get("body") or ""),
                   author=_login(raw.get("user")), state=str(raw.get("state") or "open"),
                   locked=bool(raw.get("locked")), lock_reason=raw.get("active_lock_reason"),
                   labels=[str(label["name"]) for label in raw.get("labels") or []
                           if isinstance(label, dict) and "name" in label],
                   html_url=str(raw.get("html_url") or ""), comments=comments or [])


class PullRequest(BaseModel):
    number: int
    html_url: str = ""
    state: str = "open"            # open | closed
    merged: bool = False
    title: str = ""
    body: str = ""
    author: str = ""               # who opened it (Jules' login for its PRs)
    head_ref: str = ""
    head_sha: str = ""
    base_ref: str = ""
    requested_reviewers: list[str] = []

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> PullRequest:
        head, base = _dict(raw.get("head")), _dict(raw.get("base"))
        return cls(number=int(raw.get("number") or 0), html_url=str(raw.get("html_url") or ""),
                   state=str(raw.get("state") or "open"),
                   # a listing has no `merged`; `merged_at` says it there
                   merged=bool(raw.get("merged") or raw.get("merged_at")),
                   title=str(raw.get("title") or ""), body=str(raw.get("body") or ""), author=_login(raw.get("user")),
                   head_ref=str(head.get("ref") or ""), head_sha=str(head.get("sha") or ""),
                   base_ref=str(base.get("ref") or ""),
                   requested_reviewers=[login for r in raw.get("requested_reviewers") or [] if (login := _login(r))])


class CheckRun(BaseModel):
    id: int = 0
    name: str = ""
    status: str = ""               # queued | in_progress | completed (and GitHub's newer waiting states)
    conclusion: str | None = None  # success | failure | neutral | skipped | ... once completed
    title: str = ""                # its output, as GitHub Actions writes it
    summary: str = ""
    text: str = ""

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> CheckRun:
        output = _dict(raw.get("output"))
        return cls(id=int(raw.get("id") or 0), name=str(raw.get("name") or ""), status=str(raw.get("status") or ""),
                   conclusion=raw.get("conclusion") if isinstance(raw.get("conclusion"), str) else None,
                   title=str(output.get("title") or ""), summary=str(output.get("summary") or ""),
                   text=str(output.get("text") or ""))


def _time(raw: Any) -> datetime | None:
    """An API timestamp, None when absent or unreadable (a review still pending has no `submitted_at`)."""
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None


class Review(BaseModel):
    """A pull request review (its diff comments are listed apart: ReviewComment)."""

    id: int
    author: str = ""
    state: str = ""                # APPROVED | CHANGES_REQUESTED | COMMENTED | PENDING | DISMISSED
    body: str = ""
    submitted_at: datetime | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Review:
        return cls(id=int(raw["id"]), author=_login(raw.get("user")), state=str(raw.get("state") or ""),
                   body=str(raw.get("body") or ""), submitted_at=_time(raw.get("submitted_at")))


class ReviewComment(BaseModel):
    """A comment on a pull request's diff; `review_id` None when it belongs to no review."""

    id: int
    review_id: int | None = None
    body: str = ""
    path: str = ""
    line: int | None = None
    eyes: int = 0                  # the 👀 count of its reactions rollup (who: GitHubClient.review_comment_reactors)

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ReviewComment:
        line, review = raw.get("line"), raw.get("pull_request_review_id")
        return cls(id=int(raw["id"]), review_id=int(review) if review else None, body=str(raw.get("body") or ""),
                   path=str(raw.get("path") or ""), line=line if isinstance(line, int) else None,
                   eyes=int(_dict(raw.get("reactions")).get("eyes") or 0))


class Commit(BaseModel):
    """A commit of a pull request."""

    sha: str = ""
    message: str = ""

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Commit:
        return cls(sha=str(raw.get("sha") or ""), message=str(_dict(raw.get("commit")).get("message") or ""))
