"""The harness itself: a flow run against the real Prefect server lands in the real PostgreSQL."""

from __future__ import annotations

import subprocess

from prefect import flow, get_client

from agentic.stacks.postgres import find_pg_bindir


@flow(name="harness-probe")
def harness_probe(x: int) -> int:
    return x * 2


async def test_flow_run_is_stored_in_postgres(prefect_api_url, postgres):
    assert harness_probe(21) == 42
    async with get_client() as client:
        runs = await client.read_flow_runs()
    assert any(r.state and r.state.is_completed() for r in runs)
    psql = find_pg_bindir() / "psql"
    out = subprocess.run(
        [str(psql), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", postgres.user, "-d", postgres.database,
         "-tAc", "SELECT count(*) FROM flow_run fr JOIN flow f ON f.id = fr.flow_id WHERE f.name = 'harness-probe'"],
        env={"PGPASSWORD": postgres.password}, capture_output=True, text=True, check=True,
    )
    assert int(out.stdout.strip()) >= 1
