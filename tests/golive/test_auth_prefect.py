"""Prefect's basic auth on the stack: unauthenticated API calls get 401, and a full sandbox run still completes
(the flow, deploy.py's preload and the Secret block reads all carry PREFECT_API_AUTH_STRING)."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.golive.conftest import AUTH

pytestmark = pytest.mark.slow


def test_unauthenticated_api_calls_are_refused(golive):
    api = golive.api_url
    assert httpx.post(f"{api}/flows/filter", json={}, timeout=10).status_code == 401
    wrong = base64.b64encode(b"admin:wrong").decode()
    assert httpx.post(f"{api}/flows/filter", json={}, headers={"Authorization": f"Basic {wrong}"},
                      timeout=10).status_code == 401
    assert httpx.get(f"{api}/block_types/slug/secret/block_documents/name/github-token",
                     params={"include_secrets": "true"}, timeout=10).status_code == 401
    right = base64.b64encode(AUTH.encode()).decode()
    assert httpx.post(f"{api}/flows/filter", json={}, headers={"Authorization": f"Basic {right}"},
                      timeout=10).status_code == 200
    assert httpx.get(f"{api}/health", timeout=10).status_code == 200  # probes stay open


def test_a_full_sandbox_run_completes_with_auth_on(golive):
    result = golive.result
    assert not isinstance(result, BaseException), result
    assert result.status == "completed" and result.pull_request_url and result.session_id, result


def test_the_stack_passes_the_server_auth_string_through_only_when_set(tmp_path):
    """Prefect turns auth on for any value, an empty one too: unset must mean absent, not ''."""
    from pathlib import Path

    from agentic.stacks.compose import Stack, default_stacks_dir
    from agentic.stacks.native import plan, runner_variables

    root = Path(__file__).resolve().parents[2]

    def prefect_env(**environ: str) -> dict[str, str]:
        services = plan(Stack.load(["prefect"], default_stacks_dir()), runner_variables(tmp_path, root, environ))
        return next(s.env for s in services if s.name == "prefect")

    assert "PREFECT_SERVER_API_AUTH_STRING" not in prefect_env()
    assert "PREFECT_SERVER_API_AUTH_STRING" not in prefect_env(PREFECT_SERVER_API_AUTH_STRING="")
    assert prefect_env(PREFECT_SERVER_API_AUTH_STRING="a:b")["PREFECT_SERVER_API_AUTH_STRING"] == "a:b"
