"""Waits without held processes, end to end: the product's deployment served by a real `flow.serve` process, the
sandbox's GitHub simulator delivering signed webhooks (a hook created with `POST /repos/{o}/{r}/hooks`) to the real
receiver, Prefect on PostgreSQL. The run suspends on the plan and its process exits; a
read-only user's `/approve` changes nothing; the maintainer's resumes it, and the run restarts from the top, finds
its session and plan again and approves it. Jules then asks a question: the run suspends again, the reporter's
reply resumes it, the restarted run relays the reply and reaches the PR (one session, one status comment)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from agentic.stacks.ports import free_port
from agentic.stacks.process import start_process, stop_process
from agentic.triggers import WEBHOOK_PATH, ReceiverConfig, Rules, create_app
from tests.triggers.test_receiver_e2e import serving

pytestmark = pytest.mark.slow
SECRET = "suspend-e2e-secret"
SERVE = Path(__file__).with_name("serve_deployment.py")
BODY = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
        "slugify('Hello!') returns 'hello-' instead of 'hello'.\n\n"
        "- [ ] no trailing dash for names ending in punctuation\n- [ ] a test covers 'Hello!'")


def as_user(login: str) -> dict[str, str]:
    return {"Authorization": f"Bearer sim-token-{login}"}


async def wait_for(what: str, check, timeout: float = 90.0, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := await check():
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def hooked(sandbox, receiver_url: str):
    """A repository webhook on the sandbox's simulator pointing at the receiver, deleted afterwards."""
    async with httpx.AsyncClient(base_url=sandbox.github_url, timeout=10) as gh:
        created = await gh.post("/repos/acme/widgets/hooks", headers=as_user("octo-maintainer"), json={
            "name": "web", "active": True, "events": ["issues", "issue_comment"],
            "config": {"url": receiver_url + WEBHOOK_PATH, "content_type": "json", "secret": SECRET}})
        assert created.status_code == 201, created.text
        try:
            yield gh
        finally:
            await gh.delete(f"/repos/acme/widgets/hooks/{created.json()['id']}", headers=as_user("octo-maintainer"))


async def last_answer(gh: httpx.AsyncClient, event: str, after: int) -> dict | None:
    deliveries = (await gh.get("/_sim/state")).json()["webhook_deliveries"][after:]
    done = [d for d in deliveries if d["event"] == event and (d.get("response") or d.get("error"))]
    return {"code": done[-1]["status_code"], **json.loads(done[-1]["response"])} if done else None


async def deliveries_count(gh: httpx.AsyncClient) -> int:
    return len((await gh.get("/_sim/state")).json()["webhook_deliveries"])


def run_processes(server: psutil.Process) -> list[psutil.Process]:
    """The flow-run processes the serve process holds (each run is a spawned child; multiprocessing's resource
    tracker is not a run)."""
    runs = []
    for child in server.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                runs.append(child)
    return runs


