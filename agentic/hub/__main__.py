"""`python -m agentic.hub --host 127.0.0.1 --port 3000 --settings PATH [--token TOKEN]`: run the MCP hub."""

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
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps the hub private.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (mcphub's default is 3000).")] = 3000,
    settings: Annotated[Path, typer.Option(help="mcp_settings.json (created if missing).")] = Path(
        ".ibt/mcp-hub/mcp_settings.json"),
    token: Annotated[str | None, typer.Option(envvar="MCP_HUB_TOKEN", show_envvar=True,
                                              help="Bearer token required on /api and /mcp.")] = None,
    token_file: Annotated[str | None, typer.Option(
        envvar="MCP_HUB_TOKEN_FILE", show_envvar=True,
        help="Without --token: the token kept in this file (relative: next to --settings), generated on first "
             "start (0600) and printed once. Empty: no token.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    max_body_bytes: Annotated[int | None, typer.Option(
        envvar="MCP_HUB_MAX_BODY_BYTES", show_envvar=True, min=1,
        help="Largest /api request body, in bytes (413 above it). Default 1048576 (1 MiB).")] = None,
    max_openapi_operations: Annotated[int | None, typer.Option(
        envvar="MCP_HUB_MAX_OPENAPI_OPERATIONS", show_envvar=True, min=1,
        help="Most operations (= tools) one openapi server may have. Default 500.")] = None,
    allowed_hosts: Annotated[str | None, typer.Option(
        envvar="MCP_HUB_ALLOWED_HOSTS", show_envvar=True,
        help="More names (comma-separated) clients may reach the hub by, besides localhost/127.0.0.1/::1 and "
             "--host (DNS-rebinding protection on /api and /mcp). '*': any. With --host 0.0.0.0 and none set: "
             "any name while a token is required.")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(envvar="MCP_HUB_SSL_CERTFILE", show_envvar=True,
                                                      help="TLS certificate (PEM): serve HTTPS.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(envvar="MCP_HUB_SSL_KEYFILE", show_envvar=True,
                                                     help="TLS private key (PEM) of --ssl-certfile.")] = None,
) -> None:
    """Serve mcphub's REST API and the aggregated MCP tools (streamable HTTP at /mcp)."""
    import uvicorn

    from agentic.errors import ConfigError
    from agentic.hub.app import create_app
    from agentic.observability import LOG_FORMAT, configure_tracing
    from agentic.tls import scheme, server_tls

    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
    configure_tracing("agentic-hub")
    if not token and token_file:
        token = _file_token((settings.parent / token_file).resolve())
    try:
        tls = server_tls(ssl_certfile, ssl_keyfile, "mcp hub")
        asgi = create_app(settings, token=token, max_body_bytes=max_body_bytes,
                          max_openapi_operations=max_openapi_operations, bind_host=host,
                          allowed_hosts=allowed_hosts or "")
    except ConfigError as exc:
        print(f"mcp hub: {exc}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    # The token is never printed; only whether auth is on.
    logging.getLogger("agentic.hub").info("MCP hub on %s://%s:%d (settings %s, auth %s, Host allowed: %s)",
                                          scheme(tls), host, port, settings,
                                          "on" if asgi.state.auth.required else "off", asgi.state.hosts.describe())
    uvicorn.run(asgi, host=host, port=port, log_level=log_level.lower(), access_log=False,
                timeout_graceful_shutdown=5, **tls)


def _file_token(path: Path) -> str:
    from agentic.hub.auth import token_from_file

    token, generated = token_from_file(path)
    if generated:  # the only time the token is shown: clients need it, the file is 0600
        print(f"mcp hub: generated the hub token (kept in {path}, mode 0600; shown only now):\n  {token}\n"
              "Clients: MCP_HUB_TOKEN=<it> in agentic/.env, or `ibt deploy --store-secrets` with it set puts it "
              "in the Prefect Secret block mcp-hub-token.", file=sys.stderr, flush=True)
    return token


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
