"""Every Jules list call is bounded (issue #24): a `nextPageToken` that repeats, as live Jules' last page can give,
once looped `listActivities` forever (8,481 calls in 137 s). No server: `PageWalk` alone, then `JulesClient` over a
stand-in for the hub that answers Jules' JSON the way the hub passes it through."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from agentic.jules.client import MAX_PAGES, JulesClient, PageWalk

SID = "4402345678901234567"


def test_a_walk_follows_new_tokens_and_stops_at_the_end():
    walk = PageWalk()
    assert [walk.follow("a"), walk.follow("b"), walk.follow(None)] == ["a", "b", None]
    assert walk.stopped is None and walk.pages == 3


def test_a_repeated_token_stops_the_walk_and_says_so():
    walk = PageWalk()
    assert walk.follow("t1") == "t1"
    assert walk.follow("t1") is None
    assert walk.stopped == "nextPageToken repeated after 2 page(s)"


def test_a_token_seen_pages_ago_is_a_loop_too():
    walk = PageWalk()
    assert [walk.follow(t) for t in ("a", "b", "c", "a")] == ["a", "b", "c", None]
    assert "repeated" in walk.stopped


def test_the_page_cap_stops_a_walk_of_ever_new_tokens():
    walk = PageWalk(max_pages=4)
    assert [walk.follow(f"t{i}") for i in range(4)] == ["t0", "t1", "t2", None]
    assert walk.stopped == "still a nextPageToken after 4 pages (the cap)"


class JulesPages:
    """Stands in for the hub's `jules-listActivities` tool: `pages` in order, then the last one again and again with
    the same `nextPageToken` (live Jules' repeating token), or fresh tokens for ever (`endless`)."""

    def __init__(self, pages: list[dict[str, Any]], endless: bool = False) -> None:
        self.pages, self.endless, self.requests = pages, endless, []

    def calls_to(self, server: str) -> int:
        return len(self.requests)

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        await asyncio.sleep(0)  # a real call yields: the old unbounded loop stays cancellable by the test's timeout
        assert tool == "jules-listActivities" and arguments["sessionId"] == SID
        self.requests.append(dict(arguments))
        if len(self.requests) > 10_000:
            raise AssertionError("unbounded listActivities")
        if self.endless:
            return {"activities": [], "nextPageToken": f"fresh-{len(self.requests)}"}
        return self.pages[min(len(self.requests), len(self.pages)) - 1]


def activity(n: int) -> dict[str, Any]:
    return {"name": f"sessions/{SID}/activities/a{n}", "id": f"a{n}", "createTime": f"2026-12-01T10:00:{n:02d}Z",
            "originator": "agent", "progressUpdated": {"title": f"step {n}"}}


async def test_a_repeating_page_token_ends_with_the_activities_read_and_a_warning(caplog):
    completed = {**activity(3), "sessionCompleted": {}}
    del completed["progressUpdated"]
    hub = JulesPages([{"activities": [activity(1), activity(2)], "nextPageToken": "1764583202000000000"},
                      {"activities": [completed], "nextPageToken": "1764583203000000000"},
                      {"nextPageToken": "1764583203000000000"}])  # from here on: the same token, no activities
    with caplog.at_level(logging.WARNING, logger="agentic.jules.client"):
        got = await asyncio.wait_for(JulesClient(hub).list_activities(SID), 10)
    assert [a.id for a in got] == ["a1", "a2", "a3"] and got[-1].session_completed is not None
    assert len(hub.requests) == 3
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert SID in warning and "repeated" in warning and "3 activities" in warning


async def test_a_repeated_page_is_not_listed_twice():
    page = {"activities": [activity(1)], "nextPageToken": "same"}
    got = await asyncio.wait_for(JulesClient(JulesPages([page])).list_activities(SID), 10)
    assert [a.id for a in got] == ["a1"]


async def test_ever_new_tokens_stop_at_the_page_cap(caplog):
    hub = JulesPages([], endless=True)
    with caplog.at_level(logging.WARNING, logger="agentic.jules.client"):
        assert await asyncio.wait_for(JulesClient(hub).list_activities(SID, "2026-12-01T10:00:00Z"), 10) == []
    assert len(hub.requests) == MAX_PAGES
    assert all(r["filter"] == 'create_time>="2026-12-01T10:00:00Z"' for r in hub.requests)
    assert any("the cap" in r.getMessage() and SID in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("token", [None, ""])
async def test_the_last_page_ends_the_walk_without_a_warning(caplog, token):
    hub = JulesPages([{"activities": [activity(1)], **({"nextPageToken": token} if token is not None else {})}])
    with caplog.at_level(logging.WARNING, logger="agentic.jules.client"):
        assert [a.id for a in await JulesClient(hub).list_activities(SID)] == ["a1"]
    assert len(hub.requests) == 1 and not caplog.records
