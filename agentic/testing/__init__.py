"""Test harness shipped with the package (like `prefect_test_harness`): real services on free ports, torn down after.

    with running_postgres() as pg, running_prefect_server(pg.url) as api_url:
        ...

Used by `tests/conftest.py`, the benchmarks and anyone testing code built on this project.
"""

from agentic.testing.services import environment, running_postgres, running_prefect_server

__all__ = ["environment", "running_postgres", "running_prefect_server"]
