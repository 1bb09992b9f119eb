"""The Jules v1alpha API simulator as an ASGI app: `create_app(config)`.

Requests go through, in order: request counting, injected faults, API-key check, route matching and body
validation from the OpenAPI spec (`spec.py`), then the handler named by the operationId. Sessions are driven by
`scripts.py` in background tasks; `/_sim/*` routes (not part of the real API) let tests and benchmarks inspect
state, pick scenarios and inject faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from agentic.sandbox.jules import change, listing
from agentic.sandbox.jules.admin import admin_routes
from agentic.sandbox.jules.config import JulesSimConfig, ScenarioRule
from agentic.sandbox.jules.faults import Faults
from agentic.sandbox.jules.google_errors import ApiError, error_info, invalid_argument, not_found
from agentic.sandbox.jules.live import LiveTraits
from agentic.sandbox.jules.publish import github_client
from agentic.sandbox.jules.scripts import SessionRun
from agentic.sandbox.jules.spec import JulesSpec
from agentic.sandbox.jules.store import SessionRecord, SessionStore, parse_rfc3339
from agentic.schemas import JULES_SERVER_NAME, load_openapi

API_PREFIX = "/v1alpha"
MISSING_KEY_MESSAGE = ("Request is missing required authentication credential. Expected OAuth 2 access token, "
                       "login cookie or other valid authentication credential. See "
                       "https://developers.google.com/identity/sign-in/web/devconsole-project.")
INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."
# Live Jules' answer to parallel creates (jules-sdk#20): the same 400 as for a source it does not know.
SOURCE_BUSY_MESSAGE = "Could not get source."
_FAULT_MESSAGES = {500: ("INTERNAL", "Internal error encountered."),
                   503: ("UNAVAILABLE", "The service is currently unavailable."),
                   429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")}

Handler = Callable[[str, dict[str, str], dict[str, Any], dict[str, Any] | None], Awaitable[dict[str, Any]]]


class SimulatedDisconnect(httpx.RemoteProtocolError):
    """Raised after the response headers to drop the connection: uvicorn closes the socket, and an in-process
    httpx client (ASGITransport) sees the same exception type a real dropped connection gives it."""


@dataclass
class _Create:
    """One createSession in flight: its place in the burst when it arrived, and the burst's largest size since."""

    rank: int
    peak: int = 0


