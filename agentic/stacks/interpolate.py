"""Compose-style `${VAR}` interpolation, so a compose file means the same thing to Docker and to the native runner.

Supported, as in the Compose specification: `$$` (a literal `$`), `$VAR`, `${VAR}`, `${VAR:-default}`,
`${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}`, `${VAR+replacement}`.
An unset variable without default becomes "" (as Compose does, minus its warning).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentic.errors import ConfigError

_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate_str(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        value = env.get(name)
        op, arg = match["op"], match["arg"] or ""
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if empty else value  # type: ignore[return-value]
        if op in (":?", "?"):
            if empty:
                raise ConfigError(f"variable {name} is required: {arg or 'not set'}")
            return value  # type: ignore[return-value]
        if op in (":+", "+"):
            return "" if empty else arg
        return value or ""

    return _PATTERN.sub(replace, text)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string inside `value` (dicts, lists, scalars); keys are left alone."""
    if isinstance(value, str):
        return interpolate_str(value, env)
    if isinstance(value, Mapping):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    return value
