"""HubClient / AsyncHubClient: the hub's REST API for deploy.py, tests and the workflow's admin calls.

Works against this hub and a real mcphub:
- auth: `token` is sent as `Authorization: Bearer` (our hub token, or an mcphub bearer key); `username`/`password`
  log in (`POST /api/auth/login`, old mcphub `/auth/login`) and send the JWT as `x-auth-token`, as mcphub wants;
- `upsert_server` POSTs and, when the hub answers "already exists" (mcphub: 400), PUTs — never a duplicate;
- hubs without `/health` (old mcphub) are checked with `GET /api/servers`.
Errors: `HubUnavailable` (transport failure, retryable), `HubError` (the hub said no; message has its reason).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import httpx

from agentic.errors import HubError, HubUnavailable


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:500]
    return str(body)[:300]


def _data(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise HubError(f"{what}: HTTP {response.status_code} {_message(response)}")
    try:
        body = response.json()
    except ValueError:
        raise HubError(f"{what}: the hub answered non-JSON ({response.text[:200]!r})") from None
    if isinstance(body, dict) and body.get("success") is False:
        raise HubError(f"{what}: {body.get('message') or 'failed'}")
    return body.get("data") if isinstance(body, dict) else body


def _is_duplicate(response: httpx.Response) -> bool:
    return response.status_code in (400, 409) and "exist" in _message(response).lower()


def _tool_names(servers: list[dict[str, Any]]) -> list[str]:
    return [tool["name"] for server in servers
            if server.get("enabled", True) is not False and server.get("status") == "connected"
            for tool in server.get("tools") or [] if isinstance(tool, dict) and tool.get("enabled", True)]


def _not_connected(name: str, timeout: float, server: dict[str, Any] | None) -> HubError:
    if server is None:
        return HubError(f"hub server {name!r} does not exist")
    return HubError(f"hub server {name!r} not connected after {timeout:g} s (status {server.get('status')}): "
                    f"{server.get('error') or 'no error reported'}")


class HubClient:
    """Synchronous client (deploy.py, CLI, tests)."""

    def __init__(self, base_url: str, token: str | None = None, *, username: str | None = None,
                 password: str | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, verify: ssl.SSLContext | bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # verify: Settings.tls_verify (a private CA: AGENTIC_CA_BUNDLE); certificates are always checked
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport,
                                  verify=verify)
        self._login = (username, password) if username and password else None
        self._logged_in = False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._login and not self._logged_in:
            self._do_login()
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HubUnavailable(f"MCP hub not reachable at {self.base_url} ({type(exc).__name__}: {exc})") from exc

    def _do_login(self) -> None:
        self._logged_in = True
        username, password = self._login  # type: ignore[misc]
        for path in ("/api/auth/login", "/auth/login"):
            response = self._request("POST", path, json={"username": username, "password": password})
            if response.status_code != 404:
                token = response.json().get("token") if response.status_code < 400 else None
                if not token:
                    raise HubError(f"login as {username!r} failed: HTTP {response.status_code} {_message(response)}")
                self._http.headers["x-auth-token"] = token
                return
        raise HubError("the hub has no login route (/api/auth/login)")

    def health(self) -> dict[str, Any]:
        response = self._request("GET", "/health")
        if response.status_code == 404:  # old mcphub: no /health
            return {"status": "healthy", "servers": {"total": len(self.list_servers())}}
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500 or body.get("status") == "unhealthy":
            raise HubError(f"hub unhealthy: {body.get('message') or response.status_code}")
        return body

    def list_servers(self) -> list[dict[str, Any]]:
        return _data(self._request("GET", "/api/servers"), "list servers") or []

    def get_server(self, name: str) -> dict[str, Any]:
        response = self._request("GET", f"/api/servers/{name}")
        if response.status_code == 404:
            for server in self.list_servers():  # hubs without the per-server route
                if server.get("name") == name:
                    return server
            raise HubError(f"hub server {name!r} does not exist")
        return _data(response, f"get server {name}")

    def upsert_server(self, name: str, config: dict[str, Any]) -> str:
        """Add or replace server `name`; returns "added" or "updated"."""
        response = self._request("POST", "/api/servers", json={"name": name, "config": config})
        if _is_duplicate(response):
            _data(self._request("PUT", f"/api/servers/{name}", json={"config": config}), f"update server {name}")
            return "updated"
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
        """`<server>-<tool>` names of every connected, enabled server."""
        return _tool_names(self.list_servers())


class AsyncHubClient:
    """Async twin of HubClient (the Prefect flow)."""

    def __init__(self, base_url: str, token: str | None = None, *, username: str | None = None,
                 password: str | None = None, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None, verify: ssl.SSLContext | bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport,
                                       verify=verify)
        self._login = (username, password) if username and password else None
        self._logged_in = False

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncHubClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._login and not self._logged_in:
            await self._do_login()
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HubUnavailable(f"MCP hub not reachable at {self.base_url} ({type(exc).__name__}: {exc})") from exc

    async def _do_login(self) -> None:
        self._logged_in = True
        username, password = self._login  # type: ignore[misc]
        for path in ("/api/auth/login", "/auth/login"):
            response = await self._request("POST", path, json={"username": username, "password": password})
            if response.status_code != 404:
                token = response.json().get("token") if response.status_code < 400 else None
                if not token:
                    raise HubError(f"login as {username!r} failed: HTTP {response.status_code} {_message(response)}")
                self._http.headers["x-auth-token"] = token
                return
        raise HubError("the hub has no login route (/api/auth/login)")

    async def health(self) -> dict[str, Any]:
        response = await self._request("GET", "/health")
        if response.status_code == 404:
            return {"status": "healthy", "servers": {"total": len(await self.list_servers())}}
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 500 or body.get("status") == "unhealthy":
            raise HubError(f"hub unhealthy: {body.get('message') or response.status_code}")
        return body

    async def list_servers(self) -> list[dict[str, Any]]:
        return _data(await self._request("GET", "/api/servers"), "list servers") or []

    async def get_server(self, name: str) -> dict[str, Any]:
        response = await self._request("GET", f"/api/servers/{name}")
        if response.status_code == 404:
            for server in await self.list_servers():
                if server.get("name") == name:
                    return server
            raise HubError(f"hub server {name!r} does not exist")
        return _data(response, f"get server {name}")

    async def upsert_server(self, name: str, config: dict[str, Any]) -> str:
        response = await self._request("POST", "/api/servers", json={"name": name, "config": config})
        if _is_duplicate(response):
            _data(await self._request("PUT", f"/api/servers/{name}", json={"config": config}),
                  f"update server {name}")
            return "updated"
        _data(response, f"add server {name}")
        return "updated" if "updated" in _message(response).lower() else "added"

    async def delete_server(self, name: str) -> bool:
        response = await self._request("DELETE", f"/api/servers/{name}")
        if response.status_code == 404:
            return False
        _data(response, f"delete server {name}")
        return True

    async def toggle_server(self, name: str, enabled: bool) -> None:
        _data(await self._request("POST", f"/api/servers/{name}/toggle", json={"enabled": enabled}),
              f"toggle {name}")

    async def wait_connected(self, name: str, timeout: float = 60.0, interval: float = 0.25) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        server: dict[str, Any] | None = None
        while True:
            try:
                server = await self.get_server(name)
            except HubError:
                server = None
            if server and server.get("status") == "connected":
                return server
            if time.monotonic() >= deadline:
                raise _not_connected(name, timeout, server)
            await asyncio.sleep(interval)

    async def list_tools(self) -> list[str]:
        return _tool_names(await self.list_servers())
