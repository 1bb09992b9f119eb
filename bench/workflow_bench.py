"""Workflow benchmarks, each a ratio against a baseline measured in the same run.

1. Dispatch latency: issue URL -> Jules session created (the flow's `session` event), against a bare 3-task Prefect
   flow on the same server (goal: <= 2x).
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
from prefect.settings import PREFECT_API_URL, temporary_settings  # noqa: E402

from agentic.testing import running_postgres, running_prefect_server  # noqa: E402
from agentic.testing.sandbox import running_sandbox  # noqa: E402


@task
async def _step(n: int) -> int:
    return n + 1


@flow(name="bare-three-tasks")
async def bare_flow() -> int:
    return await _step(await _step(await _step(0)))


def new_issue(sandbox, n: int) -> str:
    body = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation.\n\n"
            "- [ ] no trailing dash for names ending in punctuation\n- [ ] a test covers 'Hello!'")
    with sandbox.github() as gh:
        gh.headers["Authorization"] = "Bearer sim-token-alice"
        number = gh.post("/repos/acme/widgets/issues", json={"title": f"bench issue {n} {time.time()}",
                                                             "body": body}).json()["number"]
    return f"https://github.com/acme/widgets/issues/{number}"


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
            await bare_flow()  # warm both paths once
            await jules_agent_workflow(github_issue_url=new_issue(sandbox, 0))

            bare = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await bare_flow()
                bare.append(time.perf_counter() - t0)

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
    print(f"baseline: bare 3-task Prefect flow      median {b*1000:7.0f} ms")
    print(f"  ratio dispatch / bare flow = {d / b:.2f}x (goal <= 2x)")
    print(f"Jules API calls per completed session: adaptive {o:.0f} vs fixed-5s {f:.0f}")
    print(f"  ratio adaptive / fixed = {o / f:.2f}x (goal <= 0.3x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tick", type=float, default=0.6)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.tick))
