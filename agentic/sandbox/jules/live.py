"""The `live` profile's per-session choices: which off-the-docs behaviours a session shows (jules-api.md §9).

Under `profile: live` each session draws its traits once, from a generator seeded by the config's `seed` and the
session id, so the same ids give the same sessions run after run:

    pending              create answers PENDING; QUEUED follows one tick later
    running              some IN_PROGRESS reads answer RUNNING (`live.running_share` of them, drawn per read)
    awaiting_user_input  AWAITING_USER_FEEDBACK is shown as AWAITING_USER_INPUT
    outputs              full | late | empty (scenario `outputs:` wins over `live.outputs`)

Only the wire changes: the simulator's own state machine (and `/_sim/sessions`) keeps the documented names, so
approvePlan and sendMessage check the same conditions under both profiles.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agentic.sandbox.jules.config import JulesSimConfig, ScenarioRule

# Values the live profile puts on the wire beside the documented nine (a client must map them, never crash).
LIVE_VARIANT_STATES: tuple[str, ...] = ("PENDING", "RUNNING", "AWAITING_USER_INPUT")
_WIRE_NAMES = {"IN_PROGRESS": "RUNNING", "AWAITING_USER_FEEDBACK": "AWAITING_USER_INPUT"}


@dataclass
class LiveTraits:
    """What one session does differently under the live profile (all off = the documented behaviour)."""

    live: bool = False
    pending: bool = False
    running: bool = False
    awaiting_user_input: bool = False
    outputs: str = "full"
    running_share: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def draw(cls, config: JulesSimConfig, session_id: str, scenario: ScenarioRule | None) -> LiveTraits:
        if config.profile != "live":
            return cls()
        settings = config.live
        rng = random.Random(f"{config.seed}:{session_id}")  # str seeds hash with sha512: stable across runs

        def picked() -> bool:
            coin = rng.random() < 0.5  # drawn even when not used, so one knob does not shift the others
            return settings.variant_states == "all" or (settings.variant_states == "some" and coin)

        pending, running, awaiting = picked(), picked(), picked()
        mixed = rng.choice(["full", "late", "empty"])
        outputs = (scenario.outputs if scenario and scenario.outputs else
                   mixed if settings.outputs == "mixed" else settings.outputs)
        return cls(live=True, pending=pending, running=running, awaiting_user_input=awaiting, outputs=outputs,
                   running_share=settings.running_share, rng=rng)

    def wire_state(self, state: str) -> str:
        """The state one read of the session shows (draws per read for RUNNING)."""
        if state == "AWAITING_USER_FEEDBACK" and self.awaiting_user_input:
            return _WIRE_NAMES[state]
        if state == "IN_PROGRESS" and self.running and self.rng.random() < self.running_share:
            return _WIRE_NAMES[state]
        return state

    def describe(self) -> dict[str, object]:
        """For `/_sim/sessions`: which behaviours this session shows."""
        if not self.live:
            return {}
        return {"pending": self.pending, "running": self.running, "awaitingUserInput": self.awaiting_user_input,
                "outputs": self.outputs}
