"""The Docker path: when an engine answers, `ibt stacks run` is `docker compose -f ... up` and `ibt stacks restart`
is `docker compose -f ... restart`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def docker_available(timeout: float = 10.0) -> bool:
    """True only if the CLI exists, the engine answers (`docker info`) and the compose plugin is installed."""
    if shutil.which("docker") is None:
        return False
    for probe in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            if subprocess.run(probe, capture_output=True, timeout=timeout).returncode != 0:
                return False
        except (OSError, subprocess.TimeoutExpired):
            return False
    return True


def compose_command(files: list[Path], *, detach: bool) -> list[str]:
    argv = ["docker", "compose"]
    for path in files:
        argv += ["-f", str(path)]
    return [*argv, "up", *(["-d", "--wait"] if detach else [])]


def compose_restart_command(files: list[Path], service: str) -> list[str]:
    argv = ["docker", "compose"]
    for path in files:
        argv += ["-f", str(path)]
    return [*argv, "restart", service]
