"""Real services: the GitHub simulator delivers signed webhooks to the receiver over HTTP; the receiver asks the
simulator for permissions, reacts 👀 and creates flow runs of the registered (not served) deployment in a real
Prefect server on PostgreSQL. Runs are read back from Prefect; nothing executes them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from agentic.dispatch import claims
from agentic.github.issue_ref import IssueRef
from agentic.lifecycle import Phase
from agentic.sandbox.github import DEMO_SEED, create_app as create_simulator, load_seed_file, sign
from agentic.stacks.ports import free_port
from agentic.triggers import WEBHOOK_PATH, ReceiverConfig, Rules, create_app, idempotency_key, load_rules

SECRET = "e2e-webhook-secret"
REPO = "/repos/acme/widgets"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
async def deployment_id(prefect_api_url):
    """The product's deployment, registered as `ibt deploy --deploy-only` does, served by nobody."""
    from agentic.deployment.deploy import DEPLOYMENT_NAME, DEPLOYMENT_TAGS
    from agentic.workflows.jules_workflow import jules_agent_workflow

    deployment = await jules_agent_workflow.ato_deployment(name=DEPLOYMENT_NAME, tags=DEPLOYMENT_TAGS)
    return await deployment.aapply()


@contextlib.asynccontextmanager
async def serving(app, port: int) -> AsyncIterator[uvicorn.Server]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


@dataclass
class World:
    sim: object           # the simulator's Sim (its webhooks sender and store)
    github: httpx.AsyncClient
    api_url: str          # the simulator's base URL: the receiver's GitHub API
    receiver_url: str
    rules: Rules

    def as_user(self, login: str) -> dict[str, str]:
        return {"Authorization": f"Bearer sim-token-{login}"}

    async def new_issue(self, title: str = "Trailing dash", body: str = "slugify('a!') gives 'a-'") -> dict:
        response = await self.github.post(f"{REPO}/issues", json={"title": f"{title} [e2e-{next(_numbers)}]",
                                                                    "body": body}, headers=self.as_user("alice"))
        response.raise_for_status()
        return response.json()

    async def settle(self, event: str) -> dict:
        """The newest delivery of `event`, once GitHub (the simulator) got the receiver's answer."""
        await self.sim.webhooks.drain()
        record = self.sim.webhooks.last(event)
        assert record is not None and record["error"] is None, record
        return {"code": record["status_code"], **json.loads(record["response"]), "delivery": record["id"]}

    async def runs(self, deployment_id, issue: dict) -> list:
        return await runs_for(deployment_id, issue["html_url"], self.api_url)

    async def eyes(self, number: int) -> list[str]:
        reactions = (await self.github.get(f"{REPO}/issues/{number}/reactions", headers=self.as_user("alice"))).json()
        return [r["user"]["login"] for r in reactions if r["content"] == "eyes"]


