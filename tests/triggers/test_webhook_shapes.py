"""The GitHub simulator's webhook deliveries against GitHub's payload schemas (@octokit/webhooks-schemas, the
community-maintained JSON schemas of every event and action, fetched with npm once) and GitHub's delivery headers:
everything the flow and the receiver react to — labels, comments, assignment, edits, PR opened/closed/merged,
check runs, the ping of a new hook."""

from __future__ import annotations

import base64
import hmac
import json
import os
import subprocess
from hashlib import sha1, sha256
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agentic.sandbox.github import DEMO_SEED, create_app, load_seed_file

SCHEMAS_VERSION = "7.6.1"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / f"agentic-octokit-schemas-{SCHEMAS_VERSION}"
SECRET = "shape-secret"
REPO = "/repos/acme/widgets"


@pytest.fixture(scope="module")
def schema() -> dict:
    path = CACHE / "node_modules" / "@octokit" / "webhooks-schemas" / "schema.json"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(CACHE),
                        f"@octokit/webhooks-schemas@{SCHEMAS_VERSION}"], check=True, timeout=180)
    return json.loads(path.read_text())


def without_view_type(node):
    """`user_view_type` is a user field GitHub added in 2024, after the schemas' last release: not a mismatch."""
    if isinstance(node, dict):
        return {k: without_view_type(v) for k, v in node.items() if k != "user_view_type"}
    if isinstance(node, list):
        return [without_view_type(v) for v in node]
    return node


def validate(schema: dict, event: str, payload: dict) -> None:
    import jsonschema

    payload = without_view_type(payload)

    name = f"{event}$event" if event == "ping" else f"{event}${payload['action']}"
    assert name in schema["definitions"], name
    target = {**schema, "$ref": f"#/definitions/{name}"}
    target.pop("oneOf")
    errors = sorted(jsonschema.Draft7Validator(target).iter_errors(payload), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:160]}"
                                                 for e in errors[:8])


def as_user(login: str) -> dict[str, str]:
    return {"Authorization": f"Bearer sim-token-{login}"}


