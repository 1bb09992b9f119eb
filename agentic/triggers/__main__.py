"""`python -m agentic.triggers [--host 127.0.0.1] [--port 3200] [--rules FILE] [--insecure-no-signature]`."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 behind a tunnel or proxy.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 3200,
    rules: Annotated[Path | None, typer.Option(help="Trigger rules YAML (default: TRIGGERS_RULES_PATH, else "
                                               "agentic/triggers/rules.yaml).")] = None,
    insecure_no_signature: Annotated[bool, typer.Option(
        "--insecure-no-signature", help="Accept unsigned deliveries when GITHUB_WEBHOOK_SECRET is unset. "
        "Local experiments only.")] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Receive GitHub webhooks on POST /api/github/webhooks and start flow runs for the triggers in the rules."""
    from agentic.errors import ConfigError
    from agentic.observability import LOG_FORMAT, configure_tracing
    from agentic.settings import export_prefect_env, load_settings
    from agentic.tls import scheme, server_tls

    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
    configure_tracing("agentic-triggers")
    try:
        settings = load_settings()
        tls = server_tls(settings.triggers_ssl_certfile, settings.triggers_ssl_keyfile, "triggers")
        export_prefect_env(settings)  # before Prefect is imported: it reads its environment once
        from agentic.secret_blocks import with_secret_blocks_sync

        settings = with_secret_blocks_sync(settings)  # GITHUB_TOKEN, GITHUB_WEBHOOK_SECRET from blocks (#13)
        from agentic.triggers.app import config_from_settings, create_app

        config = config_from_settings(settings, rules_path=rules, allow_unsigned=insecure_no_signature)
    except ConfigError as exc:
        print(f"triggers: {exc}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    import uvicorn

    logging.getLogger("agentic.triggers").info(
        "webhook receiver on %s://%s:%d/api/github/webhooks → %s (signatures %s)", scheme(tls), host, port,
        config.deployment,
        "checked" if config.secret else "NOT CHECKED")
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level.lower(), access_log=False,
                timeout_graceful_shutdown=5, **tls)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
