"""`ibt batch`: hand every matching open issue of a repository to the queue (the `jules-batch` flow, in this process).

    ibt batch --repo acme/widgets [--label jules] [--limit 50] [--dry-run] [--json]

Each issue becomes one run of the registered deployment (`ibt deploy`), created with the webhook receiver's
idempotency key: interrupting and re-running creates nothing twice. Done and in-flight issues are skipped.
Exit codes: 0 done, 1 the hub, Prefect or the deployment unavailable, 2 bad input (option, setting).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agentic.errors import AgenticError, ConfigError

console = Console(stderr=True)
STYLE = {"queued": "green", "already-queued": "cyan", "done": "dim", "in-flight": "yellow", "would-queue": "green"}


def batch(
    repo: Annotated[str, typer.Option("--repo", help="OWNER/REPO whose open issues are handed over.",
                                      show_default=False)],
    label: Annotated[str | None, typer.Option("--label", help="Only issues with this label.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many issues not yet done.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be queued; start nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line on stdout (the result), no live display.")]
    = False,
) -> None:
    """Queue every matching open issue for Jules (one flow run each); skip done and in-flight ones."""
    from agentic.cli.run import _prefect_settings, _preflight
    from agentic.settings import export_prefect_env, load_settings
    from agentic.triggers.batch import parse_repo

    try:
        settings = load_settings()
        parse_repo(repo)  # before Prefect: a bad repo starts no flow run
    except ConfigError as exc:
        console.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(code=2) from None
    export_prefect_env(settings)
    try:
        _preflight(settings)
    except Exception as exc:  # noqa: BLE001 - _Failure: one line already composed
        console.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(code=1) from None
    try:
        with _prefect_settings():
            result = asyncio.run(_run(repo, label, limit, dry_run, show=not as_json))
    except KeyboardInterrupt:
        console.print("interrupted: re-run the same command to continue (nothing is queued twice)")
        raise typer.Exit(code=130) from None
    except Exception as exc:  # noqa: BLE001 - every failure is one line and an exit code
        leaf = exc
        while getattr(leaf, "__cause__", None) is not None and not isinstance(leaf, AgenticError):
            leaf = leaf.__cause__  # type: ignore[assignment]
        code = 2 if isinstance(leaf, ConfigError) else 1
        console.print(f"[red]✗[/red] {type(leaf).__name__}: {str(leaf)[:300]}")
        raise typer.Exit(code=code) from None
    if as_json:
        typer.echo(json.dumps({"status": "ok", **result.model_dump(mode="json"), "counts": result.counts}))
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())) or "no matching open issue"
    console.print(f"{result.repo}{f' [{label}]' if label else ''}: {counts}"
                  + (" (dry run: nothing started)" if dry_run else ""))


async def _run(repo: str, label: str | None, limit: int | None, dry_run: bool, *, show: bool) -> Any:
    from agentic.triggers.batch import batch_issues
    from agentic.workflows import progress

    if not show:
        return await batch_issues(repo=repo, label=label, limit=limit, dry_run=dry_run)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("listing open issues", total=None)

        def listener(event: dict[str, Any]) -> None:
            if event.get("batch") == "listed":
                bar.update(task, total=min(event["total"], limit or event["total"]),
                           description="handing over")
            elif event.get("batch") == "item":
                item = event["item"]
                style = STYLE.get(item["outcome"], "white")
                bar.console.print(f"  #{item['number']:<6} [{style}]{item['outcome']:<15}[/{style}] "
                                  f"{item.get('reason') or item.get('flow_run_id') or ''}", highlight=False)
                bar.advance(task)

        progress.add_listener(listener)
        try:
            return await batch_issues(repo=repo, label=label, limit=limit, dry_run=dry_run)
        finally:
            progress.remove_listener(listener)
