"""Session-wide real services. Later test modules reuse `postgres` and `prefect_api_url`."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import itertools  # noqa: E402
import socket  # noqa: E402

from agentic.testing import environment, running_postgres, running_prefect_server  # noqa: E402
from agentic.testing.sandbox import FAST_WORKFLOW, running_sandbox  # noqa: E402


# Under `--dist loadfile` (scripts/test.sh) these files are handed out before all others. xdist orders files by their
# number of tests, so the real-model test (two tests, ~5 minutes of a core) and the crash recovery (one test, 2–3
# minutes of waiting) started last and were the suite's tail, with the other workers done and idle.
FIRST_FILES = ("tests/llm/test_local_model.py", "tests/queue/test_crash_recovery.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        def _assign_work_unit(self, node):  # xdist pops the queue's first file here
            for scope in reversed(FIRST_FILES):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (fresh cluster, free port) for the whole test session."""
    with running_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def prefect_api_url(postgres):
    """A real Prefect server on that PostgreSQL; the test process talks to it through PREFECT_API_URL."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with running_prefect_server(postgres.url) as api_url, temporary_settings({PREFECT_API_URL: api_url}):
        # Child processes (CLI entry points, deploy.py) read the environment, not this process's settings context.
        with environment({"PREFECT_API_URL": api_url}):
            yield api_url




@pytest.fixture(scope="session")
def sandbox(prefect_api_url):
    # The live profile by default: the flow must pass against Jules as observed, not as documented (§9).
    with running_sandbox(tick_seconds=0.1, jules_profile="live", **FAST_WORKFLOW) as sandbox, environment(sandbox.env):
        yield sandbox


_counter = itertools.count(1)


@pytest.fixture
def new_issue(sandbox):
    """Open a fresh issue as alice (each test owns its issue: dispatch is exactly-once per issue)."""

    def make(title: str, body: str, *, user: str = "alice", labels: list[str] | None = None) -> tuple[int, str]:
        with sandbox.github() as gh:
            gh.headers["Authorization"] = f"Bearer sim-token-{user}"
            response = gh.post("/repos/acme/widgets/issues",
                               json={"title": f"{title} [t{next(_counter)}-{os.getpid()}]", "body": body,
                                     "labels": labels or []})
            response.raise_for_status()
            number = response.json()["number"]
        return number, f"https://github.com/acme/widgets/issues/{number}"

    return make



@pytest.fixture
def connections(monkeypatch) -> list[object]:
    """Every outgoing connection attempted in this process (the standard library's connect calls), each refused
    as a closed port refuses it: `[]` means nothing was contacted."""
    attempts: list[object] = []

    def connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    def connect_ex(self: socket.socket, address: object) -> int:
        attempts.append(address)
        return 111

    def create_connection(address: object, *args: object, **kwargs: object) -> socket.socket:
        attempts.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return attempts