class JulesSimulator:
    """State and behaviour of one simulated Jules API; `create_app` wraps it in Starlette."""

    def __init__(self, config: JulesSimConfig, *, github: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.spec = JulesSpec(load_openapi(JULES_SERVER_NAME))
        self.store = SessionStore(config)
        self.faults = Faults(config.faults)
        self.scenarios: list[ScenarioRule] = []  # added at runtime; searched before config.scenarios
        self.runs: dict[str, SessionRun] = {}  # session id → its script (a follow-up after COMPLETED reuses it)
        self.requests: dict[str, Counter[str]] = {"operation": Counter(), "route": Counter(), "session": Counter()}
        self.creating: dict[str, list[_Create]] = {}  # live: createSession calls in flight, per key
        self._owns_github = github is None
        self.github = github or github_client(config.github_url, config.github_token, config.github_timeout_seconds)
        self.handlers: dict[str, Handler] = {
            "listSources": self.list_sources, "getSource": self.get_source,
            "createSession": self.create_session, "listSessions": self.list_sessions,
            "getSession": self.get_session, "deleteSession": self.delete_session,
            "approvePlan": self.approve_plan, "sendMessage": self.send_message,
            "archiveSession": self.archive_session,
            "listActivities": self.list_activities, "getActivity": self.get_activity,
        }
        missing = set(self.spec.by_id) - set(self.handlers)
        if missing:  # the spec grew an operation the simulator cannot serve: fail at start, not per request
            raise RuntimeError(f"jules.schema.json has operations without a simulator handler: {sorted(missing)}")

    async def aclose(self) -> None:
        """Stop every session task and close the GitHub client (if this simulator created it)."""
        tasks = [t for t in [*(r.task for r in self.store.sessions.values()), *(r.reactive for r in self.runs.values())]
                 if t and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_github:
            await self.github.aclose()

    def session_view(self, record: SessionRecord, *, wire: bool = True) -> dict[str, Any]:
        """The Session as the API returns it (`wire=False`: with the simulator's own state name, for `/_sim`)."""
        view = dict(record.resource)
        if wire:
            view["state"] = record.traits.wire_state(record.state)
        return listing.without_empty(view)

    def reset_counts(self) -> None:
        for counter in self.requests.values():
            counter.clear()

    def reset(self) -> None:
        """Forget sessions, counters, runtime scenarios and faults (the config's faults come back)."""
        for record in self.store.sessions.values():
            if record.task and not record.task.done():
                record.task.cancel()
        self.store = SessionStore(self.config)
        self.scenarios.clear()
        self.faults = Faults(self.config.faults)
        self.reset_counts()

    # --- the API entry point (raw ASGI, so a fault can drop the connection mid-response) -------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = scope["path"]
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX):]
        method = request.method
        found = self.spec.match(method, path)
        operation_id = found[0].operation_id if found else None
        self._count(operation_id, method, found[0].path if found else path, found[1] if found else {})
        latency, fault = self.faults.take(operation_id, method, path)
        if latency:
            await asyncio.sleep(latency)
        if fault is not None and fault.phase == "after":  # serve it (the session exists), then lose the answer
            with contextlib.suppress(ApiError):
                await self._serve(request, found)
        if fault is not None and fault.kind == "drop":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
            raise SimulatedDisconnect("simulated dropped connection")
        if fault is not None and fault.kind == "malformed":
            response: Response = Response(b'{"name": "sessions/', media_type="application/json")
        elif fault is not None and fault.kind == "source_busy":
            response = invalid_argument(SOURCE_BUSY_MESSAGE, "session.source_context.source").response()
        elif fault is not None:
            status, message = _FAULT_MESSAGES[fault.status]
            response = ApiError(status, message).response()
        else:
            try:
                response = JSONResponse(await self._serve(request, found))
            except ApiError as exc:
                response = exc.response()
        await response(scope, receive, send)

    async def _serve(self, request: Request, found: Any) -> dict[str, Any]:
        key = self._authenticate(request)
        if found is None:
            raise not_found()
        operation, params = found
        query = self.spec.parse_query(operation, list(request.query_params.multi_items()))
        body = self.spec.parse_body(operation, await request.body())
        return await self.handlers[operation.operation_id](key, params, query, body)

    def _authenticate(self, request: Request) -> str:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise ApiError("UNAUTHENTICATED", MISSING_KEY_MESSAGE, [error_info("CREDENTIALS_MISSING")])
        if key not in self.config.api_keys:
            raise ApiError("PERMISSION_DENIED", INVALID_KEY_MESSAGE, [error_info("API_KEY_INVALID")])
        return key

    def _count(self, operation_id: str | None, method: str, route: str, params: dict[str, str]) -> None:
        self.requests["operation"][operation_id or "unmatched"] += 1
        self.requests["route"][f"{method} {route}"] += 1
        if "sessionId" in params:
            self.requests["session"][params["sessionId"]] += 1

    # --- sources --------------------------------------------------------------------------------------------
    async def list_sources(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        sources = self.config.sources
        if query.get("filter"):
            wanted = {n.lower() for n in listing.name_filter(query["filter"])}
            sources = [s for s in sources if s.name.lower() in wanted]
        page, token = listing.page([self._source(s) for s in sources], query, "listSources")
        return listing.without_empty({"sources": page, "nextPageToken": token})

    async def get_source(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        source = self.config.source(f"sources/github/{params['owner']}/{params['repo']}")
        if source is None:
            raise not_found()
        return self._source(source)

    @staticmethod
    def _source(source: Any) -> dict[str, Any]:
        branches = source.branches or [source.default_branch]
        repo: dict[str, Any] = {"owner": source.owner, "repo": source.repo,
                                "defaultBranch": {"displayName": source.default_branch},
                                "branches": [{"displayName": b} for b in branches]}
        if source.private:  # proto3 JSON omits false booleans
            repo["isPrivate"] = True
        return {"name": source.name, "id": source.name.removeprefix("sources/"), "githubRepo": repo}

    # --- sessions -------------------------------------------------------------------------------------------
    async def create_session(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        source_name = (body.get("sourceContext") or {}).get("source")
        if source_name is not None and self.config.source(source_name) is None:
            raise invalid_argument(
                f"Could not get source '{source_name}': Jules is not connected to this repository, or the source "
                "name is not of the form sources/github/{owner}/{repo}. List connected sources with listSources.",
                "session.source_context.source")
        if self.config.profile == "live" and self.config.live.create_burst_limit is not None:
            await self._survive_burst(key, self.config.live.create_burst_limit)
        self.store.check_quota(key)
        session_id = self.store.new_session_id()
        # Echo every writable field the client sent (the spec decides which exist), then the output-only ones.
        writable = self.spec.doc["components"]["schemas"]["CreateSessionRequest"]["properties"]
        resource: dict[str, Any] = {k: v for k, v in body.items() if k in writable}
        resource.update(name=f"sessions/{session_id}", id=session_id,
                        title=body.get("title") or change.default_title(body["prompt"]),
                        state="QUEUED", url=f"{self.config.web_url.rstrip('/')}/session/{session_id}")
        rule = self._scenario_for(resource)
        record = SessionRecord(resource=resource, key=key,
                               script=(rule.script if rule else None) or self.config.default_script,
                               fail_reason=rule.reason if rule else None,
                               closing_refs=(rule.pr_closing_refs if rule else None) or self.config.pr_closing_refs,
                               traits=LiveTraits.draw(self.config, session_id, rule))
        source = self.config.source(source_name) if source_name else None
        record.reactive = rule.reactive if rule and rule.reactive is not None else bool(source and source.reactive)
        if record.traits.pending:
            resource["state"] = "PENDING"  # live: seen on the wire before QUEUED
        resource["createTime"] = resource["updateTime"] = self.store.stamp(record)
        self.store.add(record)
        run = self.runs[session_id] = SessionRun(record, self.store, self.config, self.github)
        record.task = asyncio.create_task(run.run(), name=f"jules-session-{session_id}")
        return self.session_view(record)

    async def _survive_burst(self, key: str, limit: int) -> None:
        """Live: a create is in flight `create_seconds`; in a burst of more than `create_burst_limit` overlapping
        ones, only the first `create_burst_kept` to arrive go through, the rest answer "Could not get source"."""
        live = self.config.live
        flying = self.creating.setdefault(key, [])
        me = _Create(rank=len(flying) + 1)
        flying.append(me)
        for other in flying:
            other.peak = max(other.peak, len(flying))
        try:
            await asyncio.sleep(live.create_seconds)
        finally:
            flying.remove(me)
        if me.peak > limit and me.rank > live.create_burst_kept:
            raise invalid_argument(SOURCE_BUSY_MESSAGE, "session.source_context.source")

    def _scenario_for(self, resource: dict[str, Any]) -> ScenarioRule | None:
        """The first rule (runtime ones first) matching the prompt or title; None: defaults."""
        for rule in [*self.scenarios, *self.config.scenarios]:
            if re.search(rule.match, resource["prompt"]) or re.search(rule.match, resource["title"]):
                return rule
        return None

    async def list_sessions(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        records = [r for r in reversed(self.store.sessions.values()) if not r.resource.get("archived")]
        page, token = listing.page([self.session_view(r) for r in records], query, "listSessions")
        return listing.without_empty({"sessions": page, "nextPageToken": token})

    async def get_session(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        return self.session_view(self.store.get(params["sessionId"]))

    async def delete_session(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        record = self.store.get(params["sessionId"])
        del self.store.sessions[record.id]
        if record.task and not record.task.done():
            record.task.cancel()
        return {}

    async def approve_plan(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        record = self.store.get(params["sessionId"])
        if record.state != "AWAITING_PLAN_APPROVAL" or record.plan is None:
            raise ApiError("FAILED_PRECONDITION", f"Session is in state {record.state}; a plan can only be "
                           "approved while the session is AWAITING_PLAN_APPROVAL.")
        self.store.add_activity(record, "user", "planApproved", {"planId": record.plan["id"]},
                                description="Plan approved")
        self.store.set_state(record, "IN_PROGRESS")
        record.approved.set()
        return {}

    async def send_message(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        record = self.store.get(params["sessionId"])
        self.store.add_activity(record, "user", "userMessaged", {"userMessage": body["prompt"]},
                                description="User message")
        if record.state == "AWAITING_USER_FEEDBACK":
            self.store.set_state(record, "IN_PROGRESS")
            record.messages.put_nowait(body["prompt"])
        elif record.state == "AWAITING_PLAN_APPROVAL" and record.plan is not None:
            # Feedback on a plan: Jules answers with a revised plan (new id), still waiting for approval.
            self._revise_plan(record, body["prompt"])
        elif (record.traits.live and self.config.live.plan_approval_carries_forward and record.approved.is_set()
              and record.state == "IN_PROGRESS"):
            # Live: the approval carries forward. The revised plan is published and simply runs: no second
            # AWAITING_PLAN_APPROVAL, and approvePlan now answers FAILED_PRECONDITION.
            self._revise_plan(record, body["prompt"])
        elif record.state == "COMPLETED" and (run := self.runs.get(record.id)) is not None:
            # A completed session still takes messages: Jules works again and pushes to the same PR branch (after
            # whatever it is still doing, e.g. the live profile's push after COMPLETED).
            record.task = asyncio.create_task(run.follow_up(body["prompt"], after=record.task),
                                              name=f"jules-follow-up-{record.id}")
        return {}

    async def archive_session(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        """Hidden from listSessions from now on; a session still running is paused (live: PAUSED, not terminal)."""
        record = self.store.get(params["sessionId"])
        record.resource["archived"] = True
        record.resource["updateTime"] = self.store.stamp(record)
        if not record.terminal:
            if record.task and not record.task.done():
                record.task.cancel()
            self.store.set_state(record, "PAUSED")
        return {}

    def _revise_plan(self, record: SessionRecord, feedback: str) -> None:
        steps = change.plan_steps(record.resource["prompt"], record.resource["title"])
        # Before the last step, or at the step the script runs next when the work has gone past it.
        at = min(max(len(steps) - 1, record.next_step), len(steps))
        steps.insert(at, {"title": "Apply the requested revision", "description": feedback[:300]})
        steps = [{"id": self.store.new_id(), **step, "index": index} for index, step in enumerate(steps)]
        record.plan = {"id": self.store.new_id(), "steps": steps, "createTime": self.store.stamp(record)}
        self.store.add_activity(record, "agent", "planGenerated", {"plan": record.plan},
                                description=f"Revised plan with {len(steps)} steps")

    # --- activities -----------------------------------------------------------------------------------------
    async def list_activities(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        record = self.store.get(params["sessionId"])
        if record.traits.live and (time.monotonic() - record.created_monotonic
                                   < self.config.live.activities_not_found_seconds):
            raise not_found()  # live: the activity list is not readable right after create (eventual consistency)
        activities = record.activities
        if query.get("filter"):
            keep = listing.time_filter(query["filter"])
            activities = [a for a in activities if keep(parse_rfc3339(a["createTime"]))]
        page, token = listing.page(activities, query, "listActivities",
                                   repeat_last=record.traits.live and self.config.live.repeating_page_tokens)
        return listing.without_empty({"activities": page, "nextPageToken": token})

    async def get_activity(self, key: str, params: dict, query: dict, body: Any) -> dict[str, Any]:
        record = self.store.get(params["sessionId"])
        for activity in record.activities:
            if activity["id"] == params["activityId"]:
                return activity
        raise not_found()


def create_app(config: JulesSimConfig | None = None, *, github: httpx.AsyncClient | None = None) -> Starlette:
    """The simulator as an ASGI app. `github` is the client used to open pull requests (default: one for
    `config.github_url`); `app.state.simulator` gives tests the state object (call `aclose()` when done in-process).
    """
    simulator = JulesSimulator(config or JulesSimConfig(), github=github)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await simulator.aclose()

    app = Starlette(routes=admin_routes(simulator), lifespan=lifespan)
    app.state.simulator = simulator
    app.router.default = simulator  # every path that is not /_sim/* is the API, which answers its own 404s
    return app
