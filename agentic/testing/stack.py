"""A native stack for tests, through the real `ibt stacks run -d` on free ports, and ways to hurt one of its services.

    with running_native_stack("mcp-hub") as stack:
        hub = stack.url("mcp-hub")                  # http://127.0.0.1:<free port>
        old = stack.kill("mcp-hub")                 # SIGKILL its main process, like a crash
        new = stack.wait_healthy("mcp-hub", not_pid=old)   # the supervisor brought it back (restart policy)
        stack.restart("mcp-hub")                    # = `ibt stacks restart mcp-hub`; returns the new pid

`NativeStack(state_dir)` alone works on any running native stack (e.g. the one `ibt demo` leaves up).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agentic.errors import StackError
from agentic.stacks.compose import Stack, default_stacks_dir
from agentic.stacks.control import request_restart, stop_stack
from agentic.stacks.ports import free_port
from agentic.stacks.state import StateDir, is_alive
from agentic.stacks.supervisor import port_env_var, probe


@dataclass
class NativeStack:
    state_dir: Path
    ports: dict[str, int] = field(default_factory=dict)  # service -> port, as started by running_native_stack

    @property
    def state(self) -> StateDir:
        return StateDir(self.state_dir)

    def service(self, name: str) -> dict:
        """The service's record in the run file (pid, port, health, state, restarts, last_exit)."""
        run = self.state.read_run() or {}
        for record in run.get("services", []):
            if record["name"] == name:
                return record
        raise StackError(f"no service {name!r} in the stack running from {self.state_dir}")

    def pid(self, name: str) -> int | None:
        record = self.service(name)
        return record["pid"] if is_alive(record) else None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.service(name)['port']}"

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal the service's main process only (its children are left to the supervisor); returns its pid."""
        pid = self.pid(name)
        if pid is None:
            raise StackError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    def wait_healthy(self, name: str, *, not_pid: int | None = None, timeout: float = 60.0) -> int:
        """Wait until `name` runs under a pid other than `not_pid` and answers its health check; returns the pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.service(name)
            if record["pid"] != not_pid and record.get("healthy") and is_alive(record) \
                    and probe(record["health"], record["port"]):
                return record["pid"]
            time.sleep(0.1)
        raise StackError(f"{name} not healthy again after {timeout:.0f}s: {self.service(name)}")

    def restart(self, name: str, timeout: float = 120.0) -> int:
        """`ibt stacks restart NAME`: in place, state kept, healthy when this returns; returns the new pid."""
        return request_restart(self.state, name, timeout=timeout)["pid"]


@contextlib.contextmanager
def running_native_stack(*stacks: str, stacks_dir: Path | None = None, timeout: float = 180.0,
                         env: dict[str, str] | None = None) -> Iterator[NativeStack]:
    """`ibt stacks run STACKS --native -d` in a temp state dir, every service on a free port (IBT_PORT_*; `env`
    is added to the environment and wins); `ibt stacks stop` and the state dir removed afterwards."""
    stacks_dir = (stacks_dir or default_stacks_dir()).resolve()
    names = list(Stack.load(list(stacks), stacks_dir).services)
    ports = {name: free_port() for name in names}
    state_dir = Path(tempfile.mkdtemp(prefix="ibt-stack-"))
    os.chmod(state_dir, 0o755)  # PostgreSQL runs as `postgres` when we are root
    # The caller's IBT_* (a developer's ports, state dir) must not leak into a test stack; `env` may set them.
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("IBT_")}
    child_env.update({port_env_var(name): str(port) for name, port in ports.items()})
    child_env["IBT_HUB_TOKEN_FILE"] = ""  # test stacks keep the hub open, like the sandbox; `env` may set a file
    child_env.update(env or {})
    try:
        up = subprocess.run([sys.executable, "-m", "agentic.cli", "stacks", "run", *stacks, "--native", "-d",
                             "--stacks-dir", str(stacks_dir), "--state-dir", str(state_dir),
                             "--timeout", str(timeout)],
                            env=child_env, capture_output=True, text=True, timeout=timeout + 30)
        if up.returncode != 0:
            raise StackError(f"ibt stacks run {' '.join(stacks)} failed ({up.returncode}):\n{up.stdout}{up.stderr}")
        yield NativeStack(state_dir, ports)
    finally:
        stop_stack(StateDir(state_dir))
        shutil.rmtree(state_dir, ignore_errors=True)


__all__ = ["NativeStack", "running_native_stack"]