async def runs_for(deployment_id, issue_url: str, api_url: str) -> list:
    """Runs the receiver created for this issue (its key starts with this simulator's URL: a free port)."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async with get_client() as client:
        only = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        runs = await client.read_flow_runs(deployment_filter=only)
    return [r for r in runs if r.parameters.get("github_issue_url") == issue_url
            and (r.idempotency_key or "").startswith(api_url + "/")]


@pytest.fixture(scope="module")
async def world(deployment_id) -> AsyncIterator[World]:
    """One simulator for the module, so issue numbers (and their URLs) never repeat within a Prefect database."""
    sim_port, receiver_port = free_port(), free_port()
    sim_url, receiver_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{receiver_port}"
    rules = Rules.model_validate({"repositories": {"acme/widgets": {"assignee": "octo-maintainer"}}})
    config = ReceiverConfig(api_url=sim_url, token="sim-token-agent", secret=SECRET, rules=rules)
    simulator = create_simulator({"seed": load_seed_file(DEMO_SEED), "webhook_url": receiver_url + WEBHOOK_PATH,
                                  "webhook_secret": SECRET})
    async with serving(simulator, sim_port), serving(create_app(config), receiver_port), \
            httpx.AsyncClient(base_url=sim_url, timeout=10) as github:
        yield World(sim=simulator.state.sim, github=github, api_url=sim_url, receiver_url=receiver_url, rules=rules)
    # These runs name issues of THIS simulator by github.com URLs; a later test that serves the deployment against
    # another sandbox would execute them there and claim that sandbox's issues. Nothing may be left scheduled.
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async with get_client() as client:
        runs = await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(
            any_=[deployment_id])))
        for run in runs:
            if (run.idempotency_key or "").startswith(sim_url + "/"):
                await client.delete_flow_run(run.id)


async def test_label_starts_one_run_with_the_issue_and_requester(world, deployment_id):
    issue = await world.new_issue()
    labeled = await world.github.post(f"{REPO}/issues/{issue['number']}/labels", json={"labels": ["jules"]},
                                      headers=world.as_user("alice"))
    assert labeled.status_code == 200
    answer = await world.settle("issues")
    assert (answer["code"], answer["status"], answer["trigger"]) == (202, "accepted", "label"), answer
    key = idempotency_key(world.api_url, "acme", "widgets",
                          issue["number"], issue["title"], issue["body"])
    assert answer["idempotency_key"] == key
    assert await world.eyes(issue["number"]) == ["issue-agent[bot]"]

    [run] = await world.runs(deployment_id, issue)
    assert str(run.id) == answer["flow_run_id"] and run.deployment_id == deployment_id
    assert run.parameters == {"github_issue_url": issue["html_url"], "requested_by": "alice"}
    assert run.idempotency_key == key and run.state.type.value == "SCHEDULED"
    assert {"github", "trigger:issues.labeled", "repo:acme/widgets", "jules"} <= set(run.tags)


async def test_redelivery_and_relabel_never_start_a_second_run(world, deployment_id):
    issue = await world.new_issue()
    await world.github.post(f"{REPO}/issues/{issue['number']}/labels", json={"labels": ["jules"]},
                            headers=world.as_user("octo-maintainer"))
    first = await world.settle("issues")
    assert first["status"] == "accepted"

    again = await world.sim.webhooks.redeliver(first["delivery"])  # same X-GitHub-Delivery, same body
    assert (again["status_code"], json.loads(again["response"])["status"]) == (200, "duplicate")

    # A fresh receiver (as after a restart) has no memory of the delivery: Prefect's idempotency key answers.
    port = free_port()
    config = ReceiverConfig(api_url=world.api_url, token="sim-token-agent", secret=SECRET, rules=world.rules)
    async with serving(create_app(config), port):
        _, body, headers = world.sim.webhooks.sent(first["delivery"])
        async with httpx.AsyncClient() as client:
            replay = await client.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", content=body, headers=headers)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert replay.json()["flow_run_id"] == first["flow_run_id"]

    # Label removed and added again: a new delivery id, the same issue text → the same run.
    await world.github.patch(f"{REPO}/issues/{issue['number']}", json={"labels": []},
                             headers=world.as_user("octo-maintainer"))
    await world.github.post(f"{REPO}/issues/{issue['number']}/labels", json={"labels": ["jules"]},
                            headers=world.as_user("octo-maintainer"))
    relabel = await world.settle("issues")
    assert relabel["delivery"] != first["delivery"]
    assert (relabel["code"], relabel["status"], relabel["flow_run_id"]) == (200, "duplicate", first["flow_run_id"])
    assert len(await world.runs(deployment_id, issue)) == 1


async def test_comment_command_and_mention_and_a_new_run_after_an_edit(world, deployment_id):
    issue = await world.new_issue()
    number = issue["number"]
    for text in ("> /jules\nquoting is not asking", "thanks, @julesfan"):
        await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": text}, headers=world.as_user("alice"))
        assert (await world.settle("issue_comment"))["status"] == "ignored"
    assert await world.eyes(number) == [] and await world.runs(deployment_id, issue) == []

    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "@jules can you take it?"},
                            headers=world.as_user("alice"))
    mention = await world.settle("issue_comment")
    assert (mention["status"], mention["trigger"]) == ("accepted", "mention")
    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/jules"}, headers=world.as_user("alice"))
    assert (await world.settle("issue_comment"))["status"] == "duplicate"

    # What the needs-info comment asks for: edit the issue, then /jules → a fresh run for the new text.
    await world.github.patch(f"{REPO}/issues/{number}", json={"body": issue["body"] + "\nExpected: 'a'."},
                             headers=world.as_user("alice"))
    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/jules"}, headers=world.as_user("alice"))
    retry = await world.settle("issue_comment")
    assert (retry["status"], retry["trigger"]) == ("accepted", "command")
    assert retry["flow_run_id"] != mention["flow_run_id"]
    assert len(await world.runs(deployment_id, issue)) == 2


async def test_read_only_users_and_bots_start_nothing(world, deployment_id):
    issue = await world.new_issue()
    number = issue["number"]
    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/jules"},
                            headers=world.as_user("mallory"))
    mallory = await world.settle("issue_comment")
    assert (mallory["code"], mallory["status"], mallory["reason"]) == \
        (200, "ignored", "sender mallory has read access; write is needed")
    for bot in ("agent", "jules"):  # issue-agent[bot] is us; jules-sandbox[bot] is another bot
        await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/jules @jules"},
                                headers=world.as_user(bot))
        answer = await world.settle("issue_comment")
        assert answer["status"] == "ignored" and "bot" in answer["reason"], answer
    assert await world.eyes(number) == [] and await world.runs(deployment_id, issue) == []


async def test_jules_go_is_its_own_run_and_only_writers_may_say_it(world, deployment_id):
    """`/jules go` (#23) after a `/jules` run of the same text: a second run, with `go`; said again, the same one.
    A read-only user cannot say it, even where the repository lets read-only users start ordinary runs."""
    issue = await world.new_issue()
    number = issue["number"]
    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/jules"}, headers=world.as_user("alice"))
    plain = await world.settle("issue_comment")
    assert (plain["status"], plain["trigger"]) == ("accepted", "command")

    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/jules go"},
                            headers=world.as_user("mallory"))
    refused = await world.settle("issue_comment")
    assert (refused["status"], refused["reason"]) == ("ignored", "sender mallory has read access; write is needed")
    # Replayed to a receiver whose rules let read-only users trigger: `/jules go` still needs write access.
    port = free_port()
    lenient = Rules.model_validate({"defaults": {"min_permission": "read"}})
    config = ReceiverConfig(api_url=world.api_url, token="sim-token-agent", secret=SECRET, rules=lenient)
    _, body, headers = world.sim.webhooks.sent(refused["delivery"])
    async with serving(create_app(config), port), httpx.AsyncClient() as client:
        replay = (await client.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", content=body, headers=headers)).json()
    assert (replay["status"], replay["reason"]) == ("ignored", "sender mallory has read access; write is needed")

    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/jules go"},
                            headers=world.as_user("octo-maintainer"))
    go = await world.settle("issue_comment")
    assert (go["code"], go["status"], go["trigger"]) == (202, "accepted", "go"), go
    assert go["idempotency_key"] == plain["idempotency_key"] + "~go" and go["flow_run_id"] != plain["flow_run_id"]
    await world.github.post(f"{REPO}/issues/{number}/comments", json={"body": "/jules go"},
                            headers=world.as_user("alice"))
    assert (await world.settle("issue_comment"))["status"] == "duplicate"  # one overruling run per issue text
    runs = {str(r.id): r for r in await world.runs(deployment_id, issue)}
    assert len(runs) == 2
    assert runs[go["flow_run_id"]].parameters == {"github_issue_url": issue["html_url"],
                                                  "requested_by": "octo-maintainer", "go": True}
    assert "go" not in runs[plain["flow_run_id"]].parameters


async def test_assignment_to_the_configured_login(world, deployment_id):
    issue = await world.new_issue()
    await world.github.post(f"{REPO}/issues/{issue['number']}/assignees", json={"assignees": ["alice"]},
                            headers=world.as_user("alice"))
    other = await world.settle("issues")
    assert other["reason"] == "assignee 'alice' is not the trigger assignee 'octo-maintainer'", other
    await world.github.post(f"{REPO}/issues/{issue['number']}/assignees", json={"assignees": ["octo-maintainer"]},
                            headers=world.as_user("alice"))
    answer = await world.settle("issues")  # the simulator's own `issues.assigned`, as GitHub sends it
    assert (answer["status"], answer["trigger"]) == ("accepted", "assignment"), answer
    [run] = await world.runs(deployment_id, issue)
    assert "trigger:issues.assigned" in run.tags and run.parameters["requested_by"] == "alice"


async def test_bad_signature_unrelated_events_and_other_labels_start_nothing(world, deployment_id):
    issue = await world.new_issue()
    assert (await world.settle("issues"))["reason"] == "issues.opened is not a trigger"
    await world.github.post(f"{REPO}/issues/{issue['number']}/labels", json={"labels": ["bug"]},
                            headers=world.as_user("alice"))
    assert (await world.settle("issues"))["reason"] == "label 'bug' is not the trigger label 'jules'"

    body = json.dumps({"action": "labeled", "issue": issue, "label": {"name": "jules"},
                       "repository": {"full_name": "acme/widgets"},
                       "sender": {"login": "alice", "type": "User"}}).encode()
    async with httpx.AsyncClient() as client:
        forged = await client.post(world.receiver_url + WEBHOOK_PATH, content=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": "forged-1",
            "X-Hub-Signature-256": sign("not-the-secret", body)})
        assert forged.status_code == 401
        health = await client.get(world.receiver_url + "/health")
    assert health.json() == {"status": "ok", "signatures": "checked"}
    assert await world.eyes(issue["number"]) == [] and await world.runs(deployment_id, issue) == []


async def test_a_missing_deployment_is_a_503_github_can_redeliver(world):
    issue = await world.new_issue()
    port = free_port()
    config = ReceiverConfig(api_url=world.api_url, token="sim-token-agent", secret=SECRET, rules=load_rules(),
                            deployment="jules-agent-workflow/not-registered")
    body = json.dumps({"action": "labeled", "issue": issue, "label": {"name": "jules"},
                       "repository": {"full_name": "acme/widgets"},
                       "sender": {"login": "alice", "type": "User"}}).encode()
    async with serving(create_app(config), port), httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", content=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-503",
            "X-Hub-Signature-256": sign(SECRET, body)})
    assert answer.status_code == 503
    assert "jules-agent-workflow/not-registered is not registered" in answer.json()["reason"]


async def test_prefect_down_is_a_503_within_the_deadline(world):
    """GitHub gives up after 10 s; the receiver answers by its deadline even while Prefect's client retries."""
    import time

    from prefect.client.orchestration import PrefectClient

    issue = await world.new_issue()
    port = free_port()
    config = ReceiverConfig(api_url=world.api_url, token="sim-token-agent", secret=SECRET, rules=load_rules(),
                            deadline_seconds=2)
    body = json.dumps({"action": "labeled", "issue": issue, "label": {"name": "jules"},
                       "repository": {"full_name": "acme/widgets"},
                       "sender": {"login": "alice", "type": "User"}}).encode()
    async with PrefectClient("http://127.0.0.1:9/api") as down, \
            serving(create_app(config, prefect_client=down), port), httpx.AsyncClient(timeout=20) as client:
        started = time.monotonic()
        answer = await client.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", content=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-down",
            "X-Hub-Signature-256": sign(SECRET, body)})
        elapsed = time.monotonic() - started
    assert answer.status_code == 503 and elapsed < 4, (answer.text, elapsed)
    reason = answer.json()["reason"]
    assert reason == "not done within 2s; a redelivery is safe" or reason.startswith("Prefect:"), reason


