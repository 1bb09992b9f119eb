"""Whether a triage verdict is enough to spend Jules quota, under the repository's automation level.

A maintainer who labels an issue has already decided; the model's verdict is advice. Each repository picks how much
of the deciding the model may do (`automation` in agentic/triggers/rules.yaml):

- `cautious` (default): only an actionable verdict with high confidence is dispatched on its own; anything else waits
  for a maintainer's `/jules go`;
- `full`: every actionable verdict is dispatched (the product's behaviour before issue #23);
- `manual`: nothing is dispatched until a maintainer comments `/jules go`.

`/jules go` from a user with write access dispatches whatever the verdict (the agent still writes the brief, and its
doubts travel with it as concerns), except that a brief the secrets/data policy refused stays refused: no override
reaches past the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agentic.agent.brief import Triage

Level = Literal["cautious", "full", "manual"]
LEVELS: tuple[Level, ...] = ("cautious", "full", "manual")
Outcome = Literal["dispatch", "needs_info", "rejected", "held"]
GO_HINT = "A maintainer can comment `/jules go` to hand it to Jules anyway."


@dataclass(frozen=True)
class Gate:
    """The decision and the one line that explains it (shown on the status comment)."""

    outcome: Outcome
    why: str

    @property
    def dispatch(self) -> bool:
        return self.outcome == "dispatch"


def gate(triage: Triage, level: Level, *, go: bool = False, refused: bool = False) -> Gate:
    """The decision for `triage` under `level`. `go`: a maintainer's `/jules go`; `refused`: the policy turned the
    brief down (secrets, personal data, other repositories), which nothing overrides."""
    verdict = f"{triage.decision.replace('_', ' ')} ({triage.confidence} confidence)"
    if refused:
        return Gate("rejected", f"triage: {verdict}; the brief was refused by the policy, which `/jules go` cannot "
                                "override")
    if go:
        return Gate("dispatch", f"a maintainer's `/jules go`; triage said {verdict}")
    if level == "manual":
        return Gate("held", f"this repository's automation level is manual; triage said {verdict}. {GO_HINT}")
    if triage.decision == "needs_info":
        return Gate("needs_info", f"triage: {verdict}. {GO_HINT}")
    if triage.decision == "reject":
        return Gate("rejected", f"triage: {verdict}. {GO_HINT}")
    if level == "full" or triage.confidence == "high":
        return Gate("dispatch", f"triage: {verdict} under the {level} automation level")
    return Gate("held", f"triage: {verdict}; the cautious automation level dispatches only high confidence on its "
                        f"own. {GO_HINT}")


def concerns(triage: Triage) -> list[str]:
    """What the triage doubted, for Jules' brief when a maintainer overrode it (empty when it had no doubt)."""
    if triage.decision == "actionable" and triage.confidence == "high":
        return []
    lines = [f"Triage said {triage.decision.replace('_', ' ')} with {triage.confidence} confidence; a maintainer "
             "asked for the change anyway."]
    if triage.rationale:
        lines.append(f"Why: {triage.rationale}")
    lines += [f"Reason: {reason}" for reason in triage.reasons]
    lines += [f"Open question: {question}" for question in triage.questions]
    return lines
