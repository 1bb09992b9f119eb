"""Issue #24, through the real product against the live-profile Jules simulator (real Prefect on PostgreSQL, the
hub process, both simulators): a repeating `nextPageToken` and "Could not get source" on create still end with one
session, its pull request and a status comment that says how the run ended."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agentic.errors import JulesSessionFailed
from agentic.testing import environment
from agentic.workflows.jules_workflow import jules_agent_workflow
from agentic.workflows.status_comment import HEADLINES
from tests.workflow.test_resilience import BODY, sessions_for, sim, status_comments

pytestmark = pytest.mark.slow

def requests(sandbox) -> dict:
    return sim(sandbox, "GET", "/_sim/requests").json()


@pytest.fixture
def faults(sandbox):
    """Inject Jules faults for one test; none survive it (the sandbox is shared by the session)."""
    def inject(*rules: dict) -> None:
        sim(sandbox, "POST", "/_sim/faults", json={"faults": list(rules)}).raise_for_status()

    yield inject
    sim(sandbox, "DELETE", "/_sim/faults").raise_for_status()


async def test_a_repeating_page_token_still_reaches_the_pull_request(sandbox, new_issue, caplog):
    """Live listActivities' last page repeats its nextPageToken: the old client paged it for ever (8,481 calls in
    137 s, the status comment frozen at "Jules session queued" while the session had completed)."""
    health = sim(sandbox, "GET", "/_sim/health").json()
    assert health["profile"] == "live"
    number, url = new_issue("repeating page token", BODY)
    with caplog.at_level(logging.WARNING, logger="agentic.jules.client"):
        result = await asyncio.wait_for(jules_agent_workflow(github_issue_url=url), 180)
    assert result.status == "completed" and result.pull_request_url, result
    (session,) = sessions_for(sandbox, number)
    # Every poll ends on the repeated token after at most a page or two more: bounded, not a loop.
    calls = requests(sandbox)["bySession"][session["id"]]
    assert calls < 300, calls
    warnings = [r.getMessage() for r in caplog.records if r.name == "agentic.jules.client"]
    assert any(session["id"] in w and "nextPageToken repeated" in w for w in warnings), warnings[:3]
    (status,) = status_comments(sandbox, number)
    assert HEADLINES["COMPLETED"] in status["body"]


@pytest.mark.parametrize(("label", "rules", "creates"), [
    ("refused twice", [{"kind": "source_busy", "count": 2, "route": "createSession"}], 3),
    # The 400 after the session was made after all: the next attempt finds it by its marker, creates nothing.
    ("refused after creating", [{"kind": "source_busy", "count": 1, "route": "createSession", "phase": "after"}], 1),
])
async def test_could_not_get_source_on_the_first_creates_still_gives_one_session_and_the_pr(
        sandbox, new_issue, faults, label, rules, creates):
    number, url = new_issue(f"could not get source: {label}", BODY)
    before = requests(sandbox)["byOperation"].get("createSession", 0)
    faults(*rules)
    result = await asyncio.wait_for(jules_agent_workflow(github_issue_url=url), 180)
    assert result.status == "completed" and result.pull_request_url, result
    assert requests(sandbox)["byOperation"]["createSession"] - before == creates
    (session,) = sessions_for(sandbox, number)
    assert result.session_id == session["id"]
    (status,) = status_comments(sandbox, number)
    assert HEADLINES["COMPLETED"] in status["body"]


async def test_could_not_get_source_on_every_create_fails_and_says_so(sandbox, new_issue, faults):
    number, url = new_issue("could not get source: always", BODY)
    before = requests(sandbox)["byOperation"].get("createSession", 0)
    faults({"kind": "source_busy", "count": None, "route": "createSession"})
    with environment({"JULES_CREATE_ATTEMPTS": "3"}), pytest.raises(JulesSessionFailed, match="3 times"):
        await asyncio.wait_for(jules_agent_workflow(github_issue_url=url), 180)
    assert requests(sandbox)["byOperation"]["createSession"] - before == 3
    assert sessions_for(sandbox, number) == []
    (status,) = status_comments(sandbox, number)
    assert HEADLINES["not_started"] in status["body"] and "Could not get source" in status["body"]
    assert HEADLINES["queued"] not in status["body"] and HEADLINES["triage"] not in status["body"]


async def test_a_final_error_mid_run_leaves_the_status_comment_saying_so(sandbox, new_issue, faults):
    """A 4xx no branch expects (here getSession answering 400 once the session exists) ends the run: the status
    comment must say the run stopped, not stay at "Jules session queued" for ever."""
    number, url = new_issue("final error mid-run", BODY)
    faults({"kind": "source_busy", "count": None, "route": "getSession"})
    with pytest.raises(Exception, match="Could not get source"):
        await asyncio.wait_for(jules_agent_workflow(github_issue_url=url), 180)
    (status,) = status_comments(sandbox, number)
    assert HEADLINES["error"] in status["body"] and "Could not get source" in status["body"]
    assert HEADLINES["QUEUED"] not in status["body"]
