"""HubClient / AsyncHubClient: the hub's REST API for deploy.py, tests and the workflow's admin calls.

One client for every hub the product meets: this repository's hub, the mcphub build of May 2025 (ae3fe1c) and
mcphub's current source. What differs is found out at connect (`capabilities()`), never assumed:

- health: `GET /health` counts only when it answers mcphub's JSON (`{"status": ...}`). The old mcphub serves its
  dashboard's HTML there (200 `text/html`, or a 404 without the UI): then `GET /api/servers` is the health check;
- auth: `/api/*` answering 401 means credentials. `username`/`password` (MCP_HUB_USERNAME/MCP_HUB_PASSWORD) log in
  at `POST /api/auth/login`, else the old `POST /auth/login` (the old hub answers 401 "No token" on the first,
  not 404), and the JWT goes in `x-auth-token` as mcphub wants. `token` (MCP_HUB_TOKEN) is sent as
  `Authorization: Bearer` (our hub's token, an mcphub bearer key); a token the hub refuses that way and that looks
  like a JWT is sent as `x-auth-token` instead;
- server state: read from `GET /api/servers` (the old hub has no `GET /api/servers/:name`; it answers HTML);
- `openapi` type: probed with a POST the hub must refuse (a `url` and no document): the old hub names its types
  in the refusal ("Server type must be one of: stdio, sse, streamable-http"), newer ones ask for the document;
- body limit: mcphub's `systemConfig.routing.jsonBodyLimit` (default `1mb`); the old hub has Express's fixed
  100 KB, over which it answers 500 (not 413). Bodies are sent as compact JSON;
- tool names: `<server><separator><tool>` (mcphub's `nameSeparator`, default `-`) or, on the old hub, bare.

`upsert_server` POSTs mcphub's nested body and, on "already exists" (mcphub: 400), PUTs — never a duplicate.
Errors: `HubUnavailable` (transport failure, retryable), `HubError` (the hub said no; message has its reason),
its subclasses `HubAuthRequired`, `UnsupportedServerType` and `BodyTooLarge` (each carries the fix).
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from agentic.errors import HubError, HubUnavailable

OLD_MCPHUB_BODY_LIMIT = 100 * 1024  # Express's default `express.json()` limit, fixed in mcphub ae3fe1c
DEFAULT_BODY_LIMIT = 1024 * 1024  # mcphub's `jsonBodyLimit` default `1mb`; our hub's --max-body-bytes default
PROBE_SERVER = "agentic-capability-probe"
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)


class HubAuthRequired(HubError):
    """The hub wants credentials we do not have, or refused the ones we sent."""


class UnsupportedServerType(HubError):
    """The hub cannot host a server of this type (the old mcphub has no `openapi`)."""


class BodyTooLarge(HubError):
    """The hub refused a request body as too large."""

    def __init__(self, message: str, size: int, limit: int | None) -> None:
        super().__init__(message)
        self.size, self.limit = size, limit


@dataclass
class Capabilities:
    """What one hub can do, as discovered at connect (see the module docstring)."""

    health_route: bool | None = None  # None: not checked yet
    auth: str = "none"  # "none" | "bearer" | "x-auth-token"
    login_path: str | None = None
    body_limit: int = DEFAULT_BODY_LIMIT
    name_separator: str = "-"
    openapi: bool | None = None  # None: not probed yet
    tool_prefix: bool | None = None  # None: no tool listed yet
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = ["/health" if self.health_route else "no /health (checked with /api/servers)",
                 {"none": "no auth", "bearer": "Authorization: Bearer",
                  "x-auth-token": f"JWT in x-auth-token (login {self.login_path or 'token'})"}[self.auth],
                 f"body limit {self.body_limit // 1024} KB"]
        if self.openapi is not None:
            parts.append("openapi type" if self.openapi else "no openapi type")
        if self.tool_prefix is not None:
            parts.append(f"tools <server>{self.name_separator}<tool>" if self.tool_prefix else "tools unprefixed")
        return ", ".join(parts)


def _json(response: httpx.Response) -> Any:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    body = _json(response)
    if body is None:
        text = response.text.strip()
        if text.lower().startswith(("<!doctype", "<html")):
            return "an HTML page (not the hub's API)"
        return text[:300] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:500]
    return str(body)[:300]


def _data(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise HubError(f"{what}: HTTP {response.status_code} {_message(response)}")
    body = _json(response)
    if body is None:
        raise HubError(f"{what}: the hub answered {_message(response)} ({response.text[:80]!r}), not JSON; "
                       "is MCP_SERVER_URL the hub's base URL?")
    if isinstance(body, dict) and body.get("success") is False:
        raise HubError(f"{what}: {body.get('message') or 'failed'}")
    return body.get("data") if isinstance(body, dict) else body


def _is_duplicate(response: httpx.Response) -> bool:
    return response.status_code in (400, 409) and "exist" in _message(response).lower()


def parse_size(value: Any, default: int) -> int:
    """Express/`bytes` sizes (`100kb`, `1mb`, `102400`) -> bytes; anything else -> `default`."""
    if isinstance(value, int) and value > 0:
        return value
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    if not match:
        return default
    unit = (match[2] or "b").lower()
    return int(float(match[1]) * {"b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}[unit])


def _tool_names(servers: list[dict[str, Any]]) -> list[str]:
    return [tool["name"] for server in servers
            if server.get("enabled", True) is not False and server.get("status") == "connected"
            for tool in server.get("tools") or [] if isinstance(tool, dict) and tool.get("enabled", True)]


def _tool_prefix(servers: list[dict[str, Any]], separator: str) -> bool | None:
    """True if the hub names tools `<server><sep><tool>`, False if bare, None if no tool is listed yet."""
    verdicts = {all(str(t.get("name", "")).startswith(f"{s.get('name')}{separator}") for t in s["tools"])
                for s in servers if s.get("tools") and all(isinstance(t, dict) for t in s["tools"])}
    return None if not verdicts else verdicts == {True}


def _not_connected(name: str, timeout: float, server: dict[str, Any] | None) -> HubError:
    if server is None:
        return HubError(f"hub server {name!r} does not exist")
    return HubError(f"hub server {name!r} not connected after {timeout:g} s (status {server.get('status')}): "
                    f"{server.get('error') or 'no error reported'}")


def _refuses_openapi(response: httpx.Response) -> bool:
    """The old mcphub's refusal of an unknown type lists the ones it has: "... one of: stdio, sse, streamable-http"."""
    message = _message(response).lower()
    return response.status_code == 400 and "must be one of" in message and "openapi" not in message


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class HubClient:
    """Synchronous client (deploy.py, CLI, tests)."""

    def __init__(self, base_url: str, token: str | None = None, *, username: str | None = None,
                 password: str | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, verify: ssl.SSLContext | bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        # verify: Settings.tls_verify (a private CA: AGENTIC_CA_BUNDLE); certificates are always checked
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport,
                                  verify=verify)
        self._token = token
        self._login = (username, password) if username and password else None
        self._caps: Capabilities | None = None

    @classmethod
    def from_settings(cls, settings: Any, base_url: str | None = None, **kwargs: Any) -> HubClient:
        """The client for the hub at MCP_SERVER_URL (or `base_url`) with MCP_HUB_TOKEN / MCP_HUB_USERNAME /
        MCP_HUB_PASSWORD from `settings` (an `agentic.settings.Settings`)."""
        token, password = settings.mcp_hub_token, getattr(settings, "mcp_hub_password", None)
        kwargs.setdefault("verify", getattr(settings, "tls_verify", True))
        return cls(base_url or settings.mcp_server_url, token.get_secret_value() if token else None,
                   username=getattr(settings, "mcp_hub_username", None),
                   password=password.get_secret_value() if password else None, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- transport and auth ---------------------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HubUnavailable(f"MCP hub not reachable at {self.base_url} ({type(exc).__name__}: {exc})") from exc

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call; a 401 makes us find the hub's auth scheme (once, or again when a JWT expired) and retry."""
        response = self._send(method, path, **kwargs)
        if response.status_code == 401 and path.startswith("/api/"):
            self._authenticate(response)
            response = self._send(method, path, **kwargs)
            if response.status_code == 401:
                raise self._auth_required(response)
        return response

    def _caps_or_default(self) -> Capabilities:
        if self._caps is None:
            self._caps = Capabilities()
        return self._caps

    def _authenticate(self, refusal: httpx.Response) -> None:
        caps = self._caps_or_default()
        if self._token and "x-auth-token" not in self._http.headers and _JWT.match(self._token):
            # A JWT copied from mcphub's dashboard: mcphub reads it from x-auth-token, not Authorization.
            self._http.headers.pop("Authorization", None)
            self._http.headers["x-auth-token"] = self._token
            caps.auth = "x-auth-token"
            return
        if self._login:
            self._log_in(caps)
            return
        raise self._auth_required(refusal)

    def _auth_required(self, response: httpx.Response) -> HubAuthRequired:
        reason = _message(response)
        if self._token or self._login:
            return HubAuthRequired(f"the hub at {self.base_url} refused our credentials (HTTP 401 {reason}): check "
                                   "MCP_HUB_TOKEN, or MCP_HUB_USERNAME/MCP_HUB_PASSWORD")
        return HubAuthRequired(f"the hub at {self.base_url} needs a login (HTTP 401 {reason}): set "
                               "MCP_HUB_USERNAME and MCP_HUB_PASSWORD (mcphub's first user; admin/admin123 on old "
                               "builds) or MCP_HUB_TOKEN (a bearer key)")

    def _log_in(self, caps: Capabilities) -> None:
        username, password = self._login  # type: ignore[misc]
        for path in ("/api/auth/login", "/auth/login"):
            response = self._send("POST", path, json={"username": username, "password": password})
            body = _json(response)
            # The old hub puts /api/* behind its JWT check: /api/auth/login is a 401 "No token" there, not a 404.
            if response.status_code == 404 or not isinstance(body, dict) or (
                    response.status_code == 401 and "token" in str(body.get("message", "")).lower()):
                continue
            token = body.get("token") if response.status_code < 400 else None
            if not token:
                raise HubAuthRequired(f"login as {username!r} at {self.base_url}{path} failed: HTTP "
                                      f"{response.status_code} {_message(response)}; check MCP_HUB_USERNAME and "
                                      "MCP_HUB_PASSWORD")
            self._http.headers.pop("Authorization", None)
            self._http.headers["x-auth-token"] = token
            caps.auth, caps.login_path = "x-auth-token", path
            return
        raise HubAuthRequired(f"the hub at {self.base_url} has no login route (/api/auth/login, /auth/login)")

    # --- discovery ------------------------------------------------------------------------------------------
    def _health_route(self) -> tuple[bool, httpx.Response]:
        response = self._send("GET", "/health")
        body = _json(response)
        ok = isinstance(body, dict) and "status" in body  # the old hub: its dashboard's HTML, or a 404
        self._caps_or_default().health_route = ok
        return ok, response

    def capabilities(self) -> Capabilities:
        """Discover what this hub can do (a few GETs and one refused POST; see the module docstring). deploy.py
        calls it at connect; other calls find out lazily what they need (auth on a 401, types on a refusal)."""
        caps = self._caps_or_default()
        if self._token and caps.auth == "none":
            caps.auth = "bearer"
        if caps.health_route is None:
            self._health_route()
        servers = self.list_servers()
        settings = _json(self._request("GET", "/api/settings"))
        data = settings.get("data") if isinstance(settings, dict) else None
        system = data.get("systemConfig") if isinstance(data, dict) else None
        system = system if isinstance(system, dict) else {}
        routing = system.get("routing") if isinstance(system.get("routing"), dict) else {}
        caps.body_limit = parse_size(routing.get("jsonBodyLimit"),
                                     DEFAULT_BODY_LIMIT if caps.health_route else OLD_MCPHUB_BODY_LIMIT)
        if isinstance(system.get("nameSeparator"), str) and system["nameSeparator"]:
            caps.name_separator = system["nameSeparator"]
        caps.tool_prefix = _tool_prefix(servers, caps.name_separator)
        if caps.tool_prefix is None and not caps.health_route:
            caps.tool_prefix = False  # the May 2025 build (no /health) names tools bare
        self.supports_openapi()
        return caps

    def supports_openapi(self) -> bool:
        """Probe (once) whether the hub accepts `type: openapi`, with a POST every hub refuses (400): a `url`
        and no document. The old mcphub names its types in the refusal; newer hubs ask for the document."""
        caps = self._caps_or_default()
        if caps.openapi is None:
            response = self._request("POST", "/api/servers", json={"name": PROBE_SERVER, "config": {
                "type": "openapi", "url": "http://127.0.0.1:9/agentic-capability-probe"}})
            if response.status_code < 400:  # a hub that accepted it anyway: leave nothing behind
                self._send("DELETE", f"/api/servers/{PROBE_SERVER}")
            caps.openapi = not _refuses_openapi(response)
        return caps.openapi

    # --- operations -----------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        ok, response = self._health_route()
        if not ok:  # the old mcphub: /health is its dashboard page; the API itself is the check
            servers = self.list_servers()
            connected = sum(1 for s in servers if s.get("status") == "connected")
            return {"status": "healthy", "servers": {"total": len(servers), "connected": connected},
                    "via": "/api/servers"}
        body = _json(response) or {}
        if response.status_code >= 500 or body.get("status") == "unhealthy":
            raise HubError(f"hub unhealthy: {body.get('message') or response.status_code}")
        return body

    def list_servers(self) -> list[dict[str, Any]]:
        servers = _data(self._request("GET", "/api/servers"), "list servers") or []
        if self._caps is not None and (prefix := _tool_prefix(servers, self._caps.name_separator)) is not None:
            self._caps.tool_prefix = prefix
        return servers

    def get_server(self, name: str) -> dict[str, Any]:
        """One server's state, read from the list (not every hub has `GET /api/servers/:name`)."""
        for server in self.list_servers():
            if server.get("name") == name:
                return server
        raise HubError(f"hub server {name!r} does not exist")

    def _post_body(self, method: str, path: str, payload: dict[str, Any], what: str) -> httpx.Response:
        body = _compact(payload)
        limit = self._caps.body_limit if self._caps is not None and self._caps.health_route is not None else None
        if limit is not None and len(body) > limit:
            raise BodyTooLarge(f"{what}: the definition is {len(body):,} bytes, over the hub's {limit:,}-byte body "
                               "limit", len(body), limit)
        response = self._request(method, path, content=body, headers={"Content-Type": "application/json"})
        # mcphub's Express answers an oversized body with 413, or 500 where no error handler maps it (old builds).
        if response.status_code == 413 or (response.status_code == 500 and len(body) > OLD_MCPHUB_BODY_LIMIT):
            raise BodyTooLarge(f"{what}: HTTP {response.status_code} for a {len(body):,}-byte body "
                               f"({_message(response)})", len(body), None)
        return response

    def _unsupported(self, name: str) -> UnsupportedServerType:
        return UnsupportedServerType(
            f"the hub at {self.base_url} has no `openapi` server type (mcphub before mid-2025), so it cannot "
            f"host {name!r}: upgrade mcphub, run our hub (`ibt stacks run mcp-hub`), or set MCP_OPENAPI_HUB_URL "
            "to our hub to host the openapi servers there")

    def upsert_server(self, name: str, config: dict[str, Any]) -> str:
        """Add or replace server `name`; returns "added" or "updated"."""
        is_openapi = config.get("type") == "openapi"
        if is_openapi and self._caps is not None and self._caps.openapi is False:
            raise self._unsupported(name)
        response = self._post_body("POST", "/api/servers", {"name": name, "config": config}, f"add server {name}")
        if _is_duplicate(response):
            _data(self._post_body("PUT", f"/api/servers/{name}", {"config": config}, f"update server {name}"),
                  f"update server {name}")
            return "updated"
        if is_openapi and response.status_code == 400 and (
                _refuses_openapi(response) or not self.supports_openapi()):
            # The old hub checks for a url/command before the type, so its refusal may not name the types: the
            # probe tells whether the type is the reason.
            self._caps_or_default().openapi = False
            raise self._unsupported(name)
        _data(response, f"add server {name}")
        return "updated" if "updated" in _message(response).lower() else "added"

    def delete_server(self, name: str) -> bool:
        """Remove `name`; False if it did not exist."""
        response = self._request("DELETE", f"/api/servers/{name}")
        if response.status_code == 404:
            return False
        _data(response, f"delete server {name}")
        return True

    def toggle_server(self, name: str, enabled: bool) -> None:
        _data(self._request("POST", f"/api/servers/{name}/toggle", json={"enabled": enabled}), f"toggle {name}")

    def wait_connected(self, name: str, timeout: float = 60.0, interval: float = 0.25) -> dict[str, Any]:
        """Poll until `name` is connected; HubError with the server's own error after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        server: dict[str, Any] | None = None
        while True:
            try:
                server = self.get_server(name)
            except HubError:
                server = None
            if server and server.get("status") == "connected":
                return server
            if time.monotonic() >= deadline:
                raise _not_connected(name, timeout, server)
            time.sleep(interval)

    def list_tools(self) -> list[str]:
        """Tool names of every connected, enabled server, as the hub's `/mcp` names them (`<server>-<tool>`, or
        bare on the old mcphub)."""
        return _tool_names(self.list_servers())


class AsyncHubClient:
    """Async face of HubClient (same discovery and behaviour): each call runs the sync client in a thread, so the
    two cannot drift. Admin calls are few and short; the flow's tool calls go through MCP, not here."""

    def __init__(self, base_url: str, token: str | None = None, *, username: str | None = None,
                 password: str | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, verify: ssl.SSLContext | bool = True) -> None:
        self._sync = HubClient(base_url, token, username=username, password=password, timeout=timeout,
                               transport=transport, verify=verify)
        self.base_url = self._sync.base_url

    async def aclose(self) -> None:
        self._sync.close()

    async def __aenter__(self) -> AsyncHubClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        if name == "_sync":  # not set yet (__init__ failed): no recursion
            raise AttributeError(name)
        method = getattr(self._sync, name)
        if not callable(method) or name.startswith("_"):
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        call.__name__ = name
        return call
