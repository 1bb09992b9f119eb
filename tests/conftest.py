"""Session-wide real services. Later test modules reuse `postgres` and `prefect_api_url`."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from agentic.testing import running_postgres, running_prefect_server  # noqa: E402


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (fresh cluster, free port) for the whole test session."""
    with running_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def prefect_api_url(postgres):
    """A real Prefect server on that PostgreSQL; the test process talks to it through PREFECT_API_URL."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with running_prefect_server(postgres.url) as api_url, temporary_settings({PREFECT_API_URL: api_url}):
        # Child processes (CLI entry points, deploy.py) read the environment, not this process's settings context.
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = api_url
        try:
            yield api_url
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous
