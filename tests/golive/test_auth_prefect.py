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
