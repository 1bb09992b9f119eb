"""Claims on a real Prefect server: ownership on every write, and a sandbox reset that forgets only its own."""

from __future__ import annotations

import contextlib

import pytest
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

from agentic.dispatch import claims
from agentic.github.issue_ref import IssueRef


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



async def test_a_claim_write_cancelled_at_any_point_never_strands_the_lock(prefect_api_url):
    """The flow cancels its heartbeat when it ends: wherever that cancel lands (waiting for the lock, inside it, or
    while Prefect releases its lease), the run's own `release` right after gets the lock. A cancel during the lease's
    release used to leave the slot taken until the lease expired, and the release after it waited (the flaky
    test_edit_while_waiting; 300 s on a test-harness server)."""
    import asyncio
    import time

    key = claims.claim_key("http://127.0.0.1:2", IssueRef(owner="acme", repo="widgets", number=102))
    claim = (await claims.acquire(key, "run-a", stale_after=60)).claim
    started = time.monotonic()
    for _ in range(5):
        await claims.update(key, "run-a", claim)
    one_update = (time.monotonic() - started) / 5

    async def heartbeat() -> None:
        while True:
            await claims.update(key, "run-a", claim)

    for step in range(24):  # cancel points spread over two whole updates
        beating = asyncio.create_task(heartbeat())
        await asyncio.sleep(one_update * (1 + step / 12))
        beating.cancel()
        async with asyncio.timeout(30):  # a stranded lease holds the slot for its 60 s
            await claims.release(key, "run-a", claim)
    assert (await claims.load(key)).owner_run_id is None


async def test_an_acquire_whose_run_was_cancelled_leaves_the_issue_free(prefect_api_url):
    """A run stopped while it claimed: the claim still finishes under the lock, and is then released, so the next
    run does not wait `stale_after` for an owner that is gone."""
    import asyncio

    key = claims.claim_key("http://127.0.0.1:2", IssueRef(owner="acme", repo="widgets", number=103))
    cancelled = 0
    for step in range(8):
        claiming = asyncio.create_task(claims.acquire(key, f"run-gone-{step}", stale_after=60))
        await asyncio.sleep(0.01 + step * 0.03)  # under way: waiting for, holding or leaving the lock
        claiming.cancel()
        try:
            finished = await claiming
        except asyncio.CancelledError:
            cancelled += 1
        else:  # it ended before the cancel: a live run owns the issue, as it should
            await claims.release(key, f"run-gone-{step}", finished.claim)
        async with asyncio.timeout(30):
            while (current := await claims.load(key)) is not None and current.owner_run_id is not None:
                await asyncio.sleep(0.1)
    assert cancelled  # some cancels landed while the claim was under way


async def test_a_claim_write_that_outlives_its_flow_run_finishes_and_frees_the_lock(prefect_api_url):
    """The flow cancels its heartbeat as it ends; the beat's update goes on (_to_the_end) after Prefect closed the
    run's client. It used to write through that closed client ('The client cannot be started again after closing')
    inside the lock, fail to release the lock's lease too, and retry into the same client for 90 s, taking the lock
    again each time (test_concurrent_triggers_and_kill_minus_9_give_one_session: 300 s). Here another holder keeps the
    lock until the run has ended, so the update always runs after the run's client closed."""
    import asyncio

    from prefect import flow

    key = claims.claim_key("http://127.0.0.1:2", IssueRef(owner="acme", repo="widgets", number=104))
    claim = (await claims.acquire(key, "run-a", stale_after=60)).claim
    held, free = asyncio.Event(), asyncio.Event()

    async def other_run_holds_the_lock() -> None:
        async with claims.dispatch_lock():
            held.set()
            await free.wait()

    holder = asyncio.create_task(other_run_holds_the_lock())
    await held.wait()

    @flow
    async def owner_run() -> None:
        claim.status_comment_id = 7  # what the beat writes: seen in the record only if its write landed
        beating = asyncio.create_task(claims.update(key, "run-a", claim))
        await asyncio.sleep(0.5)  # the beat waits for the lock
        beating.cancel()  # as jules_agent_workflow's `finally` does; the run then ends and its client is closed

    await owner_run()
    free.set()
    await holder
    async with asyncio.timeout(30):  # through the closed client it never lands in the 90 s it retries
        while (await claims.load(key)).status_comment_id != 7:
            await asyncio.sleep(0.2)
    async with asyncio.timeout(15):  # and the lock is not left taken until a lease expires (60 s)
        async with claims.dispatch_lock():
            pass
    await claims.release(key, "run-a", claim)


async def test_the_heartbeat_keeps_a_live_owner_its_claim_until_it_ends(prefect_api_url):
    """Beats for as long as the owner runs, not once: a claim beaten once goes stale while its owner still works, and
    the next trigger takes the issue over (two runs on one issue). Ends with its owner."""
    import asyncio

    stale = 4.0  # the tests' CLAIM_STALE_SECONDS (FAST_WORKFLOW): a beat every 1.3 s
    key = claims.claim_key("http://127.0.0.1:2", IssueRef(owner="acme", repo="widgets", number=105))
    claim = (await claims.acquire(key, "run-a", stale_after=stale)).claim
    owner = asyncio.create_task(asyncio.sleep(stale * 3))  # the owned run's work, three stale periods long
    lost = asyncio.Event()
    beating = asyncio.create_task(claims.heartbeat(key, "run-a", claim, owner, stale, lost))
    while not owner.done():
        other = await claims.acquire(key, "run-b", stale_after=stale)
        assert not other.owned, "another run took over a live owner: its heartbeat stopped"
        await asyncio.sleep(0.5)
    async with asyncio.timeout(stale * 3):
        await beating
    assert not lost.is_set() and (await claims.load(key)).owner_run_id == "run-a"
    await claims.release(key, "run-a", claim)


async def test_a_flow_run_that_ends_does_not_free_the_lock_under_its_claim_write(prefect_api_url, monkeypatch):
    """Prefect's run context releases, as the run ends, every concurrency lease taken in it: a heartbeat's update
    still inside the lock (cancelled, going on to the end) had its lease released under it, and the next run got the
    lock while that write was unfinished (measured: 0.08 s after the run ended, the write seconds from done)."""
    import asyncio

    from prefect import flow
    from prefect.variables import Variable

    key = claims.claim_key("http://127.0.0.1:2", IssueRef(owner="acme", repo="widgets", number=106))
    claim = (await claims.acquire(key, "run-a", stale_after=60)).claim
    inside = asyncio.Event()
    read = Variable.aget

    async def slow_read(*args, **kwargs):  # Prefect answers slowly: the update stays inside the lock a while
        value = await read(*args, **kwargs)
        inside.set()
        await asyncio.sleep(3)
        return value

    monkeypatch.setattr(Variable, "aget", slow_read)

    @flow
    async def owner_run() -> None:
        claim.status_comment_id = 8
        beating = asyncio.create_task(claims.update(key, "run-a", claim))
        await inside.wait()  # the beat holds the lock
        beating.cancel()  # and the run ends

    await owner_run()
    monkeypatch.undo()
    async with claims.dispatch_lock(timeout=30):
        assert (await claims.load(key)).status_comment_id == 8, "the lock was taken before the write under it ended"
    await claims.release(key, "run-a", claim)
