"""The hub's MCP side: a low-level `mcp` Server whose tools/list and tools/call read the live `Hub`; resources,
prompts, completion and logging/setLevel go to the upstreams that have them (agentic.hub.forward).

A thin forwarder on purpose (the issue's latency budget: <= 2 ms added at p50): no FastMCP tool objects, no
re-validation of arguments or results — params go to the upstream session as they came, the upstream's result
dict comes back as is. `/mcp` serves every enabled server, `/mcp/{server}` one of them (mcphub's routes).
tools/list on an open session is answered from the hub's cached wire JSON before the SDK's transport (`_CachedList`).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import mcp_types as types
import pydantic_core
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Receive, Scope, Send

from agentic import __version__
from agentic.hub.forward import FEATURES
from agentic.hub.registry import Hub
from agentic.hub.relay import CURRENT, RELAYED_CALLS, Relay
from agentic.hub.streams import CHANNEL, JSON_ONLY, LazyStream, peek_body, replay

log = logging.getLogger("agentic.hub")


class _HubServer(Server):
    hub: Hub

    def create_initialization_options(self, notification_options: NotificationOptions | None = None,
                                      *args: Any, **kwargs: Any) -> Any:
        # Servers come and go at runtime: advertise listChanged so clients re-list (prompts and resources: also
        # when an upstream says its own list changed).
        options = NotificationOptions(tools_changed=True, prompts_changed=True, resources_changed=True)
        return super().create_initialization_options(options, *args, **kwargs)


def _scope_server(ctx: Any) -> str | None:
    request = getattr(ctx, "request", None)
    scope = getattr(request, "scope", None)
    if not scope:
        return None
    return (scope.get("path_params") or {}).get("server") or scope.get("hub_server")


_MODERN_LIST_ENVELOPE = {"resultType": "complete", "ttlMs": 0, "cacheScope": "private"}
_COMPLETE = {"resultType": "complete"}


def _enveloped(ctx: Any, result: dict[str, Any], envelope: dict[str, str | int]) -> dict[str, Any]:
    """2026-07-28 requires the envelope; a 2025 client's strict result schema refuses its keys (an empty result
    with `resultType` fails the TypeScript SDK's EmptyResult), so only the modern era gets it."""
    return {**result, **envelope} if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else result


def _streamable(ctx: Any) -> bool:
    request = getattr(ctx, "request", None)
    scope = getattr(request, "scope", None) or {}
    return not scope.get(JSON_ONLY, False)


def _forwarded(ctx: Any) -> dict[str, Any]:
    """The request's params as the client sent them, less `_meta`: the hub's own session with the upstream
    carries its protocol metadata (the tools path forwards name and arguments only, likewise)."""
    params = ctx.params if isinstance(ctx.params, dict) else {}
    return {k: v for k, v in params.items() if k != "_meta"}


def _offered(result: dict[str, Any], hub: Hub, scope: str | None, handshake: bool) -> dict[str, Any]:
    """An initialize/server/discover result advertising only the features some upstream in scope has."""
    capabilities = result.get("capabilities")
    if not isinstance(capabilities, dict):
        return result
    kept = {k: v for k, v in capabilities.items() if k not in FEATURES or hub.forward.offers(scope, k)}
    resources = kept.get("resources")
    if handshake and isinstance(resources, dict):  # 2026-07-28 has no resources/subscribe: the SDK's value stands
        kept["resources"] = {**resources, "subscribe": hub.forward.subscribable(scope)}
    return {**result, "capabilities": kept}


