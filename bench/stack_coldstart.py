"""Cold start and memory of the native stack, against a bare `prefect server start` measured in the same run.

    .venv/bin/python bench/stack_coldstart.py [--stacks prefect mcp-hub] [--repeat 1]

For each round, in a fresh state directory on free ports:
  * ibt cold   `ibt stacks run <stacks> --native`: initdb + migrations + every service healthy (Docker-less first run)
  * ibt warm   the same command again on the existing state (what every later start costs)
  * baseline   `python -m prefect server start` on its default SQLite, fresh PREFECT_HOME, until /api/health answers
Memory is summed over each process tree once healthy (psutil): RSS (what the issue's goal counts; shared pages
counted once per process) and PSS (shared pages split between processes: the honest total).
Goal (issue #3): full stack healthy in <= 15 s, <= 600 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentic.stacks.ports import free_port  # noqa: E402

GOAL_SECONDS, GOAL_MB = 15.0, 600.0


def tree_memory(pid: int) -> tuple[float, float]:
    """(RSS MB, PSS MB) summed over `pid` and all its descendants."""
    rss = pss = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
            rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return rss / 2**20, pss / 2**20


def wait_healthy(check, proc: subprocess.Popen, timeout: float = 180) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        if proc.poll() is not None:
            raise SystemExit(f"process exited with {proc.returncode} before becoming healthy")
        time.sleep(0.05)
    raise SystemExit("not healthy in time")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def run_ibt(stacks: list[str], state: Path, env: dict[str, str]) -> dict:
    run_file = state / "run" / "stack.json"

    def healthy() -> bool:
        try:
            return json.loads(run_file.read_text())["status"] == "healthy"
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return False

    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "agentic.cli", "stacks", "run", *stacks, "--native",
                             "--state-dir", str(state)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_healthy(healthy, proc)
        seconds = time.monotonic() - t0
        time.sleep(2)  # let background services settle before measuring memory
        rss, pss = tree_memory(proc.pid)
    finally:
        stop(proc)
    return {"seconds": seconds, "rss_mb": rss, "pss_mb": pss}


def run_baseline(env: dict[str, str]) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    port = free_port()
    env = {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_healthy(healthy, proc)
        seconds = time.monotonic() - t0
        time.sleep(2)
        rss, pss = tree_memory(proc.pid)
    finally:
        stop(proc)
        shutil.rmtree(home, ignore_errors=True)
    return {"seconds": seconds, "rss_mb": rss, "pss_mb": pss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", default=["prefect", "mcp-hub"])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    results: dict[str, list[dict]] = {"ibt cold": [], "ibt warm": [], "baseline": []}
    for _ in range(args.repeat):
        state = Path(tempfile.mkdtemp(prefix="bench-ibt-"))
        os.chmod(state, 0o755)  # PostgreSQL runs as `postgres` when we are root
        names = ["postgres", "prefect", "mcp-hub", "github-sim", "jules-sim"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("IBT_")}
        env.update({f"IBT_PORT_{n.upper().replace('-', '_')}": str(free_port()) for n in names})
        try:
            results["baseline"].append(run_baseline(env))
            results["ibt cold"].append(run_ibt(args.stacks, state, env))
            results["ibt warm"].append(run_ibt(args.stacks, state, env))
        finally:
            shutil.rmtree(state, ignore_errors=True)

    summary = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in results.items()}
    base = summary["baseline"]
    print(f"stack: {' '.join(args.stacks)} (native)   rounds: {args.repeat}   cpus: {os.cpu_count()}")
    print(f"{'':10} {'healthy s':>10} {'RSS MB':>9} {'PSS MB':>9} {'time x':>8} {'RSS x':>7}")
    for name, row in summary.items():
        print(f"{name:10} {row['seconds']:10.1f} {row['rss_mb']:9.0f} {row['pss_mb']:9.0f} "
              f"{row['seconds'] / base['seconds']:8.2f} {row['rss_mb'] / base['rss_mb']:7.2f}")
    cold = summary["ibt cold"]
    ok = cold["seconds"] <= GOAL_SECONDS and cold["rss_mb"] <= GOAL_MB
    print(f"goal (cold <= {GOAL_SECONDS:.0f} s, RSS <= {GOAL_MB:.0f} MB): {'met' if ok else 'NOT met'}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "stack_coldstart.json").write_text(json.dumps({"stacks": args.stacks, "runs": results,
                                                          "median": summary}, indent=2))


if __name__ == "__main__":
    main()
