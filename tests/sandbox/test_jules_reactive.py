"""Jules' Reactive Mode in the simulators (in-process): a review comment mentioning @jules on the PR Jules opened gets
Jules' 👀, a commit on the PR branch and a PR comment saying so; without Reactive Mode nothing happens by itself; a
message after COMPLETED gets a commit on the same branch."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from agentic.sandbox.github import DEMO_SEED, create_app as create_github_app, load_seed_file
from agentic.sandbox.jules import DEFAULT_API_KEY, DEMO_CONFIG, create_app, load_config
from agentic.sandbox.jules.config import ScenarioRule
from agentic.sandbox.jules.publish import github_client

REPO = "/repos/acme/widgets"


@pytest.fixture
async def stack():
    github_app = create_github_app({"seed": load_seed_file(DEMO_SEED)})
    transport = httpx.ASGITransport(app=github_app)
    config = load_config(DEMO_CONFIG, tick_seconds=0.02,
                         scenarios=[ScenarioRule(match="REACTIVE", reactive=True)])
    gh_for_jules = github_client("http://github.test", config.github_token, transport=transport)
    jules_app = create_app(config, github=gh_for_jules)
    jules = httpx.AsyncClient(transport=httpx.ASGITransport(app=jules_app), base_url="http://jules.test/v1alpha",
                              headers={"X-Goog-Api-Key": DEFAULT_API_KEY})
    maintainer = httpx.AsyncClient(transport=transport, base_url="http://github.test",
                                   headers={"Authorization": "Bearer sim-token-octo-maintainer"})
    yield jules, maintainer
    await jules.aclose()
    await jules_app.state.simulator.aclose()
    await gh_for_jules.aclose()
    await maintainer.aclose()


async def _completed_pr(jules: httpx.AsyncClient, prompt: str) -> tuple[str, int]:
    created = (await jules.post("/sessions", json={
        "prompt": prompt, "automationMode": "AUTO_CREATE_PR",
        "sourceContext": {"source": "sources/github/acme/widgets",
                          "githubRepoContext": {"startingBranch": "main"}}})).json()
    for _ in range(500):
        session = (await jules.get(f"/sessions/{created['id']}")).json()
        if session["state"] == "COMPLETED":
            url = next(o["pullRequest"]["url"] for o in session["outputs"] if "pullRequest" in o)
            return session["id"], int(url.rsplit("/", 1)[1])
        await asyncio.sleep(0.01)
    raise AssertionError(f"session did not complete: {session['state']}")


async def _review_comment(gh: httpx.AsyncClient, number: int, session_id: str, body: str) -> dict:
    commits = (await gh.get(f"{REPO}/pulls/{number}/commits")).json()
    response = await gh.post(f"{REPO}/pulls/{number}/comments", json={
        "body": body, "commit_id": commits[-1]["sha"], "path": f"jules/session-{session_id}.md", "line": 1})
    assert response.status_code == 201, response.text
    return response.json()


async def _settle(gh: httpx.AsyncClient, number: int, commits: int, seconds: float = 3.0) -> list[dict]:
    for _ in range(int(seconds / 0.02)):
        listed = (await gh.get(f"{REPO}/pulls/{number}/commits")).json()
        if len(listed) >= commits:
            return listed
        await asyncio.sleep(0.02)
    return (await gh.get(f"{REPO}/pulls/{number}/commits")).json()


async def test_reactive_mode_takes_a_mentioning_review_comment(stack):
    jules, gh = stack
    session_id, number = await _completed_pr(jules, "REACTIVE: strip dashes\n\nFixes #1")
    ignored = await _review_comment(gh, number, session_id, "Nice, no action needed")
    comment = await _review_comment(gh, number, session_id, "@jules please keep the old name as an alias")
    commits = await _settle(gh, number, 2)
    assert [c["commit"]["message"] for c in commits][1:] == [
        "Address review comment: @jules please keep the old name as an alias"]
    eyes = (await gh.get(f"{REPO}/pulls/comments/{comment['id']}/reactions")).json()
    assert [(r["content"], r["user"]["login"]) for r in eyes] == [("eyes", "jules-sandbox[bot]")]
    assert (await gh.get(f"{REPO}/pulls/comments/{ignored['id']}/reactions")).json() == []
    said = [c["body"] for c in (await gh.get(f"{REPO}/issues/{number}/comments")).json()]
    assert said == [f"I've pushed commit {commits[1]['sha'][:7]} addressing the review comment by @octo-maintainer."]
    activities = (await jules.get(f"/sessions/{session_id}/activities")).json()["activities"]
    assert activities[-1]["progressUpdated"]["title"] == "Addressed a review comment"
    await asyncio.sleep(0.2)  # taken once: no second commit for the same comment
    assert len((await gh.get(f"{REPO}/pulls/{number}/commits")).json()) == 2


async def test_without_reactive_mode_nothing_happens_until_a_message(stack):
    jules, gh = stack
    session_id, number = await _completed_pr(jules, "Strip dashes\n\nFixes #1")
    comment = await _review_comment(gh, number, session_id, "@jules please keep the old name as an alias")
    await asyncio.sleep(0.3)
    assert len((await gh.get(f"{REPO}/pulls/{number}/commits")).json()) == 1
    assert (await gh.get(f"{REPO}/pulls/comments/{comment['id']}/reactions")).json() == []
    # A message after COMPLETED: back to work, one more commit on the same branch, COMPLETED again.
    sent = await jules.post(f"/sessions/{session_id}:sendMessage", json={"prompt": "Keep the old name as an alias"})
    assert sent.status_code == 200
    commits = await _settle(gh, number, 2)
    assert [c["commit"]["message"] for c in commits][1:] == ["Follow-up fix: Keep the old name as an alias"]


async def test_a_watching_session_polls_without_spending_its_rate_limit():
    """The watcher reads its open PR and the PR's comments every tick with `If-None-Match`: an unchanged page is a
    304, which GitHub does not count, so a PR left open does not use up the bot's 5,000 calls an hour (it once did
    in minutes, and every later session of that simulator failed to read its branch)."""
    github_app = create_github_app({"seed": load_seed_file(DEMO_SEED)})
    transport = httpx.ASGITransport(app=github_app)
    config = load_config(DEMO_CONFIG, tick_seconds=0.01, scenarios=[ScenarioRule(match="REACTIVE", reactive=True)])
    bot = github_client("http://github.test", config.github_token, transport=transport)
    jules_app = create_app(config, github=bot)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jules_app), base_url="http://jules.test/v1alpha",
                                     headers={"X-Goog-Api-Key": DEFAULT_API_KEY}) as jules:
            await _completed_pr(jules, "REACTIVE: strip dashes\n\nFixes #1")

            async def used() -> int:
                return int((await bot.get(REPO)).headers["x-ratelimit-used"])

            before = await used()
            await asyncio.sleep(2)  # some 100-200 ticks of watching
            spent = await used() - before - 1
    finally:
        await jules_app.state.simulator.aclose()
        await bot.aclose()
    assert 0 <= spent <= 4, f"the watcher spent {spent} calls of the rate limit in 2 s"
