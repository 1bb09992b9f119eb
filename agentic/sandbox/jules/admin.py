"""`/_sim/*` routes: not part of the Jules API; tests and benchmarks inspect and steer the simulator with them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentic.sandbox.jules.config import FaultRule, ScenarioRule

if TYPE_CHECKING:
    from agentic.sandbox.jules.app import JulesSimulator


def admin_routes(sim: JulesSimulator) -> list[Route]:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "sessions": len(sim.store.sessions), "profile": sim.config.profile})

    async def sessions(request: Request) -> JSONResponse:
        return JSONResponse({"sessions": [
            {**sim.session_view(r, wire=False), "script": r.script, "reactive": r.reactive, "apiKey": _mask(r.key),
             "profile": sim.config.profile, "live": r.traits.describe(), "activities": r.activities}
            for r in sim.store.sessions.values()]})

    async def requests(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            sim.reset_counts()
        return JSONResponse({"total": sum(sim.requests["operation"].values()),
                             "byOperation": dict(sim.requests["operation"]),
                             "byRoute": dict(sim.requests["route"]),
                             "bySession": dict(sim.requests["session"])})

    async def scenarios(request: Request) -> JSONResponse:
        if request.method == "POST":
            rules = await _rules(request, "scenarios", list[ScenarioRule])
            if isinstance(rules, JSONResponse):
                return rules
            sim.scenarios[:0] = rules  # newest first: a test's rule beats earlier ones
        elif request.method == "DELETE":
            sim.scenarios.clear()
        return JSONResponse({"scenarios": [r.model_dump() for r in [*sim.scenarios, *sim.config.scenarios]],
                             "default": sim.config.default_script})

    async def faults(request: Request) -> JSONResponse:
        if request.method == "POST":
            rules = await _rules(request, "faults", list[FaultRule])
            if isinstance(rules, JSONResponse):
                return rules
            sim.faults.add(rules)
        elif request.method == "DELETE":
            sim.faults.clear()
        return JSONResponse({"faults": [r.model_dump() for r in sim.faults.rules]})

    async def reset(request: Request) -> JSONResponse:
        sim.reset()
        return JSONResponse({"status": "reset"})

    return [
        Route("/_sim/health", health),
        Route("/_sim/sessions", sessions),
        Route("/_sim/requests", requests, methods=["GET", "DELETE"]),
        Route("/_sim/scenarios", scenarios, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]


def _mask(key: str) -> str:
    return key[:4] + "…" if len(key) > 4 else "…"


async def _rules(request: Request, key: str, kind: Any) -> Any:
    """One rule or `{key: [rules]}` from the body, validated; a 400 JSONResponse if invalid."""
    try:
        data = await request.json()
        items = data.get(key, [data]) if isinstance(data, dict) else data
        return TypeAdapter(kind).validate_python(items)
    except (ValueError, ValidationError) as exc:
        return JSONResponse({"error": f"invalid {key}: {exc}"}, status_code=400)
