"""HTTP plumbing shared by every route: auth, rate-limit headers, faults, request counts, errors, pagination.

A route is `Route(method, github_path, operation_id, handler)`; `handler(ctx)` returns `(status, body)` or
`(status, body, headers)` and raises `ApiError` for GitHub-shaped errors. The wrapper does the rest in the order
GitHub does: (fault) -> auth (401) -> rate limit (403) -> handler.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import Response

from agentic.sandbox.github.apps import JWT_DOCS, JwtRejected
from agentic.sandbox.github.render import Renderer
from agentic.sandbox.github.store import Repo, Store

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = RATE_DOCS + "#about-secondary-rate-limits"
_SPEC = Path(__file__).with_name("conformance.openapi.json")


_OPS = [op for item in json.loads(_SPEC.read_text())["paths"].values() for op in item.values()]
# operationId -> GitHub's docs page, for `documentation_url` (taken from GitHub's own description).
DOC_URLS = {op["operationId"]: op.get("externalDocs", {}).get("url", DOCS) for op in _OPS}
# operationId -> documented statuses: where GitHub documents no 403, it answers 404 to the unauthorised.
STATUSES = {op["operationId"]: set(op["responses"]) for op in _OPS}


class ApiError(Exception):
    """A GitHub error response: {"message", "errors"?, "documentation_url", "status"}."""

    def __init__(self, status: int, message: str, errors: list[dict] | None = None, doc: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors, self.doc, self.headers = status, message, errors, doc, headers or {}

    def body(self, op_id: str | None) -> dict:
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.doc or DOC_URLS.get(op_id or "", DOCS)
        out["status"] = str(self.status)
        return out


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(resource: str, field_name: str, code: str = "invalid", message: str | None = None) -> ApiError:
    error = {"resource": resource, "code": code, "field": field_name}
    if message:
        error["message"] = message
    return ApiError(422, "Validation Failed", [error])


RATE_LIMIT_KINDS = ("secondary", "primary")


@dataclass
class Fault:
    """The next `count` API responses matching `match` fail with `status`. For 403/429, `rate_limit` picks which
    limit GitHub reports: `secondary` (its abuse message, `Retry-After: retry_after` unless that is None) or
    `primary` (`API rate limit exceeded`, `X-RateLimit-Remaining: 0`, `X-RateLimit-Reset` in `retry_after` s)."""

    status: int
    count: int
    match: str = ""  # substring of "METHOD /path"; empty matches everything
    retry_after: int | None = 60
    rate_limit: str = "secondary"


@dataclass
class Quota:
    used: int = 0
    reset: int = 0


@dataclass
class SimConfig:
    """Simulator settings. `base_url` overrides the URL derived from each request (behind a proxy)."""

    seed: dict | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Where deliveries go instead of the network: a receiver app in the same process (httpx.ASGITransport).
    webhook_transport: httpx.AsyncBaseTransport | None = None
    base_url: str | None = None
    rate_limit: int = 5000
    search_rate_limit: int = 30


@dataclass
class Sim:
    """Everything one simulator instance owns (state, counters, faults, webhook sender)."""

    config: SimConfig
    store: Store
    webhooks: Any = None
    ci: Any = None  # SimulatedCi (ci.py): check runs on pull request heads, per repository
    faults: list[Fault] = field(default_factory=list)
    route_counts: Counter = field(default_factory=Counter)
    op_counts: Counter = field(default_factory=Counter)
    unauthorized: Counter = field(default_factory=Counter)  # 401 answers per "METHOD /template"
    quotas: dict[tuple[str, str], Quota] = field(default_factory=dict)


class Ctx:
    """One request as the handlers see it."""

    def __init__(self, sim: Sim, request: Request, login: str | None, body: Any, op_id: str = "") -> None:
        self.sim, self.request, self.login, self.body, self.op_id = sim, request, login, body, op_id
        self.params = request.path_params
        self.query = request.query_params
        self.base = sim.config.base_url or str(request.base_url).rstrip("/")
        self.render = Renderer(sim.store, self.base, login)

    @property
    def store(self) -> Store:
        return self.sim.store

    def repo(self, need: str = "read") -> Repo:
        """The path's repo; 404 when invisible (GitHub hides private repos), 403 when visible but not enough."""
        repo = self.store.repo(self.params["owner"], self.params["repo"])
        if repo is None or not repo.can(self.login, "read"):
            raise not_found()
        token = getattr(self.request.state, "installation_token", None)
        if (token is not None and self.request.method != "GET"
                and repo not in self.store.apps.token_repos(self.store, token)):
            # An installation token writes only to the repositories it was made for (public ones stay readable).
            raise ApiError(403, "Resource not accessible by integration")
        if not repo.can(self.login, need):
            if "403" not in STATUSES.get(self.op_id, {"403"}):
                raise not_found()
            raise ApiError(403, "Resource not accessible by " + ("integration" if token else "personal access token"))
        return repo

    def emit(self, event: str, payload: dict) -> None:
        if self.sim.webhooks is not None:
            repo = self.store.repo(*str((payload.get("repository") or {}).get("full_name", "/")).split("/", 1))
            installed = self.store.apps.installations_covering(repo) if repo else []
            if installed:  # an app's deliveries name the installation (its id picks the token to answer with)
                node = f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{installed[0].id}"
                payload = {**payload, "installation": {"id": installed[0].id, "node_id": node}}
            self.sim.webhooks.emit(event, payload)

    def paginate(self, items: list) -> tuple[list, dict[str, str]]:
        """GitHub pagination: per_page (default 30, max 100), page; RFC 8288 `Link` with next/last/prev/first."""
        per_page = min(max(_int(self.query.get("per_page"), 30), 1), 100)
        page = max(_int(self.query.get("page"), 1), 1)
        last = max(math.ceil(len(items) / per_page), 1)
        links = []
        query = dict(self.query)

        def url(n: int) -> str:
            return f"{self.base}{self.request.url.path}?{urlencode({**query, 'per_page': per_page, 'page': n})}"

        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        chunk = items[(page - 1) * per_page: page * per_page]
        return chunk, ({"Link": ", ".join(links)} if links else {})


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


