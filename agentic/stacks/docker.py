"""The Docker path: when an engine answers, `ibt stacks run` is `docker compose -f ... up`, and `status`, `logs`,
`restart` and `stop` are `docker compose ps / logs / restart / down` on the files that run used (recorded in the
state directory, so later commands find them)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

RECORD = "docker-stack.json"


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


def compose_base(files: list[Path]) -> list[str]:
    argv = ["docker", "compose"]
    for path in files:
        argv += ["-f", str(path)]
    return argv


def compose_command(files: list[Path], *, detach: bool) -> list[str]:
    return [*compose_base(files), "up", *(["-d", "--wait"] if detach else [])]


def compose_restart_command(files: list[Path], service: str) -> list[str]:
    return [*compose_base(files), "restart", service]


def record_stack(state_root: Path, stacks: list[str], files: list[Path]) -> None:
    state_root.mkdir(parents=True, exist_ok=True)
    (state_root / RECORD).write_text(json.dumps({"stacks": stacks, "files": [str(f) for f in files]}))


def recorded_stack(state_root: Path) -> tuple[list[str], list[Path]] | None:
    """The stacks and compose files the last Docker `ibt stacks run` used from this state directory."""
    try:
        data = json.loads((state_root / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return list(data["stacks"]), [Path(f) for f in data["files"]]


def forget_stack(state_root: Path) -> None:
    (state_root / RECORD).unlink(missing_ok=True)


@dataclass(frozen=True)
class ContainerStatus:
    service: str
    state: str  # running, exited, restarting, ...
    health: str  # healthy, unhealthy, starting, or "" without a healthcheck
    ports: str

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in ("", "healthy")


def compose_ps(files: list[Path]) -> list[ContainerStatus]:
    proc = subprocess.run([*compose_base(files), "ps", "--all", "--format", "json"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"docker compose ps exited {proc.returncode}")
    text = proc.stdout.strip()
    # Compose prints a JSON array (older) or one object per line (newer).
    rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
    return [ContainerStatus(row.get("Service", "?"), row.get("State", "?"), row.get("Health", ""),
                            row.get("Ports", "")) for row in rows]
