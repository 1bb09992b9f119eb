"""The hub and the simulators as in-process ASGI apps: no port, no child process, no start-up wait.

    with hub_in_process(tmp_path / "mcp_settings.json", token="t") as hub:   # lifespan run, upstreams started
        hub.get("/api/servers", headers={"Authorization": "Bearer t"})
    async with asgi_client(create_github_app(...)) as github:                 # httpx.AsyncClient, ASGITransport
        await github.get("/repos/acme/widgets/issues")

For what a process adds (the CLI, uvicorn, a child noticed dead, streams a client keeps open) keep the real process
(`agentic.testing.sandbox.running_sandbox`, tests/hub's `running_hub`): one test per such promise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
from starlette.testclient import TestClient

if TYPE_CHECKING:
    from agentic.hub.client import HubClient

# A hub reached as 127.0.0.1 (its default bind host), as a client on the same machine reaches it.
HUB_BASE_URL = "http://127.0.0.1:3000"


@contextlib.contextmanager
def hub_in_process(settings: str | os.PathLike[str], *, token: str | None = None, bind_host: str = "127.0.0.1",
                   allowed_hosts: str = "", **options: Any) -> Iterator[TestClient]:
    """`python -m agentic.hub --settings SETTINGS --host BIND_HOST` in this process: `create_app` with the CLI's
    arguments, its lifespan running for the duration; a sync client whose requests go straight to the app."""
    from agentic.hub.app import create_app

    app = create_app(settings, token=token or "", bind_host=bind_host, allowed_hosts=allowed_hosts, **options)
    with TestClient(app, base_url=HUB_BASE_URL, raise_server_exceptions=True) as client:
        yield client


class _Through(httpx.BaseTransport):
    """Hands each request to a TestClient (whose own transport answers a sync client with an async stream)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.client.request(request.method, request.url.raw_path.decode(), content=request.read(),
                                       headers=request.headers)
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx.Response(response.status_code, headers=headers, content=response.content)


def hub_client(hub: TestClient, token: str | None = None) -> HubClient:
    """The product's HubClient on an in-process hub."""
    from agentic.hub.client import HubClient

    return HubClient(HUB_BASE_URL, token, transport=_Through(hub))


@contextlib.asynccontextmanager
async def asgi_client(app: Any, base_url: str = "http://127.0.0.1", **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient on an ASGI app (no lifespan: the simulators need none)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **kwargs) as client:
        yield client


__all__ = ["HUB_BASE_URL", "asgi_client", "hub_client", "hub_in_process"]
