"""Command line entry of the flow: `python -m agentic.workflows.jules_workflow URL` and `ibt run URL`.

Live progress and errors on stderr, the result on stdout; the exit code says what happened (a script relies on it):

    0  completed: a pull request was opened
    1  failed: anything else (Jules failed, the hub or Prefect unreachable, an unexpected error)
    2  bad input: bad issue URL, usage error, invalid setting, the issue does not exist
    3  not handed to Jules: triage said needs-info or rejected
    4  duplicate: already handled by an earlier run's pull request, or another live run is handling it

The URL and the settings are checked first, before Prefect or the flow is imported, so bad input exits 2 at once
and creates no flow run. Then the hub and the Prefect API are checked (one line and exit 1 if either is down). A
failure inside the run (the issue does not exist: exit 2) is one `error:` line too, no traceback: Prefect's console
logging is kept off stderr while the flow runs here (the run's logs are still in Prefect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from agentic.errors import AgenticError, BadIssueUrl, ConfigError, IssueNotFound

EXIT_COMPLETED, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NOT_HANDED_OVER, EXIT_DUPLICATE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_CODES = {"completed": EXIT_COMPLETED, "duplicate": EXIT_DUPLICATE, "needs_info": EXIT_NOT_HANDED_OVER,
              "rejected": EXIT_NOT_HANDED_OVER, "held": EXIT_NOT_HANDED_OVER, "failed": EXIT_FAILED}
BAD_INPUT_ERRORS = (BadIssueUrl, ConfigError, IssueNotFound)
PROG_NAME = "python -m agentic.workflows.jules_workflow"

app = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)
console = Console(stderr=True, soft_wrap=True, highlight=False)


def exit_code_for(result: Any) -> int:
    """The exit code of a WorkflowResult (see the table above)."""
    status = getattr(result, "status", None)
    if status == "completed":
        if not getattr(result, "pull_request_url", None):
            return EXIT_FAILED
        # An earlier run's pull request: nothing new was done (the flow reports it as completed).
        return EXIT_DUPLICATE if str(getattr(result, "message", "")).startswith("already handled") else EXIT_COMPLETED
    return EXIT_CODES.get(status, EXIT_FAILED)  # type: ignore[arg-type]


def exit_code_for_error(exc: BaseException) -> int:
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_BAD_INPUT if isinstance(exc, BAD_INPUT_ERRORS) else EXIT_FAILED


def _leaf(exc: BaseException) -> BaseException:
    """The error inside (possibly nested) exception groups, if there is exactly one; else the group itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class _Failure(Exception):
    def __init__(self, error: BaseException, message: str, code: int) -> None:
        super().__init__(message)
        self.error, self.message, self.code = error, message, code


def _fail(error: BaseException, message: str | None = None, code: int | None = None) -> _Failure:
    return _Failure(error, message or str(error) or error.__class__.__name__,
                    exit_code_for_error(error) if code is None else code)


def _preflight(settings: Any) -> None:
    """The hub and the Prefect API answer, or one line saying which does not and how to start it."""
    from agentic.agent.models import check_endpoint
    from agentic.hub.client import HubClient

    check_endpoint(settings)  # a self-hosted model endpoint that is down: one line, exit 1

    try:
        with HubClient.from_settings(settings) as client:  # mcphub: login from MCP_HUB_USERNAME/PASSWORD
            client.health()
    except AgenticError as exc:
        message = str(exc) if settings.mcp_server_url in str(exc) else f"MCP hub at {settings.mcp_server_url}: {exc}"
        if "ibt stacks run mcp-hub" not in message:
            message += "; start it with `ibt stacks run mcp-hub` or set MCP_SERVER_URL"
        raise _fail(exc, message, EXIT_FAILED) from None
    api_url = os.environ.get("PREFECT_API_URL") or settings.prefect_api_url
    problem = prefect_problem(api_url)
    if problem is not None:
        raise _fail(ConnectionError(problem), f"Prefect API not reachable at {api_url} ({problem}); start it "
                                              "with `ibt stacks run prefect` or set PREFECT_API_URL", EXIT_FAILED)


