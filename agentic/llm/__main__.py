"""`python -m agentic.llm serve|fetch`: the local model service and its weight cache (see agentic/llm/__init__.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from agentic.errors import AgenticError
from agentic.llm.server import ServerOptions, serve
from agentic.llm.weights import MODELS, ensure_weights, local_model

app = typer.Typer(add_completion=False, no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True, highlight=False)

ModelOpt = Annotated[str | None, typer.Option("--model", help=f"One of {', '.join(MODELS)} (default: "
                                              "LLM_LOCAL_MODEL).", show_default=False)]
CacheOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Default: LLM_CACHE_DIR.", show_default=False)]


def _resolve(model: str | None, cache_dir: Path | None):
    from agentic.settings import load_settings

    settings = load_settings()
    return local_model(model or settings.llm_local_model), cache_dir or settings.llm_cache_dir


def _fail(exc: AgenticError) -> typer.Exit:
    err.print(Text("error: ", style="bold red") + Text(str(exc)))
    return typer.Exit(2 if isinstance(exc, ValueError) else 1)


@app.command("serve")
def serve_command(model: ModelOpt = None, cache_dir: CacheOpt = None,
                  host: Annotated[str, typer.Option(
                      help="Interface to bind; loopback unless you mean it.")] = "127.0.0.1",
                  port: Annotated[int, typer.Option(min=1, max=65535)] = 3300,
                  ctx: Annotated[int, typer.Option(help="Context window in tokens (four capped repository reads and "
                                                         "the prompt need ~14k).")] = 16384,
                  max_tokens: Annotated[int, typer.Option(help="Cap on one answer's tokens.")] = 2048,
                  threads: Annotated[int, typer.Option(
                      envvar="LLM_THREADS", min=0,
                      help="CPU threads (0: every core). On cores shared with other busy processes, fewer is "
                           "faster: llama.cpp's threads wait for each other by spinning.")] = 0) -> None:
    """Serve the local model on an OpenAI-compatible API until SIGTERM/Ctrl+C (weights fetched and checked first)."""
    try:
        chosen, cache = _resolve(model, cache_dir)
        serve(chosen, cache, ServerOptions(host=host, port=port, n_ctx=ctx, max_tokens=max_tokens, threads=threads))
    except AgenticError as exc:
        raise _fail(exc) from None


@app.command("fetch")
def fetch_command(model: ModelOpt = None, cache_dir: CacheOpt = None) -> None:
    """Download (when absent) and verify the local model's weights; print their path."""
    try:
        chosen, cache = _resolve(model, cache_dir)
        print(ensure_weights(chosen, cache))
    except AgenticError as exc:
        raise _fail(exc) from None


if __name__ == "__main__":
    app()
