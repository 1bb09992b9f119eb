"""Operations on a stack recorded in the state directory: is one running, stop it, restart one of its services,
clean a stale run file."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

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
    # Orphans of a supervisor that was killed or hung; the file may name a service restarted since we read it.
    for service in [*run.get("services", []), *(state.read_run() or {}).get("services", [])]:
        terminate_group(service)
    state.clear_run()
    return run


def request_restart(state: StateDir, service: str, timeout: float = 180.0) -> dict:
    """Ask the running supervisor to restart `service` in place and wait until it is healthy again.

    Returns the supervisor's answer (`service`, `old_pid`, `pid`, `seconds`); StackError if no stack runs, the
    service is not one of it, or it does not come back healthy within `timeout` seconds."""
    run = running_stack(state)
    if run is None:
        raise StackError(f"no stack is running from {state.root} (`ibt stacks run ... -d` first)")
    names = [s["name"] for s in run.get("services", [])]
    if service not in names:
        raise StackError(f"unknown service {service!r}: the stack running from {state.root} has "
                         f"{', '.join(names) or 'no services'}")
    state.control.mkdir(parents=True, exist_ok=True)
    request = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    asked, answer = state.control / f"{request}.request", state.control / f"{request}.result"
    tmp = state.control / f"{request}.tmp"
    tmp.write_text(json.dumps({"action": "restart", "service": service}))
    os.replace(tmp, asked)  # the supervisor never sees half a request
    deadline = time.monotonic() + timeout
    try:
        while not answer.exists():
            if not is_alive(run["supervisor"]):
                raise StackError(f"the supervisor (pid {run['supervisor']['pid']}) exited before {service} "
                                 "was restarted")
            if time.monotonic() > deadline:
                raise StackError(f"{service} not healthy {timeout:.0f}s after the restart request "
                                 f"(`ibt stacks logs {service}`)")
            time.sleep(0.1)
        result = json.loads(answer.read_text())
    finally:
        asked.unlink(missing_ok=True)
        answer.unlink(missing_ok=True)
    if not result.get("ok"):
        raise StackError(result.get("message") or f"{service} did not restart")
    return result
