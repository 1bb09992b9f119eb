"""The Jules simulator in-process (httpx.ASGITransport): every response is checked against jules.schema.json by
openapi-core (`SpecConformance` response hook), scripted sessions walk every state, pull requests reach a GitHub
API, quotas and errors answer as the real API does."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import httpx
import pytest

from agentic.sandbox.jules import DEFAULT_API_KEY, JulesSimConfig, SourceConfig, create_app
from agentic.sandbox.jules.testing import SpecConformance
from agentic.schemas import JULES_SERVER_NAME, load_openapi

TICK = 0.02
HEAD_SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
SOURCE = "sources/github/octo-org/hello-world"
TERMINAL = {"COMPLETED", "FAILED"}


class FakeGitHub:
    """The four GitHub REST calls Jules makes, as a MockTransport handler (stand-in for the GitHub simulator)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: dict[str, int] = {}  # path suffix -> status
        self.unreachable = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        path, body = request.url.path, json.loads(request.content) if request.content else None
        self.calls.append((request.method, path, body))
        for suffix, status in self.fail.items():
            if path.endswith(suffix):
                return httpx.Response(status, json={"message": "Validation Failed"})
        if request.method == "GET" and "/git/ref/heads/" in path:
            return httpx.Response(200, json={"ref": "refs/heads/main", "object": {"sha": HEAD_SHA, "type": "commit"}})
        if request.method == "POST" and path.endswith("/git/refs"):
            return httpx.Response(201, json={"ref": body["ref"], "object": {"sha": body["sha"]}})
        if request.method == "PUT" and "/contents/" in path:
            return httpx.Response(201, json={"content": {"path": path.split("/contents/")[1]}})
        if request.method == "POST" and path.endswith("/pulls"):
            return httpx.Response(201, json={"number": 42, "html_url": "https://github.com/octo-org/hello-world/pull/42",
                                             "title": body["title"], "body": body["body"]})
        return httpx.Response(404, json={"message": "Not Found"})


@pytest.fixture
def github() -> FakeGitHub:
    return FakeGitHub()


@pytest.fixture
def conformance() -> SpecConformance:
    return SpecConformance()


@pytest.fixture
async def make_sim(github, conformance):
    """make_sim(**config) -> (client, simulator): an API client whose every response is checked against the spec."""
    opened = []

    async def make(key: str = DEFAULT_API_KEY, check: bool = True, **overrides: Any):
        config = JulesSimConfig(**{"tick_seconds": TICK, "sources": [
            SourceConfig(owner="octo-org", repo="hello-world", branches=["main", "dev"]),
            SourceConfig(owner="octo-org", repo="private-lib", private=True)], **overrides})
        gh = httpx.AsyncClient(transport=httpx.MockTransport(github), base_url="http://github.test")
        app = create_app(config, github=gh)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jules.test/v1alpha",
                                   headers={"X-Goog-Api-Key": key},
                                   event_hooks={"response": [conformance.check]} if check else {})
        opened.append((client, app.state.simulator, gh))
        return client, app.state.simulator

    yield make
    for client, simulator, gh in opened:
        await client.aclose()
        await simulator.aclose()
        await gh.aclose()


@pytest.fixture
async def api(make_sim):
    client, _ = await make_sim()
    return client


