"""Latency a tool call gains by going through the hub, vs calling the same MCP server directly (issue #4), and
`tools/list` of 250 tools through the hub side by side with real mcphub (issue #14).

    .venv/bin/python bench/hub_latency.py [--calls 1000] [--list-calls 300] [--progress-calls 200]
        [--only calls|list|progress] [--mcphub-dir DIR | env MCPHUB_DIR] [--baseline-rev REV] [--json]

Calls: one run starts a FastMCP streamable-HTTP upstream, the hub (`python -m agentic.hub`) with that upstream and
a FastMCP stdio upstream, and times `tools/call echo` with the `mcp` SDK client (one session per target, as an
agent holds one): direct HTTP vs hub->HTTP, direct stdio vs hub->stdio -> added ms and ratio.
Goal: <= +2 ms at p50, p99 <= 2x direct.

Lists: hubs that each hold 5 stdio servers x 50 tools (250 tools) — this tree's hub, the hub of `--baseline-rev`
(its `agentic/` taken from git, run from a temporary folder) and real mcphub (a built checkout of samanhappy/mcphub,
`node dist/index.js`; bench/README.md) — get one tools/list each in turn, so machine load hits all alike. Three
views: the `mcp` SDK client (what an agent sees; its own parsing of 250 tools is in it), a raw JSON-RPC POST on one
keep-alive httpx connection (the server's share and the wire), and the CPU the hub process itself spent per
request (from /proc: the view least moved by other processes). Goal: ours <= 1.0x mcphub.

Progress (issue #25): the conformance fixture server (streamable HTTP) sends 5 progress notifications per call, each
carrying the wall-clock time it was sent; the `mcp` SDK client measures when each arrives, calling the server directly
and through the hub's /mcp/<server> in turn -> the latency a relayed notification gains.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tarfile
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
# tools/list upstreams: plain definitions (name, description, inputSchema: what mcphub ae3fe1c keeps, so both hubs
# list the same bytes) or FastMCP's full ones (+ title, outputSchema, _meta: ours passes them on, mcphub drops them).
LIST_UPSTREAMS = {"plain": str(ROOT / "tests" / "hub" / "listing_upstream.py"), "fastmcp": UPSTREAM}


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


def start_hub(settings: dict, port: int, tmp: Path, source: Path = ROOT) -> subprocess.Popen:
    """`python -m agentic.hub` run from `source`: its folder comes first on sys.path, so its `agentic` is the one."""
    path = tmp / f"settings-{port}.json"
    path.write_text(json.dumps(settings))
    proc = subprocess.Popen([PY, "-m", "agentic.hub", "--port", str(port), "--settings", str(path),
                             "--log-level", "warning"], cwd=source, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait_http(f"http://127.0.0.1:{port}/health")
    return proc


async def run_calls(calls: int, procs: list[subprocess.Popen], tmp: Path) -> dict:
    up_port, hub_port = free_port(), free_port()
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
    results: dict = {}
    async with http_session(upstream_url) as direct, http_session(hub + "/mcp") as via_hub:
        results["http"] = await time_pair(direct, "echo", via_hub, "h-echo", calls)
    async with stdio_session() as direct, http_session(hub + "/mcp") as via_hub:
        results["stdio"] = await time_pair(direct, "echo", via_hub, "s-echo", calls)
    return results


# -- progress notifications relayed (#25) ------------------------------------------------------------------------
FIXTURE = str(ROOT / "tests" / "hub" / "conformance" / "fixture_server.py")
PROGRESS_PER_CALL = 5


async def time_progress(session: ClientSession, n: int) -> list[float]:
    """ms from the upstream sending each progress notification to this client receiving it (same machine clock)."""
    delays: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        delays.append((time.time() - float(message or "nan")) * 1000)

    for _ in range(n):
        result = await session.call_tool("test_progress_stamps", {"count": PROGRESS_PER_CALL},
                                         progress_callback=on_progress)
        assert not result.is_error, result
    return delays


async def run_progress(calls: int, procs: list[subprocess.Popen], tmp: Path) -> dict:
    up_port, hub_port = free_port(), free_port()
    procs.append(subprocess.Popen([PY, FIXTURE, "--port", str(up_port), "--test-tools"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    upstream_url = f"http://127.0.0.1:{up_port}/mcp"
    _wait_http(upstream_url)
    procs.append(start_hub({"mcpServers": {"fx": {"type": "streamable-http", "url": upstream_url}}}, hub_port, tmp))
    hub = f"http://127.0.0.1:{hub_port}"
    _wait_connected(hub, ["fx"])
    direct_all: list[float] = []
    hub_all: list[float] = []
    async with http_session(upstream_url) as direct, http_session(hub + "/mcp/fx") as via_hub:
        await time_progress(direct, 20)
        await time_progress(via_hub, 20)
        for _ in range(calls // 10):  # alternated in blocks of 10 calls, so load hits both series alike
            direct_all += await time_progress(direct, 10)
            hub_all += await time_progress(via_hub, 10)
    return {"progress": (direct_all, hub_all)}


def report_progress(results: dict, summary: dict) -> None:
    direct, hub = results["progress"]
    dp50, hp50, dp99, hp99 = pct(direct, 50), pct(hub, 50), pct(direct, 99), pct(hub, 99)
    summary["progress"] = {"direct_p50": dp50, "hub_p50": hp50, "added_p50": hp50 - dp50, "direct_p99": dp99,
                           "hub_p99": hp99, "notifications": len(hub)}
    print(f"\nprogress notification latency, upstream send -> client receive, {len(hub)} notifications per target "
          f"({PROGRESS_PER_CALL} a call), streamable-HTTP upstream, /mcp/<server> (ms)")
    print(f"{'':10} {'direct p50':>10} {'hub p50':>8} {'added':>7} | {'direct p99':>10} {'hub p99':>8}")
    print(f"{'progress':10} {dp50:10.2f} {hp50:8.2f} {hp50 - dp50:+7.2f} | {dp99:10.2f} {hp99:8.2f}")


# -- tools/list of 250 tools, side by side (#14) ----------------------------------------------------------------
LIST_SERVERS, LIST_EXTRA = 5, 47  # + echo, add, fail = 50 tools per server, 250 in all
LIST_TOTAL = LIST_SERVERS * (LIST_EXTRA + 3)
HANDSHAKE = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "hub-bench", "version": "1"}}}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def extract_rev(rev: str, tmp: Path) -> Path:
    """`agentic/` as of git revision `rev`, in a folder of its own: the baseline hub is run from there."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "agentic"],
                         capture_output=True, check=False)
    if tar.returncode:
        raise SystemExit(f"--baseline-rev {rev}: git archive failed: {tar.stderr.decode().strip()}")
    dest = tmp / f"baseline-{rev}"
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def _rpc_result(response: httpx.Response) -> dict:
    """The JSON-RPC result of a response: a JSON body (our hub) or the SSE `data:` event (mcphub)."""
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    return json.loads(text)["result"]


