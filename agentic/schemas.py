"""The one loader of the hub server definitions shipped with the package.

`agentic/jules.schema.json` and `agentic/github.schema.json` are mcphub `POST /api/servers` bodies
(`{"name", "config": {"type": "openapi", "openapi": {"schema": <OpenAPI 3.1>, "security": ...}}}`). The seed posts
them verbatim to the hub; the hub turns each operation into a tool `<name>-<operationId>`; the simulators route and
validate from the same OpenAPI documents. Everything reads them through this module so the consumers cannot drift.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any, Literal

from agentic.errors import ConfigError

JULES_SERVER_NAME = "jules"
GITHUB_REST_SERVER_NAME = "github-rest"

ServerName = Literal["jules", "github-rest"]

_PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_FILES: dict[str, Path] = {
    JULES_SERVER_NAME: _PACKAGE_DIR / "jules.schema.json",
    GITHUB_REST_SERVER_NAME: _PACKAGE_DIR / "github.schema.json",
}


def schema_path(name: ServerName) -> Path:
    """Path of the server definition file for hub server `name`."""
    try:
        return SCHEMA_FILES[name]
    except KeyError:
        raise ConfigError(f"no server definition named {name!r}; known: {', '.join(SCHEMA_FILES)}") from None


@functools.cache
def _parsed(name: str) -> dict[str, Any]:
    path = schema_path(name)
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing; reinstall the package or restore the file from git") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); restore it from git") from None
    try:
        if definition["name"] != name or definition["config"]["type"] != "openapi":
            raise ConfigError(f"{path} must define openapi server {name!r}, found {definition['name']!r}")
        definition["config"]["openapi"]["schema"]["paths"]  # shape check
    except (KeyError, TypeError):
        raise ConfigError(f"{path} is not a hub server definition with config.openapi.schema") from None
    return definition


def load_server_definition(name: ServerName) -> dict[str, Any]:
    """The hub `POST /api/servers` body for `name` (a fresh copy: callers may edit it, e.g. set `baseUrl`)."""
    return copy.deepcopy(_parsed(name))


def load_openapi(name: ServerName) -> dict[str, Any]:
    """The inline OpenAPI document (`config.openapi.schema`) of server `name` (a fresh copy)."""
    return copy.deepcopy(_parsed(name)["config"]["openapi"]["schema"])


def load_jules_openapi() -> dict[str, Any]:
    return load_openapi(JULES_SERVER_NAME)


def load_github_openapi() -> dict[str, Any]:
    return load_openapi(GITHUB_REST_SERVER_NAME)
