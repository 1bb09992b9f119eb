"""Reviews on Jules' pull request end to end (issue #23 item 3): a review comment delivered twice reaches the session
once; with the Jules simulator's Reactive Mode on it is recorded, not sent; a commit pushed after COMPLETED is listed
on the status comment.

Real parts: Prefect on PostgreSQL, the hub (its github-rest tools), both simulators (Jules on its live profile). The
run ends at the pull request (CI_WATCH=off); each delivery of the review re-enters the issue's run, as the receiver
starts one per review (agentic/triggers/app.py)."""

from __future__ import annotations

import asyncio

import pytest

from agentic.workflows.jules_workflow import jules_agent_workflow
from tests.workflow.test_e2e import ACTIONABLE_BODY, _sim, pull_request, sessions_for, status_comments

pytestmark = pytest.mark.slow
REPO = "/repos/acme/widgets"


def _review_comment(sandbox, pr: dict, session_id: str, body: str) -> dict:
    with sandbox.github() as gh:
        gh.headers["Authorization"] = "Bearer sim-token-octo-maintainer"
        commits = gh.get(f"{REPO}/pulls/{pr['number']}/commits").json()
        response = gh.post(f"{REPO}/pulls/{pr['number']}/comments", json={
            "body": body, "commit_id": commits[0]["sha"], "path": f"jules/session-{session_id}.md", "line": 1})
        assert response.status_code == 201, response.text
        return response.json()


async def _commit_saying(sandbox, pr: dict, prefix: str, timeout: float = 30) -> dict:
    for _ in range(int(timeout / 0.2)):
        with sandbox.github() as gh:
            commits = gh.get(f"{REPO}/pulls/{pr['number']}/commits").json()
        if found := [c for c in commits if c["commit"]["message"].startswith(prefix)]:
            return found[0]
        await asyncio.sleep(0.2)
    messages = [c["commit"]["message"] for c in commits]
    raise AssertionError(f"no commit starting {prefix!r} on PR #{pr['number']}: {messages}")


def _review_messages(sandbox, number: int) -> list[str]:
    (session,) = sessions_for(sandbox, number)
    return [a["userMessaged"]["userMessage"] for a in session["activities"]
            if "userMessaged" in a and a["userMessaged"]["userMessage"].startswith("Review from")]


async def test_review_comment_reaches_the_session_once_and_its_commit_is_listed(sandbox, new_issue, monkeypatch):
    monkeypatch.setenv("CI_WATCH", "off")
    # Not Reactive: the @jules comment waits this long for Jules' 👀 (none comes), within the re-entry, then goes.
    monkeypatch.setenv("REVIEW_GRACE_SECONDS", "15")
    number, url = new_issue("reviews: a review comment goes to the session", ACTIONABLE_BODY)
    result = await jules_agent_workflow(github_issue_url=url)
    assert result.status == "completed", result
    pr = pull_request(sandbox, result.pull_request_url)
    _review_comment(sandbox, pr, result.session_id, "@jules please also cover 'Hello?!' in the test")
    for _ in range(2):  # the review delivered twice: two re-entries of the issue's run
        again = await jules_agent_workflow(github_issue_url=url)
        assert again.status == "duplicate", again
    (message,) = _review_messages(sandbox, number)
    assert "On jules/session-" in message and "please also cover 'Hello?!'" in message and "ISSUE-DATA" in message
    # Jules (not Reactive) answers the message with a commit on the same branch; the next re-entry lists it.
    fix = await _commit_saying(sandbox, pr, "Follow-up fix: Review from @octo-maintainer")
    await jules_agent_workflow(github_issue_url=url)
    (status,) = status_comments(sandbox, number)
    assert "**After the pull request**" in status["body"], status["body"]
    assert "Review by octo-maintainer (commented, 1 comment(s)): sent to Jules" in status["body"], status["body"]
    assert f"Commit `{fix['sha'][:7]}` pushed after completion: Follow-up fix: Review from" in status["body"]
    assert result.pull_request_url in status["body"]  # the finished run's part of the comment stays
    assert len(_review_messages(sandbox, number)) == 1 and len(sessions_for(sandbox, number)) == 1


