"""The stack pointed at an existing PostgreSQL (IBT_DATABASE_URL): the stack's own PostgreSQL is not started,
Prefect migrates the external database, keeps the flow run there across a restart, and the connection string
(a secret) shows up in no log or status."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.golive.conftest import DB_PASSWORD

pytestmark = pytest.mark.slow


def _query(database, sql: str, *args):
    import asyncpg

    async def go():
        connection = await asyncpg.connect(database.url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return await connection.fetch(sql, *args)
        finally:
            await connection.close()

    return asyncio.run(go())


def test_no_own_postgres_and_migrations_ran(golive):
    services = [s["name"] for s in golive.native.state.read_run()["services"]]
    assert "postgres" not in services and services == ["prefect", "mcp-hub"]
    assert _query(golive.database, "SELECT version_num FROM alembic_version")


def test_the_flow_run_is_kept_in_the_external_database_across_a_restart(golive):
    from prefect import get_client

    rows = _query(golive.database, "SELECT state_type FROM flow_run WHERE id = $1::uuid", golive.run_id)
    assert [r["state_type"] for r in rows] == ["COMPLETED"]
    golive.native.restart("prefect")

    async def read():
        async with get_client() as client:
            return await client.read_flow_run(golive.run_id)

    assert asyncio.run(read()).state.is_completed()


def test_the_connection_string_is_not_shown(golive):
    status = subprocess.run([sys.executable, "-m", "agentic.cli", "stacks", "status", "--state-dir",
                             str(golive.native.state_dir)], capture_output=True, text=True, timeout=60)
    texts = [status.stdout, status.stderr, *(p.read_text(errors="replace")
                                             for p in golive.native.state_dir.rglob("*") if p.is_file())]
    assert not [t for t in texts if DB_PASSWORD in t]


def test_a_bad_database_url_is_one_line_naming_no_password():
    from agentic.errors import ConfigError
    from agentic.stacks.native import database_url

    assert database_url("postgres://u:p@h:5/d") == "postgresql+asyncpg://u:p@h:5/d"
    with pytest.raises(ConfigError) as refused:
        database_url("mysql://u:secretpw@h/d")
    assert "secretpw" not in str(refused.value) and "\n" not in str(refused.value)


def test_one_setting_in_agentic_env_drops_the_stacks_postgres(tmp_path):
    """IBT_DATABASE_URL read from agentic/.env (AGENTIC_ENV_FILE) by the runner, as `ibt stacks run` does."""
    import os

    env_file = tmp_path / "agentic.env"
    env_file.write_text("IBT_DATABASE_URL=postgres://team:pw@db.internal:5432/prefect\n")
    script = ("from agentic.stacks.compose import Stack, default_stacks_dir\n"
              "from agentic.stacks.native import plan, runner_variables\n"
              "from pathlib import Path\n"
              "services = plan(Stack.load(['prefect'], default_stacks_dir()), runner_variables(Path('.'), Path('.')))\n"
              "print([s.name for s in services], services[0].env['PREFECT_API_DATABASE_CONNECTION_URL'],"
              " services[0].depends_on)")
    env = {k: v for k, v in os.environ.items() if k != "IBT_DATABASE_URL"} | {"AGENTIC_ENV_FILE": str(env_file)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['prefect'] postgresql+asyncpg://team:pw@db.internal:5432/prefect []", done.stderr
    from agentic.errors import ConfigError
    from agentic.stacks.compose import Stack, default_stacks_dir
    from agentic.stacks.native import plan, runner_variables

    with pytest.raises(ConfigError, match="exclude each other"):
        plan(Stack.load(["prefect"], default_stacks_dir()),
             runner_variables(tmp_path, tmp_path, {"IBT_DATABASE_URL": "postgresql://a:b@h/d"}), sqlite=True)
