"""Settings -> the clients a run talks through, made in ONE place: `RunDeps.from_settings()`.

The only code that unwraps the hub token, applies TLS verification (a private CA: AGENTIC_CA_BUNDLE) and opens the
hub's MCP session; the flow, the batch flow and the archive sweep all enter it, so none of them can forget `verify`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from agentic.github.client import GitHubClient, HubGitHub
from agentic.hub.mcp_client import HubTools, connect_hub
from agentic.jules.client import JulesClient
from agentic.secret_blocks import with_secret_blocks
from agentic.settings import Settings, get_settings


@dataclass(frozen=True)
class RunDeps:
    settings: Settings
    hub: HubTools  # the MCP session (GitHub and Jules tools through the hub)
    github: GitHubClient  # every GitHub operation of the run (HubGitHub over `hub`)
    jules: JulesClient
    triage_tools: Any  # the triage agent's read-only view of the hub (a Pydantic AI MCP toolset)
    clock: Callable[[], float] = time.monotonic

    @classmethod
    @contextlib.asynccontextmanager
    async def from_settings(cls, settings: Settings | None = None) -> AsyncIterator[RunDeps]:
        """Open the run's clients; `settings` default: the environment, with keys from Prefect Secret blocks (#13)."""
        from agentic.agent.triage import hub_toolset  # the model stack: imported only by a run

        settings = settings or await with_secret_blocks(get_settings())
        token = settings.mcp_hub_token.get_secret_value() if settings.mcp_hub_token else None
        async with connect_hub(settings.hub_mcp_url, token, verify=settings.tls_verify) as hub:
            yield cls(settings=settings, hub=hub, github=HubGitHub(hub), jules=JulesClient(hub),
                      triage_tools=hub_toolset(settings.hub_mcp_url, token, verify=settings.tls_verify))