def build_mcp_server(hub: Hub) -> Server:
    # The 2026-07-28 protocol requires `resultType` (and `ttlMs`/`cacheScope` on lists); older versions drop them.
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> dict[str, Any]:
        hub.remember(ctx.session)
        return {"tools": hub.list_tools(_scope_server(ctx)), **_MODERN_LIST_ENVELOPE}

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> dict[str, Any]:
        result = await hub.call_tool(params.name, params.arguments, _scope_server(ctx))
        return {"resultType": "complete", **result} if isinstance(result, dict) else result

    # Resources, prompts, completion, logging: raw params in, the upstream's result out (its errors as sent).
    forward = hub.forward

    async def list_resources(ctx: Any, params: Any) -> dict[str, Any]:
        return _enveloped(ctx, await forward.list_resources(_scope_server(ctx)), _MODERN_LIST_ENVELOPE)

    async def list_resource_templates(ctx: Any, params: Any) -> dict[str, Any]:
        return _enveloped(ctx, await forward.list_resource_templates(_scope_server(ctx)), _MODERN_LIST_ENVELOPE)

    async def read_resource(ctx: Any, params: Any) -> dict[str, Any]:
        # Cacheable in 2026-07-28 like the lists: resultType, ttlMs and cacheScope are all required there.
        return _enveloped(ctx, await forward.read_resource(_scope_server(ctx), _forwarded(ctx)),
                          _MODERN_LIST_ENVELOPE)

    async def subscribe(ctx: Any, params: Any) -> dict[str, Any]:
        connection = getattr(ctx.session, "_connection", None)  # where the updates go (see Hub.remember)
        return _enveloped(ctx, await forward.subscribe(_scope_server(ctx), _forwarded(ctx), connection), _COMPLETE)

    async def unsubscribe(ctx: Any, params: Any) -> dict[str, Any]:
        connection = getattr(ctx.session, "_connection", None)
        return _enveloped(ctx, await forward.unsubscribe(_scope_server(ctx), _forwarded(ctx), connection),
                          _COMPLETE)

    async def list_prompts(ctx: Any, params: Any) -> dict[str, Any]:
        return _enveloped(ctx, await forward.list_prompts(_scope_server(ctx)), _MODERN_LIST_ENVELOPE)

    async def get_prompt(ctx: Any, params: Any) -> dict[str, Any]:
        return _enveloped(ctx, await forward.get_prompt(_scope_server(ctx), _forwarded(ctx)), _COMPLETE)

    async def complete(ctx: Any, params: Any) -> dict[str, Any]:
        return _enveloped(ctx, await forward.complete(_scope_server(ctx), _forwarded(ctx)), _COMPLETE)

    async def set_level(ctx: Any, params: Any) -> dict[str, Any]:
        return _enveloped(ctx, await forward.set_level(_scope_server(ctx), _forwarded(ctx)), _COMPLETE)

    async def passthrough(ctx: Any, call_next: Any) -> Any:
        """tools/call and tools/list without the SDK's per-message pydantic passes (validate the request,
        validate the params model, validate + re-dump the result: ~0.5 ms per call, more for 250-tool lists).
        The upstream already produced a valid result; a short-circuiting middleware owns its result as is.
        The 2026-07-28 (modern) era needs the SDK's result envelope, so it takes the regular path."""
        hub.remember(ctx.session)  # the handshake comes this way: its client hears of tool changes
        if ctx.method in RELAYED_CALLS and ctx.request_id is not None:
            # What the upstream sends while serving this call comes back to this client (agentic.hub.relay).
            token = CURRENT.set(Relay.of(ctx, _streamable(ctx), CHANNEL.get()))
            try:
                return await _serve(ctx, call_next)
            finally:
                CURRENT.reset(token)
        return await _serve(ctx, call_next)

    async def _serve(ctx: Any, call_next: Any) -> Any:
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and ctx.request_id is not None:
            params = ctx.params if isinstance(ctx.params, dict) else {}
            if ctx.method == "tools/call" and isinstance(params.get("name"), str):
                arguments = params.get("arguments")
                return await hub.call_tool(params["name"], arguments if isinstance(arguments, dict) else None,
                                           _scope_server(ctx))
            if ctx.method == "tools/list":
                return {"tools": hub.list_tools(_scope_server(ctx))}
        result = await call_next(ctx)
        if ctx.method in ("initialize", "server/discover") and isinstance(result, dict):
            return _offered(result, hub, _scope_server(ctx), handshake=ctx.method == "initialize")
        return result

    server = _HubServer("agentic-mcp-hub", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool,
                        on_list_resources=list_resources, on_list_resource_templates=list_resource_templates,
                        on_read_resource=read_resource, on_subscribe_resource=subscribe,
                        on_unsubscribe_resource=unsubscribe, on_list_prompts=list_prompts, on_get_prompt=get_prompt,
                        on_completion=complete)
    # Not the constructor's on_set_logging_level: that warns (logging is deprecated as of 2026-07-28).
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    server.hub = hub
    # Replaces the default OpenTelemetry middleware too (~0.1 ms per message; no exporter is installed here).
    server.middleware = [passthrough]
    return server


def build_session_manager(server: Server) -> StreamableHTTPSessionManager:
    # Stateful sessions (the MCP Inspector and mcphub clients expect `mcp-session-id`). JSON answers by default (one
    # body per call: cheaper to produce and to parse); `LazyStream` makes a call's answer an SSE stream when progress
    # or log messages belong to it, and puts the session of a client that can be asked things mid-call (sampling,
    # elicitation, roots) in the SDK's SSE mode (agentic.hub.streams).
    # No SDK DNS-rebinding check here: agentic.hub.hosts guards /mcp and /api (Host/Origin) in front of it.
    manager = StreamableHTTPSessionManager(app=server, json_response=True, stateless=False,
                                           session_idle_timeout=3600)
    hub = getattr(server, "hub", None)
    app: ASGIApp = LazyStream(manager.asgi_app, manager)
    if isinstance(hub, Hub) and _CachedList.supports(manager):
        app = _CachedList(app, manager, hub)
    else:
        log.warning("hub: tools/list takes the MCP SDK's full path (its session internals moved)")
    manager.asgi_app = app
    return manager


