"""The MCP servers the product registers on the hub, built from settings.

- `github`: the seed's npm server (`npx -y @modelcontextprotocol/server-github`, stdio). In the sandbox a Node preload
  redirects its hard-coded https://api.github.com to the GitHub simulator.
- `github-rest`: an `openapi` server from `agentic/github.schema.json` for what the npm server lacks (edit a comment,
  react, collaborator permission, request reviewers, check runs).
- `jules`: an `openapi` server from `agentic/jules.schema.json`.

Secrets are sent to the hub as values (the hub stores them to use them, and redacts them in every listing) — except
the keys named in `refs`, which this hub resolves itself: those are written `${GITHUB_TOKEN}` / `${JULES_API_KEY}`
and never reach `mcp_settings.json` (agentic/hub/secret_refs.py, issue #13).

Fitting other hubs (issue #14, docs/hub.md): `fit_body_limit` prunes an OpenAPI definition to the operations the
flow calls when the whole document is over the hub's body limit (github-rest is ~119 KB compact; the old mcphub
takes 100 KB), and `bridge_server` is the streamable-http entry that lets a hub without the `openapi` type reach
jules and github-rest hosted on our hub.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from agentic.errors import ConfigError
from agentic.schemas import GITHUB_REST_SERVER_NAME, JULES_SERVER_NAME, load_server_definition
from agentic.settings import Settings

GITHUB_MCP_PACKAGE = "@modelcontextprotocol/server-github@2025.4.8"
REAL_GITHUB_API = "https://api.github.com"
REAL_JULES_API = "https://jules.googleapis.com/v1alpha"


def _require(value: Any, name: str) -> str:
    if value is None:
        raise ConfigError(f"{name} is not set: add it to agentic/.env (see agentic/.env.example) "
                          "or use --skip-mcp-preload")
    return value.get_secret_value()


def _openapi_server(name: str, secret: str, base_url: str, default_base: str) -> dict[str, Any]:
    config = copy.deepcopy(load_server_definition(name)["config"])
    security = config["openapi"].get("security", {})
    for holder in (security.get("apiKey"), security.get("http")):
        if holder:
            key = "value" if "value" in holder else "credentials"
            holder[key] = secret
    if base_url.rstrip("/") != default_base:
        config["openapi"]["baseUrl"] = base_url.rstrip("/")
        # mcphub ignores `baseUrl` and calls the document's servers[0].url: point that there too, so a sandbox or
        # Enterprise URL holds on every hub (ours reads either; they agree).
        config["openapi"]["schema"]["servers"] = [{"url": base_url.rstrip("/")}]
    return config


def hub_server_definitions(settings: Settings, refs: frozenset[str] | set[str] = frozenset()
                           ) -> dict[str, dict[str, Any]]:
    """name -> hub server config (mcphub's `config` object), in preload order."""
    if getattr(settings, "github_app_id", None):
        # A GitHub App: the hub mints GITHUB_TOKEN itself and renews it (agentic/hub/github_app.py).
        github_token = "${GITHUB_TOKEN}"
    else:
        github_token = _require(settings.github_token, "GITHUB_TOKEN")
        github_token = "${GITHUB_TOKEN}" if "GITHUB_TOKEN" in refs else github_token
    jules_key = _require(settings.jules_api_key, "JULES_API_KEY")
    jules_key = "${JULES_API_KEY}" if "JULES_API_KEY" in refs else jules_key
    env = {"GITHUB_PERSONAL_ACCESS_TOKEN": github_token}
    if settings.github_api_url.rstrip("/") != REAL_GITHUB_API:
        from agentic.sandbox.github.redirect import node_env

        env |= node_env(settings.github_api_url)
    return {
        "github": {"type": "stdio", "command": "npx", "args": ["-y", GITHUB_MCP_PACKAGE], "env": env},
        GITHUB_REST_SERVER_NAME: _openapi_server(GITHUB_REST_SERVER_NAME, github_token, settings.github_api_url,
                                                 REAL_GITHUB_API),
        JULES_SERVER_NAME: _openapi_server(JULES_SERVER_NAME, jules_key, settings.jules_api_url, REAL_JULES_API),
    }


# Every github-rest operation the flow calls (agentic/github/client.py `tool`; tests/hub/test_mcphub_replay.py
# checks the two agree). A pruned definition keeps these and the components they reference.
GITHUB_REST_OPERATIONS = frozenset({
    "getIssue", "listIssueComments", "createIssueComment", "updateIssueComment", "createIssueReaction",
    "getCollaboratorPermission", "getRepo", "getPullRequest", "updatePullRequest", "requestReviewers",
    "listPullRequests", "listCheckRunsForRef"})
KEEP_OPERATIONS = {GITHUB_REST_SERVER_NAME: GITHUB_REST_OPERATIONS}
BRIDGE_SERVER_NAME = "agentic-openapi"


def body_size(name: str, config: dict[str, Any]) -> int:
    """Bytes of the compact `POST /api/servers` body the hub client sends for this server."""
    return len(json.dumps({"name": name, "config": config}, separators=(",", ":"), ensure_ascii=False).encode())


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def prune_openapi(schema: dict[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    """The OpenAPI document with only the operations in `keep` and the components they reach (transitively)."""
    pruned = copy.deepcopy(schema)
    paths: dict[str, Any] = {}
    for path, item in schema.get("paths", {}).items():
        ops = {method: op for method, op in item.items()
               if not isinstance(op, dict) or "operationId" not in op or op["operationId"] in keep}
        if any(isinstance(op, dict) and "operationId" in op for op in ops.values()):
            paths[path] = copy.deepcopy(ops)
    pruned["paths"] = paths
    components = schema.get("components") or {}
    reached: set[str] = set()
    pending = _refs(paths) | _refs(pruned.get("security"))
    while pending:
        ref = pending.pop()
        if ref in reached or not ref.startswith("#/components/"):
            continue
        reached.add(ref)
        _, _, kind, name = ref.split("/", 3)
        pending |= _refs(components.get(kind, {}).get(name))
    pruned["components"] = {kind: {name: copy.deepcopy(value) for name, value in entries.items()
                                   if f"#/components/{kind}/{name}" in reached or kind == "securitySchemes"}
                            for kind, entries in components.items()}
    return pruned


def fit_body_limit(name: str, config: dict[str, Any], limit: int) -> tuple[dict[str, Any], str | None]:
    """`config` as is when it fits `limit`, else pruned to the operations we call; returns (config, note)."""
    size = body_size(name, config)
    if size <= limit or config.get("type") != "openapi":
        return config, None
    keep = KEEP_OPERATIONS.get(name)
    if keep is None:
        raise ConfigError(f"hub server {name!r}: its definition is {size:,} bytes, over the hub's {limit:,}-byte "
                          "body limit; raise mcphub's systemConfig.routing.jsonBodyLimit or use our hub")
    fitted = copy.deepcopy(config)
    fitted["openapi"]["schema"] = prune_openapi(config["openapi"]["schema"], keep)
    pruned = body_size(name, fitted)
    if pruned > limit:
        raise ConfigError(f"hub server {name!r}: {pruned:,} bytes even pruned to the {len(keep)} operations the "
                          f"flow calls, over the hub's {limit:,}-byte body limit; raise mcphub's "
                          "systemConfig.routing.jsonBodyLimit or use our hub")
    return fitted, f"pruned to the {len(keep)} operations the flow calls ({size:,} -> {pruned:,} bytes)"


def bridge_server(openapi_hub_url: str) -> dict[str, Any]:
    """The hub entry reaching the openapi servers hosted on our hub: its `/mcp`, as a streamable-http server.
    The old mcphub sends no headers to such servers, so that hub must be open (bound to 127.0.0.1)."""
    return {"type": "streamable-http", "url": openapi_hub_url.rstrip("/") + "/mcp"}
