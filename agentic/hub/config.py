"""Server configs in mcphub's shape: accept both POST bodies, validate, infer the type, expand `${VAR}`, redact.

mcphub's `POST /api/servers` body is nested (`{"name", "config": {...}}`); the seed's README posts a flat one
(`{"name", "type", "command", "args", "env"}`). Both become the same `config` dict, stored as-is in
`mcp_settings.json` under `mcpServers[name]` (secrets included: the hub needs them to connect).
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

SERVER_TYPES = ("stdio", "sse", "streamable-http", "openapi")
# Keys of a flat body that belong to the server config (everything except the name).
_CONFIG_KEYS = ("type", "url", "command", "args", "env", "headers", "openapi", "enabled", "options", "tools",
                "prompts", "keepAliveInterval", "owner", "description", "cwd")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
REDACTED = "******"
# Config keys whose values are secrets wherever they appear (besides env/headers values, always redacted).
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|api[-_]?key|credential|authorization|cookie|"
                         r"private[-_]?key|clientsecret|^value$)", re.IGNORECASE)
# Strings that look like credentials even under an innocent key (GitHub PATs, Google keys, JWTs, bearer values).
_SECRET_VALUE = re.compile(r"^(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|AIza[0-9A-Za-z_-]{30,}|"
                           r"eyJ[\w-]+\.[\w-]+\.[\w-]+|(Bearer|Basic|token)\s+\S+|sk-[A-Za-z0-9_-]{16,})$")


class ConfigInvalid(ValueError):
    """A server definition was rejected; the message names the bad field (-> HTTP 400)."""


def split_body(body: Any) -> tuple[str, dict[str, Any]]:
    """(name, config) from a nested mcphub body or the seed's flat one."""
    if not isinstance(body, dict):
        raise ConfigInvalid("request body must be a JSON object with `name` and `config`")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigInvalid("`name` is required (a non-empty string)")
    if "config" in body:
        config = body["config"]
        if not isinstance(config, dict):
            raise ConfigInvalid("`config` must be an object")
    else:
        config = {k: v for k, v in body.items() if k in _CONFIG_KEYS}
    return name.strip(), copy.deepcopy(config)


