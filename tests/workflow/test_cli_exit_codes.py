"""Exit codes a script can trust, from `ibt run`, `ibt deploy` and `python -m agentic.workflows.jules_workflow`.

A bad URL, a usage error or an invalid setting exits 2 before anything is contacted; an unreachable hub or Prefect
API exits 1 with one line. Most cases run the same command line in this process (Typer's CliRunner on `ibt`'s app,
`run_cli` for the flow's entry point) with a spy on the standard library's outgoing connections: each attempt is
recorded and refused, as a port nothing listens on would refuse it. One real process per entry point and per
promise that needs one keeps the rest honest: the exit code as a shell sees it, `ibt run`'s start-up before a bad URL
is refused, the unreachable hub and Prefect, and the runs on a real Prefect and sandbox; there a socket listener
stands in for the hub and Prefect and must see no connection. The settings file is a temporary one
(AGENTIC_ENV_FILE), never the developer's agentic/.env.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentic.cli.run import exit_code_for, exit_code_for_error, run_cli
from agentic.errors import (
    BadIssueUrl,
    ConfigError,
    HubUnavailable,
    IssueNotFound,
    JulesSessionFailed,
    SourceNotConnected,
)
from agentic.stacks.ports import free_port
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("ibt")
IBT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "agentic.cli"]
FLOW_CLI = [sys.executable, "-m", "agentic.workflows.jules_workflow"]
GOOD_URL = "https://github.com/acme/widgets/issues/1"
_PRODUCT_VARS = ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_API_KEY", "MCP_SERVER_URL", "MCP_HUB_TOKEN",
                 "GITHUB_API_URL", "GITHUB_WEB_URL", "GITHUB_WEB_HOSTS", "AGENTIC_ENV_FILE")


class Listener:
    """A TCP port that accepts and counts connections, then closes them: anything contacting it is seen."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def env(tmp_path, listener):
    """A clean environment: no agentic/.env, hub and Prefect both pointed at the listener."""
    base = {k: v for k, v in os.environ.items() if k not in _PRODUCT_VARS}
    return {**base, "AGENTIC_ENV_FILE": str(tmp_path / "absent.env"), "COLUMNS": "200",
            "MCP_SERVER_URL": f"http://127.0.0.1:{listener.port}",
            "PREFECT_API_URL": f"http://127.0.0.1:{listener.port}/api"}


