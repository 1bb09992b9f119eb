"""`ibt images`: the images the stacks' compose files name — which are here, and building the missing ones offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentic.errors import AgenticError
from agentic.stacks.compose import default_stacks_dir, find_stack_file
from agentic.stacks.images import Kit, compose_files
from agentic.stacks.images import build as build_images
from agentic.stacks.images import status as image_status

app = typer.Typer(no_args_is_help=True, help="Images of the stacks: `ibt images build` makes missing ones offline.")
console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

StacksArg = Annotated[list[str] | None, typer.Argument(
    help="Stacks (e.g. `prefect mcp-hub sandbox`; `production`); default: every stack but `llm`.",
    show_default=False)]
StacksDirOpt = Annotated[Path | None, typer.Option("--stacks-dir", envvar="IBT_STACKS_DIR")]


def _kit(stacks: list[str] | None, stacks_dir: Path | None) -> tuple[Kit, list[str]]:
    root = (stacks_dir or default_stacks_dir()).resolve()
    if stacks:
        files = [find_stack_file(name, root) if name != "production" else root / "production" / "compose.yaml"
                 for name in stacks]
    else:  # the model service's image is 1 GB of llama.cpp: only when asked for
        files = [path for path in compose_files(root) if path.parent.name != "llm"]
    kit = Kit.load(root, files)
    return kit, list(kit.named)


@app.command("list")
def list_(stacks: StacksArg = None, stacks_dir: StacksDirOpt = None) -> None:
    """Each image the stacks name: current / stale / missing (the kit builds it), provided (pulled), no recipe."""
    try:
        kit, tags = _kit(stacks, stacks_dir)
        table = Table("image", "state", "inputs", "named in")
        for item in image_status(kit, tags):
            table.add_row(item.tag, item.state, item.inputs, ", ".join(kit.named.get(item.tag, ["(parent)"])))
        console.print(table)
    except AgenticError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None


@app.command()
def build(stacks: StacksArg = None, stacks_dir: StacksDirOpt = None,
          force: Annotated[bool, typer.Option("--force", help="Rebuild the kit's images even when current.")] = False,
          ) -> None:
    """Build every image the stacks name that this engine lacks (or whose inputs changed), from Debian, PyPI and
    npm only; present official images are used as they are. Then `docker compose ... up --pull never` works.
    An image the kit has no recipe for (samanhappy/mcphub) fails a named stack, and is skipped by the default set."""
    try:
        kit, tags = _kit(stacks, stacks_dir)
        build_images(kit, tags, force=force, strict=bool(stacks), say=lambda line: console.print(line))
    except AgenticError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
