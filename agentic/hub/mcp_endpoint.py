"""The hub's MCP side: a low-level `mcp` Server whose tools/list and tools/call read the live `Hub`.

A thin forwarder on purpose (the issue's latency budget: <= 2 ms added at p50): no FastMCP tool objects, no
re-validation of arguments or results — params go to the upstream session as they came, the upstream's result
dict comes back as is. `/mcp` serves every enabled server, `/mcp/{server}` one of them (mcphub's routes).
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from agentic import __version__
from agentic.hub.registry import Hub


class _HubServer(Server):
    def create_initialization_options(self, notification_options: NotificationOptions | None = None,
                                      *args: Any, **kwargs: Any) -> Any:
        # Servers come and go at runtime: advertise tools.listChanged so clients re-list.
        return super().create_initialization_options(NotificationOptions(tools_changed=True), *args, **kwargs)


def _scope_server(ctx: Any) -> str | None:
    request = getattr(ctx, "request", None)
    scope = getattr(request, "scope", None)
    if not scope:
        return None
    return (scope.get("path_params") or {}).get("server") or scope.get("hub_server")


_MODERN_LIST_ENVELOPE = {"resultType": "complete", "ttlMs": 0, "cacheScope": "private"}


def build_mcp_server(hub: Hub) -> Server:
    # The 2026-07-28 protocol requires `resultType` (and `ttlMs`/`cacheScope` on lists); older versions drop them.
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> dict[str, Any]:
        hub.remember(ctx.session)
        return {"tools": hub.list_tools(_scope_server(ctx)), **_MODERN_LIST_ENVELOPE}

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> dict[str, Any]:
        result = await hub.call_tool(params.name, params.arguments, _scope_server(ctx))
        return {"resultType": "complete", **result} if isinstance(result, dict) else result

    async def passthrough(ctx: Any, call_next: Any) -> Any:
        """tools/call and tools/list without the SDK's per-message pydantic passes (validate the request,
        validate the params model, validate + re-dump the result: ~0.5 ms per call, more for 250-tool lists).
        The upstream already produced a valid result; a short-circuiting middleware owns its result as is.
        The 2026-07-28 (modern) era needs the SDK's result envelope, so it takes the regular path."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and ctx.request_id is not None:
            params = ctx.params if isinstance(ctx.params, dict) else {}
            if ctx.method == "tools/call" and isinstance(params.get("name"), str):
                arguments = params.get("arguments")
                return await hub.call_tool(params["name"], arguments if isinstance(arguments, dict) else None,
                                           _scope_server(ctx))
            if ctx.method == "tools/list":
                hub.remember(ctx.session)
                return {"tools": hub.list_tools(_scope_server(ctx))}
        return await call_next(ctx)

    server = _HubServer("agentic-mcp-hub", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool)
    # Replaces the default OpenTelemetry middleware too (~0.1 ms per message; no exporter is installed here).
    server.middleware = [passthrough]
    return server


def build_session_manager(server: Server) -> StreamableHTTPSessionManager:
    # Stateful sessions (the MCP Inspector and mcphub clients expect `mcp-session-id`), JSON responses: a tools/call
    # answer is one JSON body instead of an SSE stream — cheaper to produce and to parse.
    # No DNS-rebinding host check here: the hub binds 127.0.0.1 by default and /mcp is behind the bearer token.
    return StreamableHTTPSessionManager(app=server, json_response=True, stateless=False, session_idle_timeout=3600)
