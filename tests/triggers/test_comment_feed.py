"""The poller's view of GitHub (agentic/github/comments.py) against the GitHub simulator in this process: the
listing is conditional on its ETag, pages past 100, and reads GitHub's rate-limit answers as "not before"."""

from __future__ import annotations

import time

import httpx
import pytest

from agentic.github.comments import PAGE, CommentFeed, rate_limited_until
from agentic.sandbox.github import DEMO_SEED, create_app, load_seed_file
from agentic.testing.inprocess import asgi_client

REPO = "acme/widgets"


def as_user(login: str) -> dict[str, str]:
    return {"Authorization": f"Bearer sim-token-{login}"}


@pytest.fixture
async def github():
    async with asgi_client(create_app({"seed": load_seed_file(DEMO_SEED)}), headers=as_user("agent")) as http:
        yield http


async def _comment(http: httpx.AsyncClient, number: int, body: str) -> dict:
    return (await http.post(f"/repos/{REPO}/issues/{number}/comments", json={"body": body},
                            headers=as_user("alice"))).raise_for_status().json()


async def test_an_unchanged_listing_is_a_304_and_a_new_comment_is_not(github):
    feed, now = CommentFeed(github), time.time()
    first = await feed.listing(REPO, since=None, newest_first=True, etag=None, now=now)
    assert first.status == "ok" and first.etag and first.remaining is not None and first.reset is not None
    same = await feed.listing(REPO, since=None, newest_first=True, etag=first.etag, now=now)
    assert same.status == "not-modified" and same.comments == []
    added = await _comment(github, 1, "/jules")
    changed = await feed.listing(REPO, since=None, newest_first=True, etag=first.etag, now=now)
    assert changed.status == "ok" and changed.comments[0]["id"] == added["id"] and changed.etag != first.etag
    # What the delivery carries besides the comment: its repository and its issue, as GitHub's objects.
    assert (await feed.repository(REPO))["full_name"] == REPO
    assert (await feed.issue(added["issue_url"]))["number"] == 1


async def test_pages_continue_the_same_listing_in_order(github):
    feed = CommentFeed(github)
    bodies = [f"c{n}" for n in range(PAGE + 5)]
    for body in bodies:
        await _comment(github, 1, body)
    first = await feed.listing(REPO, since="2000-01-01T00:00:00Z", newest_first=False, etag=None, now=time.time())
    second = await feed.page(REPO, since="2000-01-01T00:00:00Z", newest_first=False, page=2)
    listed = [c["body"] for c in first.comments + second]
    assert len(first.comments) == PAGE and [b for b in listed if b in bodies] == bodies


@pytest.mark.parametrize(("fault", "wait"), [({"retry_after": 30}, 30), ({"retry_after": 7, "status": 429}, 7)])
async def test_a_rate_limit_answer_is_a_time_not_an_error(github, fault, wait):
    await github.post("/_sim/faults", json={"status": 403, "count": 1, "match": f"GET /repos/{REPO}/issues/comments",
                                            **fault})
    now = time.time()
    limited = await CommentFeed(github).listing(REPO, since=None, newest_first=True, etag=None, now=now)
    assert limited.status == "rate-limited" and limited.until == pytest.approx(now + wait)


def _answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


def test_which_answers_are_rate_limits():
    now = 1000.0
    assert rate_limited_until(_answer(403, **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1600"}), now) == 1600
    assert rate_limited_until(_answer(429, **{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}), now) == now + 60
    assert rate_limited_until(_answer(403, **{"x-ratelimit-remaining": "12"}), now) is None  # a permission 403
    assert rate_limited_until(_answer(200, **{"retry-after": "5"}), now) is None


async def test_a_server_error_is_raised_for_the_caller_to_retry(github):
    await github.post("/_sim/faults", json={"status": 502, "count": 1, "match": f"GET /repos/{REPO}/issues/comments"})
    with pytest.raises(httpx.HTTPStatusError):
        await CommentFeed(github).listing(REPO, since=None, newest_first=True, etag=None, now=time.time())
