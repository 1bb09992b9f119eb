"""Every simulator response, happy and error paths, validated by openapi-core against GitHub's own description
(agentic/sandbox/github/conformance.openapi.json, generated from @octokit/openapi). No hand-written shape asserts."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from agentic.sandbox.github import DEMO_SEED, create_app, load_seed_file
from agentic.sandbox.github.conformance import SPEC_FILE, Conformance

BASE = "http://sim.test"
TOKENS = {"maint": "sim-token-octo-maintainer", "alice": "sim-token-alice", "mallory": "sim-token-mallory",
          "app": "sim-token-ci-app", None: None}
REPO = "/repos/acme/widgets"


@pytest.fixture
async def sim():
    app = create_app({"seed": load_seed_file(DEMO_SEED)})
    checker = Conformance(BASE)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:

        async def call(method: str, url: str, status: int, *, who: str | None = "maint", body=None,
                       check_request: bool | None = None) -> httpx.Response:
            # 422 cases send invalid bodies on purpose, and a request without a token fails the spec's security:
            # for those only the response is validated.
            if check_request is None:
                check_request = status != 422 and who is not None
            headers = {"Authorization": f"Bearer {TOKENS[who]}"} if TOKENS[who] else {}
            response = await client.request(method, url, headers=headers, json=body)
            assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text[:300]}"
            checker.check(response, request=check_request)
            return response

        yield call, checker


def head_of(commits: list[dict]) -> str:
    return commits[-1]["sha"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_every_operation_conforms_on_happy_and_error_paths(sim):
    call, checker = sim
    # repository, people
    await call("GET", REPO, 200)
    await call("GET", "/repos/acme/nope", 404)
    await call("GET", REPO, 401, who=None)
    await call("GET", f"{REPO}/collaborators/alice/permission", 200)
    await call("GET", f"{REPO}/collaborators/mallory/permission", 200, who="alice")
    await call("GET", f"{REPO}/collaborators/nobody-here/permission", 404)
    await call("GET", "/users/alice", 200)
    await call("GET", "/users/nobody-here", 404)
    await call("GET", "/user", 200, who="alice")
    # issues
    await call("GET", f"{REPO}/issues", 200)
    await call("GET", f"{REPO}/issues?state=all&labels=bug,jules&sort=updated&direction=asc&per_page=2&page=1", 200)
    await call("GET", f"{REPO}/issues/1", 200)
    await call("GET", f"{REPO}/issues/999", 404)
    created = (await call("POST", f"{REPO}/issues", 201, who="alice",
                          body={"title": "Crash on empty name", "body": "slugify('') raises", "labels": ["bug"],
                                "assignees": ["octo-maintainer"]})).json()
    await call("POST", f"{REPO}/issues", 422, body={"body": "no title"})
    await call("PATCH", f"{REPO}/issues/{created['number']}", 200, body={"state": "closed", "state_reason": "not_planned"})
    await call("POST", f"{REPO}/issues/1/labels", 200, body={"labels": ["needs-info"]})
    await call("POST", f"{REPO}/issues/1/assignees", 201, body={"assignees": ["alice"]})
    # comments
    await call("GET", f"{REPO}/issues/1/comments", 200)
    comment = (await call("POST", f"{REPO}/issues/1/comments", 201, body={"body": "Working on it"})).json()
    await call("POST", f"{REPO}/issues/1/comments", 422, body={"body": ""})
    await call("POST", f"{REPO}/issues/999/comments", 404, body={"body": "x"})
    await call("GET", f"{REPO}/issues/comments/{comment['id']}", 200)
    await call("GET", f"{REPO}/issues/comments/1", 404)
    await call("PATCH", f"{REPO}/issues/comments/{comment['id']}", 200, body={"body": "Working on it (edited)"})
    await call("PATCH", f"{REPO}/issues/comments/{comment['id']}", 422, body={})
    # reactions
    await call("POST", f"{REPO}/issues/1/reactions", 201, body={"content": "eyes"})
    await call("POST", f"{REPO}/issues/1/reactions", 200, body={"content": "eyes"})
    await call("POST", f"{REPO}/issues/1/reactions", 422, body={"content": "thumbsup"})
    await call("GET", f"{REPO}/issues/1/reactions?content=eyes", 200)
    await call("POST", f"{REPO}/issues/comments/{comment['id']}/reactions", 201, who="alice", body={"content": "+1"})
    await call("GET", f"{REPO}/issues/comments/{comment['id']}/reactions", 200)
    # contents, refs, branches, commits
    await call("GET", f"{REPO}/contents/src/widgets/slugify.py", 200)
    await call("GET", f"{REPO}/contents/src?ref=main", 200)
    await call("GET", f"{REPO}/contents/missing.txt", 404)
    main = (await call("GET", f"{REPO}/git/ref/heads/main", 200)).json()["object"]["sha"]
    await call("GET", f"{REPO}/git/refs/heads/main", 200)  # legacy form used by the npm MCP server
    await call("GET", f"{REPO}/git/ref/heads/nope", 404)
    await call("GET", f"{REPO}/git/matching-refs/heads/ma", 200)
    await call("POST", f"{REPO}/git/refs", 201, body={"ref": "refs/heads/fix/trailing-dash", "sha": main})
    await call("POST", f"{REPO}/git/refs", 422, body={"ref": "refs/heads/fix/trailing-dash", "sha": main})
    await call("POST", f"{REPO}/git/refs", 201, body={"ref": "refs/heads/empty", "sha": main})
    put = (await call("PUT", f"{REPO}/contents/src/widgets/slugify.py", 200,
                      body={"message": "Strip dashes", "content": b64("def slugify(n):\n    return n\n"),
                            "branch": "fix/trailing-dash",
                            "sha": (await call("GET", f"{REPO}/contents/src/widgets/slugify.py", 200)).json()["sha"]})).json()
    await call("PUT", f"{REPO}/contents/CHANGELOG.md", 201,
               body={"message": "Changelog", "content": b64("# Changes\n"), "branch": "fix/trailing-dash"})
    await call("PUT", f"{REPO}/contents/README.md", 422, body={"message": "no sha", "content": b64("x")})
    await call("PUT", f"{REPO}/contents/README.md", 404, who="mallory", body={"message": "m", "content": b64("x")})
    await call("PATCH", f"{REPO}/git/refs/heads/empty", 200, body={"sha": put["commit"]["sha"], "force": True})
    await call("PATCH", f"{REPO}/git/refs/heads/empty", 422, body={"sha": main})  # not a fast forward
    await call("PATCH", f"{REPO}/git/refs/heads/empty", 200, body={"sha": main, "force": True})
    await call("GET", f"{REPO}/branches?per_page=1", 200)
    await call("GET", f"{REPO}/branches/fix/trailing-dash", 200)
    await call("GET", f"{REPO}/branches/nope", 404)
    await call("GET", f"{REPO}/commits?sha=fix/trailing-dash", 200)
    await call("GET", f"{REPO}/commits/{main}", 200)
    await call("GET", f"{REPO}/commits/{'0' * 40}", 422)
    # pull requests
    pr = (await call("POST", f"{REPO}/pulls", 201, who="alice",
                     body={"title": "Fix trailing dash", "head": "fix/trailing-dash", "base": "main",
                           "body": "Fixes #1"})).json()
    await call("POST", f"{REPO}/pulls", 422, body={"title": "dup", "head": "fix/trailing-dash", "base": "main"})
    await call("POST", f"{REPO}/pulls", 422, body={"title": "nothing", "head": "empty", "base": "main"})
    await call("POST", f"{REPO}/pulls", 422, body={"title": "no head", "head": "nope", "base": "main"})
    await call("GET", f"{REPO}/pulls/{pr['number']}", 200)
    await call("GET", f"{REPO}/pulls/1", 404)  # an issue, not a PR
    await call("GET", f"{REPO}/issues/{pr['number']}", 200)  # a PR seen as an issue
    await call("GET", f"{REPO}/pulls?state=all&head=acme:fix/trailing-dash&base=main", 200)
    await call("PATCH", f"{REPO}/pulls/{pr['number']}", 200, body={"title": "Fix trailing dash in slugify"})
    await call("PATCH", f"{REPO}/pulls/{pr['number']}", 422, body={"state": "merged"})
    await call("POST", f"{REPO}/pulls/{pr['number']}/requested_reviewers", 201, body={"reviewers": ["octo-maintainer"]})
    await call("POST", f"{REPO}/pulls/{pr['number']}/requested_reviewers", 422, body={"reviewers": ["alice"]})
    # reviews, review comments, their reactions, a PR's commits
    n = pr["number"]
    commits = (await call("GET", f"{REPO}/pulls/{n}/commits", 200)).json()
    assert [c["commit"]["message"] for c in commits] == ["Strip dashes", "Changelog"]
    review = (await call("POST", f"{REPO}/pulls/{n}/reviews", 200, body={
        "event": "REQUEST_CHANGES", "body": "Please also strip leading dashes",
        "comments": [{"path": "CHANGELOG.md", "line": 1, "body": "Mention the fix here"}]})).json()
    assert review["state"] == "CHANGES_REQUESTED"
    await call("POST", f"{REPO}/pulls/{n}/reviews", 422, body={"event": "COMMENT"})  # no body, no comments
    await call("POST", f"{REPO}/pulls/{n}/reviews", 422, who="alice", body={"event": "APPROVE"})  # own PR
    await call("POST", f"{REPO}/pulls/{n}/reviews", 422, body={
        "event": "COMMENT", "comments": [{"path": "nope.txt", "line": 1, "body": "x"}]})
    await call("GET", f"{REPO}/pulls/{n}/reviews", 200)
    await call("GET", f"{REPO}/pulls/{n}/reviews/{review['id']}", 200)
    await call("GET", f"{REPO}/pulls/{n}/reviews/1", 404)
    single = (await call("POST", f"{REPO}/pulls/{n}/comments", 201, body={
        "body": "@jules keep the old name too", "commit_id": head_of(commits), "path": "CHANGELOG.md",
        "line": 1, "side": "RIGHT"})).json()
    await call("POST", f"{REPO}/pulls/{n}/comments", 422, body={"body": "x", "path": "CHANGELOG.md"})
    await call("POST", f"{REPO}/pulls/{n}/comments", 201, who="alice", body={
        "body": "Done", "in_reply_to": single["id"], "commit_id": head_of(commits), "path": "CHANGELOG.md"})
    listed = (await call("GET", f"{REPO}/pulls/{n}/comments", 200)).json()
    assert len(listed) == 3 and listed[1]["pull_request_review_id"] != review["id"]
    await call("GET", f"{REPO}/pulls/comments/{single['id']}", 200)
    await call("GET", f"{REPO}/pulls/comments/1", 404)
    await call("POST", f"{REPO}/pulls/comments/{single['id']}/reactions", 201, who="alice", body={"content": "eyes"})
    await call("POST", f"{REPO}/pulls/comments/{single['id']}/reactions", 200, who="alice", body={"content": "eyes"})
    await call("POST", f"{REPO}/pulls/comments/{single['id']}/reactions", 422, body={"content": "nope"})
    await call("GET", f"{REPO}/pulls/comments/{single['id']}/reactions", 200)
    await call("GET", f"{REPO}/pulls/comments/1/reactions", 404)
    # checks and statuses
    head = pr["head"]["sha"]
    await call("POST", f"{REPO}/check-runs", 201, who="app",
               body={"name": "tests", "head_sha": head, "status": "completed", "conclusion": "success",
                     "output": {"title": "ok", "summary": "12 passed"}})
    await call("POST", f"{REPO}/check-runs", 403, body={"name": "tests", "head_sha": head})
    await call("GET", f"{REPO}/commits/fix/trailing-dash/check-runs", 200)
    await call("GET", f"{REPO}/commits/{head}/check-runs?check_name=tests", 200)
    await call("POST", f"{REPO}/statuses/{head}", 201,
               body={"state": "pending", "context": "jules", "description": "Jules is working"})
    await call("POST", f"{REPO}/statuses/{head}", 422, body={"state": "bogus"})
    await call("GET", f"{REPO}/commits/{head}/statuses", 200)
    await call("GET", f"{REPO}/commits/{head}/status", 200)
    # search
    await call("GET", "/search/issues?q=repo:acme/widgets+is:issue+is:open+slugify", 200)
    await call("GET", "/search/issues", 422)
    await call("GET", "/search/code?q=repo:acme/widgets+re.sub", 200)

    spec = json.loads(Path(SPEC_FILE).read_text())
    every = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert every - set(checker.checked) == set(), "operations never exercised"


def test_hub_definition_is_a_subset_of_the_simulated_api():
    """github.schema.json (hub tools) and the simulator's spec come from the same generator: same operations."""
    hub = json.loads((Path(__file__).parents[2] / "agentic" / "github.schema.json").read_text())
    assert hub["name"] == "github-rest" and hub["config"]["type"] == "openapi"
    schema = hub["config"]["openapi"]["schema"]
    ops = {op["operationId"]: (path, method) for path, item in schema["paths"].items() for method, op in item.items()}
    required = ("getIssue listIssueComments createIssueComment updateIssueComment createIssueReaction "
                "getCollaboratorPermission getRepo getPullRequest listPullRequests updatePullRequest "
                "requestReviewers listCheckRunsForRef").split()
    assert set(required) <= set(ops)
    full = json.loads(Path(SPEC_FILE).read_text())
    for op_id, (path, method) in ops.items():
        assert full["paths"][path][method]["operationId"] == op_id
    assert schema["servers"] == [{"url": "https://api.github.com"}]
    assert hub["config"]["openapi"]["security"] == {"type": "http", "http": {"scheme": "bearer",
                                                                              "credentials": "${GITHUB_TOKEN}"}}
    from openapi_spec_validator import validate

    validate(schema)
