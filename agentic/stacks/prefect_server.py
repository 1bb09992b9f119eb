"""The Prefect server as a native process, pointed at a PostgreSQL URL (or SQLite as an explicit fallback)."""

from __future__ import annotations

import sys
from pathlib import Path

# Prefect keeps concurrency leases in memory by default: a restarted server forgets every held lease, and the slots
# they hold are never released (PrefectHQ/prefect#20090). On disk under PREFECT_HOME, a restart keeps them, so the
# holder's release and the expiry of a dead holder's lease still work. Every server we start sets this (the stack
# files too); several servers behind one database need prefect-redis' storage instead (docs/going-live.md).
LEASES_ON_DISK = {"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem"}


def prefect_server_env(database_url: str, home: Path) -> dict[str, str]:
    """Environment for `prefect server start`; analytics off, database given, state kept under `home`."""
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # Migrations run once per fresh database; they are what makes the first start slow.
        "PREFECT_API_DATABASE_MIGRATE_ON_START": "true",
        **LEASES_ON_DISK,
    }


def prefect_server_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]


def drain_client_workers() -> None:
    """Ship this process's buffered Prefect logs and events while the server is still up (before stopping it), so
    the background workers do not retry against a server that is gone."""
    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)
    except Exception:  # noqa: BLE001 - best effort: the runs are already recorded
        pass
