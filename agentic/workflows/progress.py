"""Progress of a run in this process: the flow emits events, CLIs show them live (state, elapsed time, session link)
without polling Prefect."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

Listener = Callable[[dict[str, Any]], None]
_listeners: list[Listener] = []


def add_listener(listener: Listener) -> None:
    _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit(**event: Any) -> None:
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - a display problem must never break the run
            pass


@contextlib.asynccontextmanager
async def live_progress(console: Console, *, print_events: bool = False) -> AsyncIterator[None]:
    """A live status line while the block runs; with `print_events`, also one line per event (the demo's log)."""
    started = time.monotonic()
    latest: dict[str, Any] = {"state": "starting", "event": "", "session_url": None}

    def render() -> Text:
        text = Text()
        text.append(f"{latest['state']:<24}", style="bold cyan")
        text.append(f" {time.monotonic() - started:6.0f}s  {latest.get('event') or ''}")
        if latest.get("session_url"):
            text.append(f"  {latest['session_url']}", style="underline")
        return text

    def on_event(event: dict[str, Any]) -> None:
        latest.update({k: v for k, v in event.items() if v is not None})
        if print_events:
            console.print(Text(f"  {time.monotonic() - started:5.1f}s  ", style="dim")
                          + Text(f"{event.get('state', '')}: ", style="cyan")
                          + Text(f"{event.get('event', '')} {str(event.get('detail') or '')[:100]}"))

    add_listener(on_event)
    try:
        with Live(render(), console=console, refresh_per_second=4, transient=True) as live:
            async def refresh() -> None:
                while True:
                    live.update(render())
                    await asyncio.sleep(0.25)

            ticker = asyncio.create_task(refresh())
            try:
                yield
            finally:
                ticker.cancel()
    finally:
        remove_listener(on_event)
