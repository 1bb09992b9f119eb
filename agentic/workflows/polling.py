"""Adaptive polling: ask Jules often when it is active, rarely when it is quiet.

A fixed 5 s poll of getSession + listActivities costs ~24 calls per minute of a session that moves once a minute.
Here the next wait is a quarter of the typical gap between activity batches (an exponentially weighted average),
doubling while nothing new arrives, always within [minimum, maximum]. bench/workflow_bench.py measures the ratio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class AdaptivePoller:
    minimum: float
    maximum: float
    smoothing: float = 0.3
    interval: float = field(init=False)
    typical_gap: float | None = field(default=None, init=False)
    _last_activity: float = field(default_factory=time.monotonic, init=False)

    def __post_init__(self) -> None:
        self.interval = self.minimum

    def saw_activity(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        gap = now - self._last_activity
        self._last_activity = now
        self.typical_gap = gap if self.typical_gap is None else (
            self.smoothing * gap + (1 - self.smoothing) * self.typical_gap)
        self.interval = self._clamp(self.typical_gap / 4)

    def saw_nothing(self) -> None:
        self.interval = self._clamp(self.interval * 2)

    def reset(self) -> None:
        """A person just acted (approved, answered): Jules will move soon."""
        self.interval = self.minimum
        self._last_activity = time.monotonic()

    def not_listening(self, seconds: float) -> None:
        """We could not ask for `seconds` (Prefect, PostgreSQL or the hub was down): that is not Jules' silence."""
        self._last_activity += seconds

    @property
    def quiet_for(self) -> float:
        return time.monotonic() - self._last_activity

    def _clamp(self, value: float) -> float:
        return min(max(value, self.minimum), self.maximum)
