"""Claims on a real Prefect server: ownership on every write, and a sandbox reset that forgets only its own."""

from __future__ import annotations

import pytest
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

from agentic.workflows import claims
from agentic.workflows.issue_ref import IssueRef


async def test_a_run_that_lost_its_claim_cannot_write(prefect_api_url):
    key = claims.claim_key("http://127.0.0.1:1", IssueRef(owner="acme", repo="widgets", number=101))
    first = await claims.acquire(key, "run-a", stale_after=0.0)  # stale at once: the next run may take over
    assert first.owned and first.first
    second = await claims.acquire(key, "run-b", stale_after=0.0)
    assert second.owned and not second.first
    with pytest.raises(claims.ClaimLost, match="run-b took over"):
        await claims.update(key, "run-a", first.claim)
    assert (await claims.load(key)).owner_run_id == "run-b"  # the loser wrote nothing
    await claims.update(key, "run-b", second.claim)
    await claims.release(key, "run-b", second.claim)
    assert (await claims.load(key)).owner_run_id is None


async def test_reset_forgets_only_the_claims_of_one_github(prefect_api_url):
    sandbox = "http://127.0.0.1:39999"
    mine = claims.claim_key(sandbox, IssueRef(owner="acme", repo="widgets", number=1))
    other = claims.claim_key("https://api.github.com", IssueRef(owner="acme", repo="widgets", number=1))
    for key in (mine, other):
        await claims.save(key, claims.Claim(issue=key))
    assert await claims.reset(sandbox) == 1
    assert await claims.load(mine) is None and await claims.load(other) is not None


async def test_claims_are_found_past_the_servers_page_of_200(prefect_api_url):
    """The archive sweep and the reset read every claim, not the first page of Prefect variables."""
    host = "http://127.0.0.1:39998"
    keys = [claims.claim_key(host, IssueRef(owner="acme", repo="many", number=n)) for n in range(1, 206)]
    for key in keys:
        await claims.save(key, claims.Claim(issue=key))
    from prefect import get_client

    async with get_client() as client:
        found = await claims.claim_variables(client, host + "/")
    assert sorted(k for _, k in found) == sorted(keys)
    assert await claims.reset(host) == 205


async def test_a_leaked_dispatch_lock_slot_is_named_with_its_fix(prefect_api_url):
    """A slot nobody will release (a restarted in-memory-lease server): the wait ends in one message that says how
    to free it, not Prefect's bare slot timeout."""
    from prefect import get_client

    async with claims.dispatch_lock():  # the lock exists
        pass
    async with get_client() as client:
        await client.update_global_concurrency_limit(claims.LOCK_NAME, GlobalConcurrencyLimitUpdate(active_slots=1))
        try:
            with pytest.raises(claims.DispatchLockStuck, match=r"--active-slots 0") as stuck:
                async with claims.dispatch_lock(timeout=1):
                    pytest.fail("the lock was taken while its only slot was held")
            assert isinstance(stuck.value, TimeoutError)
        finally:
            await client.update_global_concurrency_limit(claims.LOCK_NAME, GlobalConcurrencyLimitUpdate(active_slots=0))
    async with claims.dispatch_lock(timeout=5):  # freed as the message says: the next run gets it
        pass
