"""What a comment means to a waiting run, without servers: the pure parts of resume routing."""

from __future__ import annotations

import pytest

from agentic.triggers.resume import Waiting, answer_for, same_issue
from agentic.workflows.plan_approval import decision_from_text

PLAN = Waiting("r1", "plan-abc", suspended=True)
QUESTION = Waiting("r2", "question-a7-0", suspended=True)


@pytest.mark.parametrize(("text", "expected"), [
    ("/approve", (True, "")),
    ("  /approve thanks", (True, "")),
    ("/revise keep the old API", (False, "keep the old API")),
    ("/revise\n  two\nlines  ", (False, "two\nlines")),
    ("please /approve", None),
    ("> /approve", None),
    ("/jules", None),
    ("", None),
])
def test_plan_decisions_are_commands_at_the_start(text, expected):
    decision = decision_from_text(text)
    assert (None if decision is None else (decision.approve, decision.revision)) == expected


def test_a_revision_is_capped():
    assert len(decision_from_text("/revise " + "x" * 5000).revision) == 2000


def test_answers_depend_on_what_the_run_waits_for():
    approve = answer_for(PLAN, "/approve")
    assert approve.run_input == {"approve": True, "revision": ""} and not approve.author_may
    assert answer_for(PLAN, "looks good to me") is None  # a plan needs a command
    reply = answer_for(QUESTION, "Yes, keep it.")
    assert reply.run_input == {"answer": ""} and reply.author_may and reply.what == "reply"
    assert answer_for(QUESTION, "/approve") is None and answer_for(QUESTION, " /jules") is None


@pytest.mark.parametrize(("url", "same"), [
    ("https://github.com/acme/widgets/issues/7", True),
    ("https://github.com/Acme/Widgets/issues/7/", True),
    ("https://github.com/acme/widgets/issues/7#issuecomment-1", True),
    ("https://github.com/acme/widgets/issues/70", False),
    ("https://github.com/acme/widgets/pull/7", False),
    ("https://github.com/acme/gadgets/issues/7", False),
    (None, False),
])
def test_runs_are_matched_to_the_issue_by_their_url_parameter(url, same):
    assert same_issue(url, "acme", "widgets", 7) is same


def test_only_the_wait_that_ran_out_is_ended():
    """A reconciling run (`wait_expired`) ends a wait that began at least the timeout ago; a newer one (a revised
    plan, a second question) is waited on; an ordinary run never ends a wait early."""
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from agentic.workflows.plan_approval import wait_ran_out

    now, settings = datetime.now(UTC), SimpleNamespace(plan_approval_timeout_seconds=3600)
    reconciling, ordinary = (SimpleNamespace(job=SimpleNamespace(wait_expired=flag),
                                             deps=SimpleNamespace(settings=settings)) for flag in (True, False))
    assert wait_ran_out(reconciling, now - timedelta(hours=2))
    assert wait_ran_out(reconciling, None)  # when the wait began is unknown, the expiry is taken as said
    assert not wait_ran_out(reconciling, now - timedelta(minutes=5))
    assert not wait_ran_out(ordinary, now - timedelta(days=3))


def test_the_automation_matches_only_its_own_deployments_expired_waits():
    from agentic.workflows.plan_approval import PAUSE_EXPIRED_MESSAGE, expired_wait_trigger

    trigger = expired_wait_trigger("jules-agent-workflow", "team-a")
    assert trigger.expect == {"prefect.flow-run.Failed"}
    assert trigger.match.root == {"prefect.state-message": PAUSE_EXPIRED_MESSAGE}
    assert [m.root for m in trigger.match_related] == [
        {"prefect.resource.role": "flow", "prefect.resource.name": "jules-agent-workflow"},
        {"prefect.resource.role": "deployment", "prefect.resource.name": "team-a"}]
    assert trigger.parameters == {"github_issue_url": "{{ flow_run.parameters.github_issue_url }}",
                                  "wait_expired": True}
