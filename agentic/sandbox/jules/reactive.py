"""Reactive Mode: Jules takes up review comments on the pull requests it opened by itself, without an API message.

Live Jules, when the repository's Jules settings allow it, watches its pull requests: a review comment that mentions
`@jules` gets 👀 from Jules' GitHub login (`google-labs-jules[bot]`), then Jules pushes a commit to the PR's branch and
says so in a comment on the pull request (as issue #23 describes it; Jules' first comment on its PRs, "👋 Jules,
reporting for duty!", announces that it reads the comments). The exact wording and timing are not documented. Here the
session's script, once its PR is open, polls the PR's review comments every tick (the simulator has no webhook of its
own) and does the same three things, and records a progressUpdated activity on the session. Off (the default) it does
nothing by itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import httpx

from agentic.sandbox.jules.publish import PublishError, PullRequestDraft, push_follow_up

if TYPE_CHECKING:
    from agentic.sandbox.jules.scripts import SessionRun

log = logging.getLogger(__name__)
MENTION = re.compile(r"(?<![\w@/])@jules\b", re.IGNORECASE)


def takes(comment: dict, own_login: str, seen: set[int]) -> bool:
    """A review comment Jules takes up: new, not its own, mentioning @jules."""
    author = str((comment.get("user") or {}).get("login") or "")
    return (comment.get("id") not in seen and author.lower() != own_login.lower()
            and bool(MENTION.search(str(comment.get("body") or ""))))


async def _json(client: httpx.AsyncClient, method: str, path: str, body: dict | None = None) -> object:
    response = await client.request(method, path, json=body)
    response.raise_for_status()
    return response.json()


async def _unless_unchanged(client: httpx.AsyncClient, path: str, etags: dict[str, str]) -> object | None:
    """GET `path`, conditionally: None when it has not changed since the last read. A 304 costs no rate limit, so
    a watcher polling every tick does not spend its login's 5,000 calls an hour (it once did, in under 5 minutes,
    and every later session of that simulator failed to read its branch)."""
    response = await client.get(path, headers={"If-None-Match": etags[path]} if path in etags else {})
    if response.status_code == 304:
        return None
    response.raise_for_status()
    if etag := response.headers.get("etag"):
        etags[path] = etag
    return response.json()


async def watch_reviews(run: SessionRun, draft: PullRequestDraft, number: int, own_login: str) -> None:
    """Until the pull request closes: 👀, a commit and a PR comment for each review comment that mentions @jules."""
    repo = f"/repos/{draft.owner}/{draft.repo}"
    seen: set[int] = set()
    taken = 0
    etags: dict[str, str] = {}
    while True:
        await run.tick()
        try:
            pull = await _unless_unchanged(run.github, f"{repo}/pulls/{number}", etags)
            if pull is not None and (not isinstance(pull, dict) or pull.get("state") != "open"):
                return
            comments = await _unless_unchanged(run.github, f"{repo}/pulls/{number}/comments?per_page=100", etags)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("session %s: reading review comments failed: %s", run.record.id, exc)
            continue
        for comment in comments if isinstance(comments, list) else []:
            if not takes(comment, own_login, seen):
                seen.add(comment.get("id"))
                continue
            seen.add(comment["id"])
            try:
                await _json(run.github, "POST", f"{repo}/pulls/comments/{comment['id']}/reactions",
                            {"content": "eyes"})
                await run.tick()
                taken += 1
                author = (comment.get("user") or {}).get("login")
                first = str(comment.get("body") or "").strip().splitlines()[0][:50]
                content = draft.content + f"\nReview {taken}: addressed @{author}'s comment on {comment.get('path')}.\n"
                sha = await push_follow_up(run.github, draft, content, f"Address review comment: {first}")
                await _json(run.github, "POST", f"{repo}/issues/{number}/comments", {
                    "body": f"I've pushed commit {sha[:7]} addressing the review comment by @{author}."})
            except (httpx.HTTPError, PublishError, ValueError) as exc:
                log.warning("session %s: reacting to review comment %s failed: %s", run.record.id, comment["id"], exc)
                continue
            run.store.add_activity(run.record, "agent", "progressUpdated", {
                "title": "Addressed a review comment",
                "description": f"Pushed commit {sha[:7]} to {draft.head} for a review comment by @{author}."},
                description="Addressed a review comment")


def start(run: SessionRun, draft: PullRequestDraft, pull: dict) -> asyncio.Task | None:
    """The watcher task for a session in Reactive Mode (None when it is off)."""
    if not run.record.reactive:
        return None
    own = str((pull.get("user") or {}).get("login") or "")
    return asyncio.create_task(watch_reviews(run, draft, int(pull["number"]), own),
                               name=f"jules-reactive-{run.record.id}")