def test_deliveries_match_githubs_schemas_and_headers(schema):
    app = create_app({"seed": load_seed_file(DEMO_SEED), "webhook_url": "http://127.0.0.1:9/hook",
                      "webhook_secret": SECRET})
    sim = app.state.sim
    with TestClient(app) as gh:
        hook = gh.post(f"{REPO}/hooks", headers=as_user("octo-maintainer"), json={
            "config": {"url": "http://127.0.0.1:9/other", "secret": "other"}, "events": ["issues"]})
        assert hook.status_code == 201
        issue = gh.post(f"{REPO}/issues", headers=as_user("alice"), json={"title": "Dash", "body": "b"}).json()
        n = issue["number"]
        gh.post(f"{REPO}/issues/{n}/labels", headers=as_user("alice"), json={"labels": ["jules"]})
        gh.post(f"{REPO}/issues/{n}/assignees", headers=as_user("alice"), json={"assignees": ["octo-maintainer"]})
        gh.post(f"{REPO}/issues/{n}/comments", headers=as_user("alice"), json={"body": "/approve"})
        gh.patch(f"{REPO}/issues/{n}", headers=as_user("alice"), json={"body": "b, with details"})
        main = gh.get(f"{REPO}/git/ref/heads/main", headers=as_user("alice")).json()["object"]["sha"]
        for branch in ("fix/a", "fix/b"):
            gh.post(f"{REPO}/git/refs", headers=as_user("alice"), json={"ref": f"refs/heads/{branch}", "sha": main})
            gh.put(f"{REPO}/contents/{branch}.md", headers=as_user("alice"), json={
                "message": branch, "content": base64.b64encode(b"x\n").decode(), "branch": branch})
        merged = gh.post(f"{REPO}/pulls", headers=as_user("alice"), json={
            "title": "A", "head": "fix/a", "base": "main", "body": f"Fixes #{n}"}).json()
        closed = gh.post(f"{REPO}/pulls", headers=as_user("alice"), json={
            "title": "B", "head": "fix/b", "base": "main"}).json()
        current = gh.get(f"{REPO}/contents/fix/b.md?ref=fix/b", headers=as_user("alice")).json()["sha"]
        pushed = gh.put(f"{REPO}/contents/fix/b.md", headers=as_user("alice"), json={
            "message": "more", "content": base64.b64encode(b"y\n").decode(), "branch": "fix/b", "sha": current})
        assert pushed.status_code == 200, pushed.text
        comment = gh.post(f"{REPO}/pulls/{closed['number']}/comments", headers=as_user("octo-maintainer"), json={
            "body": "@jules say why", "commit_id": closed["head"]["sha"], "path": "fix/b.md", "line": 1})
        assert comment.status_code == 201, comment.text
        review = gh.post(f"{REPO}/pulls/{closed['number']}/reviews", headers=as_user("octo-maintainer"), json={
            "event": "REQUEST_CHANGES", "body": "Not yet", "comments": [{"path": "fix/b.md", "line": 1, "body": "x"}]})
        assert review.status_code == 200, review.text
        assert gh.put(f"{REPO}/pulls/{merged['number']}/merge", headers=as_user("alice")).json()["merged"]
        assert gh.put(f"{REPO}/pulls/{merged['number']}/merge", headers=as_user("alice")).status_code == 405
        gh.patch(f"{REPO}/pulls/{closed['number']}", headers=as_user("alice"), json={"state": "closed"})
        head = gh.get(f"{REPO}/pulls/{closed['number']}", headers=as_user("alice")).json()["head"]["sha"]
        run = gh.post(f"{REPO}/check-runs", headers=as_user("ci-app"), json={
            "name": "test", "head_sha": head, "status": "completed", "conclusion": "failure",
            "output": {"title": "1 failed", "summary": "test_slugify failed"}})
        assert run.status_code == 201, run.text

    seen = {}
    for record in sim.webhooks.deliveries:
        event, body, headers = sim.webhooks.sent(record["id"])
        payload = json.loads(body)
        validate(schema, event, payload)
        secret = SECRET if record["hook_id"] == 1 else "other"
        assert headers["X-Hub-Signature-256"] == "sha256=" + hmac.new(secret.encode(), body, sha256).hexdigest()
        assert headers["X-Hub-Signature"] == "sha1=" + hmac.new(secret.encode(), body, sha1).hexdigest()
        assert headers["User-Agent"].startswith("GitHub-Hookshot/") and headers["X-GitHub-Event"] == event
        assert headers["X-GitHub-Hook-Installation-Target-Type"] == "repository"
        assert headers["X-GitHub-Hook-Installation-Target-ID"] == str(payload["repository"]["id"])
        seen.setdefault(record["hook_id"], []).append(f"{event}.{payload.get('action', '')}".rstrip("."))
    assert seen[1] == ["issues.opened", "issues.labeled", "issues.assigned", "issue_comment.created",
                       "issues.edited", "pull_request.opened", "pull_request.opened", "pull_request.synchronize",
                       "pull_request_review_comment.created", "pull_request_review.submitted",
                       "pull_request_review_comment.created", "pull_request_review.submitted", "pull_request.closed",
                       "pull_request.closed", "check_run.created", "check_run.completed"]
    # The repository hook asked for `issues` only (and gets its ping).
    [other] = [k for k in seen if k != 1]
    assert seen[other] == ["ping", "issues.opened", "issues.labeled", "issues.assigned", "issues.edited"]
    merged_payload = [json.loads(sim.webhooks.sent(d["id"])[1]) for d in sim.webhooks.deliveries
                      if d["event"] == "pull_request" and d["action"] == "closed" and d["hook_id"] == 1]
    assert [p["pull_request"]["merged"] for p in merged_payload] == [True, False]
