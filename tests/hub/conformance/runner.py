"""The official MCP conformance suite against our fixture server directly, through the hub's /mcp/<server>, and through
its /mcp (prefixed names, via prefix_proxy.py); each result compared with expected-failures.txt.

    python tests/hub/conformance/runner.py [--cache DIR] [--install-only] [--keep OUTDIR]

Installs node 22 (the npm package `node@22`: Debian's node 20 lacks `fs.globSync`) and the suite
(`@modelcontextprotocol/conformance@0.1.16`) with npm into the cache directory (default
~/.cache/agentic/conformance/0.1.16, never the repository), once. Then starts the fixture server, `python -m
agentic.hub` in front of it (streamable-http server `everything`) and the prefix proxy, and runs every active
scenario of the suite against the three targets. Exit 0 when every scenario passes everywhere except those listed in
expected-failures.txt (`<target> <scenario>` a line), and every listed one still fails (a stale entry is an error).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agentic.stacks.process import stop_process

SUITE = "@modelcontextprotocol/conformance@0.1.16"
NODE = "node@22"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DEFAULT_CACHE = Path.home() / ".cache" / "agentic" / "conformance" / "0.1.16"
EXPECTED = HERE / "expected-failures.txt"
SERVER = "everything"           # the fixture's name behind the hub
TARGETS = ("direct", "per-server", "aggregate")
# What the active scenarios call by name: each must reach the fixture in every target's run, else a pass there could
# be hollow (a scenario that only wants some text or `isError` passes on the hub's "Unknown tool" too).
REACHED = {f"tool {name}" for name in (
    "test_simple_text", "test_image_content", "test_audio_content", "test_embedded_resource",
    "test_multiple_content_types", "test_tool_with_logging", "test_error_handling", "test_tool_with_progress",
    "test_sampling", "test_elicitation", "test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums")} | {
    f"prompt {name}" for name in ("test_simple_prompt", "test_prompt_with_arguments",
                                  "test_prompt_with_embedded_resource", "test_prompt_with_image")}
_STAMP = re.compile(r"-\d{4}-\d{2}-\d{2}T[\d-]+Z$")   # the suite's result directories: <scenario>-<timestamp>


class SuiteUnavailable(RuntimeError):
    """npm or the network is missing: the suite cannot be installed here."""


@dataclass
class Suite:
    node: Path
    cli: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def install(cache: Path = DEFAULT_CACHE) -> Suite:
    """node 22 and the suite in `cache` (installed there by npm when missing)."""
    suite = Suite(cache / "node_modules" / "node" / "bin" / "node",
                  cache / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js")
    if not (suite.node.exists() and suite.cli.exists()):
        npm = shutil.which("npm")
        if npm is None:
            raise SuiteUnavailable("npm is not installed")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--loglevel=error",
                               SUITE, NODE], capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not (suite.node.exists() and suite.cli.exists()):
            raise SuiteUnavailable(f"npm install {SUITE} {NODE} failed: {(done.stderr or done.stdout)[-500:]}")
    version = subprocess.run([str(suite.node), "--version"], capture_output=True, text=True).stdout.strip()
    if not version.startswith("v22."):
        raise SuiteUnavailable(f"{suite.node} is {version or 'not runnable'}, not node 22")
    return suite


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the process for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:g} s") from None
            time.sleep(0.05)


@contextlib.contextmanager
def _process(args: list[str], url: str, log: Path) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(url, proc)
        yield
    finally:
        stop_process(proc, timeout=10)


@contextlib.contextmanager
def targets(workdir: Path) -> Iterator[dict[str, str]]:
    """The fixture server, the hub in front of it and the prefix proxy; yields {target: MCP URL}."""
    py = sys.executable
    fixture, hub, proxy = _free_port(), _free_port(), _free_port()
    settings = workdir / "mcp_settings.json"
    settings.write_text(json.dumps({"mcpServers": {SERVER: {
        "type": "streamable-http", "url": f"http://127.0.0.1:{fixture}/mcp"}}}))
    with contextlib.ExitStack() as stack:
        stack.enter_context(_process([py, str(HERE / "fixture_server.py"), "--port", str(fixture)],
                                     f"http://127.0.0.1:{fixture}/mcp", workdir / "fixture.log"))
        stack.enter_context(_process([py, "-m", "agentic.hub", "--port", str(hub), "--settings", str(settings),
                                      "--log-level", "warning"], f"http://127.0.0.1:{hub}/health",
                                     workdir / "hub.log"))
        _wait_connected(f"http://127.0.0.1:{hub}")
        stack.enter_context(_process([py, str(HERE / "prefix_proxy.py"), "--port", str(proxy),
                                      "--target", f"http://127.0.0.1:{hub}/mcp", "--prefix", f"{SERVER}-"],
                                     f"http://127.0.0.1:{proxy}/mcp", workdir / "proxy.log"))
        yield {"direct": f"http://127.0.0.1:{fixture}/mcp", "per-server": f"http://127.0.0.1:{hub}/mcp/{SERVER}",
               "aggregate": f"http://127.0.0.1:{proxy}/mcp"}


def _wait_connected(hub: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{hub}/api/servers/{SERVER}", timeout=5).json().get("data", {}).get("status")
        if status == "connected":
            return
        time.sleep(0.1)
    raise RuntimeError(f"the hub did not connect to the fixture server within {timeout:g} s")


def run_suite(suite: Suite, url: str, out: Path) -> dict[str, list[str]]:
    """Every active scenario against `url`: {scenario: [failed check ids]} (empty list = passed)."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(suite.node), str(suite.cli), "server", "--url", url, "--suite", "active", "-o", str(out)],
                   env=suite.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    results: dict[str, list[str]] = {}
    for checks in sorted(out.glob("server-*/checks.json")):
        scenario = _STAMP.sub("", checks.parent.name.removeprefix("server-"))
        failed = [c["id"] for c in json.loads(checks.read_text()) if c.get("status") == "FAILURE"]
        results[scenario] = failed
    return results


