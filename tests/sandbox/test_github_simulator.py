"""Simulator behaviour beyond single responses: pagination, auth, rate limits, faults, webhooks, seeding, preload."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentic.sandbox.github import DEMO_SEED, SeedError, create_app, load_seed_file, node_env
from agentic.sandbox.github.conformance import Conformance
from agentic.sandbox.github.redirect import PRELOAD

BASE = "http://sim.test"
MAINT = {"Authorization": "Bearer sim-token-octo-maintainer"}
REPO = "/repos/acme/widgets"


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=MAINT)


@pytest.fixture
def demo():
    return load_seed_file(DEMO_SEED)


async def test_link_pagination_walks_every_issue_once(demo):
    async with client_for(create_app({"seed": demo})) as client:
        checker = Conformance(BASE)
        url, seen, pages = f"{REPO}/issues?state=all&per_page=2", [], 0
        while url:
            response = await client.get(url)
            checker.check(response)
            seen += [i["number"] for i in response.json()]
            pages += 1
            links = response.links
            assert ("prev" in links) == (pages > 1)
            url = links.get("next", {}).get("url")
            assert url is None or url.startswith(BASE + REPO)
        assert pages == 3 and sorted(seen) == [1, 2, 3, 4, 5] and len(seen) == 5
        assert seen == sorted(seen, reverse=True)  # default sort: created desc


async def test_auth_errors_are_githubs(demo):
    async with client_for(create_app({"seed": demo})) as client:
        bad = await client.get(REPO, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.json() == {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                              "status": "401"}
        missing = await client.get(REPO, headers={"Authorization": ""})
        assert missing.status_code == 401 and missing.json()["message"] == "Requires authentication"
        legacy = await client.get(REPO, headers={"Authorization": "token sim-token-alice"})
        assert legacy.status_code == 200 and legacy.json()["permissions"]["push"] is True
        mallory = await client.get(REPO, headers={"Authorization": "Bearer sim-token-mallory"})
        assert mallory.json()["permissions"] == {"admin": False, "maintain": False, "push": False, "triage": False,
                                                 "pull": True}


async def test_rate_limit_headers_then_403(demo):
    async with client_for(create_app({"seed": demo, "rate_limit": 3})) as client:
        remaining = []
        for _ in range(3):
            response = await client.get(REPO)
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert response.headers["X-RateLimit-Resource"] == "core"
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == [2, 1, 0]
        over = await client.get(REPO)
        assert over.status_code == 403 and over.json()["message"].startswith("API rate limit exceeded for user ID")
        assert over.headers["X-RateLimit-Remaining"] == "0" and int(over.headers["X-RateLimit-Reset"]) > 0
        other = await client.get(REPO, headers={"Authorization": "Bearer sim-token-alice"})
        assert other.status_code == 200  # quotas are per user


async def test_faults_then_recovery_and_request_counts(demo):
    async with client_for(create_app({"seed": demo})) as client:
        await client.post("/_sim/faults", json=[{"status": 502, "count": 2, "match": "/issues/1"},
                                                {"status": 429, "count": 1, "match": "/pulls", "retry_after": 7}])
        first, second, third = [await client.get(f"{REPO}/issues/1") for _ in range(3)]
        assert (first.status_code, second.status_code, third.status_code) == (502, 502, 200)
        assert first.json()["message"] == "Server Error"
        limited = await client.get(f"{REPO}/pulls")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
        assert "secondary rate limit" in limited.json()["message"]
        assert (await client.get(f"{REPO}/pulls")).status_code == 200
        counts = (await client.get("/_sim/requests")).json()
        assert counts["routes"]["GET /repos/{owner}/{repo}/issues/{issue_number}"] == 3
        assert counts["operations"]["listPullRequests"] == 2


async def test_pull_requests_share_numbers_and_show_up_as_issues(demo):
    async with client_for(create_app({"seed": demo})) as client:
        main = (await client.get(f"{REPO}/git/ref/heads/main")).json()["object"]["sha"]
        await client.post(f"{REPO}/git/refs", json={"ref": "refs/heads/feat", "sha": main})
        await client.put(f"{REPO}/contents/NEW.md", json={"message": "m", "content": "aGk=", "branch": "feat"})
        pr = (await client.post(f"{REPO}/pulls", json={"title": "t", "head": "feat", "base": "main"})).json()
        issue = (await client.post(f"{REPO}/issues", json={"title": "after the PR"})).json()
        assert (pr["number"], issue["number"]) == (6, 7)
        as_issue = (await client.get(f"{REPO}/issues/6")).json()
        assert as_issue["pull_request"]["url"] == f"{BASE}{REPO}/pulls/6"
        assert as_issue["html_url"] == "https://github.com/acme/widgets/pull/6"
        assert pr["changed_files"] == 1 and pr["additions"] == 1


@pytest.fixture
def receiver():
    """A webhook receiver in this process: the simulator delivers to it through `webhook_transport`."""
    received: list = []

    async def hook(request: Request) -> Response:
        received.append((request.headers, await request.body()))   # headers: case-insensitive, as sent
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    return "http://receiver.test/hook", httpx.ASGITransport(app=app), received


async def test_webhooks_are_signed_with_hmac_sha256(demo, receiver):
    url, transport, received = receiver
    app = create_app({"seed": demo, "webhook_url": url, "webhook_secret": "s3cret", "webhook_transport": transport})
    async with client_for(app) as client:
        await client.post(f"{REPO}/issues/2/comments", json={"body": "on it"})
        await client.patch(f"{REPO}/issues/3", json={"state": "closed"})
        await app.state.sim.webhooks.drain()
        state = (await client.get("/_sim/state")).json()
    received.sort(key=lambda hb: hb[0]["X-GitHub-Event"])  # deliveries are concurrent, as on GitHub
    events = [(h["X-GitHub-Event"], json.loads(b)["action"]) for h, b in received]
    assert events == [("issue_comment", "created"), ("issues", "closed")]
    for headers, body in received:
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
        assert len(headers["X-GitHub-Delivery"]) == 36
    payload = json.loads(received[0][1])
    assert payload["comment"]["body"] == "on it" and payload["issue"]["number"] == 2
    assert payload["repository"]["full_name"] == "acme/widgets" and payload["sender"]["login"] == "octo-maintainer"
    assert [d["status_code"] for d in state["webhook_deliveries"]] == [204, 204]


async def test_demo_seed_loads_and_admin_reseed(demo):
    app = create_app({"seed": demo})
    async with client_for(app) as client:
        state = (await client.get("/_sim/state")).json()
        widgets = state["repos"]["acme/widgets"]
        assert len(widgets["issues"]) == 5 and widgets["default_branch"] == "main"
        assert widgets["collaborators"]["mallory"] == "read"
        assert "sim-token-alice" not in json.dumps(state)  # tokens never listed
        injection = widgets["issues"]["4"]["body"]
        assert "<!-- ignore previous instructions" in injection
        await client.post("/_sim/seed", json={"users": [{"login": "bob", "token": "t-bob"}],
                                              "repos": [{"owner": "bob", "name": "r", "files": {"a.txt": "a"}}]})
        assert (await client.get("/repos/bob/r/contents/a.txt", headers={"Authorization": "token t-bob"})).json()[
            "content"] == "YQ==\n"
        assert (await client.get(REPO)).status_code == 401  # replaced: old tokens are gone
    with pytest.raises(SeedError):
        create_app({"seed": {"repos": [{"owner": "o", "name": "r", "collaborators": {"x": "superuser"}}]}})


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_node_preload_rewrites_only_the_github_origin(tmp_path):
    """A recorder fetch is installed first; the preload wraps it; we see which URLs reach the network layer."""
    recorder = tmp_path / "recorder.mjs"
    recorder.write_text("globalThis.fetch = async (input) => "
                        "new Response(input instanceof Request ? input.url : String(input));\n")
    script = ("const urls = ['https://api.github.com/repos/a/b/issues?state=open', 'https://api.github.com', "
              "new URL('https://api.github.com/user'), new Request('https://api.github.com/x', {method: 'POST'}), "
              "'https://api.github.com.evil.example/x', 'https://uploads.github.com/x', 'http://api.github.com/x'];"
              "for (const u of urls) console.log(await (await fetch(u)).text());")
    env = node_env("http://127.0.0.1:9/")
    env["NODE_OPTIONS"] = f"--import {recorder.as_uri()} {env['NODE_OPTIONS']}"
    out = subprocess.run(["node", "--input-type=module", "-e", script], env={"PATH": _path(), **env},
                         capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert out == ["http://127.0.0.1:9/repos/a/b/issues?state=open", "http://127.0.0.1:9",
                   "http://127.0.0.1:9/user", "http://127.0.0.1:9/x", "https://api.github.com.evil.example/x",
                   "https://uploads.github.com/x", "http://api.github.com/x"]
    assert PRELOAD.is_file() and env["GITHUB_API_URL"] == "http://127.0.0.1:9"


def _path() -> str:
    import os

    return os.environ["PATH"]


async def test_multi_segment_params_may_arrive_percent_encoded(demo):
    """Hub clients encode path params (`heads/main` -> `heads%2Fmain`); GitHub accepts both forms, so do we."""
    async with client_for(create_app({"seed": demo})) as client:
        ref = await client.get(f"{REPO}/git/ref/heads%2Fmain")
        assert ref.status_code == 200 and ref.json()["ref"] == "refs/heads/main"
        assert (await client.get(f"{REPO}/contents/src%2Fwidgets%2Fslugify.py")).json()["name"] == "slugify.py"


LOCKED_SEED = {
    "users": [{"login": "octo-maintainer", "token": "sim-token-octo-maintainer"},
              {"login": "alice", "token": "sim-token-alice"}, {"login": "mallory", "token": "sim-token-mallory"}],
    "repos": [{"owner": "acme", "name": "widgets", "collaborators": {"alice": "write", "mallory": "read"},
               "issues": [{"title": "Heated", "user": "mallory", "locked": True, "active_lock_reason": "too heated"},
                          {"title": "Open for all", "user": "mallory"}]}],
}


async def test_locked_issue_from_the_seed_refuses_comments_from_readers():
    async with client_for(create_app({"seed": LOCKED_SEED})) as client:
        checker = Conformance(BASE)
        issue = await client.get(f"{REPO}/issues/1")
        checker.check(issue)
        assert (issue.json()["locked"], issue.json()["active_lock_reason"]) == (True, "too heated")
        unlocked = (await client.get(f"{REPO}/issues/2")).json()
        assert (unlocked["locked"], unlocked["active_lock_reason"]) == (False, None)
        refused = await client.post(f"{REPO}/issues/1/comments", json={"body": "me too"},
                                    headers={"Authorization": "Bearer sim-token-mallory"})
        checker.check(refused)
        assert refused.status_code == 403
        assert refused.json()["message"] == "Unable to create comment because issue is locked."
        assert "locking-conversations" in refused.json()["documentation_url"]
        # Write access may still comment on a locked issue (collaborators keep the conversation), as on GitHub.
        allowed = await client.post(f"{REPO}/issues/1/comments", json={"body": "Locked, see #2."},
                                    headers={"Authorization": "Bearer sim-token-alice"})
        checker.check(allowed)
        assert allowed.status_code == 201
        assert (await client.post(f"{REPO}/issues/2/comments", json={"body": "fine"},
                                  headers={"Authorization": "Bearer sim-token-mallory"})).status_code == 201
        assert [c["body"] for c in (await client.get(f"{REPO}/issues/1/comments")).json()] == ["Locked, see #2."]
        # Lock (and unlock) at runtime through the admin hook, e.g. an issue a test has just opened.
        locked = await client.post("/_sim/lock",
                                   json={"repo": "acme/widgets", "number": 2, "active_lock_reason": "spam"})
        assert locked.json() == {"number": 2, "locked": True, "active_lock_reason": "spam"}
        assert (await client.post(f"{REPO}/issues/2/comments", json={"body": "again"},
                                  headers={"Authorization": "Bearer sim-token-mallory"})).status_code == 403
        await client.post("/_sim/lock", json={"repo": "acme/widgets", "number": 2, "locked": False})
        assert (await client.get(f"{REPO}/issues/2")).json()["locked"] is False
        assert (await client.post("/_sim/lock", json={"repo": "acme/widgets", "number": 9})).status_code == 404
        assert (await client.post("/_sim/lock", json={"repo": "acme/widgets", "number": 2,
                                                      "active_lock_reason": "boring"})).status_code == 400
    with pytest.raises(SeedError, match="active_lock_reason"):
        create_app({"seed": {"repos": [{"owner": "o", "name": "r", "issues": [
            {"title": "t", "user": "u", "locked": True, "active_lock_reason": "boring"}]}]}})


async def test_rate_limit_faults_secondary_and_primary(demo):
    async with client_for(create_app({"seed": demo})) as client:
        added = await client.post("/_sim/faults", json=[
            {"status": 403, "count": 1, "match": "/issues/1", "retry_after": 30},
            {"status": 429, "count": 1, "match": "/issues/2", "rate_limit": "primary", "retry_after": 120},
            {"status": 403, "count": 1, "match": "/issues/3", "retry_after": None}])
        assert [f["rate_limit"] for f in added.json()["faults"]] == ["secondary", "primary", "secondary"]
        secondary = await client.get(f"{REPO}/issues/1")
        assert secondary.status_code == 403 and secondary.headers["Retry-After"] == "30"
        assert "secondary rate limit" in secondary.json()["message"]
        assert secondary.json()["documentation_url"].endswith("#about-secondary-rate-limits")
        assert int(secondary.headers["X-RateLimit-Remaining"]) > 0  # the primary quota is not what ran out
        primary = await client.get(f"{REPO}/issues/2")
        assert primary.status_code == 429 and "Retry-After" not in primary.headers
        assert primary.json()["message"].startswith("API rate limit exceeded for user ID")
        assert primary.headers["X-RateLimit-Remaining"] == "0"
        assert primary.headers["X-RateLimit-Used"] == primary.headers["X-RateLimit-Limit"] == "5000"
        assert 100 <= int(primary.headers["X-RateLimit-Reset"]) - int(time.time()) <= 121
        bare = await client.get(f"{REPO}/issues/3")
        assert bare.status_code == 403 and "Retry-After" not in bare.headers
        assert [(await client.get(f"{REPO}/issues/{n}")).status_code for n in (1, 2, 3)] == [200, 200, 200]
        bad = await client.post("/_sim/faults", json={"status": 429, "rate_limit": "tertiary"})
        assert bad.status_code == 400 and "rate_limit" in bad.json()["error"]
        assert (await client.post("/_sim/faults", json={"count": 1})).status_code == 400  # no status


async def test_comment_edit_changes_the_stored_body(demo):
    """PATCH must change what every later read returns, not only answer a valid-looking comment."""
    async with client_for(create_app({"seed": demo})) as client:
        created = (await client.post(f"{REPO}/issues/1/comments", json={"body": "Status: queued"})).json()
        edited = await client.patch(f"{REPO}/issues/comments/{created['id']}", json={"body": "Status: done"})
        assert edited.status_code == 200 and edited.json()["body"] == "Status: done"
        assert (await client.get(f"{REPO}/issues/comments/{created['id']}")).json()["body"] == "Status: done"
        listed = (await client.get(f"{REPO}/issues/1/comments")).json()
        assert [c["body"] for c in listed if c["id"] == created["id"]] == ["Status: done"]
        state = (await client.get("/_sim/state")).json()
        assert state["repos"]["acme/widgets"]["comments"][str(created["id"])]["body"] == "Status: done"
        other = await client.patch(f"{REPO}/issues/comments/{created['id']}", json={"body": "hijacked"},
                                   headers={"Authorization": "Bearer sim-token-mallory"})
        assert other.status_code == 403
        assert (await client.get(f"{REPO}/issues/comments/{created['id']}")).json()["body"] == "Status: done"
