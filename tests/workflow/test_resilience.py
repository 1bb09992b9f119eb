"""Faults and races: quota 429s are queued, 5xx bursts are retried, concurrent triggers and a kill -9 never produce a
second Jules session or a second status comment, and a crash between "create" and "record" is recovered."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from agentic.settings import PACKAGE_DIR
from agentic.testing import environment
from agentic.testing.sandbox import FAST_WORKFLOW, SANDBOX_JULES_KEY, running_sandbox
from agentic.dispatch import claims
from agentic.github.issue_ref import parse_issue_url
from agentic.workflows.jules_workflow import jules_agent_workflow
from agentic.workflows.status_comment import status_marker

pytestmark = pytest.mark.slow

BODY = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
        "slugify('Hello!') returns 'hello-'.\n\n- [ ] no trailing dash for names ending in punctuation\n"
        "- [ ] a test covers 'Hello!'")


def sim(sandbox, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, sandbox.jules_url.removesuffix("/v1alpha") + path, timeout=10, **kwargs)


def sessions_for(sandbox, number: int) -> list[dict]:
    return [s for s in sim(sandbox, "GET", "/_sim/sessions").json()["sessions"]
            if f"acme/widgets#{number}@" in (s.get("prompt") or "")]


def status_comments(sandbox, number: int) -> list[dict]:
    with sandbox.github() as gh:
        comments = gh.get(f"/repos/acme/widgets/issues/{number}/comments", params={"per_page": 100}).json()
    return [c for c in comments if c["body"].startswith(status_marker(f"acme/widgets#{number}"))]


def occupier_state(sandbox) -> str | None:
    return next((s["state"] for s in sim(sandbox, "GET", "/_sim/sessions").json()["sessions"]
                 if s.get("prompt") == "occupier"), None)


def create_count(sandbox) -> int:
    return sim(sandbox, "GET", "/_sim/requests").json()["byOperation"].get("createSession", 0)


@pytest.fixture(scope="module")
def capped_sandbox(prefect_api_url, tmp_path_factory):
    """A second sandbox whose Jules key may run ONE session at a time."""
    config = yaml.safe_load((PACKAGE_DIR / "sandbox" / "jules" / "demo.yaml").read_text())
    config["quota"] = {"max_concurrent_sessions": 1, "max_sessions_per_day": 100}
    path = tmp_path_factory.mktemp("jules") / "capped.yaml"
    path.write_text(yaml.safe_dump(config))
    with running_sandbox(tick_seconds=0.1, jules_config=path, **FAST_WORKFLOW) as sandbox:
        yield sandbox


async def test_quota_429_is_queued_until_a_slot_frees(capped_sandbox, prefect_api_url):
    sandbox = capped_sandbox
    with sandbox.github() as gh:
        gh.headers["Authorization"] = "Bearer sim-token-alice"
        number = gh.post("/repos/acme/widgets/issues", json={"title": "quota", "body": BODY}).json()["number"]
    # Someone else's session holds the only slot: it waits for its plan's approval, which the test gives only once
    # our run has been refused, however long triage takes on this machine.
    with sandbox.jules() as jules:
        occupier = jules.post("/sessions", json={"prompt": "occupier", "requirePlanApproval": True, "sourceContext": {
            "source": "sources/github/acme/widgets", "githubRepoContext": {"startingBranch": "main"}}})
        assert occupier.status_code == 200, occupier.text
    occupier_id = occupier.json()["id"]
    creates_before = create_count(sandbox)
    with environment(sandbox.env):
        run = asyncio.create_task(
            jules_agent_workflow(github_issue_url=f"https://github.com/acme/widgets/issues/{number}"))
        deadline = time.monotonic() + 120
        while create_count(sandbox) - creates_before < 1 or occupier_state(sandbox) != "AWAITING_PLAN_APPROVAL":
            assert not run.done() and time.monotonic() < deadline, "the run never tried to create its session"
            await asyncio.sleep(0.2)
        with sandbox.jules() as jules:
            jules.post(f"/sessions/{occupier_id}:approvePlan", json={}).raise_for_status()
        result = await run
    assert result.status == "completed", result
    assert create_count(sandbox) - creates_before >= 2  # at least one 429, then the create that went through
    assert len(sessions_for(sandbox, number)) == 1 and len(status_comments(sandbox, number)) == 1
    states = [s["state"] for s in sim(sandbox, "GET", "/_sim/sessions").json()["sessions"]
              if s.get("prompt") == "occupier"]
    assert states == ["COMPLETED"]  # ours was created only after the occupier finished


async def test_5xx_bursts_are_retried_without_duplicates(sandbox, new_issue):
    number, url = new_issue("5xx burst", BODY)
    sim(sandbox, "POST", "/_sim/faults", json={"faults": [
        {"kind": "error", "status": 503, "count": 2, "route": "createSession"},
        {"kind": "error", "status": 500, "count": 2, "route": "listActivities"},
    ]}).raise_for_status()
    with sandbox.github() as gh:
        gh.post("/_sim/faults", json={"status": 502, "count": 1, "match": "PATCH /repos/acme/widgets/issues/comments"})
    result = await jules_agent_workflow(github_issue_url=url)
    assert result.status == "completed", result
    assert len(sessions_for(sandbox, number)) == 1 and len(status_comments(sandbox, number)) == 1


async def test_concurrent_triggers_and_kill_minus_9_give_one_session(sandbox, new_issue):
    number, url = new_issue("race: trailing dash", BODY + "\n\nslow-race")
    sim(sandbox, "POST", "/_sim/scenarios", json={"match": f"#{number}@", "script": "slow"}).raise_for_status()
    owner = subprocess.Popen([sys.executable, "-m", "agentic.workflows.jules_workflow", url], env=os.environ.copy(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not sessions_for(sandbox, number):
            assert time.monotonic() < deadline and owner.poll() is None, "owner never created its session"
            await asyncio.sleep(0.2)
        # 19 more triggers race the owner, which is killed -9 mid-run while they start.
        others = asyncio.gather(*[jules_agent_workflow(github_issue_url=url) for _ in range(19)])
        await asyncio.sleep(0.5)
        assert owner.poll() is None, "the owner must still be running when it is killed"
    finally:
        os.killpg(owner.pid, signal.SIGKILL)  # mid-run, no chance to clean up
        owner.wait()
    statuses = [r.status for r in await others]
    # While the dead owner's heartbeat is fresh every trigger stands down; once stale, one of them may take over.
    assert set(statuses) <= {"duplicate", "completed"} and statuses.count("completed") <= 1, statuses
    # A retry right away still sees a live owner; once its heartbeat is stale, the retry takes over and finishes.
    await asyncio.sleep(float(FAST_WORKFLOW["claim_stale_seconds"]) + 1)
    result = await jules_agent_workflow(github_issue_url=url)
    # Completed by this retry, or already by the trigger that took over: either way the one PR is reported.
    expected = "duplicate" if "completed" in statuses else "completed"
    assert result.status == expected and result.pull_request_url, (result, statuses)
    assert len(sessions_for(sandbox, number)) == 1
    assert len(status_comments(sandbox, number)) == 1
    assert result.session_id == sessions_for(sandbox, number)[0]["id"]


async def test_crash_between_create_and_record_adopts_the_existing_session(sandbox, new_issue, prefect_api_url):
    """The claim says a session was being created but has no id (the process died right after createSession):
    the next run must find that session by its marker, not create a second one."""
    from agentic.agent.brief import render_prompt
    from agentic.sandbox.model import decide
    from agentic.agent.triage import issue_prompt
    from agentic.agent.brief import Triage

    number, url = new_issue("crash window", BODY)
    ref = parse_issue_url(url)
    with sandbox.github() as gh:
        issue = gh.get(f"/repos/acme/widgets/issues/{number}").json()
    digest = claims.text_hash(issue["title"], issue["body"])
    record = claims.SessionRecord(text_hash=digest, marker=claims.marker_for(ref, digest))
    key = claims.claim_key(sandbox.github_url, ref)
    await claims.save(key, claims.Claim(issue=key, sessions=[record]))  # claimed, never recorded
    triage = Triage.model_validate(decide(issue_prompt(repo="acme/widgets", number=number, title=issue["title"],
                                                       body=issue["body"], labels=[], author="alice")))
    with sandbox.jules() as jules:  # the session the dead run created
        created = jules.post("/sessions", json={
            "prompt": render_prompt(triage.brief, issue_number=number, issue_url=url, marker=record.marker),
            "title": "crash window", "automationMode": "AUTO_CREATE_PR",
            "sourceContext": {"source": "sources/github/acme/widgets", "githubRepoContext": {"startingBranch": "main"}}})
        assert created.status_code == 200, created.text
    creates_before = create_count(sandbox)
    result = await jules_agent_workflow(github_issue_url=url)
    assert result.status == "completed", result
    assert result.session_id == created.json()["id"]
    assert create_count(sandbox) == creates_before
    (adopted,) = sessions_for(sandbox, number)
    # The session the dead run made is adopted because it was made with the product's own key (Jules lists a
    # key's own sessions): the simulator records the key of each session, masked to its first 4 characters.
    assert sandbox.env["JULES_API_KEY"] == SANDBOX_JULES_KEY
    assert adopted["id"] == result.session_id and adopted["apiKey"] == SANDBOX_JULES_KEY[:4] + "…"
