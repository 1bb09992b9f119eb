"""Test harness shipped with the package (like `prefect_test_harness`): real services on free ports, torn down after.

    with running_postgres() as pg, running_prefect_server(pg.url) as api_url:
        ...
    with running_native_stack("mcp-hub") as stack:   # `ibt stacks run -d`; kill/restart one service
        ...

Used by `tests/conftest.py`, the benchmarks and anyone testing code built on this project.
"""

from agentic.testing.services import environment, running_postgres, running_prefect_server
from agentic.testing.stack import NativeStack, running_native_stack

__all__ = ["NativeStack", "environment", "running_native_stack", "running_postgres", "running_prefect_server"]