Handler = Callable[[Ctx], Any]


@dataclass
class Route:
    method: str
    path: str  # GitHub's template, e.g. /repos/{owner}/{repo}/issues/{issue_number}
    op_id: str
    handler: Handler
    starlette_path: str = ""  # with convertors (`{issue_number:int}`, `{path:path}`); defaults to `path`
    auth: str = "token"  # token (a user's or an installation's) | jwt (an app's JWT: the /app routes)


def endpoint(sim: Sim, route: Route) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        sim.route_counts[f"{route.method} {route.path}"] += 1
        sim.op_counts[route.op_id] += 1
        resource = "search" if route.path.startswith("/search/") else "core"
        headers = {"X-GitHub-Request-Id": uuid.uuid4().hex[:20].upper(), "X-GitHub-Api-Version-Selected": "2022-11-28"}
        login = None
        try:
            fault = _take_fault(sim, f"{request.method} {request.url.path}")
            login = _authenticate(sim, request, route.auth)
            headers.update(_rate_limit(sim, request, login, resource))
            if fault is not None:
                raise _fault_error(sim, fault, login, resource)
            body = await _json_body(request)
            result = route.handler(Ctx(sim, request, login, body, route.op_id))
            status, payload, *extra = result
            if extra:
                headers.update(extra[0])
            if status == 204:
                return Response(status_code=204, headers=headers)
            return _json(status, payload, headers)
        except ApiError as err:
            if err.status == 401:
                sim.unauthorized[f"{route.method} {route.path}"] += 1
            headers.update(err.headers)
            return _json(err.status, err.body(route.op_id), headers)

    return run


def _json(status: int, payload: Any, headers: dict[str, str]) -> Response:
    return Response(json.dumps(payload), status_code=status, headers=headers,
                    media_type="application/json; charset=utf-8")


async def _json_body(request: Request) -> Any:
    if request.method in ("GET", "HEAD", "DELETE"):
        return None
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "Problems parsing JSON") from None


