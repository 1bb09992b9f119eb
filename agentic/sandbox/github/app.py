"""`create_app(config)`: the GitHub REST simulator as a Starlette app."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from agentic.sandbox.github import routes_apps, routes_checks, routes_issues, routes_pulls, routes_repos, routes_reviews
from agentic.sandbox.github.admin import admin_routes
from agentic.sandbox.github.ci import SimulatedCi
from agentic.sandbox.github.seed import build_store
from agentic.sandbox.github.web import DOCS, Sim, SimConfig, endpoint
from agentic.sandbox.github.webhooks import WebhookSender

API_ROUTES = [*routes_apps.ROUTES, *routes_issues.ROUTES, *routes_pulls.ROUTES, *routes_reviews.ROUTES,
              *routes_checks.ROUTES, *routes_repos.ROUTES, routes_repos.COMMIT_ROUTE]


Handler = Callable[[Request], Awaitable[Response]]


def conditional(sim: Sim, handler: Handler) -> Handler:
    """GitHub's conditional requests: every 200 GET carries a weak `ETag`; `If-None-Match` with it gets 304 with no
    body, and a 304 does not count against the rate limit (docs "Best practices for using the REST API")."""

    async def run(request: Request) -> Response:
        response = await handler(request)
        if response.status_code != 200:
            return response
        etag = f'W/"{hashlib.sha256(response.body).hexdigest()[:40]}"'
        response.headers["ETag"] = etag
        wanted = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
        if etag not in wanted and "*" not in wanted:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        who = getattr(request.state, "quota", None)
        if who is not None:
            quota = sim.quotas.get((who[0], headers.get("x-ratelimit-resource", "core")))
            if quota is not None and quota.used > 0:
                quota.used -= 1
                headers["x-ratelimit-used"] = str(quota.used)
                headers["x-ratelimit-remaining"] = str(int(headers.get("x-ratelimit-limit", 0)) - quota.used)
        return Response(status_code=304, headers=headers)

    return run


def create_app(config: SimConfig | dict[str, Any] | None = None) -> Starlette:
    """Build a fresh simulator. `config` may be a `SimConfig` or its fields as a dict (e.g. {"seed": {...}})."""
    if not isinstance(config, SimConfig):
        config = SimConfig(**(config or {}))
    sim = Sim(config=config, store=build_store(config.seed))
    sim.ci = SimulatedCi(sim)
    if config.webhook_url:
        sim.webhooks = WebhookSender(config.webhook_url, config.webhook_secret, transport=config.webhook_transport)
    routes = [StarletteRoute(r.starlette_path or r.path,
                             conditional(sim, endpoint(sim, r)) if r.method == "GET" else endpoint(sim, r),
                             methods=[r.method]) for r in API_ROUTES]

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
