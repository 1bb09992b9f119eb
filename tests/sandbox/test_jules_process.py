"""`python -m agentic.sandbox.jules` as a real process on a free port: the CLI, YAML config, uvicorn lifespan,
a dropped connection over a real socket, the profile from env/flag/harness."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from agentic.sandbox.jules import JulesSimConfig, SourceConfig
from agentic.sandbox.jules.testing import SpecConformance, running_jules_simulator
from agentic.stacks.ports import free_port
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until


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


def test_process_loses_the_answer_after_creating_the_session(jules_url):
    """Over a real socket: createSession succeeds, then the connection closes before the client reads the answer."""
    admin = jules_url.removesuffix("/v1alpha")
    httpx.post(f"{admin}/_sim/faults", json={"kind": "drop", "route": "createSession", "phase": "after"}
               ).raise_for_status()
    with httpx.Client(base_url=jules_url, headers={"X-Goog-Api-Key": "process-key"}) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/sessions", json={"prompt": "Lost answer over TCP [m-42]"})
        listed = client.get("/sessions").json()["sessions"]
        assert [s["prompt"] for s in listed].count("Lost answer over TCP [m-42]") == 1


@pytest.mark.parametrize("how", ["env", "flag"])
def test_profile_from_the_environment_or_the_flag(tmp_path, how):
    port = free_port()
    argv = [sys.executable, "-m", "agentic.sandbox.jules", "--port", str(port), "--tick-seconds", "0.02"]
    env = {"JULES_SIM_PROFILE": "live"} if how == "env" else {"JULES_SIM_PROFILE": "documented"}
    if how == "flag":
        argv += ["--profile", "live"]  # the flag wins over the environment
    log = tmp_path / "jules.log"
    proc = start_process(argv, env=env, log_path=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(base + "/_sim/health"), timeout=30, what="Jules simulator", proc=proc, log_path=log)
        assert httpx.get(base + "/_sim/health").json()["profile"] == "live"
        with httpx.Client(base_url=base + "/v1alpha", headers={"X-Goog-Api-Key": "sandbox-jules-key"}) as client:
            session = client.post("/sessions", json={"prompt": "Add a README section"}).json()
            early = client.get(f"/sessions/{session['id']}/activities")
            assert early.status_code == 404 and early.json()["error"]["status"] == "NOT_FOUND"  # live (d)
    finally:
        stop_process(proc)


def test_bad_profile_is_refused_by_the_cli(tmp_path):
    done = subprocess.run([sys.executable, "-m", "agentic.sandbox.jules", "--profile", "observed"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "documented, live" in done.stderr
    config = tmp_path / "bad.yaml"
    config.write_text("live: {outputs: sometimes}\n")
    done = subprocess.run([sys.executable, "-m", "agentic.sandbox.jules", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: invalid Jules simulator config")
    assert "live.outputs" in done.stderr and "Traceback" not in done.stderr


def test_running_sandbox_selects_the_jules_profile():
    from agentic.testing.sandbox import running_sandbox

    with running_sandbox(preload=False, jules_profile="live") as sandbox:
        assert httpx.get(sandbox.jules_url.removesuffix("/v1alpha") + "/_sim/health").json()["profile"] == "live"
        with sandbox.jules() as jules:
            session = jules.post("/sessions", json={"prompt": "Fix it"}).json()
            assert jules.get(f"/sessions/{session['id']}/activities").status_code == 404
