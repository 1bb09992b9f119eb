"""Parse a GitHub issue URL before anything else happens: a bad URL must fail with no side effect."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from pydantic import BaseModel

from agentic.errors import BadIssueUrl

_PATH = re.compile(r"^/(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9._-]+)/(?P<kind>issues|pull|pulls)/(?P<number>\d+)/?$")


class IssueRef(BaseModel, frozen=True):
    owner: str
    repo: str
    number: int

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def key(self) -> str:
        """Stable identity of the issue: `owner/repo#number` (lowercase, as GitHub names are case-insensitive)."""
        return f"{self.owner.lower()}/{self.repo.lower()}#{self.number}"

    def __str__(self) -> str:
        return f"{self.full_name}#{self.number}"


def parse_issue_url(url: str) -> IssueRef:
    """`https://github.com/OWNER/REPO/issues/N` -> IssueRef; anything else raises BadIssueUrl saying why."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BadIssueUrl(f"not a URL: {url!r}; expected https://github.com/OWNER/REPO/issues/NUMBER")
    match = _PATH.match(parsed.path)
    if not match:
        raise BadIssueUrl(f"not a GitHub issue URL: {url!r}; expected https://github.com/OWNER/REPO/issues/NUMBER")
    if match["kind"] != "issues":
        raise BadIssueUrl(f"{url!r} is a pull request, not an issue; give the issue it should fix")
    number = int(match["number"])
    if number < 1:
        raise BadIssueUrl(f"issue number must be positive in {url!r}")
    return IssueRef(owner=match["owner"], repo=match["repo"], number=number)
