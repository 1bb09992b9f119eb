"""Context managers that run PostgreSQL and a Prefect server as real processes for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from agentic.stacks.ports import free_port
from agentic.stacks.postgres import PostgresCluster
from agentic.stacks.prefect_server import drain_client_workers, prefect_server_command, prefect_server_env
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until


def _world_readable_tmpdir(prefix: str) -> Path:
    # pytest's tmp dirs are 0700 and the cluster may belong to the `postgres` user, who must reach it.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    return path


@contextlib.contextmanager
def running_postgres(data_dir: Path | None = None, port: int | None = None,
                     password: str = "prefect") -> Iterator[PostgresCluster]:
    """A PostgreSQL server on a free port; a fresh cluster in a temp dir unless `data_dir` is given."""
    owned = data_dir is None
    root = data_dir.parent if data_dir is not None else _world_readable_tmpdir("agentic-pg-")
    cluster = PostgresCluster(data_dir=data_dir or root / "data", port=port or free_port(), password=password)
    cluster.ensure()
    log = root / "postgres.log"
    proc = start_process(cluster.command(), log_path=log, **cluster.popen_kwargs())
    try:
        wait_until(cluster.is_ready, timeout=30, what="PostgreSQL", proc=proc, log_path=log)
        cluster.create_database()
        yield cluster
    finally:
        stop_process(proc, sig=2)  # SIGINT = PostgreSQL's "fast shutdown"
        if owned:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_prefect_server(database_url: str, home: Path | None = None, port: int | None = None) -> Iterator[str]:
    """A Prefect server process on a free port; yields its API URL (`http://127.0.0.1:PORT/api`)."""
    owned = home is None
    home = home or Path(tempfile.mkdtemp(prefix="agentic-prefect-"))
    port = port or free_port()
    log = home / "server.log"
    api_url = f"http://127.0.0.1:{port}/api"
    # The UI asks its server for the API URL; without this it would call the default :4200.
    env = {**prefect_server_env(database_url, home), "PREFECT_UI_API_URL": api_url,
           # A wait that ran out is failed within a second, not five (tests wait on it; production keeps 5 s).
           "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS": "1"}
    proc = start_process(prefect_server_command("127.0.0.1", port), env=env, log_path=log)
    try:
        wait_until(lambda: http_ok(api_url + "/health"), timeout=120, what="Prefect server", proc=proc, log_path=log)
        yield api_url
    finally:
        drain_client_workers()  # ship buffered run logs while the server is still there to receive them
        stop_process(proc)
        if owned:
            shutil.rmtree(home, ignore_errors=True)



@contextlib.contextmanager
def environment(values: dict[str, str]):
    """Set environment variables for the duration (the flow reads Settings from the environment, as in
    production; child processes inherit them); restore the previous values afterwards."""
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def serving_in_thread(app: object, *, lifespan: Literal["auto", "on", "off"] = "auto") -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a daemon thread; yields its base URL. For clients
    that need a real socket (a synchronous third-party library, a child process)."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore
                                           lifespan=lifespan))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