async def test_an_edit_on_a_needs_info_issue_retriages_it(world, deployment_id):
    """The reporter (read-only here) adds the details the status comment asked for: the edit alone starts a run."""
    created = await world.github.post(f"{REPO}/issues", json={"title": f"it breaks [e2e-{next(_numbers)}]",
                                                               "body": "pls fix"}, headers=world.as_user("mallory"))
    issue = created.json()
    number = issue["number"]
    await world.github.patch(f"{REPO}/issues/{number}", json={"body": "pls fix!"}, headers=world.as_user("mallory"))
    assert (await world.settle("issues"))["reason"] == f"issues.edited: issue #{number} is not waiting for information"

    # The words of a needs-info status comment from anyone are not the run's phase: the edit still starts nothing.
    marker = f"<!-- jules-agent-status acme/widgets#{number} -->"
    await world.github.post(f"{REPO}/issues/{number}/comments", headers=world.as_user("mallory"),
                            json={"body": f"{marker}\n### ❔ More information needed\n\n- which input?"})
    key = claims.claim_key(world.api_url, IssueRef(owner="acme", repo="widgets", number=number))
    for phase in (None, Phase.CI_RUNNING, Phase.REJECTED):  # never claimed, or claimed in another phase
        if phase:
            await claims.save(key, claims.Claim(issue=key, phase=phase))
        await world.github.patch(f"{REPO}/issues/{number}", json={"body": f"pls fix!? {phase}"},
                                 headers=world.as_user("mallory"))
        assert (await world.settle("issues"))["reason"] == \
            f"issues.edited: issue #{number} is not waiting for information"

    # The flow's needs-info end, as a run stores it in the issue's claim.
    await claims.save(key, claims.Claim(issue=key, phase=Phase.NEEDS_INFO))
    await world.github.patch(f"{REPO}/issues/{number}", json={"labels": ["bug"]}, headers=world.as_user("alice"))
    await world.github.patch(f"{REPO}/issues/{number}", json={"body": "pls fix!!"}, headers=world.as_user("jules"))
    assert (await world.settle("issues"))["reason"] == "sender jules-sandbox[bot] is a bot"
    await world.github.patch(f"{REPO}/issues/{number}", headers=world.as_user("mallory"),
                             json={"body": "slugify('Hello!') returns 'hello-'; expected 'hello'."})
    answer = await world.settle("issues")
    assert (answer["status"], answer["trigger"], answer["superseded"]) == ("accepted", "edit", []), answer
    [run] = await world.runs(deployment_id, {"html_url": issue["html_url"]})
    assert run.parameters["requested_by"] == "mallory" and "trigger:issues.edited" in run.tags
    # Due a minute later (TRIGGERS_EDIT_SETTLE_SECONDS): the reporter's next fix replaces it, one triage in all.
    assert run.state.is_scheduled() and (run.expected_start_time - run.created).total_seconds() >= 55
    await world.github.patch(f"{REPO}/issues/{number}", headers=world.as_user("mallory"),
                             json={"body": "slugify('Hello!') returns 'hello-'; expected 'hello' (v2.1)."})
    newer = await world.settle("issues")
    assert (newer["status"], newer["superseded"]) == ("accepted", [str(run.id)]), newer
    again = await world.sim.webhooks.redeliver(answer["delivery"])  # the older edit again: it cancels nothing newer
    assert json.loads(again["response"])["status"] == "duplicate"
    runs = {str(r.id): r for r in await world.runs(deployment_id, {"html_url": issue["html_url"]})}
    assert runs[str(run.id)].state.is_cancelled() and "superseded by a newer issues.edited" in \
        runs[str(run.id)].state.message
    assert runs[newer["flow_run_id"]].state.is_scheduled() and len(runs) == 2


