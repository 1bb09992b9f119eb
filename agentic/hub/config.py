"""Server configs in mcphub's shape: accept both POST bodies, validate, infer the type, expand `${VAR}`, redact.

mcphub's `POST /api/servers` body is nested (`{"name", "config": {...}}`); the seed's README posts a flat one
(`{"name", "type", "command", "args", "env"}`). Both become the same `config` dict, stored as-is in
`mcp_settings.json` under `mcpServers[name]` (secrets included: the hub needs them to connect).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

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


SHOW_MAX = 60   # characters of a user's value an error message quotes (then "... (N characters)")
NAME_RULE = "1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"   # _NAME, as given
_ENV_NAME = re.compile(r"^[^=\x00]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
MAX_URL = 2048
SECURITY_TYPES = ("none", "apiKey", "http", "oauth2", "openIdConnect")


def show(value: Any) -> str:
    """A user's value, quoted for an error message and cut to SHOW_MAX characters (never a 10,000-char echo)."""
    if isinstance(value, str):
        if len(value) <= SHOW_MAX:
            return repr(value)
        return f"{value[:SHOW_MAX]!r}... ({len(value)} characters)"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= SHOW_MAX else f"{text[:SHOW_MAX]}..."


def kind_of(value: Any) -> str:
    """What a value is, for "(got ...)" in messages: 'null', 'true', 'the number 8080', "the string 'x'",
    'a list', 'an object' (strings and numbers cut to SHOW_MAX)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {show(value)}"
    if isinstance(value, str):
        return f"the string {show(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def split_body(body: Any) -> tuple[str, dict[str, Any]]:
    """(name, config) from a nested mcphub body or the seed's flat one. The name is taken exactly as given."""
    if not isinstance(body, dict):
        raise ConfigInvalid(f"request body must be a JSON object with `name` and `config` (got {kind_of(body)})")
    name = body.get("name")
    if name is None or name == "":
        raise ConfigInvalid("`name` is required (a non-empty string)")
    if not isinstance(name, str):
        raise ConfigInvalid(f"`name` must be a string (got {kind_of(name)})")
    check_name(name)
    if "config" in body:
        config = body["config"]
        if not isinstance(config, dict):
            raise ConfigInvalid(f"`config` must be an object (got {kind_of(config)})")
    else:
        config = {k: v for k, v in body.items() if k in _CONFIG_KEYS}
    if not config:
        raise ConfigInvalid("`config` is missing: send {\"name\", \"config\": {\"type\", ...}} or the flat form "
                            "{\"name\", \"type\", \"command\"|\"url\"|\"openapi\", ...}")
    return name, copy.deepcopy(config)


def check_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str):
        raise ConfigInvalid(f"`{field}` must be a string (got {kind_of(name)})")
    if not _NAME.fullmatch(name):  # fullmatch: `$` alone accepts a trailing newline
        hint = "; leading/trailing spaces are not trimmed" if name and name != name.strip() else ""
        raise ConfigInvalid(f"`{field}` {show(name)} is not a valid server name: {NAME_RULE}{hint}")
    return name