class RawSession:
    """One MCP session driven with plain httpx POSTs on one keep-alive connection: the time is the server's and
    the wire's, without the SDK client validating 250 tool models."""

    def __init__(self, client: httpx.AsyncClient | httpx.Client, url: str) -> None:
        self.client, self.url, self.headers, self.next_id = client, url, dict(MCP_HEADERS), 0

    def _opened(self, response: httpx.Response) -> dict:
        self.headers["mcp-session-id"] = response.headers["mcp-session-id"]
        self.headers["mcp-protocol-version"] = HANDSHAKE["params"]["protocolVersion"]
        return {"jsonrpc": "2.0", "method": "notifications/initialized"}

    def _list(self) -> dict:
        self.next_id += 1
        return {"jsonrpc": "2.0", "id": self.next_id, "method": "tools/list"}

    async def open(self) -> RawSession:
        initialized = self._opened(await self.client.post(self.url, json=HANDSHAKE, headers=self.headers))
        await self.client.post(self.url, json=initialized, headers=self.headers)
        return self

    async def list_tools(self) -> httpx.Response:
        response = await self.client.post(self.url, json=self._list(), headers=self.headers)
        return response.raise_for_status()

    def count_tools(self) -> int:
        """Blocking: open the session and count the listed tools (readiness probe)."""
        initialized = self._opened(self.client.post(self.url, json=HANDSHAKE, headers=self.headers))
        self.client.post(self.url, json=initialized, headers=self.headers)
        return len(_rpc_result(self.client.post(self.url, json=self._list(), headers=self.headers))["tools"])


