"""Who may call the hub: a bearer token (`--token` / MCP_HUB_TOKEN), mcphub bearer keys, or a login JWT.

mcphub accepts `Authorization: Bearer <key>` (enabled `bearerKeys`) and a JWT from `POST /api/auth/login` in the
`x-auth-token` header (or `?token=`); we accept the same, plus the hub token. With no token and no bearer key
configured the hub is open, like mcphub with `skipAuth` — it binds 127.0.0.1 by default for that reason.
`/health` is always open. The stack's hub (`ibt stacks run mcp-hub`) keeps its token in a file (`--token-file`,
`token_from_file`): generated on first start with mode 0600 and printed that once (issue #13).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
from starlette.types import ASGIApp, Receive, Scope, Send

JWT_TTL = 24 * 3600
OPEN_PATHS = ("/health", "/api/auth/login")


class Auth:
    def __init__(self, token: str | None, bearer_keys: Any) -> None:
        self.token = token or None
        self._bearer_keys = bearer_keys  # callable -> current list (settings may change at runtime)
        # A stable secret when a token is set, so login JWTs survive a hub restart (mcphub: JWT_SECRET).
        self._jwt_secret = os.environ.get("JWT_SECRET") or (
            hmac.new(self.token.encode(), b"agentic-hub-jwt", "sha256").hexdigest() if self.token
            else secrets.token_hex(32))

    @property
    def required(self) -> bool:
        return bool(self.token) or any(k.get("enabled", True) and k.get("token") for k in self._keys())

    def _keys(self) -> list[dict[str, Any]]:
        return [k for k in (self._bearer_keys() or []) if isinstance(k, dict)]

    def check_login(self, username: str, password: str) -> bool:
        """`admin` + the hub token (or ADMIN_PASSWORD); any login when the hub is open."""
        expected = os.environ.get("ADMIN_PASSWORD") or self.token
        if not expected:
            return True
        return username == "admin" and hmac.compare_digest(password.encode(), expected.encode())

    def issue(self, username: str) -> str:
        payload = {"user": {"username": username, "isAdmin": True}, "exp": int(time.time()) + JWT_TTL}
        return jwt.encode(payload, self._jwt_secret, algorithm="HS256")

    def allowed(self, headers: dict[bytes, bytes], query: bytes) -> bool:
        if not self.required:
            return True
        bearer = headers.get(b"authorization", b"").decode("latin-1")
        if bearer[:7].lower() == "bearer ":
            presented = bearer[7:].strip()
            if self.token and hmac.compare_digest(presented.encode(), self.token.encode()):
                return True
            for key in self._keys():
                if key.get("enabled", True) and key.get("token") and hmac.compare_digest(
                        presented.encode(), str(key["token"]).encode()):
                    return True
        jwt_token = headers.get(b"x-auth-token", b"").decode("latin-1")
        if not jwt_token and b"token=" in query:
            from urllib.parse import parse_qs

            jwt_token = (parse_qs(query.decode("latin-1")).get("token") or [""])[0]
        if jwt_token:
            try:
                jwt.decode(jwt_token, self._jwt_secret, algorithms=["HS256"])
                return True
            except jwt.PyJWTError:
                return False
        return False


class AuthMiddleware:
    """Pure ASGI (BaseHTTPMiddleware would add ~0.3 ms per request to every tool call)."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or not self.auth.required:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.auth.allowed(headers, scope.get("query_string", b"")):
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/mcp"):
            body = b"Bearer authentication required or invalid token"
            content_type = b"text/plain; charset=utf-8"
        else:
            body = json.dumps({"success": False, "message": "No token, authorization denied"}).encode()
            content_type = b"application/json"
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})


def token_from_file(path: Path) -> tuple[str, bool]:
    """The hub token kept in `path`: read it, or generate one on first start (written 0600, never rewritten).
    Returns (token, generated). A file others can read is tightened to 0600 rather than trusted as is."""
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    if token:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return token, False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode is only for a new file (and the umask applies)
    return token, True
