"""`python -m agentic.sandbox.jules` as a real process on a free port: the CLI, YAML config, uvicorn lifespan,
and a dropped connection over a real socket."""

from __future__ import annotations

import time

import httpx
import pytest

from agentic.sandbox.jules import JulesSimConfig, SourceConfig
from agentic.sandbox.jules.testing import SpecConformance, running_jules_simulator


@pytest.fixture(scope="module")
def jules_url():
    config = JulesSimConfig(tick_seconds=0.02, api_keys=["process-key"],
                            sources=[SourceConfig(owner="octo-org", repo="hello-world")],
                            github_url="http://127.0.0.1:9")  # nothing listens: PR sessions must fail cleanly
    with running_jules_simulator(config) as url:
        yield url


def test_process_serves_a_session_to_completion(jules_url):
    conformance = SpecConformance()
    with httpx.Client(base_url=jules_url, headers={"X-Goog-Api-Key": "process-key"},
                      event_hooks={"response": [lambda r: (r.read(), conformance.validate(r))]}) as client:
        session = client.post("/sessions", json={"prompt": "Add a README section"}).json()
        deadline = time.monotonic() + 10
        while (state := client.get(f"/sessions/{session['id']}").json()["state"]) not in {"COMPLETED", "FAILED"}:
            assert time.monotonic() < deadline, f"still {state}"
            time.sleep(0.02)
        assert state == "COMPLETED"
        assert client.get("/sources").json()["sources"][0]["name"] == "sources/github/octo-org/hello-world"
        assert client.get("/sessions", headers={"X-Goog-Api-Key": "sandbox-jules-key"}).status_code == 403


def test_process_fails_a_pr_session_when_github_is_unreachable(jules_url):
    with httpx.Client(base_url=jules_url, headers={"X-Goog-Api-Key": "process-key"}) as client:
        session = client.post("/sessions", json={
            "prompt": "Fix it", "automationMode": "AUTO_CREATE_PR",
            "sourceContext": {"source": "sources/github/octo-org/hello-world"}}).json()
        deadline = time.monotonic() + 10
        while (current := client.get(f"/sessions/{session['id']}").json())["state"] not in {"COMPLETED", "FAILED"}:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert current["state"] == "FAILED"
        last = client.get(f"/sessions/{session['id']}/activities").json()["activities"][-1]
        assert "ConnectError" in last["sessionFailed"]["reason"]


def test_process_drops_the_connection_when_told(jules_url):
    admin = jules_url.removesuffix("/v1alpha")
    httpx.post(f"{admin}/_sim/faults", json={"kind": "drop", "count": 1, "route": "listSessions"}).raise_for_status()
    with httpx.Client(base_url=jules_url, headers={"X-Goog-Api-Key": "process-key"}) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/sessions")
        assert client.get("/sessions").status_code == 200
    counts = httpx.get(f"{admin}/_sim/requests").json()
    assert counts["byOperation"]["listSessions"] >= 2