def validate(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Check one server config as mcphub does (plus name and type checks); return it with `type` filled in."""
    if not _NAME.match(name):
        raise ConfigInvalid(f"`name` {name!r} must be 1-64 letters, digits, '-', '_' or '.'")
    if not isinstance(config, dict):
        raise ConfigInvalid("`config` must be an object")
    config = copy.deepcopy(config)
    kind = config.get("type") or infer_type(config)
    if kind not in SERVER_TYPES:
        raise ConfigInvalid(f"`type` must be one of {', '.join(SERVER_TYPES)} (got {config.get('type')!r}); "
                            "or give url, openapi.url/schema, or command+args")
    config["type"] = kind
    if kind == "stdio":
        if not isinstance(config.get("command"), str) or not config["command"].strip():
            raise ConfigInvalid("`command` is required for a stdio server")
        args = config.setdefault("args", [])
        if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) for a in args):
            raise ConfigInvalid("`args` must be a list of strings")
        config["args"] = [str(a) for a in args]
        if "headers" in config:
            raise ConfigInvalid("`headers` is not supported for stdio servers")
    elif kind in ("sse", "streamable-http"):
        if not isinstance(config.get("url"), str) or not config["url"].startswith(("http://", "https://", "${")):
            raise ConfigInvalid(f"`url` (http:// or https://) is required for a {kind} server")
    else:
        spec = config.get("openapi")
        if not isinstance(spec, dict) or not (spec.get("url") or spec.get("schema")):
            raise ConfigInvalid("`openapi.url` or `openapi.schema` is required for an openapi server")
        if "schema" in spec and not isinstance(spec["schema"], dict):
            raise ConfigInvalid("`openapi.schema` must be an OpenAPI document (an object)")
        if "schema" in spec and not isinstance(spec["schema"].get("paths"), dict):
            raise ConfigInvalid("`openapi.schema.paths` is missing: not an OpenAPI 3 document")
        security = spec.get("security")
        if security is not None and not isinstance(security, dict):
            raise ConfigInvalid("`openapi.security` must be an object")
    for key in ("env", "headers"):
        if key in config and (not isinstance(config[key], dict)
                              or not all(isinstance(v, (str, int, float, bool)) for v in config[key].values())):
            raise ConfigInvalid(f"`{key}` must be an object of string values")
    if "enabled" in config and not isinstance(config["enabled"], bool):
        raise ConfigInvalid("`enabled` must be true or false")
    options = config.get("options")
    if options is not None and not isinstance(options, dict):
        raise ConfigInvalid("`options` must be an object")
    return config


def infer_type(config: dict[str, Any]) -> str | None:
    """mcphub's inferServerType: openapi first, then url (=> sse: streamable-http must be explicit), then stdio."""
    openapi = config.get("openapi")
    if isinstance(openapi, dict) and (openapi.get("url") or openapi.get("schema")):
        return "openapi"
    if config.get("url"):
        return "sse"
    if config.get("command"):
        return "stdio"
    return None


def expand(value: Any, environ: dict[str, str] | None = None) -> Any:
    """`${VAR}` / `$VAR` in strings (recursively) from the hub's environment; unknown -> '' as mcphub does."""
    environ = os.environ if environ is None else environ
    if isinstance(value, str):
        return _VAR.sub(lambda m: environ.get(m.group(1) or m.group(2), ""), value)
    if isinstance(value, list):
        return [expand(v, environ) for v in value]
    if isinstance(value, dict):
        return {k: expand(v, environ) for k, v in value.items()}
    return value


def redact(config: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to show: env/header values, security values and anything token-like become '******'.

    `${VAR}` references are kept (they are names, not secrets) so users can see what the hub will expand.
    The inline OpenAPI document is kept too: it is public API description, and secret-looking strings in it
    are still caught by the value check.
    """
    def hide(value: Any) -> Any:
        if isinstance(value, str) and _VAR.fullmatch(value):
            return value
        return REDACTED if isinstance(value, str) and value else value

    def walk(value: Any, key: str = "", in_secret_map: bool = False) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                secret_map = k in ("env", "headers") and isinstance(v, dict)
                if in_secret_map or (_SECRET_KEY.search(k) and not isinstance(v, (dict, list))):
                    out[k] = hide(v) if not isinstance(v, (dict, list)) else walk(v, k)
                else:
                    out[k] = walk(v, k, secret_map)
            return out
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, str) and _SECRET_VALUE.match(value.strip()):
            return REDACTED
        return value

    redacted = walk(copy.deepcopy(config))
    for arg_list in (redacted.get("args"),):
        if isinstance(arg_list, list):  # `--token=abc` style arguments
            redacted["args"] = [re.sub(r"^(--?[\w-]*(token|key|secret|password)[\w-]*=).+$", r"\1" + REDACTED, a,
                                       flags=re.IGNORECASE) if isinstance(a, str) else a for a in arg_list]
    return redacted


def secret_values(config: dict[str, Any], environ: dict[str, str] | None = None) -> set[str]:
    """Every secret string a config carries (after expansion): used to scrub upstream error texts and logs."""
    found: set[str] = set()

    def walk(value: Any, key: str = "", secret: bool = False) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k, secret or k in ("env", "headers") or bool(_SECRET_KEY.search(k)))
        elif isinstance(value, list):
            for v in value:
                walk(v, key, secret)
        elif isinstance(value, str) and len(value) >= 6 and (secret or _SECRET_VALUE.match(value)):
            found.add(value)

    openapi = config.get("openapi") if isinstance(config.get("openapi"), dict) else {}
    walk({k: v for k, v in expand(config, environ).items() if k != "openapi"} | {
        "openapi": {k: v for k, v in expand(openapi, environ).items() if k != "schema"}})
    return found


def scrub(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
