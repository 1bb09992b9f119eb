"""Memory while waiting: N issues waiting on plan approval, suspended (no process) vs paused in-process (issue #11).

    .venv/bin/python bench/wait_memory.py [--issues 50] [--json]

One run starts the whole stack as child processes: PostgreSQL, a Prefect server, the sandbox (GitHub and Jules
simulators, the MCP hub with the product's servers) and a `flow.serve` process of the product's deployment
(tests/triggers/serve_deployment.py) with REQUIRE_PLAN_APPROVAL=true. Then, in the same run:
  1. SUSPEND_WAITS=true : N runs (one issue each) until every one is Suspended and its process has exited;
  2. SUSPEND_WAITS=false: N runs until every one is Paused in-process (each holds its spawned process);
started in waves of `--wave` (5), each wave waited for before the next, in both phases.
Whole-stack RSS (psutil: this process and all its descendants) is read before and after each phase, once the
stack is quiet; the figure is the added MiB per waiting issue. Goal: suspended ≤ 10 MiB per issue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import httpx  # noqa: E402
import psutil  # noqa: E402

from agentic.stacks.process import start_process, stop_process  # noqa: E402
from agentic.testing import environment, running_postgres, running_prefect_server  # noqa: E402
from agentic.testing.sandbox import FAST_WORKFLOW, running_sandbox  # noqa: E402

SERVE = ROOT / "tests" / "triggers" / "serve_deployment.py"
BODY = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
        "slugify('Hello!') returns 'hello-' instead of 'hello'.\n\n- [ ] no trailing dash\n- [ ] a test covers it")


def stack_rss() -> int:
    total = 0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def run_children(server) -> int:
    count = 0
    for child in psutil.Process(server.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                count += 1
    return count


async def quiet_rss(seconds: float = 3.0) -> int:
    await asyncio.sleep(seconds)  # let exiting processes go and servers settle
    return stack_rss()


async def all_waiting(client, ids: list, wanted: str, server, started: float, name: str) -> None:
    """Until every run in `ids` is in state `wanted` (and, for suspended runs, no run process is left)."""
    while True:
        states = [(await client.read_flow_run(i)).state for i in ids]
        bad = [s for s in states if s.type.value in ("FAILED", "CRASHED", "COMPLETED", "CANCELLED")]
        if bad:
            raise RuntimeError(f"{name}: {len(bad)} run(s) ended instead of waiting: {bad[0]}")
        waiting = sum(1 for s in states if s.name == wanted)
        if waiting == len(ids) and (server is None or run_children(server) == 0):
            return
        if time.monotonic() - started > 2400:
            raise RuntimeError(f"{name}: only {waiting}/{len(ids)} waiting after 40 min")
        await asyncio.sleep(2)


async def phase(sandbox, api_url: str, work: Path, name: str, suspend: bool, issues: int, wave: int) -> dict:
    from prefect import get_client
    from prefect.deployments import arun_deployment

    env = {**sandbox.env, "PREFECT_API_URL": api_url, "REQUIRE_PLAN_APPROVAL": "true",
           "SUSPEND_WAITS": "true" if suspend else "false", "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "AGENTIC_ENV_FILE": str(work / "none.env"), "PLAN_APPROVAL_TIMEOUT_SECONDS": "3600",
           "SESSION_TIMEOUT_SECONDS": "3600", "STUCK_AFTER_SECONDS": "3600", "CLAIM_STALE_SECONDS": "600",
           # The product's default cadence: an in-process pause's comment watcher polls GitHub every interval
           # (the fast test cadence, 0.2 s, spends the simulator's 5000 requests/hour in minutes at N waits).
           "POLL_MIN_SECONDS": "5", "POLL_MAX_SECONDS": "60"}
    server = start_process([sys.executable, str(SERVE), name, str(wave if suspend else issues + wave)], env=env,
                           log_path=work / f"{name}.log")
    try:
        async with get_client() as client:
            for _ in range(300):
                with contextlib.suppress(Exception):
                    await client.read_deployment_by_name(f"jules-agent-workflow/{name}")
                    break
                await asyncio.sleep(0.5)
            before = await quiet_rss()
            ids: list = []
            started, wanted = time.monotonic(), "Suspended" if suspend else "Paused"
            # Waves of `wave` runs, each waited for before the next: N flow processes importing at once on two
            # cores would measure the scheduler, not the waits. Same procedure in both modes.
            with httpx.Client(base_url=sandbox.github_url, headers={"Authorization": "Bearer sim-token-alice"},
                              timeout=30) as gh:
                while len(ids) < issues:
                    for i in range(len(ids), min(issues, len(ids) + wave)):
                        issue = gh.post("/repos/acme/widgets/issues", json={
                            "title": f"slugify() trailing dash [{name}-{i}]", "body": BODY}).json()
                        run = await arun_deployment(f"jules-agent-workflow/{name}", timeout=0, parameters={
                            "github_issue_url": issue["html_url"]})
                        ids.append(run.id)
                    await all_waiting(client, ids, wanted, server if suspend else None, started, name)
            held = run_children(server)
            after = await quiet_rss()
            for i in ids:  # leave nothing waiting for the next phase
                with contextlib.suppress(Exception):
                    await client.delete_flow_run(i)
        return {"mode": "suspended" if suspend else "paused in-process", "issues": issues,
                "run_processes_held": held, "rss_before_mib": before / 2**20, "rss_after_mib": after / 2**20,
                "added_mib_per_issue": (after - before) / 2**20 / issues,
                "seconds_to_all_waiting": time.monotonic() - started}
    finally:
        stop_process(server)


async def measure(sandbox, api_url: str, issues: int, wave: int) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="bench-wait-"))
    pid = os.getpid()
    results = []
    for suspend in (True, False):
        results.append(await phase(sandbox, api_url, work, f"wait-{'suspend' if suspend else 'pause'}-{pid}",
                                   suspend, issues, wave))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # a phase's figure survives a later failure
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=50)
    parser.add_argument("--wave", type=int, default=5, help="runs started together (then waited for)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with running_postgres() as pg, running_prefect_server(pg.url) as api_url, \
            environment({"PREFECT_API_URL": api_url}):
        from prefect.settings import PREFECT_API_URL, temporary_settings

        # Jules' plan quota (15 at once by default in the simulator) would queue most runs: lifted here, so every
        # run reaches its plan; the queue is another benchmark (bench/batch_quota.py).
        unlimited = Path(tempfile.mkdtemp(prefix="bench-wait-jules-")) / "jules.yaml"
        unlimited.write_text("quota: {max_concurrent_sessions: null, max_sessions_per_day: null}\n")
        with temporary_settings({PREFECT_API_URL: api_url}), \
                running_sandbox(tick_seconds=0.1, jules_profile="live", jules_config=unlimited,
                                **FAST_WORKFLOW) as sandbox:
            suspended, paused = asyncio.run(measure(sandbox, api_url, args.issues, args.wave))
    result = {"suspended": suspended, "paused": paused,
              "ratio": paused["added_mib_per_issue"] / max(suspended["added_mib_per_issue"], 0.01)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for row in (suspended, paused):
            print(f"{row['issues']} issues {row['mode']:<18}: +{row['added_mib_per_issue']:6.1f} MiB RSS per issue "
                  f"(stack {row['rss_before_mib']:.0f} → {row['rss_after_mib']:.0f} MiB; "
                  f"{row['run_processes_held']} run processes held; all waiting after "
                  f"{row['seconds_to_all_waiting']:.0f} s)")
        print(f"in-process pauses cost {result['ratio']:.1f}× the suspended runs (goal: suspended ≤ 10 MiB/issue)")
    return 0 if suspended["added_mib_per_issue"] <= 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
