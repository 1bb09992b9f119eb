"""Deploy the Jules agent workflow: check the hub, preload its MCP servers, register and serve the deployment.

    cd agentic && python deployment/deploy.py [--skip-mcp-preload] [--mcp-hub-url URL] [--prefect-api-url URL]
                                              [--deploy-only] [--work-pool NAME] [--store-secrets]

    ibt deploy [same flags]

Jules' plan quotas (JULES_MAX_CONCURRENT_SESSIONS, JULES_SESSIONS_PER_DAY) become Prefect limits on every deploy
(agentic/dispatch/session_queue.py). `--work-pool NAME` registers the deployment in a process work pool (created if
missing) for `prefect worker start --pool NAME` on any machine, instead of serving it here (docs/workers.md).

Every failure is one clear line and a non-zero exit: an invalid setting exits 2; hub down, Prefect down or a
missing key exit 1.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

# `python deployment/deploy.py` from agentic/ puts only this folder on sys.path; the package lives two levels up.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx
import typer
from rich.console import Console

from agentic.errors import AgenticError
from agentic.settings import Settings, export_prefect_env, load_settings

if TYPE_CHECKING:
    from agentic.hub.client import HubClient

DEPLOYMENT_NAME = "jules-agent-deployment"
DEPLOYMENT_TAGS = ["jules", "github"]
console = Console(stderr=True)
app = typer.Typer(add_completion=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]✗[/red] {message}")
    return typer.Exit(code=code)


def _tool_count(server: dict) -> int:
    """Enabled tools of this one server (a `github-` prefix would also count `github-rest-*`)."""
    return sum(1 for tool in server.get("tools") or [] if isinstance(tool, dict) and tool.get("enabled", True))


def check_prefect(api_url: str) -> None:
    try:
        httpx.get(api_url.rstrip("/") + "/health", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise fail(f"Prefect API not reachable at {api_url} ({exc.__class__.__name__}); start it with "
                   "`ibt stacks run prefect` or pass --prefect-api-url") from None
    console.print(f"[green]✓[/green] Prefect API {api_url}")


def preload_servers(settings: Settings) -> None:
    """Add (or update) the GitHub and Jules MCP servers on the hub and wait until they are connected.

    A hub without the `openapi` type (mcphub May 2025) gets github only; jules and github-rest then go to the hub at
    MCP_OPENAPI_HUB_URL (ours), reached through one streamable-http server, or the run stops with one line."""
    from agentic.deployment.servers import BRIDGE_SERVER_NAME, bridge_server, hub_server_definitions
    from agentic.hub.client import HubClient
    from agentic.hub.secret_refs import secret_refs_for

    # Keys the hub resolves itself (Secret blocks, its environment) go as ${VAR}, not in clear (issue #13).
    definitions = hub_server_definitions(settings, secret_refs_for(settings))  # ConfigError names a missing key
    client = HubClient.from_settings(settings)
    hosted_elsewhere = [name for name, config in definitions.items()
                        if config.get("type") == "openapi" and not client.supports_openapi()]
    if hosted_elsewhere and not settings.mcp_openapi_hub_url:
        missing = ", ".join(hosted_elsewhere)
        _preload(client, {k: v for k, v in definitions.items() if k not in hosted_elsewhere})
        raise fail(f"the hub at {settings.mcp_server_url} has no `openapi` server type (mcphub before mid-2025), "
                   f"so {missing} cannot run there: upgrade mcphub, run our hub instead (`ibt stacks run mcp-hub`), "
                   "or run it beside mcphub and set MCP_OPENAPI_HUB_URL to it (docs/hub.md)")
    _preload(client, {k: v for k, v in definitions.items() if k not in hosted_elsewhere})
    if hosted_elsewhere:
        assert settings.mcp_openapi_hub_url is not None
        openapi_hub = HubClient.from_settings(settings, settings.mcp_openapi_hub_url)  # same credentials
        _preload(openapi_hub, {name: definitions[name] for name in hosted_elsewhere},
                 where=f" on {settings.mcp_openapi_hub_url}")
        _preload(client, {BRIDGE_SERVER_NAME: bridge_server(settings.mcp_openapi_hub_url)},
                 where=f" ({', '.join(hosted_elsewhere)} from {settings.mcp_openapi_hub_url})")


def _preload(client: HubClient, definitions: dict[str, dict], where: str = "") -> None:
    """Upsert each server (pruned to the hub's body limit when needed) and wait until it is connected."""
    from agentic.deployment.servers import fit_body_limit
    from agentic.hub.client import BodyTooLarge

    for name, config in definitions.items():
        config, note = fit_body_limit(name, config, client.capabilities().body_limit)
        try:
            client.upsert_server(name, config)
        except BodyTooLarge as exc:  # a limit we could not read beforehand: the hub's answer tells
            config, note = fit_body_limit(name, config, min(exc.size - 1, exc.limit or exc.size - 1))
            client.upsert_server(name, config)
        server = client.wait_connected(name, timeout=180)
        console.print(f"[green]✓[/green] hub server {name}{where}: {_tool_count(server)} tools"
                      + (f" ({note})" if note else ""))


def _secret_blocks(settings: Settings, store: bool) -> Settings:
    """--store-secrets writes the environment's keys to Prefect Secret blocks; then the blocks that exist win."""
    from agentic.secret_blocks import store_secret_blocks_sync, with_secret_blocks_sync

    if store:
        try:
            written = store_secret_blocks_sync(settings)
        except Exception as exc:  # noqa: BLE001 - Prefect down or refusing: one line, no value in it
            raise fail(f"Prefect Secret blocks not written at {settings.prefect_api_url} "
                       f"({type(exc).__name__}); check PREFECT_API_URL / PREFECT_API_AUTH_STRING") from None
        console.print(f"[green]✓[/green] Prefect Secret blocks {', '.join(written) or '(no keys set)'}")
    return with_secret_blocks_sync(settings)


@app.command()
def main(
    skip_mcp_preload: Annotated[bool, typer.Option("--skip-mcp-preload",
                                                   help="Do not add servers to the hub.")] = False,
    mcp_hub_url: Annotated[str | None, typer.Option("--mcp-hub-url", help="MCP hub base URL.")] = None,
    prefect_api_url: Annotated[str | None, typer.Option("--prefect-api-url", help="Prefect API URL.")] = None,
    deploy_only: Annotated[bool, typer.Option("--deploy-only", help="Register the deployment, do not serve.")] = False,
    store_secrets: Annotated[bool, typer.Option("--store-secrets", help=(
        "Create or update the Prefect Secret blocks (jules-api-key, github-token, ...) from the keys in the "
        "environment / agentic/.env first."))] = False,
    work_pool: Annotated[str | None, typer.Option("--work-pool", help=(
        "Register the deployment in this process work pool (created if missing) for `prefect worker start --pool "
        "NAME`; nothing is served here."))] = None,
) -> None:
    """Check the hub, preload the GitHub and Jules MCP servers, deploy `jules-agent-workflow` and serve it."""
    overrides = {k: v for k, v in {"mcp_server_url": mcp_hub_url, "prefect_api_url": prefect_api_url}.items() if v}
    try:
        settings = load_settings(**overrides)
    except AgenticError as exc:
        raise fail(str(exc), code=2) from None
    # Flow runs started by the served deployment are child processes: they read these from the environment.
    os.environ["MCP_SERVER_URL"] = settings.mcp_server_url
    os.environ["PREFECT_API_URL"] = settings.prefect_api_url
    export_prefect_env(settings)  # PREFECT_API_AUTH_STRING / PREFECT_API_KEY from agentic/.env, unless set
    settings = _secret_blocks(settings, store_secrets)

    from agentic.hub.client import HubAuthRequired, HubClient

    try:
        hub = HubClient.from_settings(settings)
        hub.health()
    except HubAuthRequired as exc:
        raise fail(str(exc)) from None
    except AgenticError as exc:
        raise fail(f"MCP hub not healthy at {settings.mcp_server_url}: {exc}; start it with "
                   "`ibt stacks run mcp-hub` or pass --mcp-hub-url") from None
    console.print(f"[green]✓[/green] MCP hub {settings.mcp_server_url} ({hub.capabilities().summary()})")
    check_prefect(settings.prefect_api_url)
    if not skip_mcp_preload:
        try:
            preload_servers(settings)
        except AgenticError as exc:
            raise fail(str(exc)) from None

    import prefect.settings as prefect_settings

    from agentic import __version__
    from agentic.settings import PREFECT_VARIABLES
    from agentic.workflows.jules_workflow import FLOW_NAME, jules_agent_workflow

    updates = {getattr(prefect_settings, name): os.environ[name] for name in PREFECT_VARIABLES
               if os.environ.get(name) and hasattr(prefect_settings, name)}
    from agentic.deployment.pools import apply_quotas, deploy_to_pool
    from agentic.dispatch.session_queue import QuotaPlan

    plan = QuotaPlan.from_settings(settings)
    with prefect_settings.temporary_settings(updates):
        try:  # Jules' plan quotas as Prefect limits, on every deploy (idempotent)
            console.print(f"[green]✓[/green] queue: {apply_quotas(plan)}")
            from agentic.workflows.recovery import ZOMBIE_AUTOMATION, ensure_zombie_automation

            try:
                asyncio.run(ensure_zombie_automation())
                console.print(f"[green]✓[/green] automation: {ZOMBIE_AUTOMATION}")
            except Exception as exc:  # noqa: BLE001 - an older server without automations: say so, deploy anyway
                console.print(f"[yellow]![/yellow] automation {ZOMBIE_AUTOMATION!r} not set: {type(exc).__name__}")
            if work_pool:
                deployment_id, state = deploy_to_pool(work_pool, plan,
                                                      archive_interval=settings.archive_sweep_interval_seconds)
        except AgenticError as exc:
            raise fail(str(exc)) from None
        if work_pool:
            console.print(f"[green]✓[/green] work pool {work_pool}: {state}")
            console.print(f"[green]✓[/green] deployment jules-agent-workflow/{DEPLOYMENT_NAME} ({deployment_id}) in "
                          f"pool {work_pool}; run it with `prefect worker start --pool {work_pool}` on any machine "
                          "with this package")
            return
        from agentic.workflows import archive
        from agentic.workflows.plan_approval import expired_wait_trigger
        from agentic.workflows.recovery import crashed_run_trigger

        deployment = jules_agent_workflow.to_deployment(name=DEPLOYMENT_NAME, tags=DEPLOYMENT_TAGS, version=__version__,
                                                        concurrency_limit=plan.deployment_concurrency(),
                                                        triggers=[expired_wait_trigger(FLOW_NAME, DEPLOYMENT_NAME),
                                                                  crashed_run_trigger(FLOW_NAME, DEPLOYMENT_NAME)])
        # The archive sweep beside it (issue #11): a `pull_request` `closed` webhook starts it, and so does its
        # schedule (ARCHIVE_SWEEP_INTERVAL_SECONDS) for teams without webhooks.
        sweep = archive.to_deployment(settings.archive_sweep_interval_seconds, tags=DEPLOYMENT_TAGS,
                                      version=__version__)
        every = (f"every {settings.archive_sweep_interval_seconds:g} s" if settings.archive_sweep_interval_seconds
                 else "no schedule")
        if deploy_only:
            deployment_id = deployment.apply()
            sweep.apply()
            console.print(f"[green]✓[/green] deployment jules-agent-workflow/{DEPLOYMENT_NAME} ({deployment_id}); "
                          "serve it later with this script without --deploy-only")
            console.print(f"[green]✓[/green] deployment {archive.FLOW_NAME}/{archive.DEPLOYMENT_NAME} ({every})")
            return
        console.print(f"serving jules-agent-workflow/{DEPLOYMENT_NAME} and {archive.FLOW_NAME}/"
                      f"{archive.DEPLOYMENT_NAME} ({every}) — Ctrl+C to stop")
        from prefect import serve

        try:
            serve(deployment, sweep, print_starting_message=False)
        except KeyboardInterrupt:
            pass
    console.print("stopped")


if __name__ == "__main__":
    app()