def expected_failures(path: Path = EXPECTED) -> set[tuple[str, str]]:
    entries = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            target, scenario = line.split()
            if target not in TARGETS:
                raise ValueError(f"{path.name}: unknown target {target!r} (one of {', '.join(TARGETS)})")
            entries.add((target, scenario))
    return entries


def reached(log: str) -> set[str]:
    """`tool <name>` / `prompt <name>` for each call the fixture server logged."""
    return {line.removeprefix("reached ") for line in log.splitlines() if line.startswith("reached ")}


@dataclass
class Report:
    results: dict[str, dict[str, list[str]]]           # target -> scenario -> failed checks
    expected: set[tuple[str, str]]
    reached: dict[str, set[str]] = field(default_factory=dict)  # target -> what reached the fixture in its run
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        scenarios = sorted({s for r in self.results.values() for s in r})
        if not scenarios:
            self.problems.append("the suite ran no scenario")
        for target, names in self.reached.items():
            for name in sorted(REACHED - names):
                self.problems.append(f"{target}: the fixture never got {name} (a pass there would be hollow)")
        for target in TARGETS:
            got = self.results.get(target, {})
            for scenario in scenarios:
                failed = scenario not in got or bool(got[scenario])
                listed = (target, scenario) in self.expected
                if failed and not listed:
                    checks = ", ".join(got.get(scenario) or ["not run"])
                    self.problems.append(f"{target} {scenario}: failed ({checks})")
                elif listed and not failed:
                    self.problems.append(f"{target} {scenario}: passes now: remove it from {EXPECTED.name}")

    def passed(self, target: str) -> int:
        return sum(1 for failed in self.results.get(target, {}).values() if not failed)

    def summary(self) -> str:
        total = len({s for r in self.results.values() for s in r})
        lines = [f"{target:>10}: {self.passed(target)}/{total} scenarios pass" for target in TARGETS]
        lines += [f"  !! {p}" for p in self.problems]
        return "\n".join(lines)


def run(cache: Path = DEFAULT_CACHE, keep: Path | None = None) -> Report:
    suite = install(cache)
    with tempfile.TemporaryDirectory(prefix="mcp-conformance-") as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        fixture_log = workdir / "fixture.log"
        results, seen = {}, {}
        with targets(workdir) as urls:
            for target, url in urls.items():
                before = fixture_log.stat().st_size
                results[target] = run_suite(suite, url, workdir / target)
                with open(fixture_log, "rb") as log:
                    log.seek(before)
                    seen[target] = reached(log.read().decode("utf-8", "replace"))
    return Report(results, expected_failures(), seen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("AGENTIC_CONFORMANCE_CACHE",
                                                                           DEFAULT_CACHE)))
    parser.add_argument("--install-only", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the suite's check files and the logs in this directory")
    args = parser.parse_args()
    try:
        if args.install_only:
            install(args.cache)
            print(f"conformance suite ready in {args.cache}")
            return 0
        started = time.monotonic()
        report = run(args.cache, args.keep)
    except SuiteUnavailable as exc:
        print(f"conformance suite unavailable: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    print(f"({time.monotonic() - started:.1f} s)")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
