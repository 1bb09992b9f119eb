"""The poller against the GitHub simulator over HTTP and a real Prefect: new comments become the same decisions as
webhooks; an unchanged list is a 304 (ETag) that costs no rate limit; rate limits pause the repository."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest

from agentic.sandbox.github import DEMO_SEED, create_app as create_simulator, load_seed_file
from agentic.stacks.ports import free_port
from agentic.triggers import ReceiverConfig, Rules
from agentic.triggers.app import Receiver
from agentic.github.comments import CommentFeed
from agentic.triggers.poller import PollState, poll_once
from tests.triggers.test_receiver_e2e import deployment_id, runs_for, serving  # noqa: F401 - fixture

REPO = "/repos/acme/widgets"


def as_user(login: str) -> dict[str, str]:
    return {"Authorization": f"Bearer sim-token-{login}"}


@contextlib.asynccontextmanager
async def polling():
    """The GitHub simulator on a free port (no webhooks: nobody can reach us), a client as the product's token, the
    receiver the poller feeds, and a fresh cursor."""
    from prefect import get_client

    port = free_port()
    api = f"http://127.0.0.1:{port}"
    simulator = create_simulator({"seed": load_seed_file(DEMO_SEED)})
    config = ReceiverConfig(api_url=api, token="sim-token-agent", secret=None, rules=Rules())
    async with serving(simulator, port), get_client() as prefect, \
            httpx.AsyncClient(base_url=api, headers=as_user("agent"), timeout=10) as http:
        receiver = Receiver(config, prefect_client=prefect)
        try:
            yield api, http, receiver, PollState()
        finally:
            await receiver.github.aclose()


async def test_comments_are_polled_conditionally_and_feed_the_receivers_rules(deployment_id):  # noqa: F811
    async with polling() as (api, http, receiver, state):
        old = (await http.post(f"{REPO}/issues", json={"title": "Old [poller]", "body": "b"},
                               headers=as_user("alice"))).json()
        await http.post(f"{REPO}/issues/{old['number']}/comments", json={"body": "/jules"}, headers=as_user("alice"))
        baseline = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state)
        assert [r["status"] for r in baseline] == ["baseline"]  # history is not replayed
        assert await runs_for(deployment_id, old["html_url"], api) == []
        await asyncio.sleep(1.1)  # the new comments are a second later than the baseline: the cursor must move

        issue = (await http.post(f"{REPO}/issues", json={"title": "Dash [poller]", "body": "slugify"},
                                 headers=as_user("alice"))).json()
        number = issue["number"]
        for who, text in (("mallory", "/jules"), ("alice", "/jules please"), ("agent", "/jules")):
            await http.post(f"{REPO}/issues/{number}/comments", json={"body": text}, headers=as_user(who))
        report = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state)
        assert [(r["status"], r["reason"]) for r in report] == [
            ("ignored", "sender mallory has read access; write is needed"),
            ("accepted", "issue_comment.created by alice: run started"),
            ("ignored", "sender issue-agent[bot] is a bot")], report
        [run] = await runs_for(deployment_id, issue["html_url"], api)
        assert run.parameters == {"github_issue_url": issue["html_url"], "requested_by": "alice"}

        # The cursor moved to the newest comment's second: the next listing is a new query (the ETag held answered
        # the old one), 200 with nothing new in it, whose ETag makes the one after that a 304. (This once flaked:
        # the quiet poll was expected to be the 304 and was one only when every comment shared the baseline's second.)
        settle = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state)
        assert settle == [], settle
        before = (await http.get("/_sim/requests")).json()["routes"]
        limit_before = (await http.get("/user")).headers["x-ratelimit-remaining"]
        quiet = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state)
        assert quiet == [{"repo": "acme/widgets", "status": "not-modified"}]
        after = (await http.get("/_sim/requests")).json()["routes"]
        assert after["GET /repos/{owner}/{repo}/issues/comments"] == before["GET /repos/{owner}/{repo}/issues/comments"] + 1
        # The 304 was free: only the two GET /user calls count (GitHub does not charge conditional hits).
        assert int((await http.get("/user")).headers["x-ratelimit-remaining"]) == int(limit_before) - 1

        # A secondary rate limit with Retry-After pauses the repository until then; nothing is lost meanwhile.
        await http.post("/_sim/faults", json={"status": 403, "count": 1, "retry_after": 30,
                                              "match": "GET /repos/acme/widgets/issues/comments"})
        await http.post(f"{REPO}/issues/{number}/comments", json={"body": "@jules ping"}, headers=as_user("alice"))
        now = time.time()
        limited = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state, now=now)
        assert limited[0]["status"] == "rate-limited" and 29 <= limited[0]["until"] - now <= 31
        meanwhile = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state, now=now + 5)
        assert meanwhile[0]["status"] == "rate-limited"
        later = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state, now=now + 31)
        assert [(r["status"], r.get("flow_run_id")) for r in later] == [("duplicate", str(run.id))]
    from prefect import get_client

    async with get_client() as client:
        await client.delete_flow_run(run.id)  # never executed by a later served deployment


async def test_the_baseline_is_the_newest_comment_and_a_failed_comment_is_polled_again(prefect_api_url):
    """Review findings: with over 100 comments the first pass must not set its baseline inside history (the next
    pass would replay the rest), and a comment whose handling hit a GitHub blip is not marked handled."""
    async with polling() as (_api, http, receiver, state):
        issue = (await http.post(f"{REPO}/issues", json={"title": "Busy [poller]", "body": "b"},
                                 headers=as_user("alice"))).json()
        for n in range(105):
            await http.post(f"{REPO}/issues/{issue['number']}/comments", json={"body": f"old comment {n}"},
                            headers=as_user("alice"))
        baseline = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state)
        assert [r["status"] for r in baseline] == ["baseline"]
        assert await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state) in (
            [{"repo": "acme/widgets", "status": "not-modified"}], [])  # nothing of history comes back
        await http.post(f"{REPO}/issues/{issue['number']}/comments", json={"body": "a new comment"},
                        headers=as_user("alice"))
        await http.post("/_sim/faults", json={"status": 502, "count": 1,
                                              "match": f"GET /repos/acme/widgets/issues/{issue['number']}"})
        failed = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state)
        assert [r["status"] for r in failed] == ["retry-later"], failed
        again = await poll_once(receiver, CommentFeed(http), ["acme/widgets"], state)
        assert [(r["status"], r["comment"]) for r in again] == [("ignored", failed[0]["comment"])], again
