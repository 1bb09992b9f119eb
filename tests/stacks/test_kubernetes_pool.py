"""The Kubernetes work pool on paper (stacks/kubernetes/work-pool.json): no cluster runs here, so the base job
template is rendered the way Prefect's worker renders it (prefect.utilities.templating.apply_values, the variables'
defaults plus a flow run's command and env) and the Job it yields is validated against Kubernetes' own JSON schema
(kubernetes-validate, strict: an unknown or misspelt field fails)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from prefect.utilities.templating import apply_values

TEMPLATE = json.loads((Path(__file__).resolve().parents[2] / "stacks/kubernetes/work-pool.json").read_text())
K8S_VERSION = "1.37.0"


def _job(**overrides) -> dict:
    values = {name: spec.get("default") for name, spec in TEMPLATE["variables"]["properties"].items()}
    values |= {"command": ["prefect", "flow-run", "execute"],
               "env": [*values["env"], {"name": "PREFECT__FLOW_RUN_ID", "value": "0b1c"}], **overrides}
    return apply_values(TEMPLATE["job_configuration"], values)["job_manifest"]


def test_the_variables_are_a_json_schema_and_their_defaults_fit_it():
    schema = TEMPLATE["variables"]
    jsonschema.Draft202012Validator.check_schema(schema)
    defaults = {name: spec["default"] for name, spec in schema["properties"].items()}
    jsonschema.validate(defaults, schema)


def test_the_rendered_job_is_a_valid_kubernetes_job():
    job = _job()
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ibt-app:local" and container["args"] == ["prefect", "flow-run", "execute"]
    assert container["envFrom"] == [{"secretRef": {"name": "jules-agent-env", "optional": False}}], "keys: a Secret"
    assert {"name": "PREFECT_RUNNER_HEARTBEAT_FREQUENCY", "value": "30"} in container["env"], "crash recovery"
    assert job["spec"]["backoffLimit"] == 0, "a failed pod is not retried by Kubernetes: Prefect's recovery decides"


def test_a_broken_job_fails_the_validation():
    job = _job()
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 7
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    job = _job()
    job["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"  # a misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)
