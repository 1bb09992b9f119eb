"""A pytest plugin that counts the test functions that start a server: `pytest -p agentic.testing.census`.

A test counts when, during its setup, call or teardown, a socket starts listening or a child process is spawned,
or when it uses a fixture (of any scope) that did so when it was set up — so every user of a session-wide sandbox
counts, not only the first. In-process apps reached through `httpx.ASGITransport` open no socket and do not count.
The summary names the files with the most such functions; `CENSUS_JSON=path` also writes every test's verdict.
Under pytest-xdist (`-n 3`) each worker judges its own tests and the controller adds them up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections import Counter, defaultdict
from typing import Any

import pytest

_current: list[str] = []                       # what is running now: a test's nodeid or "fixture:<name>"
_events: dict[str, set[str]] = defaultdict(set)  # nodeid or "fixture:<name>" -> {"listen", "process"}
_items: dict[str, pytest.Item] = {}


def _record(kind: str) -> None:
    if _current:
        _events[_current[-1]].add(kind)


_listen = socket.socket.listen
_popen_init = subprocess.Popen.__init__


def _listen_spy(self: socket.socket, *args: Any) -> None:
    _record("listen")
    _listen(self, *args)


def _popen_spy(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
    _record("process")
    _popen_init(self, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.listen = _listen_spy  # type: ignore[method-assign, assignment]
    subprocess.Popen.__init__ = _popen_spy  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest):
    _current.append(_fixture_key(fixturedef))
    try:
        return (yield)
    finally:
        _current.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _items[item.nodeid] = item
    _current.append(item.nodeid)
    try:
        return (yield)
    finally:
        _current.pop()


def _fixture_key(fixturedef: Any) -> str:
    # Where it is defined, not only its name: two modules' `hub` fixtures may be a process and an in-process app.
    return f"fixture:{fixturedef.baseid}::{fixturedef.argname}"


def _used_fixtures(item: pytest.Item) -> list[str]:
    """The keys of the fixture definitions this test used (the closest definition of each name)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    return [_fixture_key(defs[-1]) for name, defs in info.name2fixturedefs.items() if defs]


def _function(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


def verdicts() -> dict[str, list[str]]:
    """nodeid -> why it counts as starting a server (empty: it does not)."""
    server_fixtures = {key for key in _events if key.startswith("fixture:")}
    result = {}
    for nodeid, item in _items.items():
        why = sorted(_events.get(nodeid, set()))
        why += sorted(key.removeprefix("fixture:") for key in _used_fixtures(item) if key in server_fixtures)
        result[nodeid] = why
    return result


_from_workers: dict[str, list[str]] = {}  # under pytest-xdist: each worker's verdicts, gathered by the controller


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the verdicts to the controller
        workeroutput["census"] = json.dumps(verdicts())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _from_workers.update(json.loads(getattr(node, "workeroutput", {}).get("census", "{}")))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    result = _from_workers or verdicts()
    if not result:
        return
    functions: dict[str, bool] = {}
    for nodeid, why in result.items():
        functions[_function(nodeid)] = functions.get(_function(nodeid), False) or bool(why)
    servers = [f for f, starts in functions.items() if starts]
    by_file = Counter(f.split("::", 1)[0] for f in servers)
    write = terminalreporter.write_line
    terminalreporter.section("server census")
    write(f"test functions that start a server: {len(servers)} of {len(functions)} "
          f"({100 * len(servers) / len(functions):.1f}%); test items: "
          f"{sum(1 for why in result.values() if why)} of {len(result)}")
    for path, count in by_file.most_common(25):
        write(f"  {count:4d}  {path}")
    if os.environ.get("CENSUS_JSON"):
        with open(os.environ["CENSUS_JSON"], "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)
