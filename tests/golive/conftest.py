"""Going live (issue #13): one production-shaped stack shared by tests/golive/test_{auth,secrets,external_pg}*.

`golive`: a second PostgreSQL cluster started here (the "existing database", its own password) + `ibt stacks run
prefect mcp-hub` — Prefect pointed at it with IBT_DATABASE_URL and its basic auth on (PREFECT_SERVER_API_AUTH_STRING),
the hub with its generated token (what the stack does outside the sandbox); the
sandbox (simulators + hub) whose keys exist only as Prefect Secret blocks on that server — none in the environment;
the hub preloaded by deploy.py's own `preload_servers`; one flow run of a fresh issue, shared by the tests.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from agentic.testing import environment, running_native_stack, running_postgres
from agentic.testing.sandbox import FAST_WORKFLOW, SANDBOX_GITHUB_TOKEN, SANDBOX_JULES_KEY, Sandbox, running_sandbox

AUTH = f"admin:{secrets.token_hex(12)}"
DB_PASSWORD = f"ext-{secrets.token_hex(12)}"
KEYS = {"GITHUB_TOKEN": SANDBOX_GITHUB_TOKEN, "JULES_API_KEY": SANDBOX_JULES_KEY}
BODY = ("`slugify()` in `src/widgets/slugify.py` keeps a trailing dash when the name ends in punctuation: "
        "slugify('Hello!') returns 'hello-' instead of 'hello'.\n\n- [ ] no trailing dash\n- [ ] a test covers it")


@dataclass
class GoLive:
    native: Any              # NativeStack: prefect (on the external cluster) and mcp-hub (token on)
    database: Any            # PostgresCluster: the external one
    api_url: str
    sandbox: Sandbox
    env: dict[str, str]      # the product's environment: no key in it
    number: int
    result: Any
    run_id: str


@pytest.fixture(scope="package")
def golive(prefect_api_url):  # noqa: ARG001 - the session's Prefect settings first, so this stack's nest inside them
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from agentic.deployment.deploy import preload_servers
    from agentic.secret_blocks import store_secret_blocks, with_secret_blocks_sync
    from agentic.settings import Settings
    from agentic.workflows.jules_workflow import jules_agent_workflow

    with running_postgres(password=DB_PASSWORD) as database, running_native_stack("prefect", "mcp-hub", env={
            "IBT_DATABASE_URL": database.url.replace("+asyncpg", ""),  # the plain form a team writes
            "PREFECT_SERVER_API_AUTH_STRING": AUTH,
            "IBT_HUB_TOKEN_FILE": "token", "MCP_HUB_TOKEN": ""}) as native:  # the stack's default outside tests
        api_url = native.url("prefect") + "/api"
        prefect_env = {"PREFECT_API_URL": api_url, "PREFECT_API_AUTH_STRING": AUTH,
                       **{var: "" for var in (*KEYS, "MCP_HUB_TOKEN")}}  # empty = unset, for every reader
        with temporary_settings({PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: AUTH}), environment(prefect_env):
            written = asyncio.run(store_secret_blocks(Settings(_env_file=None, github_token=KEYS["GITHUB_TOKEN"],
                                                               jules_api_key=KEYS["JULES_API_KEY"])))
            assert written == ["jules-api-key", "github-token"]
            # The hub inherits PREFECT_API_URL/PREFECT_API_AUTH_STRING: it resolves the keys from the blocks.
            with running_sandbox(tick_seconds=0.1, jules_profile="live", preload=False, **FAST_WORKFLOW) as sandbox:
                env = {**{k: v for k, v in sandbox.env.items() if k not in KEYS}, **prefect_env}
                with environment(env):
                    settings = with_secret_blocks_sync(Settings(_env_file=None))
                    assert settings.github_token and settings.jules_api_key  # from the blocks only
                    preload_servers(settings)
                    with sandbox.github() as gh:
                        gh.headers["Authorization"] = "Bearer sim-token-alice"
                        number = gh.post("/repos/acme/widgets/issues", json={
                            "title": f"golive {os.getpid()}", "body": BODY}).raise_for_status().json()["number"]
                    state = asyncio.run(jules_agent_workflow(
                        github_issue_url=f"https://github.com/acme/widgets/issues/{number}", return_state=True))
                    result = asyncio.run(state.aresult(raise_on_failure=False))
                    yield GoLive(native, database, api_url, sandbox, env, number, result,
                                 str(state.state_details.flow_run_id))
