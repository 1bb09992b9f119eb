"""Fault injection: which injected fault (if any) the next API request gets.

Rules come from the config and from `POST /_sim/faults`; each has a `count` (None = forever) consumed per
matching request. Latency rules add up and still let the request through; of the others, the first match wins.
"""

from __future__ import annotations

from agentic.sandbox.jules.config import FaultRule


class Faults:
    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self.rules: list[FaultRule] = [r.model_copy() for r in rules or []]

    def add(self, rules: list[FaultRule]) -> None:
        self.rules.extend(r.model_copy() for r in rules)

    def clear(self) -> None:
        self.rules.clear()

    def take(self, operation_id: str | None, method: str, path: str) -> tuple[float, FaultRule | None]:
        """(extra latency in seconds, the blocking fault or None) for this request; consumes counts."""
        latency, blocking = 0.0, None
        for rule in self.rules:
            if rule.count is not None and rule.count <= 0:
                continue
            if not _applies(rule, operation_id, method, path):
                continue
            if rule.kind == "latency":
                latency += rule.seconds
            elif blocking is None:
                blocking = rule
            else:
                continue
            if rule.count is not None:
                rule.count -= 1
        self.rules = [r for r in self.rules if r.count is None or r.count > 0]
        return latency, blocking


def _applies(rule: FaultRule, operation_id: str | None, method: str, path: str) -> bool:
    if rule.route is None:
        return True
    if rule.route == operation_id:
        return True
    want_method, _, want_path = rule.route.partition(" ")
    if want_path:
        return want_method.upper() == method and path.startswith(want_path)
    return path.startswith(rule.route)
