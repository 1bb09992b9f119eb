"""A small fake mcphub that answers as the real one does, for CI (the real one needs Node and a build).

Two profiles, each pinned to its transcript in this folder — test_mcphub_replay.py replays every recorded request
against this fake and fails on any answer that differs:
- `ae3fe1c`: the build of 2025-05-17 as recorded by compat.py (scripts/mcphub_compat.sh) against the real
  process: no `/health` (the dashboard's HTML), login at `/auth/login` only (`/api/auth/login` is behind the JWT
  check), JWT in `x-auth-token`, Express's 100 KB body limit answered with 500, no `openapi` type, no
  `GET /api/servers/:name` (HTML), tools on `/mcp` with no server prefix, unknown tool "Server not found";
- `newest`: mcphub's current source, read route by route (newest.json cites file and commit): JSON `/health`,
  `/api/auth/login`, bearer keys, `openapi` type, 1 MB body limit, tools `<server>-<tool>`.
Servers are "connected" at once with the tools the transcript lists for that name (the real hub spawns them);
`/mcp` is a real streamable-HTTP MCP endpoint (the MCP SDK's server) whose tools echo their call.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

HERE = Path(__file__).resolve().parent
TRANSCRIPTS = {"ae3fe1c": HERE / "old-ae3fe1c.json", "newest": HERE / "newest.json"}
SPA_PAGE = '<!DOCTYPE html>\n<html lang="en">\n<head>\n  <meta charset="UTF-8">\n  <title>MCPHub</title>'


def load_transcript(profile: str) -> dict[str, Any]:
    return json.loads(TRANSCRIPTS[profile].read_text())


def recorded_tools(transcript: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """server name -> its tools as the real hub listed them once connected (bare names on the old build)."""
    for exchange in transcript["exchanges"]:
        if exchange["name"] == "servers-connected":
            return {s["name"]: s["tools"] for s in exchange["response"]["json"]["data"]}
    return {}


class FakeMcphub:
    def __init__(self, profile: str, password: str = "admin123", bearer_keys: tuple[str, ...] = ()) -> None:
        self.profile = profile
        self.old = profile == "ae3fe1c"
        self.transcript = load_transcript(profile)
        self.tools = recorded_tools(self.transcript)
        self.password = password
        self.bearer_keys = set(bearer_keys)
        self.jwts: set[str] = set()
        self.servers: dict[str, dict[str, Any]] = {}
        self.body_limit = 100 * 1024 if self.old else 1024 * 1024
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # what the client sent (method, path, headers)
        self.mcp_calls: list[str] = []

    # --- REST ---------------------------------------------------------------------------------------------
    def _authorised(self, request: Request) -> Response | None:
        token = request.headers.get("x-auth-token") or request.query_params.get("token")
        bearer = request.headers.get("authorization", "")
        if not self.old and bearer.startswith("Bearer ") and bearer[7:].strip() in self.bearer_keys:
            return None
        if not token:
            return JSONResponse({"success": False, "message": "No token, authorization denied"}, 401)
        if token not in self.jwts:
            return JSONResponse({"success": False, "message": "Token is not valid"}, 401)
        return None

    def _tool_entries(self, name: str) -> list[dict[str, Any]]:
        """The tools the real hub listed for this server name, named as it named them."""
        return [dict(tool) for tool in self.tools.get(name, [])]

    def _listing(self) -> list[dict[str, Any]]:
        listing = []
        for name, config in self.servers.items():
            entry = {"name": name, "status": "connected", "error": None, "tools": self._tool_entries(name),
                     "createTime": 0, "enabled": config.get("enabled", True) is not False}
            if not self.old:
                entry |= {"owner": "admin", "prompts": [], "config": config}
            listing.append(entry)
        return listing

    def _validate(self, config: Any) -> str | None:
        """createServer's checks, in the real order (old: serverController.ts @ae3fe1c; newest: see newest.json)."""
        if not isinstance(config, dict):
            return "Server configuration is required"
        openapi = config.get("openapi") if isinstance(config.get("openapi"), dict) else {}
        has_doc = not self.old and (openapi.get("url") or openapi.get("schema"))
        if not config.get("url") and not has_doc and (not config.get("command") or not config.get("args")):
            return ("Server configuration must include either a URL or command with arguments" if self.old else
                    "Server configuration must include either a URL, OpenAPI specification URL or schema, or "
                    "command with arguments")
        types_ = ["stdio", "sse", "streamable-http"] + ([] if self.old else ["openapi"])
        if config.get("type") and config["type"] not in types_:
            return f"Server type must be one of: {', '.join(types_)}"
        if config.get("type") in ("sse", "streamable-http") and not config.get("url"):
            return f"URL is required for {config['type']} server type"
        if config.get("type") == "openapi" and not has_doc:
            return "OpenAPI specification URL or schema is required for openapi server type"
        return None

    async def _body(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        if len(raw) > self.body_limit:  # Express's PayloadTooLargeError reaches the catch-all error handler
            return None, JSONResponse({"success": False, "message": "Internal server error"}, 500)
        try:
            return json.loads(raw or b"{}"), None
        except ValueError:
            return None, JSONResponse({"success": False, "message": "Internal server error"}, 500)

    async def health(self, request: Request) -> Response:
        if self.old:
            return HTMLResponse(SPA_PAGE)
        n = len(self.servers)
        return JSONResponse({"status": "healthy", "message": "All enabled MCP servers are ready",
                             "servers": {"total": n, "connected": n, "disconnected": 0},
                             "timestamp": "2026-01-01T00:00:00.000Z"})

    async def login(self, request: Request) -> Response:
        path = request.url.path
        if self.old and path.startswith("/api/"):
            return self._authorised(request) or HTMLResponse(SPA_PAGE)
        if not self.old and not path.startswith("/api/"):
            return HTMLResponse(SPA_PAGE)
        body, refused = await self._body(request)
        if refused:
            return refused
        username, password = (body or {}).get("username"), (body or {}).get("password")
        if not username or not password:
            errors = [{"type": "field", "msg": f"{f.capitalize()} is required", "path": f, "location": "body"}
                      for f, v in (("username", username), ("password", password)) if not v]
            return JSONResponse({"success": False, "errors": errors}, 400)
        if username != "admin" or password != self.password:
            return JSONResponse({"success": False, "message": "Invalid credentials"}, 401)
        token = "eyJhbGciOiJIUzI1NiJ9." + secrets.token_urlsafe(24) + "." + secrets.token_urlsafe(16)
        self.jwts.add(token)
        user = {"username": "admin", "isAdmin": True}
        if self.old:
            return JSONResponse({"success": True, "token": token, "user": user})
        return JSONResponse({"success": True, "message": "Login successful", "token": token,
                             "user": {**user, "permissions": ["*"]}, "isUsingDefaultPassword": False})

    async def api(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path, dict(request.headers)))
        if (refused := self._authorised(request)) is not None:
            return refused
        method, parts = request.method, request.url.path.strip("/").split("/")[1:]
        if parts == ["servers"] and method == "GET":
            return JSONResponse({"success": True, "data": self._listing()})
        if parts == ["settings"] and method == "GET":
            data: dict[str, Any] = {"mcpServers": self.servers, "users": [{"username": "admin",
                                                                          "password": "<bcrypt>", "isAdmin": True}]}
            if not self.old:
                data |= {"groups": [], "systemConfig": {"routing": {"enableGlobalRoute": True,
                                                                     "enableGroupNameRoute": True},
                                                        "nameSeparator": "-"}, "bearerKeys": []}
            return JSONResponse({"success": True, "data": data})
        if parts == ["servers"] and method == "POST":
            body, refused = await self._body(request)
            if refused:
                return refused
            name, config = (body or {}).get("name"), (body or {}).get("config")
            if not name or not isinstance(name, str):
                return JSONResponse({"success": False, "message": "Server name is required"}, 400)
            if (problem := self._validate(config)) is not None:
                return JSONResponse({"success": False, "message": problem}, 400)
            if name in self.servers:
                return JSONResponse({"success": False, "message": "Server name already exists"}, 400)
            self.servers[name] = config
            return JSONResponse({"success": True, "message": "Server added successfully"})
        if len(parts) == 2 and parts[0] == "servers" and method in ("PUT", "DELETE"):
            name = parts[1]
            if method == "DELETE":
                if self.servers.pop(name, None) is None:
                    return JSONResponse({"success": False, "message": "Server not found"}, 404)
                return JSONResponse({"success": True, "message": "Server removed successfully"})
            body, refused = await self._body(request)
            if refused:
                return refused
            if (problem := self._validate((body or {}).get("config"))) is not None:
                return JSONResponse({"success": False, "message": problem}, 400)
            if name not in self.servers:
                return JSONResponse({"success": False, "message": "Server not found"}, 404)
            self.servers[name] = body["config"]
            return JSONResponse({"success": True, "message": "Server updated successfully"})
        if len(parts) == 3 and parts[0] == "servers" and parts[2] == "toggle" and method == "POST":
            body, refused = await self._body(request)
            if refused:
                return refused
            if not isinstance((body or {}).get("enabled"), bool):
                return JSONResponse({"success": False, "message": "Enabled status must be a boolean"}, 400)
            if parts[1] not in self.servers:
                return JSONResponse({"success": False, "message": "Server not found"}, 404)
            self.servers[parts[1]]["enabled"] = body["enabled"]
            return JSONResponse({"success": True,
                                 "message": f"Server {'enabled' if body['enabled'] else 'disabled'} successfully"})
        # No such route: the old build's SPA catch-all answers every GET with the dashboard (GET /api/servers/x).
        if method == "GET":
            return HTMLResponse(SPA_PAGE)
        return HTMLResponse(f"Cannot {method} {request.url.path}", 404)

    # --- MCP ----------------------------------------------------------------------------------------------
    def _mcp_server(self) -> Server:
        def listed() -> list[dict[str, Any]]:
            return [t for s in self._listing() if s["enabled"] for t in s["tools"]]

        async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
            return types.ListToolsResult(tools=[types.Tool(
                name=t["name"], description=t.get("description") or "",
                input_schema=t.get("inputSchema") or {"type": "object"}) for t in listed()])

        async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            self.mcp_calls.append(params.name)
            if not any(t["name"] == params.name for t in listed()):
                # mcpService.ts handleCallToolRequest @ae3fe1c: `Server not found: ${name}` thrown and caught
                return types.CallToolResult(content=[types.TextContent(
                    type="text", text=f"Error: Error: Server not found: {params.name}")], is_error=True)
            return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(
                {"tool": params.name, "arguments": params.arguments or {}}))])

        return Server("mcphub", version="0.0.1", on_list_tools=list_tools, on_call_tool=call_tool)

    def app(self) -> Starlette:
        manager = StreamableHTTPSessionManager(app=self._mcp_server(), json_response=False)  # SSE, as mcphub
        mcp = StreamableHTTPASGIApp(manager)

        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            async with manager.run():
                yield

        return Starlette(routes=[
            Route("/health", self.health, methods=["GET"]),
            Route("/auth/login", self.login, methods=["POST"]),
            Route("/api/auth/login", self.login, methods=["POST"]),
            Route("/api/{rest:path}", self.api, methods=["GET", "POST", "PUT", "DELETE"]),
            Mount("/mcp", app=mcp),
        ], lifespan=lifespan)