def list_settings(content: str) -> dict:
    return {"mcpServers": {f"srv{i}": {"type": "stdio", "command": PY, "args": [
        LIST_UPSTREAMS[content], *(["stdio"] if content == "fastmcp" else []), "--tools", str(LIST_EXTRA)]}
        for i in range(LIST_SERVERS)}}


def start_mcphub(mcphub_dir: Path, port: int, tmp: Path, content: str) -> subprocess.Popen:
    """Real mcphub with the same 5 x 50 stdio servers. It reads mcp_settings.json from its working directory,
    opens /mcp once every server is connected and fetches their tool lists after that: wait for all 250."""
    cwd = tmp / f"mcphub-{port}"
    cwd.mkdir()
    servers = {name: {"command": config["command"], "args": config["args"]}  # mcphub ae3fe1c: no `type` for stdio
               for name, config in list_settings(content)["mcpServers"].items()}
    (cwd / "mcp_settings.json").write_text(json.dumps({"users": [], "mcpServers": servers}))
    # Own process group: its stdio children go with it at the end, whatever node does on SIGTERM.
    proc = subprocess.Popen(["node", str(mcphub_dir / "dist" / "index.js")], cwd=cwd,
                            env={**os.environ, "PORT": str(port)}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mcphub exited with {proc.returncode}: is {mcphub_dir}/dist built? (bench/README.md)")
        try:
            with httpx.Client(timeout=10) as client:
                if RawSession(client, url).count_tools() == LIST_TOTAL:
                    return proc
        except (httpx.HTTPError, ValueError, KeyError, StopIteration):
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"mcphub did not list {LIST_TOTAL} tools within 120 s")


