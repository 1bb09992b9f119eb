"""DNS-rebinding protection for `/mcp` and `/api`: a Host/Origin allow-list (issue #25 item 3).

A web page on evil.example can point evil.example at 127.0.0.1 and then talk to a hub with no token from the
victim's browser: the request carries `Host: evil.example` (and `Origin: http://evil.example`). The hub answers
only to the names it is reached by:

- always: `localhost`, `127.0.0.1`, `::1`;
- the interface it binds (`--host`), unless that is a wildcard (`0.0.0.0`, `::`);
- the names in `--allowed-hosts` / MCP_HUB_ALLOWED_HOSTS (comma-separated; `*` turns the Host check off).

Bound to a wildcard with no names configured, the hub cannot know the names clients use (`mcp-hub` in Docker, the
server's DNS name): it then accepts any Host while a token is required — a rebinding page cannot send the token —
and only the loopback names and the machine's hostname while it is open. A foreign Host is 421 (Misdirected
Request, as the MCP SDK answers it); a foreign Origin is 403. An Origin passes if its host is allowed or is the
request's own Host (same origin); no Origin (every non-browser client) passes.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
GUARDED = ("/mcp", "/api")
ENV = "MCP_HUB_ALLOWED_HOSTS"


def host_name(value: str) -> str:
    """`Host`-header or URL authority -> the bare lower-case name: `[::1]:3000` -> `::1`, `Hub.:80` -> `hub`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def parse_names(raw: str | Iterable[str] | None) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    return [name if name.strip() == "*" else host_name(name) for name in items if name.strip()]


@dataclass(frozen=True)
class HostPolicy:
    names: frozenset[str]
    any_host: bool = False  # `*` configured
    any_host_with_token: bool = False  # wildcard bind, no names configured: any Host once auth is on

    @classmethod
    def build(cls, bind_host: str | None, allowed_hosts: str | Iterable[str] | None = None) -> HostPolicy:
        """`allowed_hosts` (else MCP_HUB_ALLOWED_HOSTS) on top of the loopback names and `bind_host`."""
        extras = parse_names(allowed_hosts if allowed_hosts is not None else os.environ.get(ENV))
        names = set(LOOPBACK) | {n for n in extras if n != "*"}
        bind = host_name(bind_host or "127.0.0.1")
        wildcard = bind in WILDCARDS
        if not wildcard:
            names.add(bind)
        elif not extras:
            names.add(host_name(socket.gethostname()))
        return cls(frozenset(names), any_host="*" in extras, any_host_with_token=wildcard and not extras)

    def host_allowed(self, host: str, token_required: bool) -> bool:
        return self.any_host or (self.any_host_with_token and token_required) or host_name(host) in self.names

    def origin_allowed(self, origin: str, host: str) -> bool:
        if origin == "null":  # sandboxed iframes, file:// pages: never one of our clients
            return False
        name = host_name(urlsplit(origin).netloc) if "://" in origin else ""
        return bool(name) and (self.any_host or name in self.names or name == host_name(host))

    def describe(self) -> str:
        if self.any_host:
            return "any Host (MCP_HUB_ALLOWED_HOSTS=*)"
        names = ", ".join(sorted(self.names))
        return f"any Host while a token is required, else {names}" if self.any_host_with_token else names


class HostGuardMiddleware:
    """Pure ASGI, outermost: refuses a foreign Host (421) or Origin (403) on `/mcp*` and `/api*`."""

    def __init__(self, app: ASGIApp, policy: HostPolicy, token_required: Callable[[], bool]) -> None:
        self.app = app
        self.policy = policy
        self.token_required = token_required

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not any(path == p or path.startswith(p + "/") for p in GUARDED):
            await self.app(scope, receive, send)
            return
        host = origin = ""
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.decode("latin-1")
            elif key == b"origin":
                origin = value.decode("latin-1")
        if not self.policy.host_allowed(host, self.token_required()):
            await self._refuse(send, path, 421, f"Host {host[:100]!r} is not a name this hub answers to "
                               "(DNS-rebinding protection): add it to --allowed-hosts / MCP_HUB_ALLOWED_HOSTS")
            return
        if origin and not self.policy.origin_allowed(origin, host):
            await self._refuse(send, path, 403, f"Origin {origin[:100]!r} is not allowed (DNS-rebinding "
                               "protection): add its host to --allowed-hosts / MCP_HUB_ALLOWED_HOSTS")
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(send: Send, path: str, status: int, message: str) -> None:
        # Each side's error shape: mcphub's envelope on /api, a JSON-RPC error on /mcp.
        payload = ({"success": False, "message": message} if path.startswith("/api")
                   else {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}})
        body = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
