"""Resume routing over real HTTP: the simulator delivers the comment, the receiver finds the issue's Paused run in
a real Prefect server and resumes it with the input its form takes — or not, for the wrong person or a comment
that answers nothing. The waiting runs are put in Prefect's Suspended state as `asuspend_flow_run` leaves them
(pause key, saved input schema); test_suspend_e2e.py covers the same path with a served flow."""

from __future__ import annotations

import pytest

from agentic.workflows.plan_approval import PlanDecision, Reply
from tests.triggers.test_receiver_e2e import REPO, deployment_id, world  # noqa: F401 - fixtures



@pytest.fixture(autouse=True)
async def no_leftovers():
    """These runs name this module's simulator: a later test serving the deployment must never execute them."""
    yield
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    async with get_client() as client:
        for run in await client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(
                all_=["resume-e2e"]))):
            await client.delete_flow_run(run.id)


async def suspended_run(deployment_id, issue: dict, key: str, wants: type):  # noqa: F811
    """A run of the deployment for this issue, Suspended on `key` and waiting for `wants` input."""
    from prefect import get_client
    from prefect.input.run_input import keyset_from_paused_state
    from prefect.states import Running, Suspended

    async with get_client() as client:
        run = await client.create_flow_run_from_deployment(deployment_id, parameters={
            "github_issue_url": issue["html_url"]}, tags=["resume-e2e"])
        await client.set_flow_run_state(run.id, Running(), force=True)
        state = Suspended(timeout_seconds=600, pause_key=key)
        keyset = keyset_from_paused_state(state)
        state.state_details.run_input_keyset = keyset
        await client.set_flow_run_state(run.id, state, force=True)
    await wants.asave(keyset, flow_run_id=run.id)
    return run.id, keyset


async def read_state_and_input(run_id, keyset):
    from prefect import get_client
    from prefect.input.actions import read_flow_run_input

    async with get_client() as client:
        run = await client.read_flow_run(run_id)
    return run.state.name, await read_flow_run_input(keyset["response"], flow_run_id=run_id)


async def test_approve_resumes_the_plan_wait_only_for_write_access(world, deployment_id):  # noqa: F811
    issue = await world.new_issue()
    run_id, keyset = await suspended_run(deployment_id, issue, "plan-p1", PlanDecision)
    number = issue["number"]

    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/approve"},
                            headers=world.as_user("mallory"))
    refused = await world.settle("issue_comment")
    assert (refused["status"], refused["reason"]) == (
        "ignored", "sender mallory has read access; write is needed to give a plan decision")
    assert await read_state_and_input(run_id, keyset) == ("Suspended", None)

    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "thanks! (not a decision)"},
                            headers=world.as_user("alice"))
    assert (await world.settle("issue_comment"))["status"] == "ignored"  # goes on to the rules: not a trigger
    assert (await read_state_and_input(run_id, keyset))[0] == "Suspended"

    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/revise  keep the old API\nthanks"},
                            headers=world.as_user("alice"))
    resumed = await world.settle("issue_comment")
    assert (resumed["status"], resumed["flow_run_id"], resumed["pause_key"]) == ("resumed", str(run_id), "plan-p1")
    state, given = await read_state_and_input(run_id, keyset)
    assert state != "Suspended" and given == {"approve": False, "revision": "keep the old API\nthanks"}

    again = await world.sim.webhooks.redeliver(resumed["delivery"])  # the same delivery: answered from memory
    assert again["status_code"] == 200 and '"duplicate"' in again["response"]
    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/approve"},
                            headers=world.as_user("alice"))
    late = await world.settle("issue_comment")  # the run waits no more: /approve is then no trigger either
    assert late["status"] == "ignored" and "flow_run_id" not in late, late


async def test_a_reply_from_the_reporter_resumes_the_question_wait(world, deployment_id):  # noqa: F811
    created = await world.github.post(f"{REPO}/issues", json={"title": "Crash on empty name [resume]", "body": "b"},
                                      headers=world.as_user("mallory"))  # a reporter without write access
    issue = created.json()
    run_id, keyset = await suspended_run(deployment_id, issue, "question-a7-0", Reply)
    number = issue["number"]
    for who, body in (("agent", "<!-- jules-agent-status --> ours"), ("mallory", "/jules")):
        await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": body}, headers=world.as_user(who))
        answer = await world.settle("issue_comment")
        assert answer["status"] == "ignored" and "flow_run_id" not in answer, answer
    assert (await read_state_and_input(run_id, keyset))[0] == "Suspended"

    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "Yes, keep it for old callers."},
                            headers=world.as_user("mallory"))
    resumed = await world.settle("issue_comment")
    assert (resumed["status"], resumed["reason"]) == ("resumed", "reply by mallory"), resumed
    state, given = await read_state_and_input(run_id, keyset)
    assert state != "Suspended" and given == {"answer": ""}  # the resumed run reads the reply from the issue


async def test_a_plan_decision_needs_write_access_even_from_the_author_and_never_comes_from_a_bot(
        world, deployment_id):  # noqa: F811
    """The author may answer Jules' question, not decide on the plan: `/approve` from a read-only reporter is
    refused; another bot (jules-sandbox[bot], not in allow_bots) and our own login are no answer at all."""
    created = await world.github.post(f"{REPO}/issues", json={"title": "Crash on empty name [plan]", "body": "b"},
                                      headers=world.as_user("mallory"))  # a reporter without write access
    issue = created.json()
    run_id, keyset = await suspended_run(deployment_id, issue, "plan-p2", PlanDecision)
    number = issue["number"]
    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/approve"},
                            headers=world.as_user("mallory"))
    refused = await world.settle("issue_comment")
    assert (refused["status"], refused["reason"]) == (
        "ignored", "sender mallory has read access; write is needed to give a plan decision"), refused
    for who in ("jules", "agent"):
        await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/approve"},
                                headers=world.as_user(who))
        answer = await world.settle("issue_comment")
        assert answer["status"] == "ignored" and "flow_run_id" not in answer, answer
    assert await read_state_and_input(run_id, keyset) == ("Suspended", None)
