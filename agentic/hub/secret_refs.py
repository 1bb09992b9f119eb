"""`${VAR}` in server definitions for the product's keys, resolved by the hub itself (issue #13).

deploy.py writes `"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"` instead of the token when this hub can resolve
GITHUB_TOKEN to the same value — so `mcp_settings.json` holds names, not keys. The hub resolves the product's keys
(agentic/secret_blocks.py: GITHUB_TOKEN, JULES_API_KEY, ...) from Prefect Secret blocks when they exist (the hub's
PREFECT_API_URL), else from its own environment (agentic/.env through the stack's env_file).

`GET /api/secrets` answers, for each key the hub can resolve, where it comes from and a fingerprint (a keyed hash,
16 hex digits: enough to compare with the caller's value, never the value). mcphub has no such route: deploy.py
then sends values, as before. Blocks are read at start (when a server refers to a missing key) and on each
`GET /api/secrets`; a rotated block reaches the hub with the next `ibt deploy` or hub restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentic.secret_blocks import SECRET_VARIABLES

log = logging.getLogger("agentic.hub")
_FINGERPRINT_KEY = b"agentic-hub-secret-ref"


def fingerprint(value: str) -> str:
    """What `GET /api/secrets` shows of a key: comparable, not reversible to a usable key."""
    return hmac.new(_FINGERPRINT_KEY, value.encode(), hashlib.sha256).hexdigest()[:16]


class HubSecrets:
    """The product's keys in the hub's environment (where `${VAR}` expansion reads them): a Secret block wins
    over the value the hub was started with, as in the flow."""

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self._started_with = {var: self.environ.get(var) for var in SECRET_VARIABLES}
        self.sources: dict[str, str] = {var: "environment" for var, value in self._started_with.items() if value}

    def hand_over(self, var: str) -> None:
        """`var` is set by someone else from now on (GITHUB_TOKEN by the hub's GitHub App): never reset it."""
        self._started_with.pop(var, None)
        self.sources[var] = "github-app"

    def referenced_missing(self, servers: dict[str, Any]) -> bool:
        """Does a server definition refer to one of the keys the hub does not have?"""
        text = json.dumps(servers)
        return any(f"${{{var}}}" in text or f"${var}" in text for var in SECRET_VARIABLES
                   if not self.environ.get(var))

    async def refresh(self) -> None:
        """Read the Secret blocks (only with PREFECT_API_URL set: else Prefect would start a temporary server)."""
        if not self.environ.get("PREFECT_API_URL") or self.environ.get("SECRET_BLOCKS", "").lower() == "false":
            return
        from agentic.secret_blocks import read_secret_blocks

        try:
            found = await read_secret_blocks(SECRET_VARIABLES)
        except Exception as exc:  # noqa: BLE001 - Prefect down: keep what the hub has
            log.warning("Prefect Secret blocks not read (%s); keys from the environment only", type(exc).__name__)
            return
        for var, started in self._started_with.items():
            if var in found:
                self.environ[var], self.sources[var] = found[var], "prefect-block"
            elif started:
                self.environ[var], self.sources[var] = started, "environment"
            else:
                self.environ.pop(var, None)
                self.sources.pop(var, None)

    def listing(self) -> dict[str, dict[str, str]]:
        return {var: {"source": source, "fingerprint": fingerprint(self.environ[var])}
                for var, source in sorted(self.sources.items()) if self.environ.get(var)}


async def list_secrets(request: Request) -> Response:
    secrets: HubSecrets = request.app.state.secrets
    await secrets.refresh()
    return JSONResponse({"success": True, "data": secrets.listing()})


def resolvable(listing: Any, values: dict[str, str]) -> set[str]:
    """The variables of `values` (name -> the caller's value) the hub resolves to the same value."""
    if not isinstance(listing, dict):
        return set()
    return {var for var, value in values.items()
            if isinstance(listing.get(var), dict) and hmac.compare_digest(
                str(listing[var].get("fingerprint", "")), fingerprint(value))}


def secret_refs(base_url: str, token: str | None, values: dict[str, str | None],
                verify: Any = True) -> set[str]:
    """For deploy.py: which of `values` (GITHUB_TOKEN -> the value it would send) the hub at `base_url` resolves
    to the same value. A hub without `GET /api/secrets` (mcphub) or any failure: none (values are sent)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(base_url.rstrip("/") + "/api/secrets", headers=headers, timeout=15, verify=verify)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return set()
    data = body.get("data") if isinstance(body, dict) and body.get("success") is not False else None
    return resolvable(data, {k: v for k, v in values.items() if v})


def secret_refs_for(settings: Any) -> set[str]:
    """`secret_refs` for the product's hub keys (GITHUB_TOKEN, JULES_API_KEY) as `settings` has them."""
    values = {var: getattr(settings, var.lower()) for var in ("GITHUB_TOKEN", "JULES_API_KEY")}
    token = settings.mcp_hub_token.get_secret_value() if settings.mcp_hub_token else None
    return secret_refs(settings.mcp_server_url, token,
                       {var: value.get_secret_value() if value else None for var, value in values.items()},
                       verify=getattr(settings, "tls_verify", True))
