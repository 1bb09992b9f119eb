"""`create_app()`: the hub as one ASGI app — mcphub's REST routes, `/mcp` and `/mcp/{server}`, bearer auth."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from starlette.applications import Starlette
from starlette.routing import Route

from agentic.hub.auth import Auth, AuthMiddleware
from agentic.hub.mcp_endpoint import build_mcp_server, build_session_manager
from agentic.hub.registry import Hub
from agentic.hub.rest import routes as rest_routes


def create_app(settings_path: str | os.PathLike[str], token: str | None = None,
               log_dir: str | os.PathLike[str] | None = None) -> Starlette:
    """The hub's ASGI app. Reads `settings_path` now (ConfigError if malformed); its lifespan starts the upstream
    connections and stops them (and their child processes) on shutdown.

    `token` (else env MCP_HUB_TOKEN) makes every /api and /mcp route require `Authorization: Bearer <token>`.
    """
    token = token if token is not None else (os.environ.get("MCP_HUB_TOKEN") or None)
    hub = Hub(Path(settings_path), Path(log_dir) if log_dir else None)
    session_manager = build_session_manager(build_mcp_server(hub))

    mcp_asgi = StreamableHTTPASGIApp(session_manager)  # an ASGI callable: Starlette mounts it as an app

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            await hub.start(tg)
            try:
                async with session_manager.run():
                    yield
            finally:
                await hub.stop()
                tg.cancel_scope.cancel()

    mcp_methods = ["GET", "POST", "DELETE"]
    app = Starlette(routes=[*rest_routes,
                            Route("/mcp", mcp_asgi, methods=mcp_methods),
                            Route("/mcp/{server}", mcp_asgi, methods=mcp_methods)],
                    lifespan=lifespan)
    auth = Auth(token, lambda: hub.settings.get("bearerKeys"))
    app.state.hub = hub
    app.state.auth = auth
    app.add_middleware(AuthMiddleware, auth=auth)
    return app
