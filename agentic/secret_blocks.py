"""The product's keys from Prefect Secret blocks when present, else the environment / `agentic/.env` (issue #13).

    Prefect block (type Secret)   setting / variable
    jules-api-key                 JULES_API_KEY
    github-token                  GITHUB_TOKEN
    google-api-key                GOOGLE_API_KEY
    openai-api-key                OPENAI_API_KEY
    mcp-hub-token                 MCP_HUB_TOKEN
    github-webhook-secret         GITHUB_WEBHOOK_SECRET
    github-app-private-key        GITHUB_APP_PRIVATE_KEY

A block that exists wins over the environment, so a team can keep the keys in Prefect only (UI → Blocks, or
`ibt deploy --store-secrets`, which creates or updates the blocks from the current environment). The flow reads
them once per run (`with_secret_blocks`), deploy.py once per command; the values only ever live in `SecretStr`
fields of a `Settings` object, never in flow parameters, logs or artifacts. SECRET_BLOCKS=false turns the lookup off.
Without MCP_HUB_TOKEN, a hub on this machine is sent the token the stack's hub generated (`local_hub_token`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from agentic.settings import Settings

# Settings field -> Secret block name. The environment variable is the field's name in upper case.
SECRET_BLOCKS: dict[str, str] = {
    "jules_api_key": "jules-api-key",
    "github_token": "github-token",
    "google_api_key": "google-api-key",
    "openai_api_key": "openai-api-key",
    "mcp_hub_token": "mcp-hub-token",
    "github_webhook_secret": "github-webhook-secret",
    "github_app_private_key": "github-app-private-key",
}
# Environment variable -> block name: what the hub resolves `${VAR}` from (agentic/hub/secret_refs.py).
SECRET_VARIABLES: dict[str, str] = {field.upper(): block for field, block in SECRET_BLOCKS.items()}

log = logging.getLogger("agentic.secrets")


async def read_secret_blocks(blocks: dict[str, str] | None = None) -> dict[str, str]:
    """key -> value of the Secret blocks that exist (`blocks`: key -> block name, default SECRET_BLOCKS), read
    from the Prefect API of the current Prefect settings. A missing block is skipped; Prefect unreachable or
    refusing raises (its message names no value)."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    blocks = SECRET_BLOCKS if blocks is None else blocks
    async with get_client() as client:
        async def one(name: str) -> Any:
            try:
                document = await client.read_block_document_by_name(name, "secret", include_secrets=True)
            except ObjectNotFound:
                return None
            return document.data.get("value")

        values = await asyncio.gather(*(one(name) for name in blocks.values()))
    found = {}
    for key, value in zip(blocks, values, strict=True):
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and value:
            found[key] = value
    return found


async def with_secret_blocks(settings: Settings) -> Settings:
    """A copy of `settings` whose keys come from the Secret blocks that exist (the rest as they were).

    A Prefect that cannot be asked is a warning, not a failure: the keys then come from the environment."""
    from prefect.settings import PREFECT_API_URL

    found: dict[str, str] = {}
    # No API URL: Prefect would start a temporary server of its own just to find no block there.
    if settings.secret_blocks and PREFECT_API_URL.value():
        try:
            found = await read_secret_blocks()
        except Exception as exc:  # noqa: BLE001 - no block store: the environment's keys are the fallback
            log.warning("Prefect Secret blocks not read (%s); using the keys from the environment",
                        type(exc).__name__)
    if "mcp_hub_token" not in found and settings.mcp_hub_token is None:
        local = local_hub_token(settings)
        if local:
            found["mcp_hub_token"] = local
    if not found:
        return settings
    return settings.model_copy(update={field: SecretStr(value) for field, value in found.items()})


def local_hub_token(settings: Settings) -> str | None:
    """The token the stack's hub generated (`<STATE_DIR>/mcp-hub/token`), when the hub is on this machine and no
    MCP_HUB_TOKEN is set: `ibt stacks run prefect mcp-hub` then `ibt deploy` works without copying it."""
    if (urlsplit(settings.mcp_server_url).hostname or "") not in ("127.0.0.1", "localhost", "::1"):
        return None  # never hand this machine's token to another host
    try:
        return (settings.state_dir / "mcp-hub" / "token").read_text().strip() or None
    except OSError:
        return None


def _prefect_from_environment() -> Any:
    """Prefect settings from this process's environment as it is now (Prefect reads it once, at import)."""
    import prefect.settings as prefect_settings

    from agentic.settings import PREFECT_VARIABLES

    return prefect_settings.temporary_settings({
        getattr(prefect_settings, name): os.environ[name] for name in PREFECT_VARIABLES
        if os.environ.get(name) and hasattr(prefect_settings, name)})


def with_secret_blocks_sync(settings: Settings) -> Settings:
    """`with_secret_blocks` for command lines (no event loop running; PREFECT_API_URL... in the environment).
    A Prefect that does not answer its health probe at once is skipped: the client's retries would take ~20 s."""
    import httpx

    api_url = os.environ.get("PREFECT_API_URL") or settings.prefect_api_url
    if settings.secret_blocks:
        try:
            httpx.get(api_url.rstrip("/") + "/health", timeout=3, verify=getattr(settings, "tls_verify", True))
        except httpx.HTTPError as exc:  # the command says itself that Prefect is down, when that matters
            log.debug("Prefect Secret blocks not read (%s at %s); using the keys from the environment",
                      type(exc).__name__, api_url)
            settings = settings.model_copy(update={"secret_blocks": False})
    if not settings.secret_blocks:
        return asyncio.run(with_secret_blocks(settings))  # the local hub token only: no Prefect import
    with _prefect_from_environment():
        return asyncio.run(with_secret_blocks(settings))


async def store_secret_blocks(settings: Settings) -> list[str]:
    """Create or update one Secret block per key set in `settings`; returns the block names written."""
    from prefect.blocks.system import Secret

    written = []
    for field, name in SECRET_BLOCKS.items():
        value = getattr(settings, field)
        if value is None:
            continue
        await Secret(value=value.get_secret_value()).asave(name, overwrite=True)
        written.append(name)
    return written


def store_secret_blocks_sync(settings: Settings) -> list[str]:
    with _prefect_from_environment():
        return asyncio.run(store_secret_blocks(settings))


__all__ = ["SECRET_BLOCKS", "SECRET_VARIABLES", "read_secret_blocks", "store_secret_blocks",
           "store_secret_blocks_sync", "with_secret_blocks", "with_secret_blocks_sync"]
