"""TLS for the product's servers (hub, webhook receiver): the certificate and key handed to uvicorn, checked first.

A missing file, a key that does not match the certificate or only one of the two is a one-line ConfigError at
start, not a traceback from inside uvicorn. Clients always verify (httpx's default); a private CA is given with
AGENTIC_CA_BUNDLE (`Settings.tls_verify`) or SSL_CERT_FILE.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from agentic.errors import ConfigError


def server_tls(certfile: str | os.PathLike[str] | None, keyfile: str | os.PathLike[str] | None,
               what: str = "server") -> dict[str, Any]:
    """uvicorn's `ssl_certfile`/`ssl_keyfile` (empty: plain HTTP). ConfigError when the pair does not load."""
    if not certfile and not keyfile:
        return {}
    if not (certfile and keyfile):
        raise ConfigError(f"{what}: TLS needs both a certificate and its key; got only the "
                          f"{'certificate' if certfile else 'key'}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(os.fspath(certfile), os.fspath(keyfile))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{what}: cannot load TLS certificate {os.fspath(certfile)} with key "
                          f"{os.fspath(keyfile)}: {exc}") from None
    return {"ssl_certfile": os.fspath(certfile), "ssl_keyfile": os.fspath(keyfile)}


def scheme(tls: dict[str, Any]) -> str:
    return "https" if tls else "http"
