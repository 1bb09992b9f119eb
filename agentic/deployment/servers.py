"""The MCP servers the product registers on the hub, built from settings.

- `github`: the seed's npm server (`npx -y @modelcontextprotocol/server-github`, stdio). In the sandbox a Node preload
  redirects its hard-coded https://api.github.com to the GitHub simulator.
- `github-rest`: an `openapi` server from `agentic/github.schema.json` for what the npm server lacks (edit a comment,
  react, collaborator permission, request reviewers, check runs).
- `jules`: an `openapi` server from `agentic/jules.schema.json`.

Secrets are sent to the hub as values (the hub stores them to use them, and redacts them in every listing) — except
the keys named in `refs`, which this hub resolves itself: those are written `${GITHUB_TOKEN}` / `${JULES_API_KEY}`
and never reach `mcp_settings.json` (agentic/hub/secret_refs.py, issue #13).
"""

from __future__ import annotations

import copy
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
    return config


def hub_server_definitions(settings: Settings, refs: frozenset[str] | set[str] = frozenset()
                           ) -> dict[str, dict[str, Any]]:
    """name -> hub server config (mcphub's `config` object), in preload order."""
    github_token = _require(settings.github_token, "GITHUB_TOKEN")
    jules_key = _require(settings.jules_api_key, "JULES_API_KEY")
    github_token = "${GITHUB_TOKEN}" if "GITHUB_TOKEN" in refs else github_token
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
