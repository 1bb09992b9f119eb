"""`create_app(config)`: the GitHub REST simulator as a Starlette app."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as StarletteRoute

from agentic.sandbox.github import routes_checks, routes_issues, routes_pulls, routes_repos
from agentic.sandbox.github.admin import admin_routes
from agentic.sandbox.github.ci import SimulatedCi
from agentic.sandbox.github.seed import build_store
from agentic.sandbox.github.web import DOCS, Sim, SimConfig, endpoint
from agentic.sandbox.github.webhooks import WebhookSender

API_ROUTES = [*routes_issues.ROUTES, *routes_pulls.ROUTES, *routes_checks.ROUTES, *routes_repos.ROUTES,
              routes_repos.COMMIT_ROUTE]


def create_app(config: SimConfig | dict[str, Any] | None = None) -> Starlette:
    """Build a fresh simulator. `config` may be a `SimConfig` or its fields as a dict (e.g. {"seed": {...}})."""
    if not isinstance(config, SimConfig):
        config = SimConfig(**(config or {}))
    sim = Sim(config=config, store=build_store(config.seed))
    sim.ci = SimulatedCi(sim)
    if config.webhook_url:
        sim.webhooks = WebhookSender(config.webhook_url, config.webhook_secret)
    routes = [StarletteRoute(r.starlette_path or r.path, endpoint(sim, r), methods=[r.method]) for r in API_ROUTES]

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "repos": len(sim.store.repos)})

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Unknown routes and wrong methods get GitHub's JSON, not Starlette's text.
        return JSONResponse({"message": "Not Found", "documentation_url": DOCS, "status": "404"},
                            status_code=404 if exc.status_code == 405 else exc.status_code)

    app = Starlette(routes=[StarletteRoute("/_sim/health", health), *admin_routes(sim), *routes],
                    exception_handlers={HTTPException: http_error})
    app.state.sim = sim
    return app
