"""`ibt`: the project's command line. One Typer sub-app per module, joined here.

    ibt stacks run prefect mcp-hub [--native] [-d] [--sqlite]
    ibt stacks status | logs [SERVICE] [-f] | stop
    ibt demo [--issue N] [--keep-running/--stop]
"""

from __future__ import annotations

import typer

from agentic.cli import demo, stacks

app = typer.Typer(
    name="ibt",
    no_args_is_help=True,
    help="Issue → Jules → pull request: run the stack (Prefect, PostgreSQL, MCP hub, sandbox).",
    pretty_exceptions_show_locals=False,  # locals may hold settings with secrets
)
app.add_typer(stacks.app, name="stacks")
app.command("demo")(demo.demo)

__all__ = ["app"]
