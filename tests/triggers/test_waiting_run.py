"""Finding the run that waits on an issue, on a real Prefect server: past the server's page of 200 paused runs, and
by the issue's tag first."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from agentic.triggers.resume import waiting_run
from agentic.workflows.jules_workflow import jules_agent_workflow


async def _paused_run(client, number: int, started: datetime | None = None, tags: list[str] | None = None) -> str:
    """A paused run of the flow for issue `number`; scheduled at `started` first when given (the sort key), else
    created paused in one call (no expected start time: it sorts before every dated run)."""
    from prefect.states import Paused, Scheduled

    parameters = {"github_issue_url": f"https://github.com/acme/many/issues/{number}"}
    paused = Paused(pause_key=f"plan-{number}")
    if started is None:
        return str((await client.create_flow_run(jules_agent_workflow, tags=tags or [], state=paused,
                                                 parameters=parameters)).id)
    run = await client.create_flow_run(jules_agent_workflow, tags=tags or [], state=Scheduled(scheduled_time=started),
                                       parameters=parameters)
    await client.set_flow_run_state(run.id, paused, force=True)
    return str(run.id)


async def test_the_waiting_run_is_found_past_the_first_page_of_paused_runs(prefect_api_url):
    from prefect import get_client

    base, now = 10_000 + os.getpid() % 1000 * 300, datetime.now(UTC)
    async with get_client() as client:
        made: list[str] = []
        try:
            made.append(oldest := await _paused_run(client, base, now - timedelta(days=30)))  # sorted last
            for chunk in range(0, 205, 41):
                made += await asyncio.gather(*(_paused_run(client, base + 1 + i) for i in range(chunk, chunk + 41)))
            found = await waiting_run(client, "acme", "many", base)
            assert found is not None and (found.flow_run_id, found.pause_key) == (oldest, f"plan-{base}")
            made.append(tagged := await _paused_run(client, base + 299, now - timedelta(days=60),
                                                    tags=[f"issue:acme/many#{base + 299}"]))
            assert (await waiting_run(client, "ACME", "Many", base + 299)).flow_run_id == tagged
            assert await waiting_run(client, "acme", "many", base + 298) is None
        finally:  # later tests (the UI's run lists among them) see no stray paused runs
            await asyncio.gather(*(client.delete_flow_run(run_id) for run_id in made))
