"""Start a service as a child process in its own process group, wait for it to be healthy, stop it with no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from agentic.errors import StackError


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code < 500
    except httpx.HTTPError:
        return False


def start_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> subprocess.Popen:
    """Spawn `argv` in a new session (its own process group) so a stop reaches every grandchild too."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # owned by the child
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(
        list(argv), env=full_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=cwd, start_new_session=True, user=user,
    )


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, proc: subprocess.Popen | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll `check` until true; fail early (with the log tail) if the process dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode} before becoming healthy{_tail(log_path)}")
        time.sleep(0.1)
    raise StackError(f"{what} not healthy after {timeout:.0f}s{_tail(log_path)}")


def stop_process(proc: subprocess.Popen, *, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
    """Signal the whole process group, escalate to SIGKILL after `timeout`; never leaves children behind."""
    if proc.poll() is not None:
        _kill_group(proc.pid, signal.SIGKILL)
        return
    _kill_group(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    _kill_group(proc.pid, signal.SIGKILL)  # stragglers that ignored the first signal


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(log_path: Path | None, lines: int = 20) -> str:
    if not log_path or not log_path.exists():
        return ""
    text = log_path.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- last log lines (" + str(log_path) + ") ---\n" + "\n".join(text)