def prefect_problem(api_url: str, timeout: float = 5.0) -> str | None:
    """None if the Prefect API at `api_url` answers /health, else what went wrong. One request, no retries (the
    Prefect client retries a refused connection for a minute), with the credentials Prefect's client would send."""
    import base64

    import httpx

    headers = {}
    if os.environ.get("PREFECT_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['PREFECT_API_KEY']}"
    elif os.environ.get("PREFECT_API_AUTH_STRING"):
        headers["Authorization"] = "Basic " + base64.b64encode(os.environ["PREFECT_API_AUTH_STRING"].encode()).decode()
    try:
        response = httpx.get(api_url.rstrip("/") + "/health", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return exc.__class__.__name__
    if response.status_code >= 400:
        return f"HTTP {response.status_code} on /health"
    return None


@contextlib.contextmanager
def _prefect_settings():
    """Prefect read its settings when first imported (the seed's entry imports it before main): apply the ones
    export_prefect_env put in the environment to this process too."""
    import prefect.settings as prefect_settings

    from agentic.settings import PREFECT_VARIABLES

    updates = {getattr(prefect_settings, name): os.environ[name] for name in PREFECT_VARIABLES
               if os.environ.get(name) and hasattr(prefect_settings, name)}
    with prefect_settings.temporary_settings(updates=updates):
        yield


# Prefect's background senders of a run's logs and events (their loggers are named after their classes).
_CLIENT_WORKERS = {"EventsWorker", "APILogWorker"}


@contextlib.contextmanager
def _quiet_prefect_console(*, keep_warnings: bool):
    """While the flow runs in this process, the command line speaks on stderr, not Prefect's console handler: its
    INFO chatter, and on a failure two tracebacks and ~50 lines before the one `error:` line that says it all (an
    issue that does not exist, measured). Warnings stay unless `keep_warnings` is off (`--json`: nothing but the
    result). The run's logs still go to the Prefect API (another handler).

    On the way out the buffered logs and events are shipped here, still quiet: Prefect would otherwise ship them at
    interpreter exit and, on a busy machine, print "EventsWorker - Still processing items" after our last line."""
    from prefect.logging.handlers import PrefectConsoleHandler

    from agentic.stacks.prefect_server import drain_client_workers

    def shown(record: logging.LogRecord) -> bool:
        if record.name in _CLIENT_WORKERS:  # their shipping progress, never the user's business
            return False
        return keep_warnings and logging.WARNING <= record.levelno < logging.ERROR

    loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    handlers = {handler for logger in loggers for handler in logger.handlers
                if isinstance(handler, PrefectConsoleHandler)}
    for handler in handlers:
        handler.addFilter(shown)
    try:
        yield
    finally:
        drain_client_workers()
        for handler in handlers:
            handler.removeFilter(shown)


def execute(github_issue_url: str, *, require_plan_approval: bool | None = None, starting_branch: str | None = None,
            new_session_on_edit: bool = False, requested_by: str | None = None, show_progress: bool = True) -> Any:
    """Validate, check the services, run the flow in this process; the WorkflowResult, or _Failure."""
    from agentic.github.issue_ref import parse_issue_url
    from agentic.settings import export_prefect_env, load_settings

    try:
        settings = load_settings()
        parse_issue_url(github_issue_url, settings=settings)  # before Prefect: no flow run for a bad URL
    except (BadIssueUrl, ConfigError) as exc:
        raise _fail(exc) from None
    export_prefect_env(settings)  # agentic/.env's PREFECT_API_URL, wherever the CLI runs from
    try:
        _preflight(settings)  # before importing Prefect: a down service is reported at once
        with _prefect_settings():
            from agentic.workflows import progress
            from agentic.workflows.jules_workflow import jules_agent_workflow

            async def go() -> Any:
                call = jules_agent_workflow(github_issue_url=github_issue_url,
                                            require_plan_approval=require_plan_approval,
                                            starting_branch=starting_branch, new_session_on_edit=new_session_on_edit,
                                            requested_by=requested_by)
                if not show_progress:
                    return await call
                async with progress.live_progress(console):
                    return await call

            with _quiet_prefect_console(keep_warnings=show_progress):
                return asyncio.run(go())
    except _Failure:
        raise
    except KeyboardInterrupt as exc:
        raise _fail(exc, "interrupted") from None
    except BaseException as exc:  # every failure becomes one line and an exit code
        if isinstance(exc, SystemExit):
            raise
        leaf = _leaf(exc)
        if isinstance(leaf, AgenticError):
            raise _fail(leaf) from None
        raise _fail(leaf, f"the run failed: {leaf.__class__.__name__}: {leaf}") from None


@app.command()
def run(
    github_issue_url: Annotated[str, typer.Argument(metavar="ISSUE_URL", show_default=False,
                                                    help="https://github.com/OWNER/REPO/issues/N")],
    require_plan_approval: Annotated[bool | None, typer.Option(
        "--plan-approval/--no-plan-approval", help="Wait for plan approval (default: REQUIRE_PLAN_APPROVAL).",
        show_default=False)] = None,
    starting_branch: Annotated[str | None,
                               typer.Option(help="Branch Jules starts from (default branch if unset).")] = None,
    new_session_on_edit: Annotated[bool, typer.Option(help="Start a new session if the issue text changed.")] = False,
    requested_by: Annotated[str | None, typer.Option(help="GitHub login asked to review the PR (default: the "
                                                          "issue's author).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print only one JSON object on stdout (the result, "
                                                             "or the error), no live progress.")] = False,
) -> None:
    """Hand a GitHub issue to Jules, follow it to a pull request and print the result.

    Exit codes: 0 pull request opened, 1 failed, 2 bad input (URL, option, setting, no such issue),
    3 needs info or rejected, 4 already handled or another run is handling it.
    """
    try:
        result = execute(github_issue_url, require_plan_approval=require_plan_approval,
                         starting_branch=starting_branch, new_session_on_edit=new_session_on_edit,
                         requested_by=requested_by, show_progress=not json_output)
    except _Failure as failure:
        console.print(Text("error: ", style="bold red") + Text(failure.message))
        if json_output:
            typer.echo(json.dumps({"status": "error", "error": failure.error.__class__.__name__,
                                   "message": failure.message, "exit_code": failure.code}))
        raise typer.Exit(code=failure.code) from None
    code = exit_code_for(result)
    if json_output:
        typer.echo(json.dumps({**result.model_dump(mode="json"), "exit_code": code}))
    else:
        typer.echo(result.model_dump_json(indent=2))
        style = "green" if code == EXIT_COMPLETED else "yellow" if code in (3, 4) else "red"
        console.print(Text(f"{result.status}: ", style=f"bold {style}") + Text(result.message))
    raise typer.Exit(code=code)


def run_cli(argv: list[str], prog_name: str = PROG_NAME) -> int:
    """Run the command line on `argv` in this process; return the exit code (usage errors: 2)."""
    try:
        app(args=list(argv), prog_name=prog_name, standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        console.print(Text("error: ", style="bold red") + Text(str(code)))
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - never a traceback for a script to parse
        console.print(Text("error: ", style="bold red") + Text(f"{exc.__class__.__name__}: {exc}"))
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(sys.argv[1:]))
