"""Workflow benchmarks, each a ratio against a baseline measured in the same run.

1. Dispatch latency: issue URL -> Jules session created (the flow's `session` event), against a bare 3-task Prefect
   flow on the same server and hub (read issue -> create session -> comment, no triage, claims or status comment),
   measured to the same point (goal: <= 2x).
2. Jules API calls per completed session: the flow's adaptive polling against a fixed 5 s poll of getSession +
   listActivities (what a plain integration does), on the same simulated sessions (goal: <= 0.3x).
   Time is scaled: the simulator moves one step per `tick` (a real Jules session moves about once a minute), and both
   pollers' intervals are scaled by tick/60 so the comparison is the one a 10-minute real session would see.

    python bench/workflow_bench.py [--runs 5] [--tick 0.6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import httpx  # noqa: E402
from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.settings import PREFECT_API_URL, temporary_settings  # noqa: E402

from agentic.testing import running_postgres, running_prefect_server  # noqa: E402
from agentic.testing.sandbox import running_sandbox  # noqa: E402


@task(cache_policy=NO_CACHE)
async def _read_issue(hub, number: int) -> dict:
    return await hub.call("github-rest-getIssue", {"owner": "acme", "repo": "widgets", "issue_number": number})


@task(cache_policy=NO_CACHE)
async def _create_session(hub, issue: dict) -> dict:
    return await hub.call("jules-createSession", {"body": {
        "prompt": f"{issue['title']}\n\n{issue['body']}", "automationMode": "AUTO_CREATE_PR",
        "sourceContext": {"source": "sources/github/acme/widgets", "githubRepoContext": {"startingBranch": "main"}}}})


@task(cache_policy=NO_CACHE)
async def _comment(hub, number: int, session: dict) -> None:
    await hub.call("github-rest-createIssueComment", {"owner": "acme", "repo": "widgets", "issue_number": number,
                                                      "body": {"body": f"Jules session {session['url']}"}})


MARKS: dict[str, float] = {}


@flow(name="bare-three-tasks")
async def bare_flow(hub_mcp_url: str, number: int) -> None:
    """The minimal integration: read the issue, create the session, comment — three tasks through the same hub."""
    from agentic.hub.mcp_client import connect_hub

    async with connect_hub(hub_mcp_url) as hub:
        session = await _create_session(hub, await _read_issue(hub, number))
        MARKS["session"] = time.perf_counter()
        await _comment(hub, number, session)


def new_issue(sandbox, n: int) -> str:  # noqa: D103
    body = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation.\n\n"
            "- [ ] no trailing dash for names ending in punctuation\n- [ ] a test covers 'Hello!'")
    with sandbox.github() as gh:
        gh.headers["Authorization"] = "Bearer sim-token-alice"
        number = gh.post("/repos/acme/widgets/issues", json={"title": f"bench issue {n} {time.time()}",
                                                             "body": body}).json()["number"]
    return f"https://github.com/acme/widgets/issues/{number}"


def _number(url: str) -> int:
    return int(url.rsplit("/", 1)[-1])


def jules_calls(sandbox) -> dict:
    return httpx.get(sandbox.jules_url.removesuffix("/v1alpha") + "/_sim/requests").json()


async def fixed_polling(sandbox, interval: float) -> int:
    """The baseline integration: create, then getSession + listActivities every `interval` until terminal."""
    with sandbox.jules() as jules:
        body = {"prompt": f"baseline session {time.time()}", "automationMode": "AUTO_CREATE_PR",
                "sourceContext": {"source": "sources/github/acme/widgets",
                                  "githubRepoContext": {"startingBranch": "main"}}}
        session = jules.post("/sessions", json=body).json()
        calls = 1
        while True:
            await asyncio.sleep(interval)
            state = jules.get(f"/sessions/{session['id']}").json()["state"]
            jules.get(f"/sessions/{session['id']}/activities", params={"pageSize": 100})
            calls += 2
            if state in ("COMPLETED", "FAILED"):
                return calls


async def main(runs: int, tick: float) -> None:
    from agentic.workflows import progress
    from agentic.workflows.jules_workflow import jules_agent_workflow

    scale = tick / 60
    with running_postgres() as pg, running_prefect_server(pg.url) as api, temporary_settings({PREFECT_API_URL: api}):
        with running_sandbox(tick_seconds=tick, poll_min_seconds=str(2 * scale), poll_max_seconds=str(60 * scale),
                             stuck_after_seconds="600") as sandbox:
            os.environ.update(sandbox.env)
            hub_mcp = sandbox.settings.hub_mcp_url
            await bare_flow(hub_mcp, _number(new_issue(sandbox, 0)))  # warm both paths once
            await jules_agent_workflow(github_issue_url=new_issue(sandbox, 0))

            bare = []
            for _ in range(runs):
                number = _number(new_issue(sandbox, 0))
                t0 = time.perf_counter()
                await bare_flow(hub_mcp, number)
                bare.append(MARKS["session"] - t0)

            dispatch, ours = [], []
            for n in range(1, runs + 1):
                marks: dict[str, float] = {}
                listener = lambda event, marks=marks: event.get("event") == "session" and marks.setdefault(  # noqa: E731
                    "session", time.perf_counter())
                progress.add_listener(listener)
                before = jules_calls(sandbox)["total"]
                t0 = time.perf_counter()
                result = await jules_agent_workflow(github_issue_url=new_issue(sandbox, n))
                progress.remove_listener(listener)
                assert result.status == "completed", result
                dispatch.append(marks["session"] - t0)
                ours.append(jules_calls(sandbox)["total"] - before)

            fixed = [await fixed_polling(sandbox, 5 * scale) for _ in range(runs)]

    b, d = statistics.median(bare), statistics.median(dispatch)
    o, f = statistics.median(ours), statistics.median(fixed)
    print(f"runs={runs} tick={tick}s (1 tick ~ 1 real minute; pollers scaled by {scale:.4f})")
    print(f"dispatch: issue URL -> session created  median {d*1000:7.0f} ms")
    print(f"baseline: bare 3-task flow (same hub)  median {b*1000:7.0f} ms")
    print(f"  ratio dispatch / bare flow = {d / b:.2f}x (goal <= 2x)")
    print(f"Jules API calls per completed session: adaptive {o:.0f} vs fixed-5s {f:.0f}")
    print(f"  ratio adaptive / fixed = {o / f:.2f}x (goal <= 0.3x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tick", type=float, default=0.6)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.tick))
