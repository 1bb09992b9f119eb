"""Open the pull request of a completed AUTO_CREATE_PR session on a GitHub REST API (the GitHub simulator).

Four calls, as a GitHub App would make them: read the starting branch's tip, create the head branch from it,
commit the file onto it, open the pull request (and, live profile, one more commit after COMPLETED). Any failure
becomes `PublishError` with a one-line reason that the session reports in `sessionFailed.reason` (tokens never
appear in it).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx


class PublishError(Exception):
    """GitHub refused or could not be reached; the message is the session's failure reason."""


@dataclass(frozen=True)
class PullRequestDraft:
    owner: str
    repo: str
    base: str
    head: str
    path: str
    content: str
    commit_message: str
    title: str
    body: str


def github_client(base_url: str, token: str | None, timeout: float = 10.0,
                  transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """A client for the GitHub REST API at `base_url` (`transport` lets tests reach an in-process simulator)."""
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "jules-sandbox",
               "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)


async def _call(client: httpx.AsyncClient, method: str, path: str, json: dict | None = None) -> dict[str, Any]:
    try:
        response = await client.request(method, path, json=json)
    except httpx.HTTPError as exc:
        raise PublishError(f"GitHub {method} {path} failed: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        try:
            message = response.json().get("message", "")
        except ValueError:
            message = response.text[:200]
        raise PublishError(f"GitHub {method} {path} answered {response.status_code}: {message}")
    try:
        return response.json()
    except ValueError:
        raise PublishError(f"GitHub {method} {path} answered {response.status_code} with a non-JSON body") from None


async def base_commit(client: httpx.AsyncClient, owner: str, repo: str, branch: str) -> str:
    """SHA at the tip of `branch`."""
    ref = await _call(client, "GET", f"/repos/{owner}/{repo}/git/ref/heads/{quote(branch, safe='/')}")
    try:
        return ref["object"]["sha"]
    except (KeyError, TypeError):
        raise PublishError(f"GitHub ref heads/{branch} of {owner}/{repo} has no object.sha") from None


async def push_follow_up(client: httpx.AsyncClient, draft: PullRequestDraft, content: str, message: str) -> str:
    """One more commit of `draft.path` on the PR's head branch (live profile: Jules pushes after COMPLETED);
    returns the new commit's SHA."""
    repo = f"/repos/{draft.owner}/{draft.repo}"
    path = quote(draft.path, safe="/")
    current = await _call(client, "GET", f"{repo}/contents/{path}?ref={quote(draft.head, safe='')}")
    written = await _call(client, "PUT", f"{repo}/contents/{path}", {
        "message": message, "branch": draft.head, "sha": current.get("sha"),
        "content": base64.b64encode(content.encode()).decode(),
    })
    return (written.get("commit") or {}).get("sha", "")


async def open_pull_request(client: httpx.AsyncClient, draft: PullRequestDraft, base_sha: str) -> dict[str, Any]:
    """Branch, commit, pull request; returns GitHub's pull request object."""
    repo = f"/repos/{draft.owner}/{draft.repo}"
    await _call(client, "POST", f"{repo}/git/refs", {"ref": f"refs/heads/{draft.head}", "sha": base_sha})
    await _call(client, "PUT", f"{repo}/contents/{quote(draft.path, safe='/')}", {
        "message": draft.commit_message, "branch": draft.head,
        "content": base64.b64encode(draft.content.encode()).decode(),
    })
    pull = await _call(client, "POST", f"{repo}/pulls",
                       {"title": draft.title, "head": draft.head, "base": draft.base, "body": draft.body})
    if not pull.get("html_url"):
        raise PublishError(f"GitHub POST {repo}/pulls returned no html_url")
    return pull
