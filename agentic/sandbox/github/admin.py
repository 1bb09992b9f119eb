"""Test hooks under `/_sim/*` (not part of GitHub's API; no auth, no rate limit, never faulted)."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentic.sandbox.github.ci import CiConfig
from agentic.sandbox.github.seed import SeedError, apply_seed, build_store
from agentic.sandbox.github.store import LOCK_REASONS
from agentic.sandbox.github.web import RATE_LIMIT_KINDS, Fault, Sim


def admin_routes(sim: Sim) -> list[Route]:
    async def state(request: Request) -> JSONResponse:
        return JSONResponse(dump(sim))

    async def seed(request: Request) -> JSONResponse:
        """Body: a seed document. `?reset=false` adds to the current state instead of replacing it."""
        data = await request.json()
        try:
            if request.query_params.get("reset", "true") == "false":
                apply_seed(sim.store, data)
            else:
                sim.store = build_store(data)
        except (SeedError, KeyError, TypeError) as exc:
            return JSONResponse({"error": f"bad seed: {exc!r}"}, status_code=400)
        return JSONResponse({"repos": sorted(r.full_name for r in sim.store.repos.values())})

    async def faults(request: Request) -> JSONResponse:
        """Body: {"status": 502|503|500|504|429|403, "count": N, "match": "GET /repos/acme", "retry_after": 60,
        "rate_limit": "secondary"|"primary"} (or a list of them); `DELETE` clears. The next N matching API
        responses fail that way (see `Fault`)."""
        if request.method == "DELETE":
            sim.faults.clear()
            return JSONResponse({"faults": []})
        data = await request.json()
        added = []
        for item in data if isinstance(data, list) else [data]:
            try:
                retry_after = item.get("retry_after", 60)
                fault = Fault(int(item["status"]), int(item.get("count", 1)), item.get("match", ""),
                              None if retry_after is None else int(retry_after), item.get("rate_limit", "secondary"))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                return JSONResponse({"error": f"bad fault {item!r}: {exc!r}"}, status_code=400)
            if fault.rate_limit not in RATE_LIMIT_KINDS:
                return JSONResponse({"error": f"bad fault {item!r}: rate_limit must be one of {RATE_LIMIT_KINDS}"},
                                    status_code=400)
            added.append(fault)
        sim.faults.extend(added)
        return JSONResponse({"faults": [asdict(f) for f in sim.faults if f.count > 0]})

    async def lock(request: Request) -> JSONResponse:
        """Body: {"repo": "owner/name", "number": N, "locked": true, "active_lock_reason": "too heated"|...|null}:
        lock (or unlock) an issue or PR of the running simulator, as a maintainer would in GitHub's UI."""
        data = await request.json()
        owner, _, name = str(data.get("repo", "")).partition("/")
        repo = sim.store.repo(owner, name)
        issue = repo.issues.get(data.get("number")) if repo else None
        if issue is None:
            return JSONResponse({"error": f"no issue {data.get('number')!r} in {data.get('repo')!r}"}, status_code=404)
        reason = data.get("active_lock_reason")
        if reason is not None and reason not in LOCK_REASONS:
            return JSONResponse({"error": f"active_lock_reason must be one of {LOCK_REASONS} or null"},
                                status_code=400)
        issue.locked = bool(data.get("locked", True))
        issue.active_lock_reason = reason if issue.locked else None
        return JSONResponse({"number": issue.number, "locked": issue.locked,
                             "active_lock_reason": issue.active_lock_reason})

    async def ci(request: Request) -> JSONResponse:
        """Body: {"repo": "owner/name", "checks": ["test"], "fail_rounds": 1, "delay_seconds": 0.1,
        "duration_seconds": 0.3}: check runs on that repository's pull request heads (ci.py); `DELETE` with
        {"repo": ...} turns them off."""
        data = await request.json()
        owner, _, name = str(data.get("repo", "")).partition("/")
        repo = sim.store.repo(owner, name)
        if repo is None:
            return JSONResponse({"error": f"no repository {data.get('repo')!r}"}, status_code=404)
        if request.method == "DELETE":
            sim.ci.disable(repo)
            return JSONResponse({"repo": repo.full_name, "ci": None})
        try:
            config = CiConfig(checks=[str(c) for c in data.get("checks", ["test"])] or ["test"],
                              fail_rounds=int(data.get("fail_rounds", 1)),
                              delay_seconds=float(data.get("delay_seconds", 0.1)),
                              duration_seconds=float(data.get("duration_seconds", 0.3)))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad ci config: {exc}"}, status_code=400)
        sim.ci.enable(repo, config)
        return JSONResponse({"repo": repo.full_name, "ci": {"checks": config.checks,
                                                            "fail_rounds": config.fail_rounds}})

    async def requests(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            sim.route_counts.clear()
            sim.op_counts.clear()
            sim.unauthorized.clear()
        return JSONResponse({"routes": dict(sim.route_counts), "operations": dict(sim.op_counts),
                             "total": sum(sim.route_counts.values()),
                             "unauthorized": dict(sim.unauthorized)})  # 401 answers per "METHOD /template"

    async def apps(request: Request) -> JSONResponse:
        """The apps, installations and installation tokens (never their values): when each was minted, when it
        expires, and how often it was used per User-Agent (which client renewed, and when)."""
        state = sim.store.apps
        return JSONResponse({
            "apps": [{"id": a.id, "slug": a.slug, "bot_login": a.bot_login, "token_seconds": a.token_seconds}
                     for a in state.apps.values()],
            "installations": [asdict(i) for i in state.installations.values()],
            "tokens": [{"installation_id": t.installation_id, "minted_at": t.minted_at, "expires_at": t.expires_at,
                        "uses": dict(t.uses)} for t in state.tokens.values()]})

    return [
        Route("/_sim/state", state, methods=["GET"]),
        Route("/_sim/seed", seed, methods=["POST"]),
        Route("/_sim/faults", faults, methods=["POST", "DELETE"]),
        Route("/_sim/lock", lock, methods=["POST"]),
        Route("/_sim/ci", ci, methods=["POST", "DELETE"]),
        Route("/_sim/requests", requests, methods=["GET", "DELETE"]),
        Route("/_sim/apps", apps, methods=["GET"]),
    ]


def dump(sim: Sim) -> dict:
    """The whole state as plain JSON (tokens left out: secrets never in listings)."""
    store = sim.store
    repos = {}
    for _key, repo in store.repos.items():
        data = asdict(repo)
        data.pop("blobs")
        data["commits"] = {sha: {"message": c.message, "parents": c.parents, "files": sorted(c.tree)}
                           for sha, c in repo.commits.items()}
        data["issues"] = {str(n): v for n, v in data["issues"].items()}
        data["comments"] = {str(n): v for n, v in data["comments"].items()}
        repos[repo.full_name] = data
    return {
        "users": {u.login: {"id": u.id, "type": u.type, "name": u.name} for u in store.users.values()},
        "repos": repos,
        "webhook_deliveries": sim.webhooks.deliveries if sim.webhooks else [],
        "faults": [asdict(f) for f in sim.faults if f.count > 0],
    }
