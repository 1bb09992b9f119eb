"""The hub and the simulators as in-process ASGI apps: no port, no child process, no start-up wait.

    with hub_in_process(tmp_path / "mcp_settings.json", token="t") as hub:   # lifespan run, upstreams started
        hub.http.get("/api/servers", headers={"Authorization": "Bearer t"})
        hub.client("t").list_servers()                                        # the product's HubClient
    async with asgi_client(create_github_app(...)) as github:                 # httpx.AsyncClient, ASGITransport
        await github.get("/repos/acme/widgets/issues")

For what a process adds (the CLI, uvicorn, a child noticed dead, streams a client keeps open) keep the real process
(`agentic.testing.sandbox.running_sandbox`, tests/hub's `running_hub`): one test per such promise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from starlette.testclient import TestClient

if TYPE_CHECKING:
    from agentic.hub.client import HubClient

# A hub reached as 127.0.0.1 (its default bind host), as a client on the same machine reaches it.
HUB_BASE_URL = "http://127.0.0.1:3000"


@dataclass
class InProcessHub:
    http: TestClient   # requests go straight to the app
    settings: Path     # its mcp_settings.json
    url: str = HUB_BASE_URL

    def client(self, token: str | None = None, **kwargs: Any) -> HubClient:
        """The product's HubClient on this hub (`kwargs`: HubClient's, e.g. username and password)."""
        from agentic.hub.client import HubClient

        return HubClient(self.url, token, transport=_Through(self.http), **kwargs)


@contextlib.contextmanager
def hub_in_process(settings: str | os.PathLike[str], *, token: str | None = None, bind_host: str = "127.0.0.1",
                   allowed_hosts: str = "", **options: Any) -> Iterator[InProcessHub]:
    """`python -m agentic.hub --settings SETTINGS --host BIND_HOST` in this process: `create_app` with the CLI's
    arguments, its lifespan running for the duration."""
    from agentic.hub.app import create_app

    # "" rather than None: this process's MCP_HUB_TOKEN must not lock a test hub (running_hub drops it too)
    app = create_app(settings, token=token or "", bind_host=bind_host, allowed_hosts=allowed_hosts, **options)
    with TestClient(app, base_url=HUB_BASE_URL, raise_server_exceptions=True) as http:
        yield InProcessHub(http, Path(settings))


def hub_request(hub: Any, method: str, path: str, **kwargs: Any) -> Any:
    """`METHOD path` on a hub in this process or on one with a `url` (a process), the same way."""
    if isinstance(hub, InProcessHub):
        return hub.http.request(method, path, **kwargs)
    return httpx.request(method, hub.url + path, **{"timeout": 30, **kwargs})


def hub_client(hub: Any) -> HubClient:
    """The product's HubClient on a hub in this process or on one with a `url`."""
    from agentic.hub.client import HubClient

    return hub.client() if isinstance(hub, InProcessHub) else HubClient(hub.url)


class _Through(httpx.BaseTransport):
    """Hands each request to a TestClient (whose own transport answers a sync client with an async stream)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.client.request(request.method, request.url.raw_path.decode(), content=request.read(),
                                       headers=request.headers)
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx.Response(response.status_code, headers=headers, content=response.content)


@contextlib.asynccontextmanager
async def asgi_client(app: Any, base_url: str = "http://127.0.0.1", **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient on an ASGI app (no lifespan: the simulators need none)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **kwargs) as client:
        yield client


__all__ = ["HUB_BASE_URL", "InProcessHub", "asgi_client", "hub_client", "hub_in_process", "hub_request"]