async def test_waits_hold_no_process_and_webhooks_resume_them_to_the_pr(sandbox, prefect_api_url,
                                                                               tmp_path):
    from prefect import get_client

    name = f"suspend-e2e-{os.getpid()}"
    env = {**os.environ, **sandbox.env, "PREFECT_API_URL": prefect_api_url, "REQUIRE_PLAN_APPROVAL": "true",
           "PREFECT_RUNNER_POLL_FREQUENCY": "1", "AGENTIC_ENV_FILE": str(tmp_path / "none.env")}
    server = start_process([sys.executable, str(SERVE), name], env=env, log_path=tmp_path / "serve.log")
    port = free_port()
    config = ReceiverConfig(api_url=sandbox.github_url, token="sim-token-agent", secret=SECRET,
                            rules=Rules(), deployment=f"jules-agent-workflow/{name}")
    try:
        async with get_client() as client:
            await wait_for("the deployment", lambda: _deployment(client, name), timeout=60)
        async with serving(create_app(config), port), hooked(sandbox, f"http://127.0.0.1:{port}") as gh:
            issue = (await gh.post("/repos/acme/widgets/issues", headers=as_user("alice"), json={
                "title": f"slugify() leaves a trailing dash [s{os.getpid()}]",
                "body": BODY})).json()
            number, seen = issue["number"], await deliveries_count(gh)
            # This issue's session asks a question after the plan (the Jules simulator's test hook).
            httpx.post(sandbox.jules_url.removesuffix("/v1alpha") + "/_sim/scenarios", timeout=10,
                       json={"match": f"#{number}@", "script": "question"}).raise_for_status()
            await gh.post(f"/repos/acme/widgets/issues/{number}/labels", json={"labels": ["jules"]},
                          headers=as_user("alice"))
            started = await wait_for("the label delivery", lambda: last_answer(gh, "issues", seen))
            assert started["status"] == "accepted", started
            run_id, proc = started["flow_run_id"], psutil.Process(server.pid)

            async with get_client() as client:
                async def state(wanted: str):
                    run = await client.read_flow_run(run_id)
                    assert run.state.type.value not in ("FAILED", "CRASHED"), (run.state, _log(tmp_path))
                    return run.state if run.state.name == wanted else None

                try:
                    suspended = await wait_for("the plan suspension", lambda: state("Suspended"), timeout=120)
                except AssertionError:
                    raise AssertionError(f"{(await client.read_flow_run(run_id)).state}\n{_log(tmp_path)}") from None
                assert suspended.state_details.pause_key.startswith("plan-")
                await wait_for("the run's process to exit", lambda: _none(run_processes(proc)), timeout=20)

                # A read-only user's /approve changes nothing; the maintainer's resumes the run.
                seen = await deliveries_count(gh)
                await gh.post(f"/repos/acme/widgets/issues/{number}/comments", json={"body": "/approve"},
                              headers=as_user("mallory"))
                refused = await wait_for("mallory's delivery", lambda: last_answer(gh, "issue_comment", seen))
                assert (refused["status"], refused["reason"]) == (
                    "ignored", "sender mallory has read access; write is needed to give a plan decision"), refused
                assert (await client.read_flow_run(run_id)).state.name == "Suspended"
                seen = await deliveries_count(gh)
                await gh.post(f"/repos/acme/widgets/issues/{number}/comments", json={"body": "/approve"},
                              headers=as_user("alice"))
                resumed = await wait_for("alice's delivery", lambda: last_answer(gh, "issue_comment", seen))
                assert (resumed["status"], resumed["flow_run_id"]) == ("resumed", run_id), resumed

                # Jules asks; the run suspends again, its new process exits too; the reporter's reply resumes it.
                try:
                    asked = await wait_for("the question suspension", lambda: _question(client, run_id), timeout=120)
                except AssertionError:
                    raise AssertionError(f"{(await client.read_flow_run(run_id)).state}\n{_log(tmp_path)}") from None
                await wait_for("the run's process to exit", lambda: _none(run_processes(proc)), timeout=20)
                seen = await deliveries_count(gh)
                await gh.post(f"/repos/acme/widgets/issues/{number}/comments", headers=as_user("alice"),
                              json={"body": "Yes, keep the current behaviour for existing callers."})
                replied = await wait_for("the reply delivery", lambda: last_answer(gh, "issue_comment", seen))
                assert (replied["status"], replied["pause_key"]) == ("resumed", asked.state_details.pause_key)

                done = await wait_for("the run to complete", lambda: state("Completed"), timeout=120)
                assert done.is_completed()
            pulls = (await gh.get("/repos/acme/widgets/pulls", params={"state": "all", "per_page": 100},
                                  headers=as_user("alice"))).json()
            ours = [p for p in pulls if f"#{number}" in (p.get("body") or "")]
            assert len(ours) == 1, [p["title"] for p in pulls]
            comments = (await gh.get(f"/repos/acme/widgets/issues/{number}/comments",
                                     headers=as_user("alice"))).json()
            status = [c for c in comments if c["body"].startswith("<!-- jules-agent-status")]
            assert len(status) == 1 and "Pull request ready" in status[0]["body"]  # one status comment, edited
        with sandbox.jules() as jules:
            sessions = jules.get("/sessions", params={"pageSize": 100}).json().get("sessions", [])
        assert len([s for s in sessions if f"#{number}" in (s.get("title") or "") + (s.get("prompt") or "")]) == 1
    finally:
        stop_process(server)


def _log(tmp_path: Path) -> str:
    return (tmp_path / "serve.log").read_text(errors="replace")[-3000:]


async def _none(items: list) -> bool:
    return not items


async def _deployment(client, name: str):
    from prefect.exceptions import ObjectNotFound

    try:
        return await client.read_deployment_by_name(f"jules-agent-workflow/{name}")
    except ObjectNotFound:
        return None


async def _question(client, run_id: str):
    run = await client.read_flow_run(run_id)
    key = run.state.state_details.pause_key or ""
    return run.state if run.state.name == "Suspended" and key.startswith("question-") else None
