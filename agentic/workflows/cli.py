"""Command line entry of the flow: live progress (state, elapsed time, session link), exit 0 only on a PR."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console

from agentic.errors import AgenticError
from agentic.workflows import progress

app = typer.Typer(add_completion=False)
console = Console(stderr=True)

EXIT_CODES = {"completed": 0, "duplicate": 0, "needs_info": 3, "rejected": 3, "failed": 1}


@app.command()
def run(
    github_issue_url: Annotated[str, typer.Argument(help="https://github.com/OWNER/REPO/issues/N")],
    require_plan_approval: Annotated[bool | None, typer.Option("--plan-approval/--no-plan-approval")] = None,
    starting_branch: Annotated[str | None, typer.Option(help="Branch Jules starts from (default branch if unset).")] = None,
    new_session_on_edit: Annotated[bool, typer.Option(help="Start a new session if the issue text changed.")] = False,
) -> None:
    """Hand a GitHub issue to Jules, follow it to a pull request and print the result."""
    from agentic.workflows.jules_workflow import jules_agent_workflow

    async def go() -> Any:
        async with progress.live_progress(console):
            return await jules_agent_workflow(github_issue_url=github_issue_url,
                                              require_plan_approval=require_plan_approval,
                                              starting_branch=starting_branch, new_session_on_edit=new_session_on_edit)

    try:
        result = asyncio.run(go())
    except AgenticError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    typer.echo(result.model_dump_json(indent=2))
    raise typer.Exit(code=EXIT_CODES.get(result.status, 1))


def run_cli(argv: list[str]) -> int:
    try:
        app(argv, standalone_mode=False)
    except typer.Exit as exit_:
        return exit_.exit_code
    except SystemExit as exit_:
        return int(exit_.code or 0)
    except Exception as exc:  # click usage errors
        console.print(f"[red]error:[/red] {exc}")
        return 2
    return 0
