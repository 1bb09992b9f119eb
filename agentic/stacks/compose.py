"""Find and load the compose files of named stacks (`stacks/<name>/<name>.local.yaml`, else `<name>.yaml`).

The compose files are the single description of the stack: Docker reads the standard keys, the native runner reads
the `x-ibt.native` extension of each service (see `agentic.stacks.native`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentic.errors import ConfigError
from agentic.settings import PROJECT_DIR


def default_stacks_dir(start: Path | None = None) -> Path:
    """The nearest `stacks/` directory from `start` (the cwd) upwards, else the one next to the package."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "stacks").is_dir() and (directory / "agentic").is_dir():
            return directory / "stacks"
    return PROJECT_DIR / "stacks"


def available_stacks(stacks_dir: Path) -> list[str]:
    if not stacks_dir.is_dir():
        return []
    return sorted(
        d.name for d in stacks_dir.iterdir()
        if (d / f"{d.name}.local.yaml").exists() or (d / f"{d.name}.yaml").exists()
    )


def find_stack_file(name: str, stacks_dir: Path) -> Path:
    """`<name>.local.yaml` (what developers run) wins over `<name>.yaml`."""
    for candidate in (stacks_dir / name / f"{name}.local.yaml", stacks_dir / name / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(available_stacks(stacks_dir)) or "none"
    raise ConfigError(
        f"unknown stack {name!r}: no {name}/{name}.local.yaml or {name}/{name}.yaml under {stacks_dir} "
        f"(available: {known})"
    )


def load_compose_file(path: Path) -> dict[str, Any]:
    """Parse one compose file; malformed YAML or a missing `services` mapping is a ConfigError naming the file."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"compose file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML in {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ConfigError(f"{path} is not a compose file: it needs a top-level `services:` mapping")
    for name, service in data["services"].items():
        if not isinstance(service, dict):
            raise ConfigError(f"{path}: service {name!r} must be a mapping")
    return data


@dataclass
class ServiceDef:
    """A compose service and the file it came from (relative paths in it are relative to that file)."""

    name: str
    raw: dict[str, Any]
    source: Path


@dataclass
class Stack:
    """Several compose files merged like `docker compose -f a -f b`: later files extend or override services."""

    files: list[Path]
    services: dict[str, ServiceDef] = field(default_factory=dict)

    @classmethod
    def load(cls, names: list[str], stacks_dir: Path) -> Stack:
        files = [find_stack_file(name, stacks_dir) for name in names]
        stack = cls(files=files)
        for path in files:
            for name, raw in load_compose_file(path)["services"].items():
                if name in stack.services:
                    raw = {**stack.services[name].raw, **raw}
                stack.services[name] = ServiceDef(name=name, raw=raw, source=path)
        return stack
