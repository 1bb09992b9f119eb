"""The local model's CPU threads on quiet and on busy cores: `--threads 1` against the default (every core).

    .venv/bin/python bench/llm_threads.py [--busy 0,2] [--threads 0,1] [--model qwen2.5-coder-1.5b]

For each number of busy-looping processes beside it (`--busy`) and each thread count, it starts `python -m
agentic.llm serve --threads N` on a free port (the weights must be cached: `python -m agentic.llm fetch`), sends one
chat completion (a ~1,200-token prompt, at most 150 answer tokens, temperature 0) and prints the request's wall time
and the server's CPU time over it, then each thread count's ratios to the first one of the same load.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentic.stacks.ports import free_port  # noqa: E402

PROMPT_SOURCE = ROOT / "agentic" / "workflows" / "owned.py"


def _burn() -> None:
    while True:
        pass


def measure(model: str, threads: int) -> tuple[float, float, int]:
    """(wall seconds, server CPU seconds, prompt tokens) of one completion."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "agentic.llm", "serve", "--model", model, "--port", str(port),
                               "--threads", str(threads)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise SystemExit(f"the server exited ({server.returncode}); are the weights cached?")
            time.sleep(1)
        process = psutil.Process(server.pid)
        cpu0, t0 = sum(process.cpu_times()[:2]), time.monotonic()
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=900, json={
            "model": model, "temperature": 0, "max_tokens": 150,
            "messages": [{"role": "user", "content": "Summarise this code in detail:\n"
                          + PROMPT_SOURCE.read_text()[:5000]}]}).raise_for_status().json()
        return time.monotonic() - t0, sum(process.cpu_times()[:2]) - cpu0, answer["usage"]["prompt_tokens"]
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", default="0,2", help="busy-looping processes beside the server, per round")
    parser.add_argument("--threads", default="0,1", help="thread counts (0: every core); the first is the baseline")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    args = parser.parse_args()
    for busy in [int(b) for b in args.busy.split(",")]:
        burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(busy)]
        for burner in burners:
            burner.start()
        try:
            rows = [(threads, *measure(args.model, threads)) for threads in map(int, args.threads.split(","))]
        finally:
            for burner in burners:
                burner.terminate()
        base_wall, base_cpu = rows[0][1], rows[0][2]
        for threads, wall, cpu, tokens in rows:
            print(f"busy={busy} threads={threads or 'all'}: {wall:6.1f} s wall ({wall / base_wall:.2f}x), "
                  f"{cpu:6.1f} CPU-s ({cpu / base_cpu:.2f}x), prompt {tokens} tokens", flush=True)


if __name__ == "__main__":
    main()
