"""`create_app()`: the hub as one ASGI app — mcphub's REST routes, `/mcp` and `/mcp/{server}`, bearer auth."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agentic.hub.auth import Auth, AuthMiddleware
from agentic.hub.config import show
from agentic.hub.github_app import HubGitHubApp
from agentic.hub.hosts import HostGuardMiddleware, HostPolicy
from agentic.hub.limits import BodyLimitMiddleware, Limits
from agentic.hub.mcp_endpoint import build_mcp_server, build_session_manager
from agentic.hub.registry import Hub
from agentic.hub.rest import routes as rest_routes
from agentic.hub.secret_refs import HubSecrets, list_secrets


class _KnownServer:
    """`/mcp/{server}` for a server that is not in the settings: 404 with a JSON-RPC error, not an empty tool list.
    (A known but disabled server is served: it has no tools until it is enabled, and then sessions are told.)"""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = (scope.get("path_params") or {}).get("server", "")
        if server in self.hub.settings["mcpServers"]:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {
            "code": -32600, "message": f"Server not found: {show(server)} (GET /api/servers lists the servers; "
                                       "/mcp serves all of them)"}}).encode()
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def create_app(settings_path: str | os.PathLike[str], token: str | None = None,
               log_dir: str | os.PathLike[str] | None = None, *, max_body_bytes: int | None = None,
               max_openapi_operations: int | None = None, bind_host: str | None = None,
               allowed_hosts: str | list[str] | None = None,
               openapi_transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """The hub's ASGI app. Reads `settings_path` now (ConfigError if malformed); its lifespan starts the upstream
    connections and stops them (and their child processes) on shutdown.

    `token` (else env MCP_HUB_TOKEN) makes every /api and /mcp route require `Authorization: Bearer <token>`.
    `max_body_bytes` (else MCP_HUB_MAX_BODY_BYTES, else 1 MiB) caps `/api` request bodies (413);
    `max_openapi_operations` (else MCP_HUB_MAX_OPENAPI_OPERATIONS, else 500) caps one openapi server's tools.
    `bind_host` (default 127.0.0.1) and `allowed_hosts` (else MCP_HUB_ALLOWED_HOSTS) make the Host/Origin
    allow-list of /api and /mcp (agentic.hub.hosts: DNS-rebinding protection).
    `openapi_transport` carries the `openapi` servers' HTTP (their documents and API calls) instead of the network:
    for a process that serves those APIs itself (an ASGI app through `httpx.ASGITransport`); the egress checks
    still apply to every URL.
    """
    token = token if token is not None else (os.environ.get("MCP_HUB_TOKEN") or None)
    limits = Limits.from_env(max_body_bytes, max_openapi_operations)
    hub = Hub(Path(settings_path), Path(log_dir) if log_dir else None, limits, openapi_transport)
    session_manager = build_session_manager(build_mcp_server(hub))

    mcp_asgi = StreamableHTTPASGIApp(session_manager)  # an ASGI callable: Starlette mounts it as an app
    secrets = HubSecrets()  # ${GITHUB_TOKEN}... from Prefect Secret blocks or the environment (issue #13)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            github_app = await HubGitHubApp.from_env(hub, secrets)  # GITHUB_APP_ID: the hub mints GITHUB_TOKEN
            if github_app is not None:
                await github_app.prime()
            if secrets.referenced_missing(hub.settings.get("mcpServers") or {}):
                await secrets.refresh()
            await hub.start(tg)
            if github_app is not None:
                app.state.github_app = github_app
                tg.start_soon(github_app.run, tg)
            try:
                async with session_manager.run():
                    yield
            finally:
                await hub.stop()
                tg.cancel_scope.cancel()

    mcp_methods = ["GET", "POST", "DELETE"]
    app = Starlette(routes=[*rest_routes, Route("/api/secrets", list_secrets, methods=["GET"]),
                            Route("/mcp", mcp_asgi, methods=mcp_methods),
                            Route("/mcp/{server}", _KnownServer(mcp_asgi, hub), methods=mcp_methods)],
                    lifespan=lifespan)
    auth = Auth(token, lambda: hub.settings.get("bearerKeys"))
    app.state.hub = hub
    app.state.auth = auth
    app.state.secrets = secrets
    app.state.limits = limits
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes)
    app.add_middleware(AuthMiddleware, auth=auth)   # no body is read for an unauthenticated request
    hosts = HostPolicy.build(bind_host, allowed_hosts)
    app.state.hosts = hosts
    # Outermost: a rebinding page learns nothing, not even whether a token is required.
    app.add_middleware(HostGuardMiddleware, policy=hosts, token_required=lambda: auth.required)
    return app