async def create(client: httpx.AsyncClient, prompt: str = "Fix the login bug", **fields: Any) -> dict:
    response = await client.post("/sessions", json={"prompt": prompt, **fields})
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for(client: httpx.AsyncClient, session_id: str, states: set[str], timeout: float = 5.0,
                   seen: list[str] | None = None) -> dict:
    """Poll getSession until the state is one of `states`; `seen` collects every state observed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        session = (await client.get(f"/sessions/{session_id}")).json()
        if seen is not None and (not seen or seen[-1] != session["state"]):
            seen.append(session["state"])
        if session["state"] in states:
            return session
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"session {session_id} still {session['state']} after {timeout}s")
        await asyncio.sleep(TICK / 5)


async def activities(client: httpx.AsyncClient, session_id: str) -> list[dict]:
    response = await client.get(f"/sessions/{session_id}/activities", params={"pageSize": 100})
    return response.json().get("activities", [])


def kinds(items: list[dict]) -> list[str]:
    union = {"agentMessaged", "userMessaged", "planGenerated", "planApproved", "progressUpdated",
             "sessionCompleted", "sessionFailed"}
    return [next(k for k in a if k in union) for a in items]


def pr_session(prompt: str = "Fix the login bug\n\nFixes #12", **fields: Any) -> dict:
    return {"prompt": prompt, "automationMode": "AUTO_CREATE_PR",
            "sourceContext": {"source": SOURCE, "githubRepoContext": {"startingBranch": "main"}}, **fields}


# --- lifecycles -----------------------------------------------------------------------------------------------
async def test_happy_session_walks_the_states_and_opens_a_pull_request(api, github):
    response = await api.post("/sessions", json=pr_session())
    session = response.json()
    assert session["state"] == "QUEUED" and session["name"] == f"sessions/{session['id']}"
    assert session["id"].isdigit() and len(session["id"]) >= 18
    assert session["url"] == f"https://jules.google.com/session/{session['id']}"
    assert session["title"] == "Fix the login bug"
    seen = ["QUEUED"]
    done = await wait_for(api, session["id"], TERMINAL, seen=seen)
    assert done["state"] == "COMPLETED"
    assert seen == ["QUEUED", "PLANNING", "IN_PROGRESS", "COMPLETED"]
    trace = await activities(api, session["id"])
    assert kinds(trace)[:2] == ["planGenerated", "planApproved"]
    assert kinds(trace)[-1] == "sessionCompleted" and set(kinds(trace)[2:-1]) == {"progressUpdated"}
    plan = trace[0]["planGenerated"]["plan"]
    assert 2 <= len(plan["steps"]) <= 4 and [s["index"] for s in plan["steps"]] == list(range(len(plan["steps"])))
    assert trace[1]["planApproved"]["planId"] == plan["id"]
    # GitHub received branch, commit and pull request, in that order, with the closing reference.
    assert [(m, p.split("/hello-world")[1]) for m, p, _ in github.calls][:2] == [
        ("GET", "/git/ref/heads/main"), ("POST", "/git/refs")]
    (_, _, ref), (_, put_path, put), (_, _, pull) = github.calls[1:]
    assert ref == {"ref": f"refs/heads/{pull['head']}", "sha": HEAD_SHA}
    assert put["branch"] == pull["head"] and base64.b64decode(put["content"]).decode().startswith("# Fix the login")
    assert pull["base"] == "main" and "Fixes #12" in pull["body"].splitlines()
    pr, change_set = done["outputs"]
    assert pr["pullRequest"] == {"url": "https://github.com/octo-org/hello-world/pull/42", "title": "Fix the login bug",
                                 "description": pull["body"], "baseRef": "main", "headRef": pull["head"]}
    patch = change_set["changeSet"]["gitPatch"]
    assert change_set["changeSet"]["source"] == SOURCE and patch["baseCommitId"] == HEAD_SHA
    assert put_path.split("/contents/")[1] in patch["unidiffPatch"] and "+# Fix the login bug" in patch["unidiffPatch"]
    artifacts = [a for item in trace for a in item.get("artifacts", [])]
    assert any("bashOutput" in a for a in artifacts) and any("changeSet" in a for a in artifacts)


async def test_without_auto_create_pr_only_a_change_set_is_reported(api, github):
    session = await create(api, sourceContext={"source": SOURCE})
    done = await wait_for(api, session["id"], TERMINAL)
    assert [list(o) for o in done["outputs"]] == [["changeSet"]]
    assert not [c for c in github.calls if c[0] != "GET"]  # read the base commit, wrote nothing


async def test_plan_approval_is_required_and_recorded(api):
    session = await create(api, requirePlanApproval=True, sourceContext={"source": SOURCE})
    early = await api.post(f"/sessions/{session['id']}:approvePlan", json={})
    assert early.status_code == 400 and early.json()["error"]["status"] == "FAILED_PRECONDITION"
    await wait_for(api, session["id"], {"AWAITING_PLAN_APPROVAL"})
    await asyncio.sleep(TICK * 5)
    assert (await api.get(f"/sessions/{session['id']}")).json()["state"] == "AWAITING_PLAN_APPROVAL"  # waits
    assert kinds(await activities(api, session["id"])) == ["planGenerated"]
    approved = await api.post(f"/sessions/{session['id']}:approvePlan", json={})
    assert approved.status_code == 200 and approved.json() == {}
    done = await wait_for(api, session["id"], TERMINAL)
    assert done["state"] == "COMPLETED"
    trace = await activities(api, session["id"])
    assert trace[1]["originator"] == "user"
    assert trace[1]["planApproved"]["planId"] == trace[0]["planGenerated"]["plan"]["id"]
    again = await api.post(f"/sessions/{session['id']}:approvePlan")
    assert again.status_code == 400 and again.json()["error"]["status"] == "FAILED_PRECONDITION"


async def test_question_script_waits_for_an_answer(api):
    rule = await api.post("http://jules.test/_sim/scenarios", json={"match": "(?i)ask me", "script": "question"})
    assert rule.status_code == 200
    session = await create(api, "Refactor the parser, ask me if unsure")
    seen = ["QUEUED"]
    await wait_for(api, session["id"], {"AWAITING_USER_FEEDBACK"}, seen=seen)
    trace = await activities(api, session["id"])
    assert kinds(trace)[-1] == "agentMessaged" and trace[-1]["agentMessaged"]["agentMessage"].endswith("?")
    await asyncio.sleep(TICK * 5)
    assert len(await activities(api, session["id"])) == len(trace)  # nothing happens until the user answers
    answer = await api.post(f"/sessions/{session['id']}:sendMessage", json={"prompt": "Keep the behaviour."})
    assert answer.status_code == 200 and answer.json() == {}
    done = await wait_for(api, session["id"], TERMINAL, seen=seen)
    assert seen == ["QUEUED", "PLANNING", "IN_PROGRESS", "AWAITING_USER_FEEDBACK", "IN_PROGRESS", "COMPLETED"]
    assert done["state"] == "COMPLETED"
    after = (await activities(api, session["id"]))[len(trace):]
    assert kinds(after)[:2] == ["userMessaged", "agentMessaged"]
    assert after[0]["userMessaged"]["userMessage"] == "Keep the behaviour." and after[0]["originator"] == "user"
    assert "Keep the behaviour." in after[1]["agentMessaged"]["agentMessage"]


async def test_fail_script_from_config_fails_after_planning_with_its_reason(make_sim):
    client, _ = await make_sim(scenarios=[{"match": "(?i)flaky", "script": "fail", "reason": "Tests kept failing"}])
    session = await create(client, **pr_session("Fix the flaky test"))
    done = await wait_for(client, session["id"], TERMINAL)
    assert done["state"] == "FAILED" and "outputs" not in done
    trace = await activities(client, session["id"])
    assert kinds(trace)[:2] == ["planGenerated", "planApproved"]
    assert trace[-1]["sessionFailed"] == {"reason": "Tests kept failing"}
    assert trace[-2]["artifacts"][0]["bashOutput"]["exitCode"] == 1


async def test_silent_script_stays_in_progress_without_activity(make_sim):
    client, simulator = await make_sim(default_script="silent")
    session = await create(client)
    await wait_for(client, session["id"], {"IN_PROGRESS"})
    count = len(await activities(client, session["id"]))
    await asyncio.sleep(TICK * 10)
    assert (await client.get(f"/sessions/{session['id']}")).json()["state"] == "IN_PROGRESS"
    assert len(await activities(client, session["id"])) == count
    dump = (await client.get("http://jules.test/_sim/sessions")).json()["sessions"]
    assert dump[0]["script"] == "silent" and DEFAULT_API_KEY not in json.dumps(dump)  # keys are masked


async def test_slow_script_takes_ten_times_the_ticks(api):
    await api.post("http://jules.test/_sim/scenarios", json={"scenarios": [{"match": "slowly", "script": "slow"}]})
    slow = await create(api, "Do it slowly")
    fast = await create(api, "Do it now")
    await wait_for(api, fast["id"], TERMINAL)
    assert (await api.get(f"/sessions/{slow['id']}")).json()["state"] in {"QUEUED", "PLANNING"}


# --- pull request failures ------------------------------------------------------------------------------------
@pytest.mark.parametrize("failure", ["pulls", "refs", "unreachable"])
async def test_github_failure_fails_the_session_with_a_reason(api, github, failure):
    if failure == "unreachable":
        github.unreachable = True
    else:
        github.fail["/" + failure] = 422
    session = await create(api, **pr_session())
    done = await wait_for(api, session["id"], TERMINAL)
    assert done["state"] == "FAILED"
    reason = (await activities(api, session["id"]))[-1]["sessionFailed"]["reason"]
    assert ("ConnectError" if failure == "unreachable" else "422") in reason


# --- quotas ---------------------------------------------------------------------------------------------------
async def test_concurrent_quota_answers_429_until_a_session_finishes(make_sim):
    client, _ = await make_sim(quota={"max_concurrent_sessions": 2, "max_sessions_per_day": None},
                               scenarios=[{"match": "hold", "script": "question"}])
    held = [await create(client, f"hold {n}") for n in range(2)]
    over = await client.post("/sessions", json={"prompt": "one more"})
    assert over.status_code == 429
    assert over.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert "concurrent" in over.json()["error"]["message"]
    await wait_for(client, held[0]["id"], {"AWAITING_USER_FEEDBACK"})
    assert (await client.post("/sessions", json={"prompt": "still over"})).status_code == 429
    await client.post(f"/sessions/{held[0]['id']}:sendMessage", json={"prompt": "go on"})
    await wait_for(client, held[0]["id"], TERMINAL)
    await create(client, "fits again")


async def test_daily_quota_is_per_key_and_counts_finished_sessions(make_sim):
    config = {"api_keys": ["key-a", "key-b"], "quota": {"max_concurrent_sessions": None, "max_sessions_per_day": 1}}
    a, _ = await make_sim(key="key-a", **config)
    first = await create(a)
    await wait_for(a, first["id"], TERMINAL)
    over = await a.post("/sessions", json={"prompt": "again"})
    assert over.status_code == 429 and "daily" in over.json()["error"]["message"]
    b = httpx.AsyncClient(transport=a._transport, base_url=a.base_url, headers={"X-Goog-Api-Key": "key-b"})
    async with b:
        assert (await b.post("/sessions", json={"prompt": "other key"})).status_code == 200


# --- errors in Google's format ---------------------------------------------------------------------------------
BAD_REQUESTS = [
    # (method, path, body or raw bytes, status, canonical status, message fragment)
    ("GET", "/sessions/1234", None, 404, "NOT_FOUND", "Requested entity was not found."),
    ("GET", "/sessions/1234/activities", None, 404, "NOT_FOUND", "Requested entity was not found."),
    ("POST", "/sessions/1234:sendMessage", {"prompt": "hi"}, 404, "NOT_FOUND", "Requested entity was not found."),
    ("POST", "/sessions/1234:approvePlan", {}, 404, "NOT_FOUND", "Requested entity was not found."),
    ("DELETE", "/sessions/1234", None, 404, "NOT_FOUND", "Requested entity was not found."),
    ("GET", "/sources/github/octo-org/unknown", None, 404, "NOT_FOUND", "Requested entity was not found."),
    ("POST", "/sessions", b"{not json", 400, "INVALID_ARGUMENT", "Invalid JSON payload received."),
    ("POST", "/sessions", {}, 400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    ("POST", "/sessions", {"prompt": "x", "colour": "red"}, 400, "INVALID_ARGUMENT",
     "Unknown name \"colour\" at 'session': Cannot find field."),
    ("POST", "/sessions", {"prompt": "x", "automationMode": "MANUAL"}, 400, "INVALID_ARGUMENT",
     "Invalid value at 'session.automation_mode' (type.googleapis.com/google.labs.jules.v1alpha.AutomationMode), "
     "\"MANUAL\""),
    ("POST", "/sessions", {"prompt": "x", "sourceContext": {"source": "sources/github/octo-org/nope"}}, 400,
     "INVALID_ARGUMENT", "Could not get source 'sources/github/octo-org/nope'"),
    ("GET", "/sessions?pageSize=ten", None, 400, "INVALID_ARGUMENT", "Invalid value at 'page_size' (TYPE_INT32)"),
    ("GET", "/sessions?colour=red", None, 400, "INVALID_ARGUMENT", "Cannot bind query parameter"),
    ("GET", "/sessions?pageToken=%%%", None, 400, "INVALID_ARGUMENT", "Invalid page token."),
    ("GET", "/sources?filter=owner%3Docto", None, 400, "INVALID_ARGUMENT", "Invalid filter"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "canonical", "message"), BAD_REQUESTS)
async def test_bad_requests_get_google_errors(api, method, path, body, status, canonical, message):
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
    response = await api.request(method, path, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status and error["status"] == canonical and message in error["message"]


async def test_missing_prompt_names_the_field(api):
    response = await api.post("/sessions", json={"title": "no prompt"})
    violation = response.json()["error"]["details"][0]
    assert violation["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert violation["fieldViolations"][0]["field"] == "session.prompt"


async def test_send_message_requires_a_prompt(api):
    session = await create(api)
    response = await api.post(f"/sessions/{session['id']}:sendMessage", json={})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["fieldViolations"][0]["field"] == "prompt"


@pytest.mark.parametrize(("headers", "status", "canonical", "message"), [
    ({"X-Goog-Api-Key": "wrong"}, 403, "PERMISSION_DENIED", "API key not valid. Please pass a valid API key."),
    ({"x-goog-api-key": "wrong"}, 403, "PERMISSION_DENIED", "API key not valid. Please pass a valid API key."),
    ({}, 401, "UNAUTHENTICATED", "Request is missing required authentication credential."),
])
async def test_api_key_is_checked(make_sim, headers, status, canonical, message):
    client, _ = await make_sim()
    client.headers.pop("X-Goog-Api-Key")
    response = await client.get("/sessions", headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["status"] == canonical and response.json()["error"]["message"].startswith(message)


async def test_lowercase_header_and_unprefixed_paths_are_accepted(make_sim):
    client, _ = await make_sim(check=False)
    response = await client.get("http://jules.test/sessions", headers={"x-goog-api-key": DEFAULT_API_KEY})
    assert response.status_code == 200


# --- lists ----------------------------------------------------------------------------------------------------
async def test_activities_page_and_filter_on_create_time(api):
    session = await create(api)
    await wait_for(api, session["id"], TERMINAL)
    everything = await activities(api, session["id"])
    assert len(everything) >= 5
    pages, token = [], None
    while True:
        params = {"pageSize": 2, **({"pageToken": token} if token else {})}
        body = (await api.get(f"/sessions/{session['id']}/activities", params=params)).json()
        pages.extend(body["activities"])
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == everything
    cut = everything[1]["createTime"]
    after = (await api.get(f"/sessions/{session['id']}/activities",
                           params={"filter": f'create_time>"{cut}"'})).json()["activities"]
    assert after == everything[2:]
    since = (await api.get(f"/sessions/{session['id']}/activities",
                           params={"filter": f'create_time >= "{cut}"'})).json()["activities"]
    assert since == everything[1:]
    for item in everything:
        one = await api.get(f"/sessions/{session['id']}/activities/{item['id']}")
        assert one.json() == item
    missing = await api.get(f"/sessions/{session['id']}/activities/ffff")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
    bad = await api.get(f"/sessions/{session['id']}/activities", params={"filter": "create_time>yesterday"})
    assert bad.status_code == 400


async def test_sources_list_filter_page_and_get(api):
    listed = (await api.get("/sources")).json()["sources"]
    assert [s["name"] for s in listed] == [SOURCE, "sources/github/octo-org/private-lib"]
    assert listed[0]["id"] == "github/octo-org/hello-world"
    assert listed[0]["githubRepo"]["branches"] == [{"displayName": "main"}, {"displayName": "dev"}]
    assert listed[1]["githubRepo"]["isPrivate"] is True
    both = (await api.get("/sources", params={
        "filter": f"name={SOURCE} OR name=sources/github/octo-org/private-lib"})).json()["sources"]
    assert both == listed
    first = (await api.get("/sources", params={"pageSize": 1})).json()
    second = (await api.get("/sources", params={"pageSize": 1, "pageToken": first["nextPageToken"]})).json()
    assert first["sources"] + second["sources"] == listed and "nextPageToken" not in second
    assert (await api.get("/sources/github/octo-org/hello-world")).json() == listed[0]
    # An id with its slashes percent-encoded (what OpenAPI clients send for one path parameter) resolves too.
    assert (await api.get("/sources/github%2Focto-org%2Fhello-world")).json() == listed[0]


async def test_sessions_list_newest_first_and_delete(make_sim):
    client, _ = await make_sim(default_script="silent")
    made = [await create(client, f"task {n}") for n in range(3)]
    page = (await client.get("/sessions", params={"pageSize": 2})).json()
    assert [s["id"] for s in page["sessions"]] == [made[2]["id"], made[1]["id"]]
    rest = (await client.get("/sessions", params={"pageToken": page["nextPageToken"]})).json()
    assert [s["id"] for s in rest["sessions"]] == [made[0]["id"]]
    deleted = await client.delete(f"/sessions/{made[1]['id']}")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert (await client.get(f"/sessions/{made[1]['id']}")).status_code == 404
    assert [s["id"] for s in (await client.get("/sessions")).json()["sessions"]] == [made[2]["id"], made[0]["id"]]


# --- fault injection and request counts --------------------------------------------------------------------------
async def test_injected_5xx_latency_and_counts(api):
    await api.post("http://jules.test/_sim/faults", json={"faults": [
        {"kind": "error", "status": 503, "count": 2, "route": "createSession"},
        {"kind": "error", "status": 500, "count": 1, "route": "GET /sessions"},
        {"kind": "latency", "seconds": 0.2, "count": 1, "route": "listSources"}]})
    for _ in range(2):
        busy = await api.post("/sessions", json={"prompt": "x"})
        assert busy.status_code == 503 and busy.json()["error"]["status"] == "UNAVAILABLE"
    assert (await api.post("/sessions", json={"prompt": "x"})).status_code == 200
    broken = await api.get("/sessions")
    assert broken.status_code == 500 and broken.json()["error"]["status"] == "INTERNAL"
    assert (await api.get("/sessions")).status_code == 200
    started = asyncio.get_running_loop().time()
    assert (await api.get("/sources")).status_code == 200
    assert asyncio.get_running_loop().time() - started >= 0.2
    counts = (await api.get("http://jules.test/_sim/requests")).json()
    assert counts["byOperation"] == {"createSession": 3, "listSessions": 2, "listSources": 1}
    assert counts["byRoute"]["POST /sessions"] == 3 and counts["total"] == 6
    assert (await api.get("http://jules.test/_sim/faults")).json()["faults"] == []  # all consumed


async def test_malformed_body_and_dropped_connection(make_sim):
    client, simulator = await make_sim(check=False, faults=[{"kind": "malformed", "count": 1},
                                                            {"kind": "drop", "count": 1, "route": "getSession"}])
    garbled = await client.get("/sessions")
    assert garbled.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbled.json()
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/sessions/123")
    assert (await client.get("/sessions")).status_code == 200


# --- the checker itself ----------------------------------------------------------------------------------------
async def test_every_operation_was_checked_against_the_spec(api, conformance):
    """One tour of all operations; the response hook validated each (and would raise on a mismatch)."""
    session = await create(api, requirePlanApproval=True)
    await wait_for(api, session["id"], {"AWAITING_PLAN_APPROVAL"})
    await api.post(f"/sessions/{session['id']}:approvePlan", json={})
    await api.post(f"/sessions/{session['id']}:sendMessage", json={"prompt": "also update the docs"})
    first = (await activities(api, session["id"]))[0]
    await api.get(f"/sessions/{session['id']}/activities/{first['id']}")
    await api.get("/sources")
    await api.get("/sources/github/octo-org/hello-world")
    await api.get("/sessions")
    await api.post(f"/sessions/{session['id']}:archive", json={})
    await api.delete(f"/sessions/{session['id']}")
    doc = load_openapi(JULES_SERVER_NAME)
    routes = {route for route, _ in conformance.checked}
    templates = {f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item}

    def matches(template: str) -> bool:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/:]+", re.escape(template.replace(" ", " /v1alpha", 1))) + "$"
        return any(re.match(pattern, r) for r in routes)

    assert {t for t in templates if not matches(t)} == set()


async def test_the_checker_rejects_a_response_that_drifted_from_the_spec(api):
    drifted = load_openapi(JULES_SERVER_NAME)
    drifted["components"]["schemas"]["Session"]["required"].append("reviewer")  # a field the simulator lacks
    strict = SpecConformance(drifted)
    response = await api.post("/sessions", json={"prompt": "x"})
    with pytest.raises(Exception, match="reviewer"):
        strict.validate(response)


async def test_reset_forgets_sessions_counts_scenarios_and_faults(api):
    await api.post("http://jules.test/_sim/scenarios", json={"match": ".", "script": "silent"})
    await api.post("http://jules.test/_sim/faults", json={"kind": "latency", "seconds": 0.01, "count": None})
    session = await create(api)
    assert (await api.post("http://jules.test/_sim/reset")).status_code == 200
    assert (await api.get(f"/sessions/{session['id']}")).status_code == 404
    assert (await api.get("http://jules.test/_sim/scenarios")).json() == {"scenarios": [], "default": "happy"}
    assert (await api.get("http://jules.test/_sim/faults")).json() == {"faults": []}
    assert (await api.get("http://jules.test/_sim/requests")).json()["byOperation"] == {"getSession": 1}


async def test_admin_routes_reject_invalid_rules(api):
    bad = await api.post("http://jules.test/_sim/scenarios", json={"match": "(", "script": "happy"})
    assert bad.status_code == 400 and "regex" in bad.json()["error"]
    assert (await api.post("http://jules.test/_sim/faults", json={"kind": "explode"})).status_code == 400


@pytest.mark.parametrize(("prompt", "refs"), [
    ("Fix the crash.\n\nFixes #12", ["Fixes #12"]),
    ("closes #3 and resolves acme/widgets#4; fixes #3 again", ["closes #3", "resolves acme/widgets#4", "fixes #3"]),
    ("Issue #7 mentions it", []),
])
async def test_pull_request_body_repeats_closing_references(api, github, prompt, refs):
    session = await create(api, **pr_session(prompt))
    await wait_for(api, session["id"], TERMINAL)
    body = github.calls[-1][2]["body"]
    last_block = body.rstrip().split("\n\n")[-1].splitlines()
    assert last_block == (refs or [f"Jules session: {session['url']}"])


@pytest.mark.parametrize("kind", ["drop", "error", "malformed"])
async def test_create_succeeds_then_the_answer_is_lost(make_sim, kind):
    """`phase: after`: the session exists and runs although the client never got its answer."""
    client, simulator = await make_sim(check=False)
    await client.post("http://jules.test/_sim/faults",
                      json={"kind": kind, "route": "createSession", "phase": "after", "status": 500})
    body = {"prompt": "Lost answer [marker-7]"}
    if kind == "drop":
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/sessions", json=body)
    else:
        lost = await client.post("/sessions", json=body)
        if kind == "error":
            assert lost.status_code == 500 and lost.json()["error"]["status"] == "INTERNAL"
        else:
            assert lost.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                lost.json()
    listed = (await client.get("/sessions")).json()["sessions"]
    assert [s["prompt"] for s in listed] == [body["prompt"]]  # a client that looks up its marker finds it
    done = await wait_for(client, listed[0]["id"], TERMINAL)
    assert done["state"] == "COMPLETED"
    assert (await client.get("http://jules.test/_sim/faults")).json()["faults"] == []


async def test_a_fault_before_the_handler_creates_nothing(make_sim):
    client, _ = await make_sim(check=False)
    await client.post("http://jules.test/_sim/faults", json={"kind": "drop", "route": "createSession"})
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/sessions", json={"prompt": "never created"})
    assert (await client.get("/sessions")).json() == {}


async def test_send_message_recorded_although_its_answer_is_lost(make_sim):
    client, _ = await make_sim(check=False, default_script="silent")
    session = await create(client)
    await wait_for(client, session["id"], {"IN_PROGRESS"})
    await client.post("http://jules.test/_sim/faults",
                      json={"kind": "error", "route": "sendMessage", "phase": "after", "status": 503})
    lost = await client.post(f"/sessions/{session['id']}:sendMessage", json={"prompt": "ping"})
    assert lost.status_code == 503 and lost.json()["error"]["status"] == "UNAVAILABLE"
    assert kinds(await activities(client, session["id"]))[-1] == "userMessaged"  # a retry would send it twice
