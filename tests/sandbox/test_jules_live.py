"""The Jules simulator's `live` profile: the live API's behaviours beyond its docs (jules-api.md §9), against the real
GitHub simulator (in-process, demo seed). Each test also runs (or checks) the `documented` profile where the two
differ, so it fails if the live behaviour is missing or leaks into the default."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from agentic.sandbox.github import DEMO_SEED, create_app as create_github_app, load_seed_file
from agentic.sandbox.jules import DEFAULT_API_KEY, DEMO_CONFIG, LIVE_VARIANT_STATES, JulesSimConfig, create_app, \
    load_config
from agentic.sandbox.jules.publish import github_client
from agentic.sandbox.jules.testing import SpecConformance

TICK = 0.02
TERMINAL = {"COMPLETED", "FAILED"}
SOURCE = "sources/github/acme/widgets"
QUIET = {"variant_states": "none", "outputs": "full", "activities_not_found_seconds": 0, "shared_create_time": False,
         "after_completion_seconds": None, "repeating_page_tokens": False,
         "create_burst_limit": None}  # the live profile with every behaviour off, for one-at-a-time tests


@pytest.fixture
async def make_stack():
    """make_stack(profile, **live) -> (jules client, GitHub client, simulator); both simulators are real apps."""
    opened: list[Any] = []

    async def make(profile: str = "live", scenarios: list | None = None, tick: float = TICK, **live: Any):
        github_app = create_github_app({"seed": load_seed_file(DEMO_SEED)})
        transport = httpx.ASGITransport(app=github_app)
        config = load_config(DEMO_CONFIG, tick_seconds=tick, profile=profile, live={**QUIET, **live},
                             scenarios=scenarios or [])
        gh_for_jules = github_client("http://github.test", config.github_token, transport=transport)
        app = create_app(config, github=gh_for_jules)
        conformance = SpecConformance(extra_states=LIVE_VARIANT_STATES)
        jules = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jules.test/v1alpha",
                                  headers={"X-Goog-Api-Key": DEFAULT_API_KEY},
                                  event_hooks={"response": [conformance.check]})
        github = httpx.AsyncClient(transport=transport, base_url="http://github.test",
                                   headers={"Authorization": "Bearer sim-token-octo-maintainer"})
        opened.append((jules, github, gh_for_jules, app.state.simulator))
        return jules, github, app.state.simulator

    yield make
    for jules, github, gh_for_jules, simulator in opened:
        await jules.aclose()
        await simulator.aclose()
        await gh_for_jules.aclose()
        await github.aclose()


def pr_request(prompt: str = "Fix the slugify crash\n\nFixes #1", **fields: Any) -> dict:
    return {"prompt": prompt, "automationMode": "AUTO_CREATE_PR",
            "sourceContext": {"source": SOURCE, "githubRepoContext": {"startingBranch": "main"}}, **fields}


async def create(jules: httpx.AsyncClient, body: dict) -> dict:
    response = await jules.post("/sessions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def internal_state(simulator, session_id: str) -> str:
    """The simulator's own (documented) state name; reading it draws nothing from the session's wire generator."""
    return simulator.store.sessions[session_id].state


async def until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(TICK / 5)


async def poll_until(jules: httpx.AsyncClient, session_id: str, states: set[str], seen: list[str],
                     timeout: float = 10.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        session = (await jules.get(f"/sessions/{session_id}")).json()
        if not seen or seen[-1] != session["state"]:
            seen.append(session["state"])
        if session["state"] in states:
            return session
        assert asyncio.get_running_loop().time() < deadline, f"{session_id} still {session['state']}"
        await asyncio.sleep(TICK / 5)


async def all_activities(jules: httpx.AsyncClient, session_id: str, **params: str) -> list[dict]:
    response = await jules.get(f"/sessions/{session_id}/activities", params={"pageSize": 100, **params})
    assert response.status_code == 200, response.text
    return response.json().get("activities", [])


def kind(activity: dict) -> str:
    return next(k for k in ("agentMessaged", "userMessaged", "planGenerated", "planApproved", "progressUpdated",
                            "sessionCompleted", "sessionFailed") if k in activity)


# --- selection -------------------------------------------------------------------------------------------------
def test_documented_is_the_default_profile():
    assert JulesSimConfig().profile == "documented"
    assert load_config(DEMO_CONFIG).profile == "documented"
    with pytest.raises(Exception, match="profile"):
        JulesSimConfig(profile="observed")


# --- (a) plan approval carries forward -------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["live", "documented"])
async def test_feedback_after_approval_revises_the_plan_without_a_second_approval(make_stack, profile):
    jules, _, simulator = await make_stack(profile, scenarios=[{"match": "slugify", "script": "slow"}])
    session = await create(jules, pr_request(requirePlanApproval=True))
    seen: list[str] = []
    await poll_until(jules, session["id"], {"AWAITING_PLAN_APPROVAL"}, seen)
    assert (await jules.post(f"/sessions/{session['id']}:approvePlan", json={})).status_code == 200
    await until(lambda: len(simulator.store.sessions[session["id"]].activities) >= 3, what="first step")  # working
    feedback = await jules.post(f"/sessions/{session['id']}:sendMessage", json={"prompt": "Also add a docstring."})
    assert feedback.status_code == 200
    again = await jules.post(f"/sessions/{session['id']}:approvePlan", json={})
    assert again.status_code == 400
    error = again.json()["error"]
    assert (error["code"], error["status"]) == (400, "FAILED_PRECONDITION")
    assert "AWAITING_PLAN_APPROVAL" in error["message"]
    done = await poll_until(jules, session["id"], TERMINAL, seen)
    assert done["state"] == "COMPLETED"
    assert seen.count("AWAITING_PLAN_APPROVAL") == 1  # never a second wait
    trace = await all_activities(jules, session["id"])
    plans = [a["planGenerated"]["plan"] for a in trace if "planGenerated" in a]
    steps_run = [a["progressUpdated"]["title"] for a in trace if "progressUpdated" in a]
    approvals = [a for a in trace if "planApproved" in a]
    assert len(approvals) == 1 and approvals[0]["planApproved"]["planId"] == plans[0]["id"]
    if profile == "live":
        assert len(plans) == 2 and plans[1]["id"] != plans[0]["id"]
        assert "Apply the requested revision" in [s["title"] for s in plans[1]["steps"]]
        assert "Apply the requested revision" in steps_run  # the revised plan ran
        revised_at = next(i for i, a in enumerate(trace) if a.get("planGenerated", {}).get("plan") == plans[1])
        assert kind(trace[revised_at - 1]) == "userMessaged"
    else:  # documented: a message while working is recorded, the plan stays as approved
        assert len(plans) == 1 and "Apply the requested revision" not in steps_run


# --- (b) states beyond the documented nine ---------------------------------------------------------------------
async def test_variant_states_on_the_wire(make_stack):
    jules, _, simulator = await make_stack(variant_states="all", running_share=0.5, tick=0.1,  # each state 0.1 s
                                           scenarios=[{"match": "(?i)ask", "script": "question"}])
    session = await create(jules, {"prompt": "Refactor the parser, ask me first"})
    assert session["state"] == "PENDING"
    seen: list[str] = ["PENDING"]
    await poll_until(jules, session["id"], {"AWAITING_USER_INPUT"}, seen)
    assert seen[:3] == ["PENDING", "QUEUED", "PLANNING"]
    assert internal_state(simulator, session["id"]) == "AWAITING_USER_FEEDBACK"  # only the wire name differs
    listed = (await jules.get("/sessions")).json()["sessions"][0]
    assert listed["state"] == "AWAITING_USER_INPUT"
    assert (await jules.post(f"/sessions/{session['id']}:sendMessage", json={"prompt": "Go ahead."})).status_code == 200
    done = await poll_until(jules, session["id"], TERMINAL, seen)
    assert done["state"] == "COMPLETED" and "AWAITING_USER_FEEDBACK" not in seen
    dump = (await jules.get("http://jules.test/_sim/sessions")).json()["sessions"][0]
    assert dump["profile"] == "live" and dump["live"]["pending"] and dump["state"] == "COMPLETED"
    # A documented-only checker rejects the wire value: the extra states are what the live profile adds.
    strict = SpecConformance()
    with pytest.raises(Exception, match="AWAITING_USER_INPUT|PENDING"):
        response = await jules.post("/sessions", json={"prompt": "another"})
        strict.validate(response)


async def _running_reads(make_stack, reads: int = 30) -> list[str]:
    jules, _, simulator = await make_stack(variant_states="all", running_share=0.5, scenarios=[
        {"match": ".", "script": "silent"}])
    session = await create(jules, {"prompt": "Stay busy"})
    await until(lambda: internal_state(simulator, session["id"]) == "IN_PROGRESS", what="IN_PROGRESS")
    return [(await jules.get(f"/sessions/{session['id']}")).json()["state"] for _ in range(reads)]


async def test_running_reads_are_reproducible_per_session(make_stack):
    first, second = await _running_reads(make_stack), await _running_reads(make_stack)
    assert set(first) == {"IN_PROGRESS", "RUNNING"}  # some reads say RUNNING, the others IN_PROGRESS
    assert first == second  # same seed, same session id: the same sequence


async def test_some_sessions_are_picked_deterministically(make_stack):
    picks = []
    for _ in range(2):
        jules, _, _ = await make_stack(variant_states="some", outputs="mixed")
        for n in range(12):
            await create(jules, {"prompt": f"task {n}"})
        dump = (await jules.get("http://jules.test/_sim/sessions")).json()["sessions"]
        picks.append([(s["id"], s["live"]) for s in dump])
    assert picks[0] == picks[1]
    traits = [t for _, t in picks[0]]
    assert {t["pending"] for t in traits} == {True, False}  # "some": neither none nor all of twelve
    assert {t["outputs"] for t in traits} == {"full", "late", "empty"}


# --- (c) outputs empty, the diff in activities, the PR on GitHub ----------------------------------------------------
async def find_pull_by_session(github: httpx.AsyncClient, session: dict) -> dict:
    """How a client finds the PR when `outputs` is empty: the PR body carries the session URL (and id)."""
    found = (await github.get("/search/issues", params={"q": f"repo:acme/widgets is:pr {session['id']}"})).json()
    assert found["total_count"] == 1, found
    return (await github.get(f"/repos/acme/widgets/pulls/{found['items'][0]['number']}")).json()


async def test_outputs_empty_on_completed_while_the_pr_is_opened(make_stack):
    jules, github, _ = await make_stack(scenarios=[{"match": "slugify", "outputs": "empty"}])
    session = await create(jules, pr_request("Fix the slugify crash in the widget loader, keeping the public API "
                                             "stable for every caller. " * 3 + "\n\nFixes #1"))
    done = await poll_until(jules, session["id"], TERMINAL, [])
    assert done["state"] == "COMPLETED" and "outputs" not in done
    await asyncio.sleep(TICK * 10)
    assert "outputs" not in (await jules.get(f"/sessions/{session['id']}")).json()  # `empty`: never filled
    trace = await all_activities(jules, session["id"])
    change_sets = [a["changeSet"] for item in trace for a in item.get("artifacts", []) if "changeSet" in a]
    assert len(change_sets) >= 2  # one per step, cumulative: each is a whole diff against the base
    last = change_sets[-1]["gitPatch"]["unidiffPatch"]
    assert all(p["gitPatch"]["unidiffPatch"].splitlines()[:4] == last.splitlines()[:4] for p in change_sets)
    assert len(last) > len(change_sets[0]["gitPatch"]["unidiffPatch"]) and "+## Task" in last
    assert change_sets[-1]["gitPatch"]["baseCommitId"]
    pull = await find_pull_by_session(github, session)
    assert pull["state"] == "open" and session["url"] in pull["body"]
    assert pull["head"]["ref"].endswith(session["id"][-6:])
    path = last.split("+++ b/", 1)[1].split("\n", 1)[0]
    on_branch = await github.get(f"/repos/acme/widgets/contents/{path}", params={"ref": pull["head"]["ref"]})
    assert on_branch.status_code == 200  # the last changeSet is what the PR holds


@pytest.mark.parametrize("profile", ["live", "documented"])
async def test_pull_request_output_may_come_after_completed(make_stack, profile):
    jules, github, _ = await make_stack(profile, outputs="late", outputs_delay_seconds=0.5)
    session = await create(jules, pr_request())
    done = await poll_until(jules, session["id"], TERMINAL, [])
    assert done["state"] == "COMPLETED"
    if profile == "documented":
        assert [list(o) for o in done["outputs"]] == [["pullRequest"], ["changeSet"]]
        return
    assert "outputs" not in done
    pull = await find_pull_by_session(github, session)  # already on GitHub
    await asyncio.sleep(0.6)
    later = (await jules.get(f"/sessions/{session['id']}")).json()
    assert later["state"] == "COMPLETED" and later["updateTime"] > done["updateTime"]
    assert later["outputs"][0]["pullRequest"]["url"] == pull["html_url"]


# --- (d) listActivities 404 right after create ------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["live", "documented"])
async def test_activities_are_not_found_right_after_create(make_stack, profile):
    jules, _, _ = await make_stack(profile, activities_not_found_seconds=0.5)
    session = await create(jules, {"prompt": "Add a changelog entry"})
    early = await jules.get(f"/sessions/{session['id']}/activities")
    assert (await jules.get(f"/sessions/{session['id']}")).status_code == 200
    if profile == "documented":
        assert early.status_code == 200
        return
    assert early.status_code == 404
    assert early.json() == {"error": {"code": 404, "message": "Requested entity was not found.",
                                      "status": "NOT_FOUND"}}
    await asyncio.sleep(0.55)
    assert (await jules.get(f"/sessions/{session['id']}/activities")).status_code == 200


# --- (e) activities sharing a createTime --------------------------------------------------------------------------
async def test_a_create_time_filter_with_gt_misses_an_activity_and_gte_plus_ids_does_not(make_stack):
    jules, _, simulator = await make_stack(shared_create_time=True, scenarios=[{"match": ".", "script": "slow"}])
    session = await create(jules, {"prompt": "Tidy the imports"})
    record = simulator.store.sessions[session["id"]]
    await until(lambda: len(record.activities) == 1, what="planGenerated")
    seen = await all_activities(jules, session["id"])  # a poll that sees the plan, not yet its approval
    assert [kind(a) for a in seen] == ["planGenerated"]
    mark = seen[-1]["createTime"]
    await until(lambda: len(record.activities) >= 2, what="planApproved")
    naive = await all_activities(jules, session["id"], filter=f'create_time>"{mark}"')
    assert "planApproved" not in [kind(a) for a in naive]  # lost for a client that trusts `>`
    careful = await all_activities(jules, session["id"], filter=f'create_time>="{mark}"')
    new = [a for a in careful if a["id"] not in {s["id"] for s in seen}]
    assert kind(new[0]) == "planApproved" and new[0]["createTime"] == mark
    nanos = mark.replace("Z", "000Z")  # nanosecond precision, as Google timestamps may carry
    assert await all_activities(jules, session["id"], filter=f'create_time >= "{nanos}"') == careful
    done = await poll_until(jules, session["id"], TERMINAL, [], timeout=20)
    trace = await all_activities(jules, session["id"])
    assert trace[-1]["createTime"] == trace[-2]["createTime"] and kind(trace[-1]) == "sessionCompleted"
    assert done["updateTime"] > trace[-1]["createTime"]


async def test_documented_create_times_strictly_increase(make_stack):
    jules, _, _ = await make_stack("documented", shared_create_time=True)
    session = await create(jules, {"prompt": "Tidy the imports"})
    await poll_until(jules, session["id"], TERMINAL, [])
    times = [a["createTime"] for a in await all_activities(jules, session["id"])]
    assert times == sorted(set(times))


# --- (f) activity after COMPLETED -----------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["live", "documented"])
async def test_one_more_push_and_activity_after_completed(make_stack, profile):
    jules, github, _ = await make_stack(profile, after_completion_seconds=0.5)
    session = await create(jules, pr_request())
    done = await poll_until(jules, session["id"], TERMINAL, [])
    count = len(await all_activities(jules, session["id"]))
    pull = await find_pull_by_session(github, session)
    await asyncio.sleep(0.6)
    head_now = (await github.get(f"/repos/acme/widgets/pulls/{pull['number']}")).json()["head"]["sha"]
    later = (await jules.get(f"/sessions/{session['id']}")).json()
    trace = await all_activities(jules, session["id"])
    assert later["state"] == "COMPLETED"
    if profile == "documented":
        assert len(trace) == count and later["updateTime"] == done["updateTime"] and head_now == pull["head"]["sha"]
        return
    assert len(trace) == count + 1 and kind(trace[-2]) == "sessionCompleted" and kind(trace[-1]) == "progressUpdated"
    assert later["updateTime"] > done["updateTime"] and trace[-1]["createTime"] > trace[-2]["createTime"]
    assert head_now != pull["head"]["sha"]  # Jules pushed to the PR branch after COMPLETED
    assert head_now[:7] in trace[-1]["progressUpdated"]["description"]
    patch = trace[-1]["artifacts"][0]["changeSet"]["gitPatch"]["unidiffPatch"]
    assert "+Follow-up:" in patch and "+## Task" in patch  # still the whole change against the base


# --- (g) listActivities' last page keeps a nextPageToken, which repeats -------------------------------------------
@pytest.mark.parametrize("profile", ["live", "documented"])
async def test_the_last_activities_page_repeats_its_page_token(make_stack, profile):
    jules, _, _ = await make_stack(profile, repeating_page_tokens=True)
    session = await create(jules, {"prompt": "Add a changelog entry"})
    await poll_until(jules, session["id"], TERMINAL, [])
    url = f"/sessions/{session['id']}/activities"
    first = (await jules.get(url, params={"pageSize": 100})).json()
    assert first["activities"] and kind(first["activities"][-1]) == "sessionCompleted"  # all of them, one page
    if profile == "documented":
        assert "nextPageToken" not in first
        return
    token = first["nextPageToken"]
    for _ in range(3):  # a client that pages until no token is given never stops
        again = await jules.get(url, params={"pageSize": 100, "pageToken": token})
        assert again.status_code == 200 and again.json() == {"nextPageToken": token}
    # Not listSessions (never seen live): its last page ends the list.
    assert "nextPageToken" not in (await jules.get("/sessions", params={"pageSize": 100})).json()


async def test_a_small_page_size_still_pages_through_before_the_token_repeats(make_stack):
    jules, _, _ = await make_stack(repeating_page_tokens=True)
    session = await create(jules, {"prompt": "Add a changelog entry"})
    await poll_until(jules, session["id"], TERMINAL, [])
    url, token, listed, tokens = f"/sessions/{session['id']}/activities", None, [], []
    while token is None or tokens.count(token) < 2:
        page = (await jules.get(url, params={"pageSize": 2, **({"pageToken": token} if token else {})})).json()
        listed += page.get("activities", [])
        token = page["nextPageToken"]
        tokens.append(token)
    assert listed == await all_activities(jules, session["id"])  # every activity once, in order
    assert len(tokens) == len(set(tokens)) + 1  # only the very last token comes back


# --- (h) "Could not get source" when too many sessions are created at once -------------------------------------------
@pytest.mark.parametrize(("profile", "parallel", "created"), [
    ("live", 2, 2), ("live", 5, 5), ("live", 10, 2), ("documented", 10, 10)])
async def test_parallel_creates_answer_could_not_get_source(make_stack, profile, parallel, created):
    """jules-sdk#20: 2 and 5 parallel creates succeed; of 10, 8 fail with a misleading 400, no 429."""
    jules, _, simulator = await make_stack(profile, create_burst_limit=5, create_burst_kept=2, create_seconds=0.1)
    answers = await asyncio.gather(*[jules.post("/sessions", json=pr_request(f"Fix bug {n}")) for n in range(parallel)])
    assert sorted(a.status_code for a in answers) == [200] * created + [400] * (parallel - created)
    for refused in (a for a in answers if a.status_code == 400):
        error = refused.json()["error"]
        assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
        assert error["message"].startswith("Could not get source")
    assert len(simulator.store.sessions) == created  # a refused create made nothing
    # The same creates one after the other all go through: it is the burst, not the source.
    for n in range(parallel - created):
        await create(jules, pr_request(f"Fix bug again {n}"))


async def test_a_source_busy_fault_answers_could_not_get_source(make_stack):
    jules, _, simulator = await make_stack("documented")
    await jules.post("http://jules.test/_sim/faults", json={"kind": "source_busy", "count": 1, "route": "createSession"})
    refused = await jules.post("/sessions", json=pr_request())
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "Could not get source."
    assert not simulator.store.sessions
    await create(jules, pr_request())  # count 1: the next create goes through


# --- everything at once, as a client meets it ----------------------------------------------------------------------
async def test_all_live_behaviours_together_still_finish(make_stack):
    jules, github, _ = await make_stack(**{k: v for k, v in JulesSimConfig().live.model_dump().items()
                                           if k != "activities_not_found_seconds"},
                                        activities_not_found_seconds=0.2)
    sessions = [await create(jules, pr_request(f"Fix widget bug {n}\n\nFixes #1")) for n in range(4)]
    for session in sessions:
        done = await poll_until(jules, session["id"], TERMINAL, [])
        assert done["state"] == "COMPLETED"
        await find_pull_by_session(github, session)
