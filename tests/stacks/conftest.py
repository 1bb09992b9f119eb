"""Helpers for the stack tests: run `ibt` as a real subprocess, and prove a process tree is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from agentic.stacks.ports import port_holder

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"
IBT = [sys.executable, "-m", "agentic.cli"]


def ibt_env(**ports: int) -> dict[str, str]:
    """The test's environment plus `IBT_PORT_<SERVICE>` overrides: tests never touch 4200/3000/5432/15432."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBT_") and k != "PREFECT_API_URL"}
    env.update({f"IBT_PORT_{name.upper()}": str(port) for name, port in ports.items()})
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return env


def state_dir() -> Path:
    # Not pytest's tmp_path: it is 0700 and PostgreSQL runs as the `postgres` user when we are root.
    path = Path(tempfile.mkdtemp(prefix="ibt-test-"))
    os.chmod(path, 0o755)
    return path


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def assert_gone(procs: list[psutil.Process], ports: list[int], timeout: float = 10.0) -> None:
    """Every recorded process has exited (not just its parent) and every port is free again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        busy = [port for port in ports if port_holder(port)]
        if not alive and not busy:
            return
        time.sleep(0.2)
    raise AssertionError(f"left behind: processes {[(p.pid, p.name()) for p in alive]}, ports {busy}")


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"{what}: ibt exited with {proc.returncode}\n{out}")
        time.sleep(0.2)
    raise AssertionError(f"{what}: not true after {timeout}s")


@pytest.fixture
def stacks_tmp():
    """A private stacks dir for bad-input tests (deleted afterwards)."""
    path = state_dir()
    yield path
    import shutil

    shutil.rmtree(path, ignore_errors=True)
