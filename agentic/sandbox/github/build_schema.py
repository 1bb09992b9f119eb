"""Regenerate the GitHub OpenAPI subsets from GitHub's own published REST description.

Why generated: paths, parameter names, response shapes and error schemas must stay faithful to
github/rest-api-description (shipped on npm as `@octokit/openapi`, `generated/api.github.com.json`, OpenAPI 3.0).
This script picks our operations, renames their operationIds to our tool names, prunes every component schema
to its `required` fields plus a few extras we use (the full objects have 100+ optional fields), converts
3.0 `nullable` to 3.1 type unions, and writes two files:

- `agentic/github.schema.json`: the hub server definition "github-rest" (the tools the npm MCP server lacks);
- `agentic/sandbox/github/conformance.openapi.json`: every route the simulator serves, for its conformance tests
  and its `documentation_url`s.

Run (dev only; the outputs are committed):
    cd /tmp && npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python -m agentic.sandbox.github.build_schema /tmp/package/generated/api.github.com.json
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HUB_FILE = ROOT / "agentic" / "github.schema.json"
CONFORMANCE_FILE = Path(__file__).with_name("conformance.openapi.json")

# GitHub operationId -> our operationId (= hub tool suffix, `github-rest-<id>`). Order = tool order.
HUB_OPERATIONS = {
    "issues/get": "getIssue",
    "issues/list-for-repo": "listIssues",
    "issues/list-comments": "listIssueComments",
    "issues/get-comment": "getIssueComment",
    "issues/create-comment": "createIssueComment",
    "issues/update-comment": "updateIssueComment",
    "reactions/create-for-issue": "createIssueReaction",
    "reactions/list-for-issue": "listIssueReactions",
    "reactions/create-for-issue-comment": "createIssueCommentReaction",
    "repos/get-collaborator-permission-level": "getCollaboratorPermission",
    "repos/get": "getRepo",
    "pulls/get": "getPullRequest",
    "pulls/list": "listPullRequests",
    "pulls/create": "createPullRequest",
    "pulls/update": "updatePullRequest",
    "pulls/request-reviewers": "requestReviewers",
    "pulls/list-reviews": "listReviews",
    "pulls/list-review-comments": "listReviewComments",
    "reactions/list-for-pull-request-review-comment": "listReviewCommentReactions",
    "pulls/list-commits": "listPullRequestCommits",
    "checks/list-for-ref": "listCheckRunsForRef",
    "checks/create": "createCheckRun",
    "git/get-ref": "getRef",
    "git/create-ref": "createRef",
    "repos/create-or-update-file-contents": "createOrUpdateFileContents",
    "repos/create-commit-status": "createCommitStatus",
    "repos/list-commit-statuses-for-ref": "listCommitStatusesForRef",
}
# Routes the simulator also serves (for @modelcontextprotocol/server-github); not hub tools.
SIMULATOR_ONLY_OPERATIONS = {
    "issues/create": "createIssue",
    "issues/update": "updateIssue",
    "issues/add-labels": "addLabels",
    "issues/add-assignees": "addAssignees",
    "reactions/list-for-issue-comment": "listIssueCommentReactions",
    "repos/get-content": "getContent",
    "repos/list-branches": "listBranches",
    "repos/get-branch": "getBranch",
    "repos/list-commits": "listCommits",
    "repos/get-commit": "getCommit",
    "repos/get-combined-status-for-ref": "getCombinedStatusForRef",
    "git/update-ref": "updateRef",
    "git/list-matching-refs": "listMatchingRefs",
    "pulls/create-review": "createReview",
    "pulls/get-review": "getReview",
    "pulls/create-review-comment": "createReviewComment",
    "pulls/get-review-comment": "getReviewComment",
    "reactions/create-for-pull-request-review-comment": "createReviewCommentReaction",
    "search/issues-and-pull-requests": "searchIssues",
    "search/code": "searchCode",
    "users/get-by-username": "getUser",
    "users/get-authenticated": "getAuthenticatedUser",
}

# Optional fields we keep (besides each schema's `required`), because our flow or the npm server reads them.
EXTRAS = {
    "issue": ["body", "assignees", "state_reason", "pull_request", "author_association", "reactions", "draft",
              "closed_by", "timeline_url"],
    "issue-comment": ["body", "author_association", "reactions"],
    "pull-request": ["assignees", "requested_reviewers", "requested_teams", "draft"],
    "pull-request-simple": ["assignees", "requested_reviewers", "requested_teams", "draft"],
    "full-repository": ["visibility", "permissions"],
    "issue-search-result-item": ["body", "assignees", "pull_request", "state_reason"],
    "pull-request-review": ["submitted_at"],
    "review-comment": ["line", "side", "in_reply_to_id", "reactions"],
    "pull-request-review-comment": ["line", "side", "in_reply_to_id", "reactions"],
    "validation-error": ["errors"],
    "validation-error-simple": ["errors"],
}
# Statuses GitHub sends but does not describe (observed behaviour, docs pages say so in prose).
UNDOCUMENTED = {
    "checks/create": {"403": "forbidden"},  # "You must authenticate via a GitHub App." for non-App tokens
    "repos/create-commit-status": {"422": "validation_failed"},  # bad `state`
}
DROP_KEYS = {"example", "examples", "x-github", "x-github-releases", "x-githubEnterpriseOnly", "x-octokit"}


def _walk_refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _walk_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk_refs(value, found)


def _clean(node):
    """Drop examples/extensions; 3.0 `nullable: true` -> 3.1 `type: [X, "null"]`."""
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _clean(v) for k, v in node.items() if k not in DROP_KEYS}
    if "array" in out.get("discriminator", {}).get("mapping", {}):
        # GitHub's get-content puts a `type` discriminator on a oneOf that includes an array (directory listing);
        # validators cannot read a property of an array, and the oneOf alone already decides.
        del out["discriminator"]
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _prune(name: str, schema: dict) -> dict:
    """Keep `required` + EXTRAS of a top-level object schema; inline nested objects stay whole."""
    schema = copy.deepcopy(schema)
    closed = schema.get("additionalProperties") is False  # pruning a closed schema would reject real fields
    if schema.get("type") == "object" and "properties" in schema and schema.get("required") and not closed:
        keep = set(schema["required"]) | set(EXTRAS.get(name, []))
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k in keep}
    return schema


def _resolve(spec: dict, node):
    """Inline `#/components/{parameters,responses,headers}` refs so each operation reads on its own."""
    if isinstance(node, list):
        return [_resolve(spec, v) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#/components/schemas/"):
        _, _, kind, key = ref.split("/")
        return _resolve(spec, spec["components"][kind][key])
    return {k: _resolve(spec, v) for k, v in node.items()}


def build(spec: dict, operations: dict[str, str], *, title: str) -> dict:
    paths: dict = {}
    by_id = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") in operations:
                by_id[op["operationId"]] = (path, method, op)
    missing = set(operations) - set(by_id)
    if missing:
        raise SystemExit(f"operations not in the GitHub description: {sorted(missing)}")
    for gh_id, our_id in operations.items():
        path, method, op = by_id[gh_id]
        op = _resolve(spec, op)
        op["operationId"] = our_id
        op.pop("tags", None)
        responses = op["responses"]
        # GitHub answers 401 on every route but describes it on few; tests validate our 401 against it.
        responses.setdefault("401", _resolve(spec, {"$ref": "#/components/responses/requires_authentication"}))
        for status, name in UNDOCUMENTED.get(gh_id, {}).items():
            responses.setdefault(status, _resolve(spec, {"$ref": f"#/components/responses/{name}"}))
        for resp in responses.values():
            for media in resp.get("content", {}).values():
                media.pop("examples", None)
        paths.setdefault(path, {})[method] = op
    schemas: dict = {}
    todo: set[str] = set()
    _walk_refs(paths, todo)
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        schemas[name] = _prune(name, spec["components"]["schemas"][name])
        found: set[str] = set()
        _walk_refs(schemas[name], found)
        todo |= found - set(schemas)
    return _clean({
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": spec["info"]["version"],
            "description": "Subset of GitHub's REST API description (github/rest-api-description via @octokit/openapi "
                           f"{spec['info']['version']}), schemas pruned to required fields; generated by "
                           "agentic/sandbox/github/build_schema.py.",
        },
        "servers": [{"url": "https://api.github.com"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    })


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    hub = build(spec, HUB_OPERATIONS, title="GitHub REST (github-rest subset)")
    definition = {"name": "github-rest", "config": {"type": "openapi", "openapi": {
        "version": "3.1.0", "schema": hub,
        "security": {"type": "http", "http": {"scheme": "bearer", "credentials": "${GITHUB_TOKEN}"}},
    }}}
    HUB_FILE.write_text(json.dumps(definition, indent=1) + "\n")
    full = build(spec, {**HUB_OPERATIONS, **SIMULATOR_ONLY_OPERATIONS}, title="GitHub REST (simulator subset)")
    CONFORMANCE_FILE.write_text(json.dumps(full, indent=1) + "\n")
    print(f"{HUB_FILE}: {HUB_FILE.stat().st_size} bytes, {len(HUB_OPERATIONS)} operations")
    print(f"{CONFORMANCE_FILE}: {CONFORMANCE_FILE.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
