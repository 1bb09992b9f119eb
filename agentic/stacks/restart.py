"""Compose restart policies for the native runner, decided the way Docker's restart manager decides them.

    restart: "no"              never (the default; quote it: YAML reads a bare no as false)
    restart: always            whatever the exit code
    restart: unless-stopped    the same natively: `ibt stacks stop` / Ctrl+C is the only "manual stop" and never heals
    restart: on-failure[:N]    only a non-zero exit or a signal (SIGKILL included), at most N restarts

`deploy.restart_policy` (condition none/on-failure/any, max_attempts) is read when `restart` is absent, as Compose
does. Each restart waits a backoff (0.5 s doubling to 10 s); it starts over once the service stayed healthy 10 s,
Docker's own rule. The restart count is never reset except by `ibt stacks restart`, as in Docker.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

from agentic.errors import ConfigError

MODES = ("no", "always", "on-failure", "unless-stopped")


@dataclass(frozen=True)
class RestartPolicy:
    mode: str = "no"
    max_retries: int | None = None  # on-failure:N; None = unlimited

    @classmethod
    def parse(cls, value: Any, where: str = "restart") -> RestartPolicy:
        if value is None or value is False:  # absent, or an unquoted `no`
            return cls()
        text = str(value).strip()
        mode, _, count = text.partition(":")
        if mode not in MODES or (count and mode != "on-failure"):
            raise ConfigError(f"{where}: unknown restart policy {text!r} (use no, always, on-failure[:N], "
                              "unless-stopped)")
        if not count:
            return cls(mode)
        try:
            retries = int(count)
        except ValueError as exc:
            raise ConfigError(f"{where}: on-failure needs a number of retries, got {count!r}") from exc
        if retries < 0:
            raise ConfigError(f"{where}: on-failure retries must be >= 0, got {retries}")
        return cls(mode, retries or None)  # Docker: on-failure:0 means no limit

    def decide(self, returncode: int, restarts: int) -> str | None:
        """None to restart; otherwise why the service stays down."""
        if self.mode in ("always", "unless-stopped"):
            return None
        if self.mode == "on-failure":
            if returncode == 0:
                return f"exit code 0 is no failure (restart: {self})"
            if self.max_retries is not None and restarts >= self.max_retries:
                return f"gave up after {restarts} restarts (restart: {self})"
            return None
        return f"restart: {self}"

    def __str__(self) -> str:
        return f"{self.mode}:{self.max_retries}" if self.max_retries else self.mode


def restart_policy(raw: dict[str, Any], where: str) -> RestartPolicy:
    """A compose service's policy: `restart`, else `deploy.restart_policy`."""
    if "restart" in raw:
        return RestartPolicy.parse(raw["restart"], where)
    deploy = (raw.get("deploy") or {}).get("restart_policy")
    if not isinstance(deploy, dict):
        return RestartPolicy()
    condition = deploy.get("condition", "any")
    if condition == "none":
        return RestartPolicy()
    if condition == "any":
        return RestartPolicy("always")
    if condition == "on-failure":
        return RestartPolicy.parse(f"on-failure:{deploy.get('max_attempts', 0)}", where)
    raise ConfigError(f"{where}: unknown deploy.restart_policy.condition {condition!r}")


@dataclass
class Backoff:
    """Delay before the next restart: `initial`, doubled each time up to `cap`; reset after `reset_after` seconds
    of health (a service that crashes once a day always restarts fast, a crash loop slows down)."""

    initial: float = 0.5
    cap: float = 10.0
    reset_after: float = 10.0
    current: float = 0.0

    def next(self, healthy_for: float | None) -> float:
        if healthy_for is not None and healthy_for >= self.reset_after:
            self.current = 0.0
        self.current = self.initial if self.current == 0 else min(self.current * 2, self.cap)
        return self.current


def describe_exit(returncode: int) -> str:
    """`code 1`, or `signal SIGKILL` for a process a signal ended (Popen's negative return codes)."""
    if returncode >= 0:
        return f"code {returncode}"
    try:
        return f"signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"signal {-returncode}"
