"""Jules simulator + the real GitHub simulator (in-process, demo seed): an AUTO_CREATE_PR session leaves a branch,
a commit and an open pull request on GitHub that closes the issue named in the prompt."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from agentic.sandbox.github import DEMO_SEED, create_app as create_github_app, load_seed_file
from agentic.sandbox.jules import DEFAULT_API_KEY, DEMO_CONFIG, create_app, load_config
from agentic.sandbox.jules.publish import github_client
from agentic.sandbox.jules.testing import SpecConformance

JULES_TOKEN = "sim-token-jules"  # demo.yaml: jules-sandbox[bot]


@pytest.fixture
async def stack():
    github_app = create_github_app({"seed": load_seed_file(DEMO_SEED)})
    transport = httpx.ASGITransport(app=github_app)
    config = load_config(DEMO_CONFIG, tick_seconds=0.02)
    gh_for_jules = github_client("http://github.test", config.github_token, transport=transport)
    jules_app = create_app(config, github=gh_for_jules)
    conformance = SpecConformance()
    jules = httpx.AsyncClient(transport=httpx.ASGITransport(app=jules_app), base_url="http://jules.test/v1alpha",
                              headers={"X-Goog-Api-Key": DEFAULT_API_KEY},
                              event_hooks={"response": [conformance.check]})
    github = httpx.AsyncClient(transport=transport, base_url="http://github.test",
                               headers={"Authorization": f"Bearer {JULES_TOKEN}"})
    yield jules, github
    await jules.aclose()
    await jules_app.state.simulator.aclose()
    await gh_for_jules.aclose()
    await github.aclose()


async def _finish(jules: httpx.AsyncClient, session_id: str) -> dict:
    for _ in range(500):
        session = (await jules.get(f"/sessions/{session_id}")).json()
        if session["state"] in {"COMPLETED", "FAILED"}:
            return session
        await asyncio.sleep(0.01)
    raise AssertionError(f"session {session_id} did not finish: {session['state']}")


async def test_auto_create_pr_opens_a_real_pull_request(stack):
    jules, github = stack
    issue = (await github.get("/repos/acme/widgets/issues/1")).json()  # #5 asks a question by design
    prompt = f"{issue['title']}\n\n{issue.get('body') or ''}\n\nFixes #{issue['number']}"
    created = await jules.post("/sessions", json={
        "prompt": prompt, "automationMode": "AUTO_CREATE_PR",
        "sourceContext": {"source": "sources/github/acme/widgets", "githubRepoContext": {"startingBranch": "main"}}})
    session = await _finish(jules, created.json()["id"])
    assert session["state"] == "COMPLETED", session
    pr_output = next(o["pullRequest"] for o in session["outputs"] if "pullRequest" in o)
    number = int(pr_output["url"].rsplit("/", 1)[1])
    pull = (await github.get(f"/repos/acme/widgets/pulls/{number}")).json()
    assert pull["state"] == "open" and pull["html_url"] == pr_output["url"]
    assert pull["head"]["ref"] == pr_output["headRef"] and pull["base"]["ref"] == "main"
    assert f"Fixes #{issue['number']}" in pull["body"]
    assert pull["user"]["login"] == "jules-sandbox[bot]"
    change = next(o["changeSet"] for o in session["outputs"] if "changeSet" in o)
    main_sha = (await github.get("/repos/acme/widgets/git/ref/heads/main")).json()["object"]["sha"]
    assert change["gitPatch"]["baseCommitId"] == main_sha
    path = change["gitPatch"]["unidiffPatch"].split("+++ b/", 1)[1].split("\n", 1)[0]
    on_branch = await github.get(f"/repos/acme/widgets/contents/{path}", params={"ref": pr_output["headRef"]})
    assert on_branch.status_code == 200
    assert (await github.get(f"/repos/acme/widgets/contents/{path}")).status_code == 404  # main untouched


async def test_unknown_starting_branch_fails_the_session_with_github_reason(stack):
    jules, _ = stack
    created = await jules.post("/sessions", json={
        "prompt": "Fix it", "automationMode": "AUTO_CREATE_PR",
        "sourceContext": {"source": "sources/github/acme/widgets", "githubRepoContext": {"startingBranch": "nope"}}})
    session = await _finish(jules, created.json()["id"])
    assert session["state"] == "FAILED"
    last = (await jules.get(f"/sessions/{session['id']}/activities")).json()["activities"][-1]
    assert "404" in last["sessionFailed"]["reason"] and "nope" in last["sessionFailed"]["reason"]


@pytest.mark.parametrize("where", ["scenario", "config"])
async def test_pull_request_body_without_the_closing_reference(stack, where):
    """Jules does not always copy `Fixes #N` into its PR: the client must add it (the flow's finishing step)."""
    jules, github = stack
    simulator = jules._transport.app.state.simulator
    if where == "scenario":
        rule = await jules.post("http://jules.test/_sim/scenarios",
                                json={"match": "slugify", "pr_closing_refs": "drop"})
        assert rule.status_code == 200 and rule.json()["scenarios"][0]["script"] is None  # the default script
    else:
        simulator.config.pr_closing_refs = "drop"
    created = await jules.post("/sessions", json={
        "prompt": "Fix the slugify crash\n\nFixes #1", "automationMode": "AUTO_CREATE_PR",
        "sourceContext": {"source": "sources/github/acme/widgets", "githubRepoContext": {"startingBranch": "main"}}})
    session = await _finish(jules, created.json()["id"])
    assert session["state"] == "COMPLETED"
    url = next(o["pullRequest"]["url"] for o in session["outputs"] if "pullRequest" in o)
    pull = (await github.get(f"/repos/acme/widgets/pulls/{url.rsplit('/', 1)[1]}")).json()
    assert "Fixes #1" not in pull["body"] and session["url"] in pull["body"]
    other = await jules.post("/sessions", json={
        "prompt": "Rename a helper\n\nFixes #2", "automationMode": "AUTO_CREATE_PR",
        "sourceContext": {"source": "sources/github/acme/widgets"}})
    copied = await _finish(jules, other.json()["id"])
    body = next(o["pullRequest"]["description"] for o in copied["outputs"] if "pullRequest" in o)
    assert ("Fixes #2" in body) == (where == "scenario")  # the scenario touches only the sessions it matches