@pytest.fixture(scope="session")
def archive_deployment_id(prefect_api_url):
    """The archive sweep as deploy.py registers it beside the workflow (no schedule here), served by nobody."""
    from agentic.workflows import archive

    return archive.to_deployment(0, tags=["jules"]).apply()


async def test_a_closed_pull_request_starts_one_archive_sweep_of_its_repository(world, archive_deployment_id):
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    agent = world.as_user("agent")
    main = (await world.github.get(f"{REPO}/git/ref/heads/main", headers=agent)).json()["object"]["sha"]
    branch = f"fix-{next(_numbers)}"
    (await world.github.post(f"{REPO}/git/refs", json={"ref": f"refs/heads/{branch}", "sha": main},
                             headers=agent)).raise_for_status()
    (await world.github.put(f"{REPO}/contents/NOTES.md", headers=agent, json={
        "message": "notes", "content": "bm90ZXMK", "branch": branch})).raise_for_status()
    pull = (await world.github.post(f"{REPO}/pulls", headers=agent, json={
        "title": "Strip trailing dashes", "head": branch, "base": "main"})).json()
    assert (await world.settle("pull_request"))["reason"] == "pull_request.opened is not a trigger"

    await world.github.patch(f"{REPO}/pulls/{pull['number']}", json={"state": "closed"}, headers=agent)
    answer = await world.settle("pull_request")
    assert (answer["code"], answer["status"], answer["trigger"]) == (202, "accepted", "archive"), answer
    # Reopened and closed again: a new delivery, the same pull request, so the same sweep (its session is archived).
    await world.github.patch(f"{REPO}/pulls/{pull['number']}", json={"state": "open"}, headers=agent)
    await world.github.patch(f"{REPO}/pulls/{pull['number']}", json={"state": "closed"}, headers=agent)
    again = await world.settle("pull_request")
    assert (again["status"], again["flow_run_id"]) == ("duplicate", answer["flow_run_id"]), again
    async with get_client() as client:
        runs = await client.read_flow_runs(deployment_filter=DeploymentFilter(
            id=DeploymentFilterId(any_=[archive_deployment_id])))
        mine = [r for r in runs if r.idempotency_key == answer["idempotency_key"]]
        assert [r.parameters for r in mine] == [{"repo": "acme/widgets"}]
        assert "trigger:pull_request" in mine[0].tags
        for run in mine:  # nothing may be left scheduled for a later test that serves the sweep
            await client.delete_flow_run(run.id)
