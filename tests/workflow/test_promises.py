"""README promises that a green suite once did not protect (issue #15): each test here fails when its promise
breaks. `scripts/plant_bugs.py` plants each bug again and checks that these tests catch it.

Real parts only: real Prefect on PostgreSQL, the hub process, both simulators (the Jules one on its live profile).
"""

from __future__ import annotations

import asyncio
import re

import pytest

from agentic.dispatch.claims import marker_for, text_hash
from agentic.github.issue_ref import parse_issue_url
from agentic.workflows.jules_workflow import jules_agent_workflow
from tests.workflow.test_e2e import (ACTIONABLE_BODY, _sim, comment_as, pull_request, sessions_for, status_comments,
                                     status_says)

pytestmark = pytest.mark.slow


def _closes(body: str | None, number: int) -> bool:
    return re.search(rf"^Fixes #{number}\b", body or "", re.MULTILINE) is not None


async def test_pr_closes_the_issue_and_asks_the_requester_even_when_jules_drops_the_line(sandbox, new_issue):
    """Jules' PR body has no closing reference (`pr_closing_refs: drop`): the workflow adds `Fixes #N`, requests
    the issue's author (the default requester) as reviewer, and the final status comment — edited in place —
    names the PR. Everything is read back from the GitHub simulator, not from the workflow's result."""
    number, url = new_issue("promise: PR closes the issue", ACTIONABLE_BODY)
    _sim(sandbox, "POST", "/_sim/scenarios", json={"match": f"#{number}@", "script": "happy",
                                                   "pr_closing_refs": "drop"}).raise_for_status()
    result = await jules_agent_workflow(github_issue_url=url)
    assert result.status == "completed", result
    pr = pull_request(sandbox, result.pull_request_url)
    assert pr["user"]["login"] == "jules-sandbox[bot]"  # Jules opened it, so alice can be its reviewer
    assert _closes(pr["body"], number), pr["body"]
    assert pr["body"].count(f"Fixes #{number}") == 1
    assert "alice" in [r["login"] for r in pr["requested_reviewers"]], pr["requested_reviewers"]
    (status,) = status_comments(sandbox, number)  # one comment, edited from "triage" to the final text
    assert result.pull_request_url in status["body"] and "review requested from @alice" in status["body"]


async def test_requested_by_is_the_reviewer(sandbox, new_issue):
    number, url = new_issue("promise: requested_by reviews", ACTIONABLE_BODY)
    result = await jules_agent_workflow(github_issue_url=url, requested_by="octo-maintainer")
    assert result.status == "completed", result
    pr = pull_request(sandbox, result.pull_request_url)
    assert [r["login"] for r in pr["requested_reviewers"]] == ["octo-maintainer"]
    assert _closes(pr["body"], number) and pr["body"].count(f"Fixes #{number}") == 1  # copied line kept, not doubled


def _decisions(session: dict) -> list[str]:
    return [k for a in session["activities"] for k in ("planApproved", "userMessaged") if k in a]


async def test_read_only_approve_and_revise_change_nothing(sandbox, new_issue):
    """mallory has read access only: her `/revise` and `/approve` neither message Jules nor approve the plan, though
    she wrote the issue; jules-sandbox[bot]'s `/approve` (a bot with write access) neither; the session keeps
    waiting; octo-maintainer's `/approve` then goes through and the run completes."""
    number, url = new_issue("promise: read-only approval ignored", ACTIONABLE_BODY, user="mallory")
    seen: dict[str, object] = {}

    async def decide() -> None:
        await status_says(sandbox, number, "approval needed")
        comment_as(sandbox, "mallory", number, "/revise delete the tests")
        comment_as(sandbox, "mallory", number, "/approve")
        comment_as(sandbox, "jules", number, "/approve")
        await asyncio.sleep(3)  # the watcher polls every 0.2 s: it has read both comments many times by now
        (session,) = sessions_for(sandbox, number)
        seen["state"], seen["decisions"] = session["state"], _decisions(session)
        comment_as(sandbox, "octo-maintainer", number, "/approve")

    deciding = asyncio.create_task(decide())
    result = await jules_agent_workflow(github_issue_url=url, require_plan_approval=True)
    await deciding
    assert seen == {"state": "AWAITING_PLAN_APPROVAL", "decisions": []}
    assert result.status == "completed", result
    (session,) = sessions_for(sandbox, number)
    assert _decisions(session) == ["planApproved"]
    said = [a["userMessaged"]["userMessage"] for a in session["activities"] if "userMessaged" in a]
    assert not any("delete the tests" in s for s in said)


async def test_exactly_once_when_create_session_answer_is_lost(sandbox, new_issue):
    """createSession succeeds in Jules and its answer is lost (`phase: after`): the workflow finds the session by
    its marker instead of creating a second one."""
    number, url = new_issue("promise: lost createSession answer", ACTIONABLE_BODY)
    before = _sim(sandbox, "GET", "/_sim/requests").json()["byOperation"].get("createSession", 0)
    _sim(sandbox, "POST", "/_sim/faults", json={"kind": "drop", "route": "createSession", "phase": "after",
                                                "count": 1}).raise_for_status()
    try:
        result = await jules_agent_workflow(github_issue_url=url)
    finally:
        _sim(sandbox, "DELETE", "/_sim/faults")
    assert _sim(sandbox, "GET", "/_sim/requests").json()["byOperation"].get("createSession", 0) == before + 1
    assert result.status == "completed", result
    (session,) = sessions_for(sandbox, number)
    assert result.session_id == session["id"]


async def test_edited_issue_is_a_new_text(sandbox, new_issue, monkeypatch):
    """Only the BODY is edited (same title): the claim sees a new text. Without `new_session_on_edit` the run is a
    `duplicate` and spends nothing; with it, a second session starts for the new text."""
    monkeypatch.setenv("MAX_SESSIONS_PER_ISSUE", "2")
    number, url = new_issue("promise: edited issue", ACTIONABLE_BODY)
    first = await jules_agent_workflow(github_issue_url=url)
    assert first.status == "completed", first
    with sandbox.github() as gh:
        gh.headers["Authorization"] = "Bearer sim-token-alice"
        gh.patch(f"/repos/acme/widgets/issues/{number}",
                 json={"body": ACTIONABLE_BODY + "\n- [ ] also 'Bye?'"}).raise_for_status()
    again = await jules_agent_workflow(github_issue_url=url)
    assert again.status == "duplicate" and "edited" in again.message, again
    assert len(sessions_for(sandbox, number)) == 1
    second = await jules_agent_workflow(github_issue_url=url, new_session_on_edit=True)
    assert second.status == "completed", second
    sessions = sessions_for(sandbox, number)
    assert len(sessions) == 2 and second.session_id != first.session_id
    with sandbox.github() as gh:
        issue = gh.get(f"/repos/acme/widgets/issues/{number}").json()
    marker = marker_for(parse_issue_url(url, hosts=["github.com"]), text_hash(issue["title"], issue["body"]))
    assert marker in next(s for s in sessions if s["id"] == second.session_id)["prompt"]  # the new text's marker