def validate(name: str, config: dict[str, Any], limits: Any = None,
             environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Check one server config (mcphub's rules, plus field types after `${VAR}` expansion); return a copy with
    `type` filled in. ConfigInvalid names the field; quoted input is cut to SHOW_MAX characters."""
    check_name(name)
    if not isinstance(config, dict):
        raise ConfigInvalid(f"`config` must be an object (got {kind_of(config)})")
    environ = os.environ if environ is None else environ
    config = copy.deepcopy(config)
    explicit = config.get("type")
    if explicit is not None and not isinstance(explicit, str):
        raise ConfigInvalid(f"`type` must be a string, one of {', '.join(SERVER_TYPES)} (got {kind_of(explicit)})")
    kind = explicit or infer_type(config)
    if kind is None:
        raise ConfigInvalid("`type` is missing and cannot be inferred: give `type` (one of "
                            f"{', '.join(SERVER_TYPES)}) with `command`, `url` or `openapi.url`/`openapi.schema`")
    if kind not in SERVER_TYPES:
        raise ConfigInvalid(f"`type` must be one of {', '.join(SERVER_TYPES)} (got {show(kind)})")
    config["type"] = kind
    _check_string_map(config, "env", environ, env=True)
    _check_string_map(config, "headers", environ)
    if kind == "stdio":
        command = config.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ConfigInvalid("`command` is required for a stdio server (a non-empty string"
                                + (f"; got {kind_of(command)})" if command is not None else ")"))
        if not expand(command, environ).strip():
            raise ConfigInvalid(f"`command` {show(command)} is empty after ${{VAR}} expansion")
        args = config.setdefault("args", [])
        if not isinstance(args, list):
            raise ConfigInvalid(f"`args` must be a list of strings (got {kind_of(args)})")
        for i, arg in enumerate(args):
            if not isinstance(arg, str):
                raise ConfigInvalid(f"`args[{i}]` must be a string (got {kind_of(arg)})")
        if "headers" in config:
            raise ConfigInvalid("`headers` is not supported for stdio servers")
        cwd = config.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ConfigInvalid(f"`cwd` must be a string (got {kind_of(cwd)})")
    elif kind in ("sse", "streamable-http"):
        if config.get("url") in (None, ""):
            raise ConfigInvalid(f"`url` (http:// or https://) is required for a {kind} server")
        _check_url(config, "url", config.get("url"), environ)
    else:
        _check_openapi(config, environ, limits)
    if "enabled" in config and not isinstance(config["enabled"], bool):
        raise ConfigInvalid(f"`enabled` must be true or false (got {kind_of(config['enabled'])})")
    options = config.get("options")
    if options is not None:
        if not isinstance(options, dict):
            raise ConfigInvalid(f"`options` must be an object (got {kind_of(options)})")
        for key in ("timeout", "connectTimeout", "initTimeout", "maxTotalTimeout"):
            value = options.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0):
                raise ConfigInvalid(f"`options.{key}` must be a positive number of milliseconds "
                                    f"(got {kind_of(value)})")
    tools = config.get("tools")
    if tools is not None:
        if not isinstance(tools, dict):
            raise ConfigInvalid(f"`tools` must be an object of tool name -> {{enabled}} (got {kind_of(tools)})")
        for tool, settings in tools.items():
            if not isinstance(settings, dict) or not isinstance(settings.get("enabled", True), bool):
                raise ConfigInvalid(f"`tools.{tool[:SHOW_MAX]}` must be an object like {{\"enabled\": false}}")
    for key in ("owner", "description"):
        if key in config and not isinstance(config[key], str):
            raise ConfigInvalid(f"`{key}` must be a string (got {kind_of(config[key])})")
    return config


def _check_string_map(config: dict[str, Any], key: str, environ: dict[str, str], env: bool = False) -> None:
    """`env` / `headers`: an object of string values (after `${VAR}` expansion too); header values one line."""
    if key not in config:
        return
    values = config[key]
    if not isinstance(values, dict):
        raise ConfigInvalid(f"`{key}` must be an object of string values (got {kind_of(values)})")
    for name, value in values.items():
        label = f"`{key}.{name[:SHOW_MAX]}`"
        if not isinstance(value, str):
            raise ConfigInvalid(f"{label} must be a string (got {kind_of(value)}); "
                                "write numbers and booleans in quotes")
        if env and not _ENV_NAME.fullmatch(name):
            raise ConfigInvalid(f"`{key}` has an invalid variable name {show(name)} (no '=' and not empty)")
        if not env and not _HEADER_NAME.fullmatch(name):
            raise ConfigInvalid(f"`{key}` has an invalid header name {show(name)}")
        expanded = expand(value, environ)
        if "\x00" in expanded or (not env and ("\r" in expanded or "\n" in expanded)):
            raise ConfigInvalid(f"{label} contains a NUL or line break (after ${{VAR}} expansion)")


def _check_url(config: dict[str, Any], field: str, value: Any, environ: dict[str, str]) -> str:
    """An http(s) URL with a host, checked after `${VAR}` expansion (a `${VAR}` prefix is no way around it)."""
    if not isinstance(value, str):
        raise ConfigInvalid(f"`{field}` must be a string URL (got {kind_of(value)})")
    expanded = expand(value, environ).strip()
    via = " after ${VAR} expansion" if expanded != value.strip() else ""
    if len(value) > MAX_URL or len(expanded) > MAX_URL:
        raise ConfigInvalid(f"`{field}` {show(value)} is longer than {MAX_URL} characters{via}")
    try:
        parts = urlsplit(expanded)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and len(parts.hostname or "") <= 253
    except ValueError:
        ok = False
    if not ok:
        # The expanded value is never quoted: it may carry a secret from the environment.
        what = "is empty" if not expanded else "is not an http:// or https:// URL with a host"
        raise ConfigInvalid(f"`{field}` {show(value)} {what}{via}")
    from agentic.hub.egress import HINT, EgressPolicy, UpstreamRefused

    try:
        EgressPolicy.from_env(environ).check_url(expanded)
    except UpstreamRefused as exc:
        # The rule, not the expanded host: it may come from the environment.
        raise ConfigInvalid(f"`{field}` {show(value)}{via} points at {exc.why} ({HINT})") from None
    return expanded


def _check_openapi(config: dict[str, Any], environ: dict[str, str], limits: Any) -> None:
    spec = config.get("openapi")
    if not isinstance(spec, dict) or not (spec.get("url") or spec.get("schema")):
        raise ConfigInvalid("`openapi.url` or `openapi.schema` is required for an openapi server")
    if spec.get("url"):
        _check_url(config, "openapi.url", spec["url"], environ)
    if spec.get("baseUrl") is not None:
        _check_url(config, "openapi.baseUrl", spec["baseUrl"], environ)
    security = spec.get("security")
    if security is not None:
        _check_security(security, environ)
    if "schema" in spec:
        document = spec["schema"]
        if not isinstance(document, dict):
            raise ConfigInvalid(f"`openapi.schema` must be an OpenAPI document (an object; got {kind_of(document)})")
        if not isinstance(document.get("paths"), dict):
            raise ConfigInvalid("`openapi.schema.paths` is missing: not an OpenAPI 3 document")
        from agentic.hub.openapi import OpenAPIInvalid, base_url, check_document

        try:
            check_document(document, limits)
        except OpenAPIInvalid as exc:
            raise ConfigInvalid(f"`openapi.schema`: {exc}") from None
        if not spec.get("url") and not spec.get("baseUrl") and not base_url(document, spec).startswith(
                ("http://", "https://")):
            raise ConfigInvalid("`openapi.schema.servers[0].url` must be an absolute http(s) URL, "
                                "or set `openapi.baseUrl`: the hub has no base URL to call")


def _check_security(security: Any, environ: dict[str, str]) -> None:
    if not isinstance(security, dict):
        raise ConfigInvalid(f"`openapi.security` must be an object (got {kind_of(security)})")
    kind = security.get("type")
    if kind not in SECURITY_TYPES:
        raise ConfigInvalid(f"`openapi.security.type` must be one of {', '.join(SECURITY_TYPES)} "
                            f"(got {show(kind)})")
    block = security.get(kind)
    if kind == "none":
        return
    if not isinstance(block, dict):
        raise ConfigInvalid(f"`openapi.security.{kind}` must be an object (got {kind_of(block)})")
    for key, value in block.items():
        if key != "scopes" and value is not None and not isinstance(value, str):
            raise ConfigInvalid(f"`openapi.security.{kind}.{key[:SHOW_MAX]}` must be a string (got {kind_of(value)})")
    if kind == "apiKey":
        if not block.get("name"):
            raise ConfigInvalid("`openapi.security.apiKey.name` is required (a header, query or cookie name)")
        if block.get("in", "header") not in ("header", "query", "cookie"):
            raise ConfigInvalid(f"`openapi.security.apiKey.in` must be header, query or cookie "
                                f"(got {show(block.get('in'))})")
        value = expand(block.get("value") or "", environ)
        if "\r" in value or "\n" in value or "\x00" in value:
            raise ConfigInvalid("`openapi.security.apiKey.value` contains a NUL or line break "
                                "(after ${VAR} expansion)")
    if kind == "http" and block.get("scheme") not in ("basic", "bearer"):
        raise ConfigInvalid(f"`openapi.security.http.scheme` must be basic or bearer "
                            f"(got {show(block.get('scheme'))})")


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


def undefined_variables(config: dict[str, Any], environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of the `${VAR}` / `$VAR` a server config refers to that the hub's environment does not set: they
    expand to '' (as in mcphub), which used to pass unnoticed. Names only: a value is never looked at. The inline
    OpenAPI document is not read (it is not expanded; `$ref` is no variable)."""
    environ = os.environ if environ is None else environ
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            names.update(m.group(1) or m.group(2) for m in _VAR.finditer(value))
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    openapi = config.get("openapi")
    walk({k: v for k, v in config.items() if k != "openapi"})
    if isinstance(openapi, dict):
        walk({k: v for k, v in openapi.items() if k != "schema"})
    return sorted(name for name in names if name not in environ)


def undefined_warning(name: str) -> str:
    return f"${{{name}}} is not set in the hub's environment: it expands to an empty string"


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
