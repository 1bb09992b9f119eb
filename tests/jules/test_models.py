"""The typed Jules models and `agentic/jules.schema.json` describe the same resources (one schema, many users)."""

from __future__ import annotations

import pytest

from agentic.jules import models
from agentic.jules.states import DOCUMENTED
from agentic.schemas import load_jules_openapi

COMPONENTS = load_jules_openapi()["components"]["schemas"]
MODELS = [models.Session, models.Activity, models.Plan, models.PlanStep, models.PullRequest, models.SessionOutput,
          models.ChangeSet, models.GitPatch, models.Artifact]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_field_is_a_schema_property(model):
    properties = set(COMPONENTS[model.__name__]["properties"])
    aliases = {field.alias or name for name, field in model.model_fields.items()}
    assert aliases <= properties, aliases - properties
    # and nothing the schema requires is missing from the model
    assert set(COMPONENTS[model.__name__].get("required", [])) <= aliases


def test_documented_states_are_the_schema_enum():
    assert tuple(COMPONENTS["State"]["enum"]) == DOCUMENTED


def test_unknown_fields_are_kept():
    session = models.Session.model_validate({"id": "1", "state": "RUNNING", "newLiveField": {"x": 1}})
    assert session.model_extra == {"newLiveField": {"x": 1}} and session.state == "RUNNING"
