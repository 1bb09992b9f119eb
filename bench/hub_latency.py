"""Latency a tool call gains by going through the hub, vs calling the same MCP server directly (issue #4).

    .venv/bin/python bench/hub_latency.py [--calls 400] [--json]

One run starts: a FastMCP streamable-HTTP upstream, the hub (`python -m agentic.hub`) with that upstream and a
FastMCP stdio upstream, and measures with the `mcp` SDK client (one session per target, as an agent holds one):
  - tools/call `echo` p50/p99: direct HTTP vs hub->HTTP, direct stdio vs hub->stdio  -> added ms and ratio;
  - tools/list through the hub with 5 stdio servers x 50 tools (250 tools).
Goal: <= +2 ms at p50, p99 <= 2x direct.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import httpx  # noqa: E402
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from agentic.stacks.ports import free_port  # noqa: E402

PY = sys.executable
UPSTREAM = str(ROOT / "tests" / "hub" / "upstream_server.py")


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _wait_connected(base: str, names: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        servers = {s["name"]: s for s in httpx.get(base + "/api/servers", timeout=5).json()["data"]}
        if all(servers.get(n, {}).get("status") == "connected" for n in names):
            return
        time.sleep(0.2)
    raise RuntimeError(f"hub servers not connected: {servers}")


@asynccontextmanager
async def http_session(url: str):
    async with streamable_http_client(url) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        yield s


@asynccontextmanager
async def stdio_session(*extra: str):
    params = StdioServerParameters(command=PY, args=[UPSTREAM, "stdio", *extra])
    with open(os.devnull, "w") as devnull:
        async with stdio_client(params, errlog=devnull) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            yield s


async def time_pair(direct: ClientSession, direct_tool: str, hub: ClientSession, hub_tool: str,
                    n: int) -> tuple[list[float], list[float]]:
    """Alternate direct and hub calls so machine noise (other processes, GC) hits both series alike."""
    for _ in range(min(50, n)):
        await direct.call_tool(direct_tool, {"text": "hello"})
        await hub.call_tool(hub_tool, {"text": "hello"})
    d, h = [], []
    for _ in range(n):
        for session, tool, out in ((direct, direct_tool, d), (hub, hub_tool, h)):
            t0 = time.perf_counter()
            result = await session.call_tool(tool, {"text": "hello"})
            out.append((time.perf_counter() - t0) * 1000)
            assert not result.is_error, result
    return d, h


async def time_list(session: ClientSession, n: int) -> tuple[list[float], int]:
    count = len((await session.list_tools()).tools)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await session.list_tools()
        out.append((time.perf_counter() - t0) * 1000)
    return out, count


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def start_hub(settings: dict, port: int, tmp: Path) -> subprocess.Popen:
    path = tmp / f"settings-{port}.json"
    path.write_text(json.dumps(settings))
    proc = subprocess.Popen([PY, "-m", "agentic.hub", "--port", str(port), "--settings", str(path),
                             "--log-level", "warning"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_http(f"http://127.0.0.1:{port}/health")
    return proc


async def run(calls: int) -> dict:
    procs: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    try:
        up_port, hub_port, hub2_port = free_port(), free_port(), free_port()
        procs.append(subprocess.Popen([PY, UPSTREAM, "http", "--port", str(up_port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        upstream_url = f"http://127.0.0.1:{up_port}/mcp"
        _wait_http(upstream_url)
        procs.append(start_hub({"mcpServers": {
            "h": {"type": "streamable-http", "url": upstream_url},
            "s": {"type": "stdio", "command": PY, "args": [UPSTREAM, "stdio"]},
        }}, hub_port, tmp))
        hub = f"http://127.0.0.1:{hub_port}"
        _wait_connected(hub, ["h", "s"])

        results: dict = {"calls": calls}
        async with http_session(upstream_url) as direct, http_session(hub + "/mcp") as via_hub:
            results["http"] = await time_pair(direct, "echo", via_hub, "h-echo", calls)
        async with stdio_session() as direct, http_session(hub + "/mcp") as via_hub:
            results["stdio"] = await time_pair(direct, "echo", via_hub, "s-echo", calls)

        # tools/list over 5 servers x 50 tools.
        procs.append(start_hub({"mcpServers": {
            f"srv{i}": {"type": "stdio", "command": PY, "args": [UPSTREAM, "stdio", "--tools", "47"]}
            for i in range(5)}}, hub2_port, tmp))
        _wait_connected(f"http://127.0.0.1:{hub2_port}", [f"srv{i}" for i in range(5)])
        async with http_session(f"http://127.0.0.1:{hub2_port}/mcp") as via_hub:
            listing, count = await time_list(via_hub, 100)
        # Baseline: one server holding as many tools (250), so the client's own parsing cost is the same.
        async with stdio_session("--tools", "247") as direct:
            direct_list, direct_count = await time_list(direct, 100)
        results["list"] = (listing, count, direct_list, direct_count)
        return results
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = anyio.run(run, args.calls)
    summary = {}
    print(f"tool call latency, {args.calls}+ calls each, mcp SDK client, one session per target (ms)")
    print(f"{'upstream':10} {'direct p50':>10} {'hub p50':>8} {'added':>7} {'ratio':>6} | "
          f"{'direct p99':>10} {'hub p99':>8} {'p99 ratio':>9}")
    for kind in ("http", "stdio"):
        direct, hub = results[kind]
        dp50, hp50, dp99, hp99 = pct(direct, 50), pct(hub, 50), pct(direct, 99), pct(hub, 99)
        summary[kind] = {"direct_p50": dp50, "hub_p50": hp50, "added_p50": hp50 - dp50, "direct_p99": dp99,
                         "hub_p99": hp99, "p99_ratio": hp99 / dp99}
        print(f"{kind:10} {dp50:10.2f} {hp50:8.2f} {hp50 - dp50:+7.2f} {hp50 / dp50:6.2f} | "
              f"{dp99:10.2f} {hp99:8.2f} {hp99 / dp99:9.2f}")
    listing, count, direct_list, direct_count = results["list"]
    summary["tools_list"] = {"tools": count, "hub_p50": pct(listing, 50), "hub_p99": pct(listing, 99),
                             "direct_p50": pct(direct_list, 50), "direct_p99": pct(direct_list, 99)}
    print(f"tools/list, hub with 5 servers x 50 tools = {count} tools: p50 {pct(listing, 50):.2f} ms, "
          f"p99 {pct(listing, 99):.2f} ms | direct, one stdio server with {direct_count} tools: "
          f"p50 {pct(direct_list, 50):.2f} ms, p99 {pct(direct_list, 99):.2f} ms "
          f"(ratio p50 {pct(listing, 50) / pct(direct_list, 50):.2f})")
    if args.json:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
