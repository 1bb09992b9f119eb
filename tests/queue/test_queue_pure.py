"""The queue's pure parts: Jules plan quotas → Prefect limits, the position in the queue, the simulator's day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agentic.sandbox.jules.config import JulesSimConfig
from agentic.sandbox.jules.google_errors import ApiError
from agentic.sandbox.jules.store import SessionRecord, SessionStore
from agentic.settings import Settings
from agentic.dispatch.session_queue import DAILY_LIMIT, SESSIONS_LIMIT, LimitSpec, QuotaPlan, retry_delay, runs_ahead

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_plan_from_settings_makes_a_lease_limit_a_rate_limit_and_an_enqueueing_deployment_limit():
    settings = Settings(_env_file=None, jules_max_concurrent_sessions=5, jules_sessions_per_day=100,
                        jules_day_seconds=200, queue_prefetch_runs=3)
    plan = QuotaPlan.from_settings(settings)
    assert plan.limits() == [LimitSpec(SESSIONS_LIMIT, 5), LimitSpec(DAILY_LIMIT, 100, 0.5)]
    assert plan.deployment_limit == 8
    config = plan.deployment_concurrency()
    assert (config.limit, config.collision_strategy.value) == (8, "ENQUEUE")
    assert "jules-sessions limit 5" in plan.describe() and "decay 0.5/s" in plan.describe()


def test_unset_quotas_create_nothing_and_leave_the_deployment_unlimited():
    plan = QuotaPlan.from_settings(Settings(_env_file=None))
    assert plan.limits() == [] and plan.deployment_limit is None and plan.deployment_concurrency() is None
    assert "no Jules quotas configured" in plan.describe()
    only_daily = QuotaPlan(concurrent=None, per_day=15)
    assert [s.name for s in only_daily.limits()] == [DAILY_LIMIT] and only_daily.deployment_limit is None


@pytest.mark.parametrize("env", [{"JULES_MAX_CONCURRENT_SESSIONS": "0"}, {"JULES_SESSIONS_PER_DAY": "-1"},
                                 {"JULES_DAY_SECONDS": "0"}, {"QUEUE_PREFETCH_RUNS": "-1"}])
def test_bad_quota_settings_are_refused(env, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=next(iter(env)).lower()):
        Settings(_env_file=None)


def test_runs_ahead_counts_earlier_runs_minus_slot_holders():
    runs = [(T0 + timedelta(seconds=i), "SCHEDULED") for i in range(10)]
    me = T0 + timedelta(seconds=6)
    assert runs_ahead(runs, me, holding=0) == 6
    assert runs_ahead(runs, me, holding=5) == 1
    assert runs_ahead(runs, me, holding=9) == 0  # never negative
    assert runs_ahead(runs, T0, holding=0) == 0  # the first in line


def _record(store: SessionStore, n: int, key: str = "k") -> SessionRecord:
    return SessionRecord(resource={"id": str(n), "state": "COMPLETED"}, key=key, script="happy")


def test_simulated_day_resets_the_daily_quota_after_day_seconds():
    config = JulesSimConfig.model_validate({"quota": {"max_concurrent_sessions": None, "max_sessions_per_day": 2,
                                                      "day_seconds": 30}})
    store = SessionStore(config)
    store.add(_record(store, 1))
    store.add(_record(store, 2))
    with pytest.raises(ApiError, match="daily task limit"):
        store.check_quota("k")
    store._started -= 30  # thirty simulated seconds later: day 1
    assert store.quota_day() == 1
    store.check_quota("k")
    store.add(_record(store, 3))
    store.add(_record(store, 4))
    with pytest.raises(ApiError, match="daily task limit"):
        store.check_quota("k")
    store.check_quota("other-key")  # per key


def test_without_day_seconds_the_day_is_the_utc_date():
    store = SessionStore(JulesSimConfig())
    assert store.quota_day() == datetime.now(UTC).date()
    with pytest.raises(ValueError):
        JulesSimConfig.model_validate({"quota": {"day_seconds": 0}})


def test_create_retries_after_could_not_get_source_back_off_and_spread():
    """Runs refused together ("Could not get source" under parallel creates) must not come back together."""
    assert [retry_delay(n, 10, draw=lambda: 1.0) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert [retry_delay(n, 10, draw=lambda: 0.0) for n in (1, 2, 3)] == [5, 10, 20]  # never under half
    assert retry_delay(12, 10, cap=300, draw=lambda: 1.0) == 300
    assert len({round(retry_delay(1, 10), 6) for _ in range(20)}) > 1  # jittered by default
