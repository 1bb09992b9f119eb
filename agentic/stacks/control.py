"""Operations on a stack recorded in the state directory: is one running, stop it, clean a stale run file."""

from __future__ import annotations

import os
import signal
import time

from agentic.errors import StackError
from agentic.stacks.state import StateDir, is_alive, terminate_group


def running_stack(state: StateDir) -> dict | None:
    """The run record if its supervisor is alive; None otherwise (a stale record is left for `clean_stale`)."""
    run = state.read_run()
    return run if run and is_alive(run.get("supervisor")) else None


def clean_stale(state: StateDir) -> dict | None:
    """Remove a run record whose supervisor died (SIGKILL, reboot); stop any of its services still alive.
    Returns the stale record, if there was one."""
    run = state.read_run()
    if not run or is_alive(run.get("supervisor")):
        return None
    for service in run.get("services", []):
        terminate_group(service)
    state.clear_run()
    return run


def ensure_not_running(state: StateDir) -> None:
    run = running_stack(state)
    if run:
        pid = run["supervisor"]["pid"]
        raise StackError(f"a stack is already running from {state.root} (supervisor pid {pid}: "
                         f"{' '.join(run.get('stacks', []))}); run `ibt stacks stop` first or use another --state-dir")


def stop_stack(state: StateDir, timeout: float = 60.0) -> dict | None:
    """SIGTERM the supervisor (it stops its services in order), then make sure no recorded service survives.
    Returns the record of what was stopped, None if nothing was recorded."""
    run = state.read_run()
    if not run:
        return None
    supervisor = run.get("supervisor")
    if is_alive(supervisor):
        os.kill(supervisor["pid"], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and is_alive(supervisor):
            time.sleep(0.1)
        if is_alive(supervisor):
            os.kill(supervisor["pid"], signal.SIGKILL)
    for service in run.get("services", []):
        terminate_group(service)  # orphans of a supervisor that was killed or hung
    state.clear_run()
    return run
