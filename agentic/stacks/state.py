"""The state directory (`.ibt/` by default) and the run file that lets `status`, `logs` and `stop` find a stack.

    .ibt/
      postgres/data/            the PostgreSQL cluster (created on first run), postgres/data.sock/ its socket dir
      prefect/                  PREFECT_HOME of the native Prefect server
      mcp-hub/mcp_settings.json the hub's settings, seeded from stacks/mcp-hub/ on first run
      logs/<service>.log        every service's output; logs/supervisor.log for a detached stack
      run/stack.json            who is running: supervisor pid, services (pid, port, health), status
      run/supervisor.pid        the supervisor's pid alone, for `kill $(cat .ibt/run/supervisor.pid)`
      run/control/              requests to the supervisor (`ibt stacks restart`) and its answers

A pid alone can be reused by the OS, so each pid is stored with its process start time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


def process_identity(pid: int) -> dict[str, Any]:
    try:
        return {"pid": pid, "started": psutil.Process(pid).create_time()}
    except psutil.Error:
        return {"pid": pid, "started": None}


def is_alive(identity: dict[str, Any] | None) -> bool:
    """True if the process recorded in `identity` still runs (same pid AND same start time)."""
    if not identity or not identity.get("pid"):
        return False
    try:
        proc = psutil.Process(identity["pid"])
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = identity.get("started")
        return started is None or abs(proc.create_time() - started) < 0.5
    except psutil.Error:
        return False


@dataclass
class StateDir:
    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run_file(self) -> Path:
        return self.root / "run" / "stack.json"

    @property
    def pid_file(self) -> Path:
        return self.root / "run" / "supervisor.pid"

    @property
    def control(self) -> Path:
        return self.root / "run" / "control"

    def log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def prepare(self) -> None:
        """Create the layout. As root, PostgreSQL runs as `postgres`, who must be able to traverse the directory."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.run_file.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chmod(self.root, 0o755)

    def read_run(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.run_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def write_run(self, data: dict[str, Any]) -> None:
        """Atomic replace, so a concurrent `ibt stacks status` never reads half a file."""
        tmp = self.run_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.run_file)
        self.pid_file.write_text(f"{data['supervisor']['pid']}\n")

    def clear_run(self) -> None:
        self.run_file.unlink(missing_ok=True)
        self.pid_file.unlink(missing_ok=True)
        shutil.rmtree(self.control, ignore_errors=True)


def terminate_group(identity: dict[str, Any], sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop a recorded service's whole process group (each service leads its own session), then SIGKILL."""
    if not is_alive(identity):
        return
    pid = identity["pid"]
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_alive(identity):
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
