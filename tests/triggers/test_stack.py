"""`stacks/triggers/`: the native description the runner reads, and the receiver started by `ibt stacks run`."""

from __future__ import annotations

import httpx
import pytest
import yaml

from agentic.errors import StackError
from agentic.stacks.compose import Stack
from agentic.stacks.native import plan, runner_variables
from agentic.testing import running_native_stack
from tests.stacks.conftest import ROOT, STACKS


def test_native_plan_and_compose_agree(tmp_path):
    variables = runner_variables(tmp_path, ROOT, environ={"IBT_PORT_TRIGGERS": "13200", "IBT_PORT_PREFECT": "14200"})
    [service] = plan(Stack.load(["triggers"], STACKS), variables)
    assert service.argv[1:] == ["-m", "agentic.triggers", "--host", "127.0.0.1", "--port", "13200"]
    assert service.port == 13200 and service.health == "http://127.0.0.1:13200/health"
    assert service.env["PREFECT_API_URL"] == "http://127.0.0.1:14200/api"
    for variant in ("triggers.local.yaml", "triggers.yaml"):
        svc = yaml.safe_load((STACKS / "triggers" / variant).read_text())["services"]["triggers"]
        assert svc["restart"] == "unless-stopped" and svc["command"][1:3] == ["-m", "agentic.triggers"]
        assert svc["environment"]["PREFECT_API_URL"] == "http://prefect:4200/api"


@pytest.mark.slow
def test_ibt_starts_the_receiver_only_with_a_secret(tmp_path):
    env = {"AGENTIC_ENV_FILE": str(tmp_path / "none.env"), "GITHUB_WEBHOOK_SECRET": "stack-secret"}
    with running_native_stack("triggers", env=env, timeout=60) as stack:
        assert httpx.get(stack.url("triggers") + "/health").json() == {"status": "ok", "signatures": "checked"}
        unsigned = httpx.post(stack.url("triggers") + "/api/github/webhooks", content=b"{}",
                              headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "1"})
        assert unsigned.status_code == 401
    with pytest.raises(StackError, match="GITHUB_WEBHOOK_SECRET is not set"):
        with running_native_stack("triggers", env={**env, "GITHUB_WEBHOOK_SECRET": ""}, timeout=60):
            pass
