"""`python -m agentic.sandbox.jules`: serve the Jules API simulator with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from agentic.errors import ConfigError
from agentic.sandbox.jules.app import create_app
from agentic.sandbox.jules.config import DEMO_CONFIG, PROFILES, SourceConfig, load_config

cli = typer.Typer(add_completion=False)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3102,
    github_url: Annotated[str | None, typer.Option(help="GitHub REST API that receives the pull requests.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML config (keys of JulesSimConfig); default: the demo config "
                                                     "(agentic/sandbox/jules/demo.yaml).", exists=True)] = None,
    github_token: Annotated[str | None, typer.Option(envvar="JULES_SIM_GITHUB_TOKEN", show_default=False,
                                                     help="Token for the GitHub API.")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Connected repository OWNER/REPO (repeatable).")] = None,
    api_key: Annotated[list[str] | None, typer.Option(help="Accepted API key (repeatable; replaces config).")] = None,
    tick_seconds: Annotated[float | None, typer.Option(envvar="JULES_SIM_TICK_SECONDS", show_default=False,
                                                       help="Seconds between two session steps.")] = None,
    profile: Annotated[str | None, typer.Option(envvar="JULES_SIM_PROFILE", show_default=False,
                                                help="documented (the API as its reference describes it) or live "
                                                     "(as observed: see docs/sandbox-jules.md); replaces the "
                                                     "config's `profile`.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the Jules v1alpha API simulator (sessions, activities, sources; pull requests on GitHub)."""
    if profile is not None and profile not in PROFILES:
        raise typer.BadParameter(f"{profile!r}: use one of {', '.join(PROFILES)}", param_hint="--profile")
    try:
        settings = load_config(config or DEMO_CONFIG, github_url=github_url, github_token=github_token,
                               tick_seconds=tick_seconds, api_keys=api_key or None, profile=profile)
    except ConfigError as exc:  # one readable line, not a traceback
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(code=2) from None
    for item in source or []:
        owner, _, repo = item.partition("/")
        if not owner or not repo:
            raise typer.BadParameter(f"--source {item!r}: use OWNER/REPO")
        if settings.source(f"sources/github/{owner}/{repo}") is None:
            settings.sources.append(SourceConfig(owner=owner, repo=repo))
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, lifespan="on")


if __name__ == "__main__":
    cli()
