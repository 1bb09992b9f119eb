"""GitHub's JSON read into the product's types (agentic/github/models.py): pure."""

from __future__ import annotations

from agentic.github.models import CheckRun, PullRequest


def test_a_pull_request_from_its_own_endpoint_and_from_a_listing():
    full = PullRequest.from_api({
        "number": 12, "html_url": "https://github.com/acme/widgets/pull/12", "state": "closed", "merged": True,
        "title": "Fix", "body": None, "user": {"login": "google-labs-jules[bot]"},
        "head": {"ref": "fix-slug-123", "sha": "abc"}, "base": {"ref": "main"},
        "requested_reviewers": [{"login": "alice"}, {"login": ""}, None]})
    assert (full.merged, full.body, full.author, full.head_ref, full.head_sha, full.base_ref,
            full.requested_reviewers) == (True, "", "google-labs-jules[bot]", "fix-slug-123", "abc", "main", ["alice"])
    # A listing has no `merged`: `merged_at` says it; a closed one without it was closed unmerged.
    assert PullRequest.from_api({"number": 3, "state": "closed", "merged_at": "2026-12-01T00:00:00Z"}).merged
    bare = PullRequest.from_api({"number": 4, "state": "closed", "merged_at": None, "head": None, "user": None})
    assert (bare.merged, bare.head_sha, bare.author, bare.state) == (False, "", "", "closed")


def test_a_check_run_with_or_without_output():
    run = CheckRun.from_api({"id": 9, "name": "test", "status": "completed", "conclusion": "failure",
                             "output": {"title": "1 failed", "summary": "s", "text": None}})
    assert (run.id, run.name, run.conclusion, run.title, run.summary, run.text) == (9, "test", "failure", "1 failed",
                                                                                     "s", "")
    pending = CheckRun.from_api({"id": 10, "name": "lint", "status": "queued", "conclusion": None, "output": None})
    assert (pending.status, pending.conclusion, pending.title) == ("queued", None, "")
