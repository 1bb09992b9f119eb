"""Apply alert-failed-or-stuck.yaml to the Prefect server at PREFECT_API_URL (docs/going-live.md#observability).

    python stacks/prefect/automations/apply.py --notify slack-webhook/jules-alerts [--stuck-minutes 60]

Idempotent: automations with the same names are replaced, so re-running it after an edit updates them."""

from __future__ import annotations

import asyncio
import string
from pathlib import Path
from typing import Annotated

import typer
import yaml

HERE = Path(__file__).resolve().parent
app = typer.Typer(add_completion=False)


def render(text: str, block_document_id: str, stuck_seconds: int) -> list[dict]:
    """The file's automations with the block and the stuck threshold filled in."""
    filled = string.Template(text).substitute(BLOCK_DOCUMENT_ID=block_document_id, STUCK_SECONDS=stuck_seconds)
    return yaml.safe_load(filled)["automations"]


async def apply(path: Path, notify: str, stuck_seconds: int) -> list[str]:
    from prefect import get_client
    from prefect.events.schemas.automations import AutomationCore
    from prefect.exceptions import ObjectNotFound

    block_type, _, block_name = notify.partition("/")
    if not block_name:
        raise typer.BadParameter(f"--notify must be <block-type>/<block-name>, got {notify!r}")
    async with get_client() as client:
        try:
            block = await client.read_block_document_by_name(block_name, block_type)
        except ObjectNotFound:
            raise typer.BadParameter(f"no {block_type} block named {block_name!r}: create it first "
                                     "(Prefect UI → Blocks, or `prefect block create`)") from None
        names = []
        for spec in render(path.read_text(), str(block.id), stuck_seconds):
            automation = AutomationCore.model_validate(spec)
            for existing in await client.read_automations_by_name(automation.name):
                await client.delete_automation(existing.id)
            await client.create_automation(automation)
            names.append(automation.name)
    return names


@app.command()
def main(notify: Annotated[str, typer.Option(help="Notification block as <block-type>/<name>.")],
         stuck_minutes: Annotated[float, typer.Option(min=1 / 6, help="Running this long is stuck (Prefect's "
                                                      "proactive triggers need 10 s at least).")] = 60.0,
         file: Annotated[Path, typer.Option(help="Automations file.")] = HERE / "alert-failed-or-stuck.yaml") -> None:
    """Create (or replace) the failed/crashed and stuck-run alerts."""
    for name in asyncio.run(apply(file, notify, max(1, round(stuck_minutes * 60)))):
        typer.echo(f"applied: {name}")


if __name__ == "__main__":
    app()