async def test_reactive_mode_review_comment_is_recorded_not_sent(sandbox, new_issue, monkeypatch):
    monkeypatch.setenv("CI_WATCH", "off")
    _sim(sandbox, "POST", "/_sim/scenarios", json={"scenarios": [{"match": "reactive review", "reactive": True}]})
    try:
        number, url = new_issue("reactive review: Jules takes the comment itself", ACTIONABLE_BODY)
        result = await jules_agent_workflow(github_issue_url=url)
    finally:
        _sim(sandbox, "DELETE", "/_sim/scenarios")
    assert result.status == "completed", result
    pr = pull_request(sandbox, result.pull_request_url)
    comment = _review_comment(sandbox, pr, result.session_id, "@jules keep the old name as an alias")
    taken = await _commit_saying(sandbox, pr, "Address review comment: @jules keep the old name")
    with sandbox.github() as gh:
        eyes = gh.get(f"{REPO}/pulls/comments/{comment['id']}/reactions").json()
    assert [(r["content"], r["user"]["login"]) for r in eyes] == [("eyes", "jules-sandbox[bot]")]
    for _ in range(2):
        assert (await jules_agent_workflow(github_issue_url=url)).status == "duplicate"
    assert _review_messages(sandbox, number) == []  # recorded, never sent
    (status,) = status_comments(sandbox, number)
    assert "Review by octo-maintainer (commented, 1 comment(s)): Jules took it up itself (👀)" in status["body"]
    assert f"Commit `{taken['sha'][:7]}` pushed after completion: Address review comment:" in status["body"]


async def _pull_closing(sandbox, number: int, timeout: float = 90) -> dict:
    for _ in range(int(timeout / 0.2)):
        with sandbox.github() as gh:
            pulls = gh.get(f"{REPO}/pulls", params={"state": "open", "per_page": 100}).json()
        if found := [p for p in pulls if f"Fixes #{number}\n" in f"{p['body']}\n"]:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no pull request closes #{number}")


async def test_a_review_during_the_ci_watch_goes_to_the_session_once(sandbox, new_issue, monkeypatch):
    """The live run relays it: its CI watch reads the reviews on every pass, beside the @jules follow-ups."""
    from tests.workflow.test_ci_loop import _ci

    monkeypatch.setenv("REVIEW_GRACE_SECONDS", "0")
    number, url = new_issue("reviews: a review while CI runs", ACTIONABLE_BODY)
    _ci(sandbox, "POST", fail_rounds=0, duration_seconds=6)  # every head passes, slowly: the watch is still on
    try:
        run = asyncio.create_task(jules_agent_workflow(github_issue_url=url))
        pr = await _pull_closing(sandbox, number)
        (session,) = sessions_for(sandbox, number)
        with sandbox.github() as gh:
            gh.headers["Authorization"] = "Bearer sim-token-octo-maintainer"
            review = gh.post(f"{REPO}/pulls/{pr['number']}/reviews", json={
                "event": "REQUEST_CHANGES", "body": "Rename the helper to strip_trailing",
                "comments": [{"path": f"jules/session-{session['id']}.md", "line": 1, "body": "and here"}]})
            assert review.status_code == 200, review.text
        result = await run
    finally:
        _ci(sandbox, "DELETE")
    assert result.status == "completed" and "CI passed" in result.message, result
    (message,) = _review_messages(sandbox, number)
    assert message.startswith("Review from @octo-maintainer on your pull request (changes requested).")
    assert "Rename the helper" in message and "and here" in message
    (status,) = status_comments(sandbox, number)
    assert "Review by octo-maintainer (changes requested, 1 comment(s)): sent to Jules" in status["body"]
    assert "CI passed" in status["body"]
