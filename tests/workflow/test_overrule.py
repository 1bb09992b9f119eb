"""Triage a maintainer can overrule (#23), the whole path: real Prefect on PostgreSQL, the hub, both simulators, the
sandbox's deterministic model (confidence high, low when the reporter hedges). The automation level comes from the
trigger rules file (TRIGGERS_RULES_PATH), as in production; `go=True` is what the receiver passes for `/jules go`."""

from __future__ import annotations

import pytest

from agentic.agent.brief import FENCE_CLOSE, FENCE_OPEN
from agentic.testing import environment
from agentic.workflows.jules_workflow import jules_agent_workflow
from agentic.workflows.status_comment import HEADLINES
from tests.workflow.test_e2e import ACTIONABLE_BODY, sessions_for, status_comments

pytestmark = pytest.mark.slow

HEDGED_BODY = ("Exporting a widget to CSV with `src/widgets/export.py` drops the last row of the table. I think the "
               "loop stops one row early but I am not sure. Expected: every row of the table is written.")


def _fenced(prompt: str, text: str) -> bool:
    """`text` sits inside the prompt's data fence."""
    nonce = prompt.split("<<<ISSUE-DATA ", 1)[1].split(">>>", 1)[0]
    opened, closed = prompt.index(FENCE_OPEN.format(nonce=nonce)), prompt.rindex(FENCE_CLOSE.format(nonce=nonce))
    return opened < prompt.index(text) < closed


async def test_go_dispatches_an_issue_triaged_needs_info(sandbox, new_issue):
    number, url = new_issue("overrule: terse report", "export is broken")
    first = await jules_agent_workflow(github_issue_url=url)
    assert first.status == "needs_info" and sessions_for(sandbox, number) == []
    (status,) = status_comments(sandbox, number)
    assert HEADLINES["needs_info"] in status["body"]
    assert "needs info, high confidence" in status["body"] and "nothing says how to see the problem" in status["body"]
    assert status["body"].count("\n1. ") == 3  # the model asked four questions; a reporter gets three
    assert "/jules go" in status["body"]

    result = await jules_agent_workflow(github_issue_url=url, go=True, requested_by="octo-maintainer")
    assert result.status == "completed", result
    (session,) = sessions_for(sandbox, number)
    # The triage's doubts go to Jules with the brief, as data inside the fence.
    assert _fenced(session["prompt"], "Concerns from triage:")
    assert "Triage said needs info with high confidence" in session["prompt"]
    (status,) = status_comments(sandbox, number)  # the same comment, edited to the PR
    assert result.pull_request_url in status["body"]


async def test_cautious_holds_a_low_confidence_verdict_until_go(sandbox, new_issue):
    number, url = new_issue("overrule: hedged report", HEDGED_BODY)
    held = await jules_agent_workflow(github_issue_url=url)
    assert held.status == "held", held
    assert sessions_for(sandbox, number) == []  # no quota spent
    (status,) = status_comments(sandbox, number)
    assert HEADLINES["held"] in status["body"]
    assert "actionable, low confidence: the reporter is unsure of the cause" in status["body"]
    assert "cautious automation level" in status["body"]
    again = await jules_agent_workflow(github_issue_url=url)  # asking again without go changes nothing
    assert again.status == "held" and sessions_for(sandbox, number) == []

    result = await jules_agent_workflow(github_issue_url=url, go=True, requested_by="octo-maintainer")
    assert result.status == "completed", result
    assert len(sessions_for(sandbox, number)) == 1


async def test_full_dispatches_it_and_manual_holds_even_a_sure_verdict(sandbox, new_issue, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("defaults:\n  automation: full\nrepositories:\n  acme/widgets:\n    automation: manual\n")
    number, url = new_issue("overrule: manual repository", ACTIONABLE_BODY)
    with environment({"TRIGGERS_RULES_PATH": str(rules)}):
        held = await jules_agent_workflow(github_issue_url=url)
    assert held.status == "held" and "manual" in held.message and sessions_for(sandbox, number) == []

    rules.write_text("defaults:\n  automation: full\n")
    hedged, hedged_url = new_issue("overrule: full repository", HEDGED_BODY)
    with environment({"TRIGGERS_RULES_PATH": str(rules)}):
        result = await jules_agent_workflow(github_issue_url=hedged_url)
    assert result.status == "completed", result
    (session,) = sessions_for(sandbox, hedged)
    assert "Concerns from triage:" not in session["prompt"]  # nobody overruled anything
