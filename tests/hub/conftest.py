"""Real processes for the hub tests: the hub (`python -m agentic.hub`), FastMCP upstreams, a sample OpenAPI API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agentic.stacks.ports import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = sys.executable
UPSTREAM = str(HERE / "upstream_server.py")


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class RunningHub:
    def __init__(self, url: str, proc: subprocess.Popen, settings: Path) -> None:
        self.url, self.proc, self.settings = url, proc, settings

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"


@contextmanager
def running_hub(settings: Path, token: str | None = None, env: dict[str, str] | None = None,
                args: list[str] | None = None) -> Iterator[RunningHub]:
    port = free_port()
    args = [PY, "-m", "agentic.hub", "--port", str(port), "--settings", str(settings), "--log-level", "warning",
            *(args or [])]
    if token:
        args += ["--token", token]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MCP_HUB_TOKEN", None) if not token else None
    proc = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
        yield RunningHub(f"http://127.0.0.1:{port}", proc, settings)
    finally:
        stop(proc)


def stdio_config(*extra: str, **config) -> dict:
    return {"type": "stdio", "command": PY, "args": [UPSTREAM, "stdio", *extra], **config}


@pytest.fixture(scope="session")
def http_upstream() -> Iterator[str]:
    """A FastMCP streamable-HTTP server (tools echo, add, fail); yields its /mcp URL."""
    port = free_port()
    proc = subprocess.Popen([PY, UPSTREAM, "http", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/mcp", proc=proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def sample_api() -> Iterator[str]:
    """The sample OpenAPI API; yields its base URL (document at /openapi.json, API under /v1)."""
    port = free_port()
    proc = subprocess.Popen([PY, str(HERE / "sample_api.py"), "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/openapi.json", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def sample_api_transport() -> httpx.ASGITransport:
    """The sample OpenAPI API in this process, for `create_app(openapi_transport=...)`: the hub fetches its
    document and calls it at any base URL (SAMPLE_API_URL below) without a port."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hub_sample_api", HERE / "sample_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return httpx.ASGITransport(app=module.app)


# A loopback address (the egress checks allow it) that nothing needs to listen on: the transport answers.
SAMPLE_API_URL = "http://127.0.0.1:9"


def write_settings(path: Path, servers: dict) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


@pytest.fixture(scope="session")
def hub_tools():
    """Helpers for test modules (importlib mode: they cannot import this conftest by name)."""
    class Tools:
        running_hub = staticmethod(running_hub)
        stdio_config = staticmethod(stdio_config)
        write_settings = staticmethod(write_settings)
        sample_api_transport = staticmethod(sample_api_transport)
        sample_api_url = SAMPLE_API_URL
        upstream = UPSTREAM
        python = PY
        root = ROOT
    return Tools
