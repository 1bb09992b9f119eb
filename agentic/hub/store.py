"""mcp_settings.json: mcphub's settings file, read once at start and written atomically after every change.

Same shape as mcphub (`mcpServers`, `users`, `groups`, `systemConfig`, `bearerKeys`), so the file can be handed to a
real mcphub (`-v ./mcp_settings.json:/app/mcp_settings.json`) and back. Keys we do not use are kept untouched.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from agentic.errors import ConfigError

DEFAULT_SETTINGS: dict[str, Any] = {
    "mcpServers": {},
    "users": [],
    "groups": [],
    "systemConfig": {"routing": {"enableGlobalRoute": True, "enableGroupNameRoute": True}, "nameSeparator": "-"},
    "bearerKeys": [],
}


def load_settings(path: Path) -> dict[str, Any]:
    """Read the settings file; a missing file is an empty hub, a malformed one is a ConfigError naming it."""
    if not path.exists():
        return copy.deepcopy(DEFAULT_SETTINGS)
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                          "fix or delete the file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be an object with `mcpServers`")
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: `mcpServers` must be an object of name -> server config")
    for name, config in servers.items():
        if not isinstance(config, dict):
            raise ConfigError(f"{path}: mcpServers.{name} must be an object")
    for key in ("users", "groups", "bearerKeys"):
        if not isinstance(data.setdefault(key, []), list):
            raise ConfigError(f"{path}: `{key}` must be a list")
    system = data.setdefault("systemConfig", copy.deepcopy(DEFAULT_SETTINGS["systemConfig"]))
    if not isinstance(system, dict):
        raise ConfigError(f"{path}: `systemConfig` must be an object")
    return data


def save_settings(path: Path, data: dict[str, Any]) -> None:
    """Write to a temp file in the same folder, fsync, then os.replace: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)  # it holds secrets
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