def cpu_ms(pid: int) -> float | None:
    """CPU time (user + system) the process itself has used, from /proc; None where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def time_lists(targets: dict[str, str], pids: dict[str, int], n: int) -> dict:
    """tools/list on each target in turn, `n` rounds per view: {"sdk"|"raw": {target: [ms]}, "cpu": {target: ms
    per request}, "count": {target: tools}}."""
    out: dict = {"sdk": {t: [] for t in targets}, "raw": {t: [] for t in targets}, "cpu": {}, "count": {},
                 "bytes": {}}
    async with contextlib.AsyncExitStack() as stack:
        sessions = {t: await stack.enter_async_context(http_session(url)) for t, url in targets.items()}
        for t, session in sessions.items():
            out["count"][t] = len((await session.list_tools()).tools)
        for _ in range(min(20, n)):
            for session in sessions.values():
                await session.list_tools()
        for _ in range(n):
            for t, session in sessions.items():
                t0 = time.perf_counter()
                await session.list_tools()
                out["sdk"][t].append((time.perf_counter() - t0) * 1000)
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        raws = {t: await RawSession(client, url).open() for t, url in targets.items()}
        for t, raw in raws.items():
            response = await raw.list_tools()
            out["bytes"][t] = len(response.content)
            listed = len(_rpc_result(response)["tools"])
            assert listed == out["count"][t], f"{t}: {listed} tools raw, {out['count'][t]} through the SDK"
        before = {t: cpu_ms(pids[t]) for t in targets}
        for _ in range(n):
            for t, raw in raws.items():
                t0 = time.perf_counter()
                await raw.list_tools()
                out["raw"][t].append((time.perf_counter() - t0) * 1000)
        for t in targets:
            start, end = before[t], cpu_ms(pids[t])
            out["cpu"][t] = (end - start) / n if start is not None and end is not None else None
    return out


async def run_lists(content: str, n: int, mcphub_dir: Path | None, baseline_rev: str | None,
                    procs: list[subprocess.Popen], tmp: Path) -> dict:
    settings = list_settings(content)
    targets: dict[str, str] = {}
    pids: dict[str, int] = {}
    sources = {"hub": ROOT}
    if baseline_rev:
        sources[f"hub@{baseline_rev}"] = extract_rev(baseline_rev, tmp)
    for label, source in sources.items():
        port = free_port()
        proc = start_hub(settings, port, tmp, source)
        procs.append(proc)
        _wait_connected(f"http://127.0.0.1:{port}", list(settings["mcpServers"]))
        targets[label], pids[label] = f"http://127.0.0.1:{port}/mcp", proc.pid
    if mcphub_dir is not None:
        port = free_port()
        proc = start_mcphub(mcphub_dir, port, tmp, content)
        procs.append(proc)
        targets["mcphub"], pids["mcphub"] = f"http://127.0.0.1:{port}/mcp", proc.pid
    try:
        results = await time_lists(targets, pids, n)
    finally:
        stop_all(procs)  # before the next content's hubs start: 2 cores
        procs.clear()
    if content == "fastmcp":
        # For scale: one stdio server holding as many tools, listed directly (the SDK client parses the same 250).
        async with stdio_session("--tools", str(LIST_TOTAL - 3)) as direct:
            results["direct"] = await time_list(direct, min(n, 100))
    return results


def stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.args[0] == "node":  # mcphub: its stdio children, should node have left any behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)


async def run(args: argparse.Namespace) -> dict:
    procs: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    try:
        results: dict = {}
        if args.only in (None, "calls"):
            results.update(await run_calls(args.calls, procs, tmp))
        if args.only in (None, "progress"):
            results.update(await run_progress(args.progress_calls, procs, tmp))
        if args.only in (None, "list"):
            results["list"] = {content: await run_lists(content, args.list_calls, args.mcphub_dir, args.baseline_rev,
                                                        procs, tmp)
                               for content in (["plain", "fastmcp"] if args.list_content == "both"
                                               else [args.list_content])}
        return results
    finally:
        stop_all(procs)


def report_calls(results: dict, calls: int, summary: dict) -> None:
    print(f"tool call latency, {calls}+ calls each, mcp SDK client, one session per target (ms)")
    print(f"{'upstream':10} {'direct p50':>10} {'hub p50':>8} {'added':>7} {'ratio':>6} | "
          f"{'direct p99':>10} {'hub p99':>8} {'p99 ratio':>9}")
    for kind in ("http", "stdio"):
        direct, hub = results[kind]
        dp50, hp50, dp99, hp99 = pct(direct, 50), pct(hub, 50), pct(direct, 99), pct(hub, 99)
        summary[kind] = {"direct_p50": dp50, "hub_p50": hp50, "added_p50": hp50 - dp50, "direct_p99": dp99,
                         "hub_p99": hp99, "p99_ratio": hp99 / dp99}
        print(f"{kind:10} {dp50:10.2f} {hp50:8.2f} {hp50 - dp50:+7.2f} {hp50 / dp50:6.2f} | "
              f"{dp99:10.2f} {hp99:8.2f} {hp99 / dp99:9.2f}")


LIST_CONTENT_NOTE = {
    "plain": "plain tool definitions (name, description, inputSchema): both hubs list the same bytes",
    "fastmcp": "FastMCP definitions (+ title, outputSchema, _meta): ours lists them all, mcphub ae3fe1c drops "
               "those three fields, so its listing is about half as many bytes for the client to parse",
}


def report_lists(content: str, lists: dict, n: int, summary: dict) -> None:
    targets = list(lists["count"])
    print(f"\ntools/list [{content}], {LIST_SERVERS} stdio servers x {LIST_TOTAL // LIST_SERVERS} tools per hub, "
          f"{n} requests per target and view, targets in turn\n  {LIST_CONTENT_NOTE[content]}\n"
          "  (ms; sdk = mcp SDK client, raw = httpx POST, cpu = the hub process's own CPU per request)")
    print(f"{'target':22} {'tools':>5} {'kB':>5} | {'sdk p50':>8} {'sdk p99':>8} | {'raw p50':>8} {'raw p99':>8} | "
          f"{'cpu':>6}")
    table = {}
    for t in targets:
        row = {"tools": lists["count"][t], "bytes": lists["bytes"][t],
               "sdk_p50": pct(lists["sdk"][t], 50), "sdk_p99": pct(lists["sdk"][t], 99),
               "raw_p50": pct(lists["raw"][t], 50), "raw_p99": pct(lists["raw"][t], 99), "cpu_ms": lists["cpu"][t]}
        table[t] = row
        cpu = f"{row['cpu_ms']:6.2f}" if row["cpu_ms"] is not None else "     -"
        print(f"{t:22} {row['tools']:5d} {row['bytes'] / 1000:5.0f} | {row['sdk_p50']:8.2f} {row['sdk_p99']:8.2f} | "
              f"{row['raw_p50']:8.2f} {row['raw_p99']:8.2f} | {cpu}")
    if "direct" in lists:
        direct, direct_count = lists["direct"]
        print(f"{'direct (1 stdio server)':22} {direct_count:5d} {'':5} | "
              f"{pct(direct, 50):8.2f} {pct(direct, 99):8.2f} |")
    summary[f"tools_list_{content}"] = table
    for other in [t for t in targets if t != "hub"]:
        ours, theirs = table["hub"], table[other]
        ratios = {k: ours[k] / theirs[k] for k in ("sdk_p50", "sdk_p99", "raw_p50", "raw_p99", "cpu_ms")
                  if ours[k] is not None and theirs[k]}
        table[f"hub_vs_{other}"] = ratios
        shown = ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items())
        verdict = ""
        if other == "mcphub" and content == "plain":
            verdict = " — goal <= 1.0x " + ("met" if ratios["sdk_p50"] <= 1.0 else "NOT met") + " (sdk p50)"
        print(f"  hub / {other}: {shown}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="tools/call per series")
    parser.add_argument("--list-calls", type=int, default=300, help="tools/list per target and view")
    parser.add_argument("--progress-calls", type=int, default=200, help="calls of 5 progress notifications per "
                                                                         "target")
    parser.add_argument("--only", choices=["calls", "list", "progress"], help="run one part")
    parser.add_argument("--list-content", choices=["plain", "fastmcp", "both"], default="both",
                        help="tool definitions the tools/list upstreams serve")
    parser.add_argument("--mcphub-dir", type=Path, default=os.environ.get("MCPHUB_DIR") or None,
                        help="a built samanhappy/mcphub checkout (dist/index.js); env MCPHUB_DIR")
    parser.add_argument("--baseline-rev", help="also list through the hub of this git revision (e.g. the one "
                                               "before a change)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.mcphub_dir is not None and not (args.mcphub_dir / "dist" / "index.js").is_file():
        parser.error(f"--mcphub-dir {args.mcphub_dir}: no dist/index.js there (build it: bench/README.md)")
    results = anyio.run(run, args)
    summary: dict = {}
    if "http" in results:
        report_calls(results, args.calls, summary)
    if "progress" in results:
        report_progress(results, summary)
    for content, lists in results.get("list", {}).items():
        report_lists(content, lists, args.list_calls, summary)
    if "list" in results and args.mcphub_dir is None:
        print("real mcphub: skipped — no checkout given (--mcphub-dir or env MCPHUB_DIR; how to build one: "
              "bench/README.md); our own figures above")
    if args.json:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
