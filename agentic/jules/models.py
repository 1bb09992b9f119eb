"""Typed Jules API resources, checked against `agentic/jules.schema.json` (tests/jules/test_models.py verifies that
every field here is a property of the schema's component of the same name, so the two cannot drift).

Unknown fields are kept (`extra="allow"`): the live API adds fields before the docs do. States stay raw strings;
`agentic.jules.states.canonical` interprets them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class JulesModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class PlanStep(JulesModel):
    id: str = ""
    title: str = ""
    description: str = ""
    index: int | None = None


class Plan(JulesModel):
    id: str = ""
    steps: list[PlanStep] = Field(default_factory=list)
    create_time: str | None = None


class GitPatch(JulesModel):
    unidiff_patch: str = ""
    base_commit_id: str = ""
    suggested_commit_message: str = ""


class ChangeSet(JulesModel):
    source: str = ""
    git_patch: GitPatch | None = None


class PullRequest(JulesModel):
    url: str
    title: str = ""
    description: str = ""
    base_ref: str = ""
    head_ref: str = ""


class SessionOutput(JulesModel):
    pull_request: PullRequest | None = None
    change_set: ChangeSet | None = None


class Artifact(JulesModel):
    change_set: ChangeSet | None = None
    media: dict[str, Any] | None = None
    bash_output: dict[str, Any] | None = None


class Session(JulesModel):
    name: str = ""
    id: str
    prompt: str = ""
    title: str = ""
    state: str | None = None
    url: str | None = None
    create_time: str | None = None
    update_time: str | None = None
    require_plan_approval: bool | None = None
    automation_mode: str | None = None
    source_context: dict[str, Any] | None = None
    outputs: list[SessionOutput] = Field(default_factory=list)
    archived: bool | None = None

    @property
    def pull_request(self) -> PullRequest | None:
        return next((o.pull_request for o in self.outputs if o.pull_request), None)

    @property
    def change_set(self) -> ChangeSet | None:
        return next((o.change_set for o in reversed(self.outputs) if o.change_set), None)


# The activity kinds of the API (one per activity, a oneof): field name -> wire name.
ACTIVITY_KINDS = {"agent_messaged": "agentMessaged", "user_messaged": "userMessaged",
                  "plan_generated": "planGenerated", "plan_approved": "planApproved",
                  "progress_updated": "progressUpdated", "session_completed": "sessionCompleted",
                  "session_failed": "sessionFailed"}


class Activity(JulesModel):
    name: str = ""
    id: str
    description: str = ""
    create_time: str = ""
    originator: str = ""
    artifacts: list[Artifact] = Field(default_factory=list)
    agent_messaged: dict[str, Any] | None = None
    user_messaged: dict[str, Any] | None = None
    plan_generated: dict[str, Any] | None = None
    plan_approved: dict[str, Any] | None = None
    progress_updated: dict[str, Any] | None = None
    session_completed: dict[str, Any] | None = None
    session_failed: dict[str, Any] | None = None

    @property
    def kind(self) -> str | None:
        """The wire name of this activity's kind: a documented one, else the first unknown object-valued field (a
        kind the API added since, e.g. `sessionArchived`), else None."""
        known = next((wire for field_name, wire in ACTIVITY_KINDS.items() if getattr(self, field_name) is not None),
                     None)
        return known or next((k for k, v in (self.model_extra or {}).items() if isinstance(v, dict)), None)

    @property
    def plan(self) -> Plan | None:
        raw = (self.plan_generated or {}).get("plan")
        if not isinstance(raw, dict):
            return None
        plan = Plan.model_validate(raw)
        # A plan without an id still needs a stable identity: its activity's.
        return plan if plan.id else plan.model_copy(update={"id": f"activity-{self.id}"})

    @property
    def agent_message(self) -> str | None:
        return (self.agent_messaged or {}).get("agentMessage")

    @property
    def user_message(self) -> str | None:
        return (self.user_messaged or {}).get("userMessage")

    @property
    def change_set(self) -> ChangeSet | None:
        return next((a.change_set for a in reversed(self.artifacts) if a.change_set), None)
