"""`ibt`: the project's command line. One Typer sub-app per module, joined here.

    ibt run https://github.com/OWNER/REPO/issues/N [--plan-approval] [--json]   the flow, in this process
    ibt deploy [--skip-mcp-preload] [--mcp-hub-url URL] [--prefect-api-url URL] [--deploy-only] [--work-pool NAME]
    ibt batch --repo OWNER/REPO [--label L] [--limit N] [--dry-run]           every matching open issue, queued
    ibt stacks run prefect mcp-hub [--native] [-d] [--sqlite]
    ibt stacks status | logs [SERVICE] [-f] | stop
    ibt images build [STACK...]                   the stacks' images, built offline when missing
    ibt demo [--issue N] [--keep-running/--stop]

Exit codes of `ibt run` (and `python -m agentic.workflows.jules_workflow`): 0 pull request opened, 1 failed,
2 bad input, 3 needs info or rejected, 4 already handled / another run is on it (agentic/cli/run.py).
"""

from __future__ import annotations

import typer

from agentic.cli import demo, images, stacks
from agentic.cli.batch import batch
from agentic.cli.deploy import deploy
from agentic.cli.run import run

app = typer.Typer(
    name="ibt",
    no_args_is_help=True,
    help="Issue → Jules → pull request: run the stack (Prefect, PostgreSQL, MCP hub, sandbox).",
    pretty_exceptions_show_locals=False,  # locals may hold settings with secrets
)
app.add_typer(stacks.app, name="stacks")
app.add_typer(images.app, name="images")
app.command("demo")(demo.demo)
app.command("run")(run)
app.command("deploy")(deploy)
app.command("batch")(batch)

__all__ = ["app"]