def run(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    return proc, time.monotonic() - started


# In this process: the hub and Prefect at addresses the spy below refuses (nothing is ever listening for them).
HUB = ("127.0.0.1", 39001)
PREFECT = ("127.0.0.1", 39002)


@pytest.fixture
def in_process_env(tmp_path, monkeypatch):
    """This process's environment as `env` gives a child: no agentic/.env, hub and Prefect at refused addresses."""
    for name in _PRODUCT_VARS:
        monkeypatch.setenv(name, "")  # remembered, so restored afterwards even if the command line sets it
        monkeypatch.delenv(name)
    monkeypatch.setenv("AGENTIC_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("MCP_SERVER_URL", f"http://{HUB[0]}:{HUB[1]}")
    monkeypatch.setenv("PREFECT_API_URL", f"http://{PREFECT[0]}:{PREFECT[1]}/api")


def ibt(*args: str):
    """`ibt ARGS` in this process: its Typer app, stdout and stderr apart; an unexpected exception fails the test
    (it is not turned into exit code 1, as a traceback on a terminal would not be either)."""
    from agentic.cli import app

    return CliRunner().invoke(app, list(args), prog_name="ibt", catch_exceptions=False)


# --- the table, on real results and errors ------------------------------------------------------------------


def test_exit_code_of_each_result():
    from agentic.workflows.jules_workflow import WorkflowResult

    def result(status: str, message: str = "", pr: str | None = None) -> WorkflowResult:
        return WorkflowResult(status=status, issue="acme/widgets#1", message=message, pull_request_url=pr)

    pr = "https://github.com/acme/widgets/pull/2"
    assert exit_code_for(result("completed", f"pull request {pr}", pr)) == 0
    assert exit_code_for(result("completed", "already handled by session s-1", pr)) == 4
    assert exit_code_for(result("completed", "no pull request")) == 1
    assert exit_code_for(result("duplicate", "run r-1 is already handling acme/widgets#1")) == 4
    assert exit_code_for(result("needs_info", "too vague")) == 3
    assert exit_code_for(result("rejected", "not a code change")) == 3
    assert exit_code_for(result("failed", "tests did not pass")) == 1


def test_exit_code_of_each_error():
    assert [exit_code_for_error(e) for e in (BadIssueUrl("x"), ConfigError("x"), IssueNotFound("x"))] == [2, 2, 2]
    assert [exit_code_for_error(e) for e in (HubUnavailable("x"), SourceNotConnected("x"), JulesSessionFailed("x"),
                                             RuntimeError("x"))] == [1, 1, 1, 1]


# --- bad input: 2, fast, nothing contacted -----------------------------------------------------------------


def test_ibt_run_bad_url_exits_2_at_once_and_contacts_nothing(env, listener):
    """A real `ibt`: 2 as a shell sees it, within a start-up that imports neither Prefect nor the flow (the other
    bad-input cases run in this process, below)."""
    proc, elapsed = run([*IBT, "run", "https://gitlab.com/o/r/issues/1"], env)
    assert proc.returncode == 2, proc.stderr
    assert "not the configured GitHub" in proc.stderr and "expected https://github.com/OWNER/REPO/issues/NUMBER" \
        in proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert elapsed < 3, elapsed
    assert listener.connections == 0  # neither the hub nor Prefect: no flow run can exist


def test_ibt_run_json_reports_the_error_as_one_object(in_process_env, connections):
    result = ibt("run", "--json", "https://g\u0456thub.com/acme/widgets/issues/1")
    assert result.exit_code == 2, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "error" and body["exit_code"] == 2 and body["error"] == "BadIssueUrl"
    assert "xn--" in body["message"] and "xn--" in result.stderr
    assert connections == []


def test_a_repository_named_only_dots_exits_2_before_anything_is_contacted(in_process_env, connections):
    """Issue #24: `....` passed the parser and cost a flow run and two GitHub calls before "does not exist"."""
    result = ibt("run", "--json", "https://github.com/acme/..../issues/1")
    assert result.exit_code == 2, result.stderr
    body = json.loads(result.stdout)
    assert body["error"] == "BadIssueUrl" and "not only dots" in body["message"] and "Traceback" not in result.stderr
    assert connections == []


def test_www_github_com_passes_the_parser(in_process_env, connections):
    """Issue #24: `https://www.github.com/...` was refused; now it goes on to the services (here: a refused hub)."""
    result = ibt("run", "https://www.github.com/acme/widgets/issues/1")
    assert "not the configured GitHub" not in result.stderr and result.exit_code == 1, result.stderr
    assert "MCP hub not reachable" in result.stderr
    assert connections and connections[0] == HUB


@pytest.mark.parametrize("args", [["run"], ["run", "--bogus", GOOD_URL], ["run", GOOD_URL, "extra"], ["nope"]])
def test_ibt_usage_errors_exit_2(in_process_env, connections, args):
    result = ibt(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Usage:" in result.stderr and result.stdout == ""
    assert connections == []


def test_invalid_setting_exits_2_naming_the_variable(in_process_env, connections, monkeypatch):
    monkeypatch.setenv("MCP_SERVER_URL", "ftp://hub")
    result = ibt("run", GOOD_URL)
    assert result.exit_code == 2
    assert "MCP_SERVER_URL" in result.stderr and "http:// or https://" in result.stderr
    assert connections == []


def test_flow_cli_in_process_bad_url_and_usage(capsys, in_process_env, connections):
    assert run_cli(["https://github.com/acme/widgets/pull/1"]) == 2
    assert "pull request URL, not an issue URL" in capsys.readouterr().err
    assert run_cli([]) == 2
    assert run_cli(["--no-such-option", GOOD_URL]) == 2
    assert run_cli(["--help"]) == 0
    assert "Exit codes" in capsys.readouterr().out
    assert connections == []


def test_seed_entry_point_exits_2_on_a_pr_url(env, listener):
    """The flow's own entry point as a shell runs it (its in-process cases: the test above)."""
    proc, _ = run([*FLOW_CLI, "https://github.com/acme/widgets/pull/1"], env)
    assert proc.returncode == 2, proc.stderr
    assert "pull request URL" in proc.stderr and proc.stdout == ""
    assert listener.connections == 0


# --- unreachable services: 1, one line ---------------------------------------------------------------------


def test_unreachable_hub_exits_1_with_one_line(env, listener):
    closed = free_port()
    proc, elapsed = run([*IBT, "run", GOOD_URL], {**env, "MCP_SERVER_URL": f"http://127.0.0.1:{closed}"})
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and f"MCP hub not reachable at http://127.0.0.1:{closed}" in lines[0]
    assert "ibt stacks run mcp-hub" in lines[0] and "Traceback" not in proc.stderr
    assert listener.connections == 0  # the hub is checked before Prefect is contacted


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The real MCP hub process, no servers."""
    workdir = tmp_path_factory.mktemp("hub")
    port = free_port()
    log = workdir / "hub.log"
    proc = start_process([sys.executable, "-m", "agentic.hub", "--host", "127.0.0.1", "--port", str(port),
                          "--settings", str(workdir / "mcp_settings.json")], log_path=log,
                         env={"MCP_HUB_TOKEN": ""})
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), timeout=60, what="hub", proc=proc,
                   log_path=log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def test_prefect_from_agentic_env_is_used_and_unreachable_exits_1(env, listener, hub, tmp_path):
    """Run from the repo root with no PREFECT_API_URL in the environment: the one in the product's .env file (and
    its seed-style MCP_SERVER_URL=.../mcp) is what the CLI uses — not a temporary Prefect server."""
    env_file = tmp_path / "agentic.env"
    env_file.write_text(f"MCP_SERVER_URL={hub}/mcp\nPREFECT_API_URL=http://127.0.0.1:{listener.port}/api\n")
    clean = {k: v for k, v in env.items() if k not in ("PREFECT_API_URL", "MCP_SERVER_URL")}
    proc, _ = run([*IBT, "run", GOOD_URL], {**clean, "AGENTIC_ENV_FILE": str(env_file)}, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and f"Prefect API not reachable at http://127.0.0.1:{listener.port}/api" in lines[0]
    assert listener.connections >= 1  # Prefect's client went to the URL from the file
    assert "Traceback" not in proc.stderr


# --- ibt deploy ----------------------------------------------------------------------------------------------


def test_ibt_deploy_hub_down_exits_1(in_process_env, connections):
    result = ibt("deploy", "--mcp-hub-url", f"http://{HUB[0]}:{HUB[1]}", "--prefect-api-url",
                 f"http://{PREFECT[0]}:{PREFECT[1]}/api")
    assert result.exit_code == 1 and "MCP hub not healthy" in result.stderr and "Traceback" not in result.stderr
    assert HUB in connections  # the hub was asked, and its silence is what the one line names


def test_ibt_deploy_bad_setting_and_usage_exit_2(in_process_env, connections):
    result = ibt("deploy", "--mcp-hub-url", "hub:3000")
    assert result.exit_code == 2 and "MCP_SERVER_URL" in result.stderr
    result = ibt("deploy", "--no-such-flag")
    assert result.exit_code == 2 and "Usage:" in result.stderr
    assert connections == []


# --- with a real Prefect server: a bad URL leaves no flow run ------------------------------------------------


@pytest.mark.slow
def test_bad_url_creates_no_flow_run_on_a_real_prefect(env, prefect_api_url):
    import httpx

    def count() -> int:
        return httpx.post(f"{prefect_api_url}/flow_runs/count", json={}, timeout=10).json()

    before = count()
    assert isinstance(before, int)
    for url in ("https://gitlab.com/o/r/issues/1", "https://github.com/acme/widgets/pull/1",
                "https://github.com/acme/widgets/issues/" + "9" * 5000):
        proc, _ = run([*IBT, "run", url], {**env, "PREFECT_API_URL": prefect_api_url})
        assert proc.returncode == 2, proc.stderr
    assert count() == before


@pytest.mark.slow
@pytest.mark.parametrize("argv", [[*IBT, "run", "--json"], [*IBT, "run"], FLOW_CLI],
                         ids=["ibt run --json", "ibt run", "python -m agentic.workflows.jules_workflow"])
def test_missing_issue_on_the_sandbox_exits_2_with_one_error_line(sandbox, prefect_api_url, argv):
    """The whole path: settings, URL, preflight, the flow on the sandbox; the flow's IssueNotFound becomes 2 and one
    `error:` line (issue #24: ~50 lines of Prefect logging and two tracebacks came before it, under --json too)."""
    import httpx

    def sessions() -> int:
        return len(httpx.get(sandbox.jules_url.removesuffix("/v1alpha") + "/_sim/sessions", timeout=10)
                   .json()["sessions"])

    env = {k: v for k, v in os.environ.items() if k != "AGENTIC_ENV_FILE"}
    before = sessions()
    proc, _ = run([*argv, "https://github.com/acme/widgets/issues/999999"],
                  {**env, **sandbox.env, "PREFECT_API_URL": prefect_api_url}, timeout=240)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["error: issue acme/widgets#999999 does not exist or the GitHub token cannot see it"], \
        proc.stderr[-3000:]
    if "--json" in argv:
        (line,) = proc.stdout.splitlines()
        body = json.loads(line)
        assert (body["status"], body["error"], body["exit_code"]) == ("error", "IssueNotFound", 2)
    else:
        assert proc.stdout == ""
    assert sessions() == before  # nothing sent to Jules


@pytest.mark.slow
def test_ibt_deploy_only_counts_each_servers_own_tools(sandbox, prefect_api_url):
    """`github: N tools` counts github's tools only, not github-rest's (both names start with `github-`)."""
    import re

    import httpx

    env = {k: v for k, v in os.environ.items() if k != "AGENTIC_ENV_FILE"}
    proc, _ = run([*IBT, "deploy", "--deploy-only", "--mcp-hub-url", sandbox.hub_url, "--prefect-api-url",
                   prefect_api_url], {**env, **sandbox.env, "COLUMNS": "200"}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = {m[0]: int(m[1]) for m in re.findall(r"hub server ([\w-]+): (\d+) tools", proc.stderr)}
    servers = httpx.get(f"{sandbox.hub_url}/api/servers", timeout=10).json()["data"]
    actual = {s["name"]: len(s["tools"]) for s in servers}
    assert printed == actual and set(printed) == {"github", "github-rest", "jules"}, (printed, actual)


@pytest.mark.slow
def test_ibt_run_opens_a_pr_then_reports_already_handled(sandbox, prefect_api_url, new_issue):
    """0 with the result on stdout; the same issue again: 4, nothing new started."""
    number, url = new_issue("slugify() keeps a trailing dash (ibt run)",
                            "`slugify()` in `src/widgets/slugify.py` keeps a trailing dash: slugify('Hello!') "
                            "returns 'hello-' instead of 'hello'.\n\n- [ ] no trailing dash\n- [ ] a test covers it")
    env = {**{k: v for k, v in os.environ.items() if k != "AGENTIC_ENV_FILE"}, **sandbox.env,
           "PREFECT_API_URL": prefect_api_url}
    proc, _ = run([*IBT, "run", "--json", url], env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = json.loads(proc.stdout)
    assert first["status"] == "completed" and first["pull_request_url"] and first["exit_code"] == 0
    proc, _ = run([*IBT, "run", url], env, timeout=240)
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["pull_request_url"] == first["pull_request_url"]


def test_prefects_shipping_notices_never_follow_the_clis_last_line():
    """On a busy machine Prefect's senders printed "EventsWorker - Still processing items" after `ibt run`'s one
    `error:` line (CI, 2026-12-07): the quiet console drops their notices, and ships the buffers before it ends."""
    import io
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    from agentic.cli.run import _quiet_prefect_console

    stderr = io.StringIO()
    console = PrefectConsoleHandler(stream=stderr)  # the handler Prefect's logging config puts on its loggers
    names = ["EventsWorker", "APILogWorker", "agentic-cli-test"]
    for name in names:
        logging.getLogger(name).addHandler(console)
        logging.getLogger(name).propagate = False
    try:
        with _quiet_prefect_console(keep_warnings=True):
            logging.getLogger("EventsWorker").warning("Still processing items: 10 items remaining...")
            logging.getLogger("APILogWorker").warning("Still processing items: 3 items remaining...")
            logging.getLogger("agentic-cli-test").warning("a warning the user should see")
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(console)
            logging.getLogger(name).propagate = True
    assert "Still processing items" not in stderr.getvalue()
    assert "a warning the user should see" in stderr.getvalue()