_LISTING_KEYS = frozenset({"jsonrpc", "id", "method", "params"})


class _CachedList:
    """ASGI, in front of the SDK's streamable-HTTP handler: answers `tools/list` with `Hub.listing_json`.

    Why (#14): through the SDK, a 250-tool list cost the hub 2.1-2.6 ms of CPU per request (the message validated
    and routed through the session's memory streams and dispatcher, the list rebuilt, 90 kB re-serialised by
    pydantic); mcphub's Node forwarder, ~4 ms. Answered here from the bytes made at the last change: ~0.7 ms.

    Only the plain case is answered here: a POST on an open 2025-era (handshake) session, JSON in and out, with
    no credential bound to the session and no DNS-rebinding checks configured, carrying one `tools/list` request.
    Anything else goes to the SDK untouched (the body read so far replayed), so its checks and errors stay its own.
    """

    def __init__(self, app: ASGIApp, manager: StreamableHTTPSessionManager, hub: Hub) -> None:
        self.app, self.manager, self.hub = app, manager, hub

    @staticmethod
    def supports(manager: StreamableHTTPSessionManager) -> bool:
        """The SDK internals read below are still there (checked once; else the SDK path serves everything)."""
        return (isinstance(getattr(manager, "_server_instances", None), dict)
                and isinstance(getattr(manager, "_session_owners", None), dict)
                and manager.json_response and not manager.stateless)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = self._plain_session(scope)
        if transport is None:
            await self.app(scope, receive, send)
            return
        messages, body = await peek_body(receive)  # a tools/list request is ~100 bytes
        request_id = _listing_request_id(body) if body is not None else None
        if request_id is None:
            await self.app(scope, replay(messages, receive), send)
            return
        server = (scope.get("path_params") or {}).get("server")
        payload = b"".join((b'{"jsonrpc":"2.0","id":', pydantic_core.to_json(request_id), b',"result":',
                            self.hub.listing_json(server), b"}"))
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"mcp-session-id", transport.mcp_session_id.encode()),
            (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
        _touch(transport)

    def _plain_session(self, scope: Scope) -> Any:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("user") is not None:
            return None
        security = self.manager.security_settings
        if security is not None and security.enable_dns_rebinding_protection:
            return None
        session_id = version = content_type = accept = None
        for key, value in scope["headers"]:
            if key == b"mcp-session-id":
                session_id = value.decode("latin-1")
            elif key == b"mcp-protocol-version":
                version = value.decode("latin-1")
            elif key == b"content-type":
                content_type = value
            elif key == b"accept":
                accept = value
        if session_id is None or (version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS):
            return None
        if content_type is None or content_type.split(b";")[0].strip() != b"application/json":
            return None
        if accept is None or not _accepts_json(accept):
            return None
        transport = self.manager._server_instances.get(session_id)
        if transport is None or session_id in self.manager._session_owners or transport.is_terminated:
            return None
        idle = getattr(transport, "idle_scope", None)
        if idle is not None and idle.cancel_called:  # expiring: the SDK answers it as terminated
            return None
        return transport


def _accepts_json(accept: bytes) -> bool:
    types_ = [part.split(b";")[0].strip().lower() for part in accept.split(b",")]
    return any(t in (b"application/json", b"application/*", b"*/*") for t in types_)


def _listing_request_id(body: bytes) -> int | str | None:
    """The id of a lone, well-formed JSON-RPC `tools/list` request, else None (the SDK then judges it)."""
    try:
        message = pydantic_core.from_json(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/list" or message.get("jsonrpc") != "2.0":
        return None
    if not message.keys() <= _LISTING_KEYS or not isinstance(message.get("params", {}), dict):
        return None
    request_id = message.get("id")
    # bool is an int to Python, not a JSON-RPC id; the SDK's own rules decide the odd cases.
    return request_id if type(request_id) in (int, str) else None


def _touch(transport: Any) -> None:
    """Restart the session's idle countdown, as the SDK does after each request it serves itself."""
    idle, timeout = getattr(transport, "idle_scope", None), getattr(transport, "_idle_timeout", None)
    if idle is not None and timeout and not getattr(transport, "_requests_in_flight", 0):
        idle.deadline = anyio.current_time() + timeout
