"""Batch under Jules quotas: N issues through the queue, the Jules simulator capped at C concurrent sessions and Q
per simulated day; makespan against the ideal schedule for those caps, duplicate sessions, lost issues (issue #11).

Everything is the product's path: a real Prefect server on PostgreSQL (with the queue's server settings,
session_queue.SERVER_QUEUE_ENV), the hub, the npm GitHub server, both simulators, `deploy.py` serving the deployment
with Jules' quotas applied (JULES_MAX_CONCURRENT_SESSIONS=C, JULES_SESSIONS_PER_DAY=Q, JULES_DAY_SECONDS=L), and the
`jules-batch` flow handing every labelled open issue to it. One flow run (one process) per issue.

Ideal schedule: N sessions of the measured scripted duration D (median create → COMPLETED in the simulator), at most
C at once, at most Q started in each day [kL, (k+1)L): greedy in order is optimal for equal lengths —
session i starts at max(the earliest free slot, floor(i/Q)·L). For N=2Q and ceil(Q/C)·D ≤ L that is
L + ceil((N−Q)/C)·D. The makespan is measured from the batch's start to the last run's end (every overhead in).

`--mode queue` measures the queue alone: the same three Prefect limits and the same simulator, but each run is a
probe flow (take the daily token and the session lease exactly as the product does — session_queue.session_slot —
create one Jules session, retry a 429, poll it to COMPLETED) instead of the whole product flow, so the cost of
triage and GitHub work per run (seconds of CPU each, on 2 shared cores) does not hide the queue's own behaviour.

    python bench/batch_quota.py [--mode product|queue] [--issues 200] [--concurrent 5] [--per-day 100] [--tick 2.5]
                                [--day SECONDS] [--prefetch 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import httpx  # noqa: E402
import yaml  # noqa: E402
from prefect import flow  # noqa: E402

from agentic.dispatch.session_queue import SERVER_QUEUE_ENV  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LABEL = "bench-batch"
BODY = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
        "slugify('Hello!') returns 'hello-' instead of 'hello'.\n\n- [ ] no trailing dash\n- [ ] a test covers it")


PROBE_DEPLOYMENT = "bench-queue-probe/probe"


@flow(name="bench-queue-probe")
async def probe(number: int) -> str:
    """One session through the product's queue: daily token, lease for the session's life, 429 retried."""
    from agentic.settings import get_settings
    from agentic.dispatch.session_queue import session_slot

    settings = get_settings()
    headers = {"X-Goog-Api-Key": settings.jules_api_key.get_secret_value()}
    async with httpx.AsyncClient(base_url=settings.jules_api_url, headers=headers, timeout=30) as jules, \
            session_slot(new_session=True, timeout_seconds=settings.quota_wait_seconds, poll_seconds=60):
        body = {"prompt": f"probe jules-agent:acme/widgets#{number}@x", "automationMode": "AUTO_CREATE_PR",
                "sourceContext": {"source": "sources/github/acme/widgets",
                                  "githubRepoContext": {"startingBranch": "main"}}}
        while (created := await jules.post("/sessions", json=body)).status_code == 429:
            await asyncio.sleep(settings.quota_retry_seconds)
        created.raise_for_status()
        session_id = created.json()["id"]
        while (await jules.get(f"/sessions/{session_id}")).json()["state"] not in ("COMPLETED", "FAILED"):
            await asyncio.sleep(0.5)
    return session_id


def serve_probe() -> None:
    from agentic.settings import get_settings
    from agentic.dispatch.session_queue import QuotaPlan

    plan = QuotaPlan.from_settings(get_settings())
    probe.serve(name="probe", global_limit=plan.deployment_concurrency())


def ideal_makespan(n: int, concurrent: int, per_day: int, day: float, duration: float, offset: float = 0.0) -> float:
    """The greedy schedule for equal-length sessions under both caps (optimal for equal lengths). `offset`: where
    the simulator's day 0 began relative to the batch's start (≤ 0: it started first, so day 1 comes sooner)."""
    free = [0.0] * concurrent
    end = 0.0
    for i in range(n):
        start = max(heapq.heappop(free), max(0.0, offset + (i // per_day) * day))
        heapq.heappush(free, start + duration)
        end = max(end, start + duration)
    return end


STAMPS: dict[str, float] = {}


@contextlib.contextmanager
def _stamp(name: str):
    STAMPS[name] = time.time()  # the simulator's quota day 0 begins about now (its store is made at start)
    yield


def _t(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def jules_config(path: Path, concurrent: int, per_day: int, day: float, tick: float) -> Path:
    demo = yaml.safe_load((ROOT / "agentic/sandbox/jules/demo.yaml").read_text())
    demo.update(quota={"max_concurrent_sessions": concurrent, "max_sessions_per_day": per_day, "day_seconds": day},
                tick_seconds=tick, profile="documented")
    path.write_text(yaml.safe_dump(demo))
    return path


async def _all_final(deployment_id: str, n: int, timeout: float, started: float) -> list:
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from agentic.dispatch.session_queue import read_all_flow_runs

    last = ""
    async with get_client() as client:
        while True:
            runs = await read_all_flow_runs(
                client, deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
            states: dict[str, int] = {}
            for run in runs:
                states[run.state_name or "?"] = states.get(run.state_name or "?", 0) + 1
            line = " ".join(f"{k}={v}" for k, v in sorted(states.items()))
            if line != last:
                print(f"  {time.monotonic() - started:7.1f}s {line}", flush=True)
                last = line
            if len(runs) >= n and all(r.state and r.state.is_final() for r in runs):
                return runs
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"not all runs final after {timeout:.0f}s: {line}")
            await asyncio.sleep(2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=100)
    parser.add_argument("--tick", type=float, default=2.5, help="simulator seconds per session step")
    parser.add_argument("--day", type=float, default=None, help="simulated day (s); default ceil(Q/C)·D")
    parser.add_argument("--prefetch", type=int, default=4, help="QUEUE_PREFETCH_RUNS")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--mode", choices=["product", "queue"], default="product")
    parser.add_argument("--serve-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_probe:
        serve_probe()
        return 0
    os.environ.update(SERVER_QUEUE_ENV)  # the Prefect server below inherits them (as the stack's server does)

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from agentic.stacks.process import start_process, stop_process, wait_until
    from agentic.testing import environment, running_postgres, running_prefect_server
    from agentic.testing.sandbox import FAST_WORKFLOW, running_sandbox

    n, c, q, tick = args.issues, args.concurrent, args.per_day, args.tick
    steps = 8  # the happy script, documented profile: QUEUED, PLANNING, plan, approval, 3 steps, finish (≈ ticks)
    day = args.day or -(-q // c) * steps * tick * 1.05
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    workflow = {**FAST_WORKFLOW, "quota_wait_seconds": str(4 * day + 600), "quota_retry_seconds": "1",
                "stuck_after_seconds": str(20 * tick), "claim_stale_seconds": "60",
                "session_timeout_seconds": str(60 * tick), "run_timeout_seconds": str(args.timeout),
                "jules_max_concurrent_sessions": str(c), "jules_sessions_per_day": str(q),
                "jules_day_seconds": str(day), "queue_prefetch_runs": str(args.prefetch),
                "queue_slot_poll_seconds": "5", "ci_watch": "off"}  # the CI loop is not what is measured
    print(f"batch_quota ({args.mode}): {n} issues, Jules sim {c} concurrent / {q} per day of {day:.0f}s, tick {tick}s, "
          f"prefetch {args.prefetch}", flush=True)
    with running_postgres() as pg, running_prefect_server(pg.url) as api_url, \
            temporary_settings({PREFECT_API_URL: api_url}), environment({"PREFECT_API_URL": api_url}), \
            _stamp("sim_started"), running_sandbox(tick_seconds=tick, jules_config=jules_config(work / "jules.yaml", c, q, day, tick),
                            jules_profile="documented", **workflow) as sandbox, environment(sandbox.env):
        with sandbox.github() as gh:
            for i in range(n):
                gh.headers["Authorization"] = "Bearer sim-token-alice"
                gh.post("/repos/acme/widgets/issues", json={"title": f"Batch bench issue {i}", "body": BODY,
                                                            "labels": [LABEL]}).raise_for_status()
        env = {"PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_RUNNER_PROCESS_LIMIT": str(c + args.prefetch + 2)}
        serve_log = work / "serve.log"
        if args.mode == "product":
            argv, ready = [str(ROOT / "agentic/deployment/deploy.py"), "--skip-mcp-preload"], "serving"
        else:  # the probe's limits are the product's, applied the same way deploy.py applies them
            from agentic.deployment.pools import apply_quotas
            from agentic.settings import Settings
            from agentic.dispatch.session_queue import QuotaPlan

            apply_quotas(QuotaPlan.from_settings(Settings(_env_file=None, **workflow)))
            argv, ready = [str(Path(__file__).resolve()), "--serve-probe"], "Your flow"
        serve = start_process([sys.executable, *argv], env=env, log_path=serve_log)
        try:
            wait_until(lambda: ready in serve_log.read_text(errors="replace"), timeout=180, what="serve",
                       proc=serve, log_path=serve_log)
            figures = asyncio.run(_measure(sandbox, n, c, q, day, args.timeout, args.mode))
        finally:
            stop_process(serve)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if figures["ratio"] <= 1.1 and not figures["duplicates"] and not figures["lost"] else 1


async def _launch_probes(n: int) -> dict:
    from prefect import get_client

    async with get_client() as client:
        deployment = await client.read_deployment_by_name(PROBE_DEPLOYMENT)
        created = 0
        for number in range(1, n + 1):  # the receiver's way: one idempotency key per issue
            await client.create_flow_run_from_deployment(deployment.id, parameters={"number": number},
                                                         idempotency_key=f"bench-probe-{number}")
            created += 1
    return {"queued": created}


async def _measure(sandbox, n: int, c: int, q: int, day: float, timeout: float, mode: str = "product") -> dict:
    from prefect import get_client

    from agentic.triggers.batch import batch_issues

    name = "jules-agent-workflow/jules-agent-deployment" if mode == "product" else PROBE_DEPLOYMENT
    async with get_client() as client:
        deployment = await client.read_deployment_by_name(name)
    started_wall, started = time.time(), time.monotonic()
    counts = (await batch_issues(repo="acme/widgets", label=LABEL)).counts if mode == "product" \
        else await _launch_probes(n)
    batch_seconds = time.monotonic() - started
    print(f"  handed over {counts} in {batch_seconds:.1f}s", flush=True)
    runs = await _all_final(str(deployment.id), n, timeout, started)
    end_wall = max(r.end_time.timestamp() for r in runs if r.end_time)
    root = sandbox.jules_url.removesuffix("/v1alpha")
    sessions = httpx.get(root + "/_sim/sessions", timeout=30).json()["sessions"]
    requests = httpx.get(root + "/_sim/requests", timeout=30).json()
    per_issue: dict[str, int] = {}
    for s in sessions:
        marker = (s.get("prompt") or "").split("jules-agent:acme/widgets#", 1)
        if len(marker) == 2:
            number = marker[1].split("@", 1)[0]
            per_issue[number] = per_issue.get(number, 0) + 1
    durations = [_t(s["updateTime"]) - _t(s["createTime"]) for s in sessions if s["state"] == "COMPLETED"]
    d = statistics.median(durations)
    starts = sorted(_t(s["createTime"]) for s in sessions)
    ends = [_t(s["updateTime"]) for s in sessions]
    # Highest number of sessions live at once (Jules' own view), and sessions created per simulated day.
    events = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends])
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    offset = STAMPS.get("sim_started", started_wall) - started_wall
    ideal = ideal_makespan(n, c, q, day, d, offset)
    makespan = end_wall - started_wall
    session_span = max(ends) - min(starts)
    completed = sum(1 for r in runs if r.state and r.state.is_completed())
    figures = {
        "mode": mode, "issues": n, "concurrent_cap": c, "per_day_cap": q, "day_seconds": round(day, 1),
        "session_seconds_median": round(d, 2), "sim_day0_offset_seconds": round(offset, 1), "ideal_seconds": round(ideal, 1),
        "makespan_seconds": round(makespan, 1), "ratio": round(makespan / ideal, 3),
        "session_span_seconds": round(session_span, 1), "session_span_ratio": round(session_span / ideal, 3),
        "runs_completed": completed, "runs_final_other": len(runs) - completed,
        "sessions": len(sessions), "duplicates": sum(v - 1 for v in per_issue.values() if v > 1),
        "lost": n - len([k for k, v in per_issue.items() if v >= 1]) + (len(runs) - completed),
        "peak_live_sessions": peak,
        "create_calls": requests["byOperation"].get("createSession", 0),
        "batch_handover_seconds": round(batch_seconds, 1),
    }
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