def _authenticate(sim: Sim, request: Request, kind: str = "token") -> str:
    """The caller's login (an app's JWT: the app's bot login). Sets `request.state.token` and `.quota` (whose
    rate limit the call counts against: the user's, the installation's or the app's)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise ApiError(401, "Requires authentication", doc=DOCS)
    apps = sim.store.apps
    if kind == "jwt":  # /app/... routes: only an app's JWT
        try:
            app = apps.verify_jwt(token) if scheme.lower() == "bearer" else None
        except JwtRejected as exc:
            raise ApiError(401, str(exc), doc=JWT_DOCS) from None
        if app is None:
            raise ApiError(401, "A JSON web token could not be decoded", doc=JWT_DOCS)
        request.state.token, request.state.quota = token, (f"app:{app.id}", sim.config.rate_limit)
        return app.bot_login
    if scheme.lower() not in ("bearer", "token"):
        raise ApiError(401, "Bad credentials", doc=DOCS)
    installation_token = apps.live_token(token)
    if installation_token is not None:
        installation = apps.installations[installation_token.installation_id]
        request.state.token, request.state.installation_token = token, installation_token
        installation_token.uses[request.headers.get("user-agent", "")[:80]] += 1
        request.state.quota = (f"installation:{installation.id}",
                               apps.rate_limit(sim.store, installation, sim.config.rate_limit))
        return apps.apps[installation.app_id].bot_login
    if token not in sim.store.tokens:  # an expired installation token too: GitHub answers the same
        raise ApiError(401, "Bad credentials", doc=DOCS)
    request.state.token = token
    login = sim.store.users[sim.store.tokens[token]].login
    request.state.quota = (login, sim.config.rate_limit)
    return login


def _rate_limit(sim: Sim, request: Request, login: str, resource: str) -> dict[str, str]:
    who, core_limit = getattr(request.state, "quota", (login, sim.config.rate_limit))
    limit = sim.config.search_rate_limit if resource == "search" else core_limit
    window = 60 if resource == "search" else 3600
    quota = sim.quotas.setdefault((who, resource), Quota())
    now = int(time.time())
    if quota.reset <= now:
        quota.used, quota.reset = 0, now + window
    over = quota.used >= limit
    quota.used += 0 if over else 1
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(limit - quota.used),
               "X-RateLimit-Reset": str(quota.reset), "X-RateLimit-Used": str(quota.used),
               "X-RateLimit-Resource": resource}
    if over:
        user_id = sim.store.users[login.lower()].id
        raise ApiError(403, f"API rate limit exceeded for user ID {user_id}.", doc=RATE_DOCS, headers=headers)
    return headers


def _take_fault(sim: Sim, what: str) -> Fault | None:
    for fault in sim.faults:
        if fault.count > 0 and fault.match in what:
            fault.count -= 1
            return fault
    return None


def _fault_error(sim: Sim, fault: Fault, login: str, resource: str) -> ApiError:
    if fault.status in (403, 429) and fault.rate_limit == "primary":
        # What an exhausted quota looks like (GitHub sends 403 or 429): remaining 0, reset in `retry_after` s.
        limit = sim.config.search_rate_limit if resource == "search" else sim.config.rate_limit
        reset = int(time.time()) + (fault.retry_after if fault.retry_after is not None else 60)
        return ApiError(fault.status, f"API rate limit exceeded for user ID {sim.store.users[login.lower()].id}.",
                        doc=RATE_DOCS, headers={
                            "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": str(reset), "X-RateLimit-Used": str(limit),
                            "X-RateLimit-Resource": resource})
    if fault.status in (403, 429):
        return ApiError(fault.status, "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                        "try again. If you reach out to GitHub Support for help, please include the request ID "
                        f"{uuid.uuid4().hex[:8].upper()}.", doc=SECONDARY_DOCS,
                        headers={} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)})
    messages = {500: "Server Error", 502: "Server Error", 503: "Service Unavailable", 504: "We couldn't respond "
                "to your request in time. Sorry about that. Please try resubmitting your request and contact us "
                "if the problem persists."}
    return ApiError(fault.status, messages.get(fault.status, "Server Error"), doc=DOCS)
