"""mcphub's REST dialect (the subset deploy scripts and the README's curl commands use), same JSON envelope.

`{"success": bool, "data"?: ..., "message"?: str}`; validation errors 400 naming the field; unknown server 404.
Difference from mcphub, on purpose: `POST /api/servers` with a name that already exists REPLACES that server's
config (200, "Server updated successfully") instead of mcphub's 400 — the seed's README says re-running its curl
commands updates the server instead of duplicating it. `HubClient.upsert_server` does POST-then-PUT so it behaves
the same against both hubs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentic.hub.config import ConfigInvalid, kind_of, show, split_body
from agentic.hub.registry import Hub, ServerExists, ServerNotFound
from agentic.hub.upstream import error_result


def ok(data: Any = None, message: str | None = None, status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"success": True}
    if data is not None:
        body["data"] = data
    if message:
        body["message"] = message
    return JSONResponse(body, status_code=status)


def fail(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"success": False, "message": message}, status_code=status)


MAX_JSON_DEPTH = 100   # our largest definition (github.schema.json) nests 20 deep


class BadRequest(ConfigInvalid):
    """A request the hub refuses before looking at its meaning (wrong content type...); carries its status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _json(request: Request) -> Any:
    """The JSON body. The size cap is already enforced (limits.BodyLimitMiddleware): at most max_body_bytes."""
    raw = await request.body()
    if not raw.strip():
        raise ConfigInvalid("request body is empty: send a JSON object")
    content_type = request.headers.get("content-type", "")
    if not _is_json_type(content_type):
        got = f"got {show(content_type)}" if content_type else "no Content-Type header"
        raise BadRequest(f"`Content-Type` must be application/json ({got}); "
                         "with curl add -H 'Content-Type: application/json'", 415)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigInvalid("request body is not valid UTF-8 JSON") from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise ConfigInvalid(f"request body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise ConfigInvalid(f"request body is not valid JSON ({exc})") from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise ConfigInvalid(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    return body


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _refused(exc: ConfigInvalid) -> JSONResponse:
    return fail(str(exc), getattr(exc, "status", 400))


def _hub(request: Request) -> Hub:
    return request.app.state.hub


async def health(request: Request) -> Response:
    try:
        status, body = _hub(request).health()
    except Exception as exc:  # noqa: BLE001 - mcphub: 503 unhealthy on any internal failure
        status, body = 503, {"status": "unhealthy", "message": str(exc)}
    body["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return JSONResponse(body, status_code=status)


async def list_servers(request: Request) -> Response:
    hub = _hub(request)
    return ok([hub.describe(name) for name in hub.names()])


async def get_server(request: Request) -> Response:
    try:
        return ok(_hub(request).describe(request.path_params["name"]))
    except ServerNotFound:
        return fail("Server not found", 404)


async def add_server(request: Request) -> Response:
    hub = _hub(request)
    try:
        name, config = split_body(await _json(request))
        try:
            await hub.add(name, config)
        except ServerExists:
            await hub.update(name, config)
            return ok(message="Server updated successfully")
    except ConfigInvalid as exc:
        return _refused(exc)
    return ok(message="Server added successfully")


async def update_server(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        body = await _json(request)
        if not isinstance(body, dict):
            raise ConfigInvalid(f"request body must be a JSON object with `config` (got {kind_of(body)})")
        # mcphub: `{"config": {...}, "newName"?}`; a bare config object is accepted too.
        config = body.get("config", {k: v for k, v in body.items() if k not in ("name", "newName")})
        if not isinstance(config, dict):
            raise ConfigInvalid(f"`config` must be an object (got {kind_of(config)})")
        await _hub(request).update(name, config, body.get("newName") or None)
    except ConfigInvalid as exc:
        return _refused(exc)
    except ServerNotFound:
        return fail("Server not found", 404)
    except ServerExists as exc:
        return fail(f"Server {exc.args[0]!r} already exists")
    return ok(message="Server updated successfully")


async def delete_server(request: Request) -> Response:
    try:
        await _hub(request).delete(request.path_params["name"])
    except ServerNotFound:
        return fail("Server not found or failed to remove", 404)
    return ok(message="Server removed successfully")


async def toggle_server(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        body = await _json(request)
    except ConfigInvalid as exc:
        return _refused(exc)
    if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
        return fail("`enabled` (true or false) is required")
    try:
        await _hub(request).toggle(name, body["enabled"])
    except ServerNotFound:
        return fail("Server not found", 404)
    return ok(message=f"Server {name} {'enabled' if body['enabled'] else 'disabled'} successfully")


async def reload_server(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        await _hub(request).reload(name)
    except ServerNotFound:
        return fail("Server not found", 404)
    except ConfigInvalid as exc:
        return _refused(exc)
    return ok(message=f"Server {name} reloaded successfully")


async def settings(request: Request) -> Response:
    return ok(_hub(request).redacted_settings())


async def system_config(request: Request) -> Response:
    try:
        body = await _json(request)
    except ConfigInvalid as exc:
        return _refused(exc)
    allowed = {"routing", "install", "smartRouting", "mcpRouter", "nameSeparator", "enableSessionRebuild",
               "oauthServer"}
    changes = {k: v for k, v in (body.items() if isinstance(body, dict) else []) if k in allowed}
    if not changes:
        return fail(f"no valid system config field; expected one of {', '.join(sorted(allowed))}")
    for key, value in changes.items():
        if key == "nameSeparator":
            if not isinstance(value, str) or not 1 <= len(value) <= 8 or value != value.strip():
                return fail(f"`nameSeparator` must be a string of 1-8 characters without spaces (got {show(value)})")
        elif key == "enableSessionRebuild":
            if not isinstance(value, bool):
                return fail("`enableSessionRebuild` must be true or false")
        elif not isinstance(value, dict):
            return fail(f"`{key}` must be an object (got {kind_of(value)})")
    await _hub(request).update_system_config(changes)
    return ok(message="System configuration updated successfully")


async def logs(request: Request) -> Response:
    return ok(_hub(request).logs())


async def call_tool(request: Request) -> Response:
    """mcphub's `POST /api/tools/call/:server` `{toolName, arguments}` — a curl-friendly tool call."""
    hub = _hub(request)
    server = request.path_params["server"]
    try:
        body = await _json(request)
    except ConfigInvalid as exc:
        return _refused(exc)
    tool = body.get("toolName") if isinstance(body, dict) else None
    if not isinstance(tool, str) or not tool:
        return fail("`toolName` is required")
    arguments = body.get("arguments") or {}
    if not isinstance(arguments, dict):
        return fail("`arguments` must be an object")
    name = tool if tool.startswith(server + hub.separator) else f"{server}{hub.separator}{tool}"
    try:
        result = await hub.call_tool(name, arguments, server)
    except MCPError as exc:  # the REST dialect has no JSON-RPC errors: the upstream's refusal as a failed call
        result = error_result(f"Error calling tool {tool}: {exc.message}")
    return ok({"content": result.get("content", []), "isError": result.get("isError", False),
               "toolName": tool, "arguments": arguments})


async def login(request: Request) -> Response:
    try:
        body = await _json(request)
    except ConfigInvalid as exc:
        return _refused(exc)
    username = body.get("username") if isinstance(body, dict) else None
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(username, str) or not isinstance(password, str):
        return fail("`username` and `password` are required")
    auth = request.app.state.auth
    if not auth.check_login(username, password):
        return fail("Invalid credentials", 401)
    return JSONResponse({"success": True, "message": "Login successful", "token": auth.issue(username),
                         "user": {"username": username, "isAdmin": True, "permissions": ["*"]},
                         "isUsingDefaultPassword": False})


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/servers", list_servers, methods=["GET"]),
    Route("/api/servers", add_server, methods=["POST"]),
    Route("/api/servers/{name}", get_server, methods=["GET"]),
    Route("/api/servers/{name}", update_server, methods=["PUT"]),
    Route("/api/servers/{name}", delete_server, methods=["DELETE"]),
    Route("/api/servers/{name}/toggle", toggle_server, methods=["POST"]),
    Route("/api/servers/{name}/reload", reload_server, methods=["POST"]),
    Route("/api/settings", settings, methods=["GET"]),
    Route("/api/system-config", system_config, methods=["PUT"]),
    Route("/api/logs", logs, methods=["GET"]),
    Route("/api/tools/call/{server}", call_tool, methods=["POST"]),
]
