"""Test helpers shipped with the simulator (as `prefect_test_harness` ships with Prefect).

    running_jules_simulator(config)   the simulator as a real process on a free port; yields its base URL
    SpecConformance()                 checks each response against jules.schema.json with openapi-core
                                      (an httpx response hook: `event_hooks={"response": [conf.check]}`);
                                      `SpecConformance(extra_states=LIVE_VARIANT_STATES)` for the live profile

openapi-core is a test dependency (pyproject `test` extra); it is imported only when `SpecConformance` is built.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from agentic.sandbox.jules.config import JulesSimConfig
from agentic.schemas import JULES_SERVER_NAME, load_openapi
from agentic.stacks.ports import free_port
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until


@contextlib.contextmanager
def running_jules_simulator(config: JulesSimConfig | None = None, port: int | None = None) -> Iterator[str]:
    """`python -m agentic.sandbox.jules` with `config` on a free port; yields `http://127.0.0.1:PORT/v1alpha`."""
    home = Path(tempfile.mkdtemp(prefix="agentic-jules-sim-"))
    port = port or free_port()
    config_file = home / "jules-sim.yaml"
    config_file.write_text(yaml.safe_dump((config or JulesSimConfig()).model_dump(mode="json")), encoding="utf-8")
    log = home / "jules-sim.log"
    proc = start_process([sys.executable, "-m", "agentic.sandbox.jules", "--host", "127.0.0.1", "--port", str(port),
                          "--config", str(config_file), "--log-level", "info"], log_path=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(base + "/_sim/health"), timeout=30, what="Jules simulator", proc=proc,
                   log_path=log)
        yield base + "/v1alpha"
    finally:
        stop_process(proc)
        shutil.rmtree(home, ignore_errors=True)


class _Request:
    """openapi-core's Request protocol over an httpx.Request (host rewritten to the spec's server)."""

    def __init__(self, request: httpx.Request, server: str) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self._request = request
        server_url = urlsplit(server)
        self.host_url = f"{server_url.scheme}://{server_url.netloc}"
        path = request.url.path
        self.path = path if path.startswith(server_url.path) else server_url.path + path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(query=ImmutableMultiDict(list(request.url.params.multi_items())),
                                            header=Headers(dict(request.headers)), cookie=ImmutableMultiDict())


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        from werkzeug.datastructures import Headers

        self.data = response.content
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(dict(response.headers))


def _openapi(spec: dict[str, Any]) -> Any:
    from openapi_core import OpenAPI

    return OpenAPI.from_dict(spec)


@functools.cache
def _default_openapi() -> Any:
    # Building openapi-core's validators takes ~0.3 s; tests make one checker each.
    return _openapi(load_openapi(JULES_SERVER_NAME))


class SpecConformance:
    """Validates simulator responses against the OpenAPI document; `checked` counts them per operation path.

    `extra_states` widens the `State` enum of this checker's copy (e.g. `LIVE_VARIANT_STATES` for the live
    profile, whose state set is open on the wire); everything else stays as strict as the document."""

    def __init__(self, spec: dict[str, Any] | None = None, *, extra_states: Iterable[str] = ()) -> None:
        extra = list(extra_states)
        if extra:
            spec = copy.deepcopy(spec or load_openapi(JULES_SERVER_NAME))
            states = spec["components"]["schemas"]["State"]["enum"]
            states += [state for state in extra if state not in states]
        self.spec = spec or load_openapi(JULES_SERVER_NAME)
        self.server = self.spec["servers"][0]["url"]
        self.openapi = _default_openapi() if spec is None else _openapi(spec)
        self.checked: list[tuple[str, int]] = []

    def validate(self, response: httpx.Response) -> None:
        """Raise (openapi-core's error) if `response` does not match the spec for its request."""
        request = _Request(response.request, self.server)
        self.openapi.validate_response(request, _Response(response))
        self.checked.append((f"{request.method.upper()} {request.path}", response.status_code))

    async def check(self, response: httpx.Response) -> None:
        """httpx AsyncClient response hook; API paths only (`/_sim/*` is not part of the spec)."""
        if "/_sim/" in response.request.url.path:
            return
        await response.aread()
        self.validate(response)
