"""`ibt stacks`: run the compose stacks under `stacks/` with Docker, or natively as supervised processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentic.errors import AgenticError
from agentic.settings import get_settings
from agentic.stacks.compose import Stack, available_stacks, default_stacks_dir, find_stack_file, load_compose_file
from agentic.stacks.control import clean_stale, ensure_not_running, request_restart, running_stack, stop_stack
from agentic.stacks.docker import (
    compose_base,
    compose_command,
    compose_ps,
    compose_restart_command,
    docker_available,
    forget_stack,
    record_stack,
    recorded_stack,
)
from agentic.stacks.images import docker_labels, stack_images
from agentic.stacks.native import plan, runner_variables
from agentic.stacks.postgres import find_pg_bindir
from agentic.stacks.state import StateDir, is_alive
from agentic.stacks.supervisor import Supervisor, check_ports, probe

app = typer.Typer(no_args_is_help=True, help="Run, inspect and stop stacks (stacks/<name>/<name>.local.yaml).")

console = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

StateDirOpt = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="IBT_STATE_DIR", help="State directory [default: settings.state_dir, .ibt/]"),
]
StacksDirOpt = Annotated[
    Path | None,
    typer.Option("--stacks-dir", envvar="IBT_STACKS_DIR", help="Where stack folders live [default: ./stacks]"),
]


def _state(state_dir: Path | None) -> StateDir:
    return StateDir((state_dir or get_settings().state_dir).resolve())


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(Text("error: ", style="bold red") + Text(message))
    return typer.Exit(code)


@app.command()
def run(
    stacks: Annotated[list[str], typer.Argument(help="Stack names, e.g. `prefect mcp-hub sandbox`.",
                                                show_default=False)],
    native: Annotated[bool, typer.Option("--native", help="Local processes even if a Docker engine answers.")] = False,
    detach: Annotated[bool, typer.Option("--detach", "-d",
                                         help="Run in the background (see status/logs/stop).")] = False,
    sqlite: Annotated[bool, typer.Option("--sqlite", help="Fallback: Prefect on SQLite, no PostgreSQL.")] = False,
    stacks_dir: StacksDirOpt = None,
    state_dir: StateDirOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every service to be healthy.")] = 180.0,
    supervise: Annotated[bool, typer.Option("--supervise", hidden=True)] = False,
) -> None:
    """Start stacks like `docker compose up`: with Docker if an engine answers, else as local processes.

    Natively, PostgreSQL gets a cluster under the state directory, services start once their dependencies are
    healthy, logs are prefixed per service, and Ctrl+C / SIGTERM stops everything.
    """
    stacks_dir = (stacks_dir or default_stacks_dir()).resolve()
    try:
        stack = Stack.load(stacks, stacks_dir)
        if not (native or sqlite or supervise) and docker_available():
            _docker_run(stacks, stack.files, stacks_dir, _state(state_dir), detach)
        if not (native or supervise):
            console.print("[dim]no Docker engine answering: running the stack natively (--native)[/]")
        state = _state(state_dir)
        state.prepare()
        variables = runner_variables(state.root, stacks_dir.parent)
        services = plan(stack, variables, sqlite=sqlite)
        if not sqlite and any(s.postgres for s in services) and find_pg_bindir() is None:
            err.print("[yellow]warning:[/] PostgreSQL binaries not found (apt-get install postgresql): "
                      "falling back to SQLite")
            sqlite, services = True, plan(stack, variables, sqlite=True)
        elif sqlite and not supervise:
            err.print("[yellow]warning:[/] --sqlite: Prefect keeps its state in SQLite, not PostgreSQL "
                      "(a fallback: fine for a demo, not what Docker runs)")
        if not supervise:
            stale = clean_stale(state)
            if stale:
                err.print(f"[yellow]warning:[/] removed a stale run file (supervisor pid "
                          f"{stale['supervisor']['pid']} is gone)")
            ensure_not_running(state)
        check_ports(services)
        if detach:
            _run_detached(stacks, stacks_dir, state, sqlite, timeout)
            return
        # Detached, this process's output already is logs/supervisor.log; in the foreground events go there too.
        supervisor = Supervisor(services, state, console, stacks=stacks, echo=not supervise,
                                startup_timeout=timeout, event_log=None if supervise else state.log("supervisor"))
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: supervisor.stop.set())
        supervisor.run()
    except AgenticError as exc:
        raise _fail(str(exc)) from None


def _docker_run(stacks: list[str], files: list[Path], stacks_dir: Path, state: StateDir, detach: bool) -> None:
    missing = [tag for tag in stack_images(files, stacks_dir) if docker_labels(tag) is None]
    if missing:  # never let compose reach for a registry on its own: say what to do instead
        raise _fail(f"the engine has no image {', '.join(missing)}: `docker compose pull` where a registry is "
                    f"reachable, or build them offline with `ibt images build {' '.join(stacks)}`")
    argv = compose_command(files, detach=detach)
    console.print(f"[dim]Docker engine found: {' '.join(argv)}[/]")
    record_stack(state.root, stacks, files)
    # The hub's state directory is mounted from IBT_STATE, as natively: one settings and token file for both paths.
    raise typer.Exit(subprocess.call(argv, env={**os.environ, "IBT_STATE": str(state.root)}))


def _docker_stack(state: StateDir) -> tuple[list[str], list[Path]] | None:
    """The Docker stack last started from this state directory, when no native one runs there."""
    if running_stack(state) is not None:
        return None
    recorded = recorded_stack(state.root)
    return recorded if recorded is not None and docker_available() else None


def _run_detached(stacks: list[str], stacks_dir: Path, state: StateDir, sqlite: bool, timeout: float) -> None:
    """Spawn `ibt stacks run --supervise` in its own session, wait (live status) until it reports healthy."""
    log = state.logs / "supervisor.log"
    argv = [sys.executable, "-m", "agentic.cli", "stacks", "run", *stacks, "--native", "--supervise",
            "--stacks-dir", str(stacks_dir), "--state-dir", str(state.root), "--timeout", str(timeout),
            *(["--sqlite"] if sqlite else [])]
    log.write_bytes(b"")
    # Append mode: the supervisor appends its restart events to the same file through its stdout.
    with open(log, "ab") as out:
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    with console.status("starting the supervisor") as status:
        while True:
            if child.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise _fail(f"the stack did not start (supervisor exited with code {child.returncode}):\n{tail}")
            run = state.read_run()
            if run and run.get("supervisor", {}).get("pid") == child.pid:
                if run["status"] == "healthy":
                    break
                waiting = [s["name"] for s in run["services"] if not s["healthy"]]
                status.update(f"waiting for {', '.join(waiting)}")
            time.sleep(0.2)
    console.print(f"[green]stack up[/] (supervisor pid {child.pid}); "
                  "`ibt stacks status`, `ibt stacks logs -f`, `ibt stacks stop`")
    _print_status(state)


def _print_status(state: StateDir) -> bool:
    """Table of the running stack; True if every service is alive and healthy."""
    run = running_stack(state)
    if not run:
        return False
    table = Table(title=f"stack: {' '.join(run['stacks'])} (supervisor pid {run['supervisor']['pid']})")
    for column in ("service", "pid", "port", "health", "restarts"):
        table.add_column(column)
    all_ok = True
    for svc in run["services"]:
        if not is_alive(svc):
            waiting = svc.get("state") == "backoff"
            health, ok = ("[yellow]restarting[/]" if waiting else "[red]stopped[/]"), False
        elif probe(svc["health"], svc["port"]):
            health, ok = "[green]healthy[/]", True
        else:
            health, ok = ("[yellow]starting[/]" if svc.get("state") == "starting" else "[yellow]unhealthy[/]"), False
        all_ok &= ok
        restarts = str(svc.get("restarts", 0)) + (f" (last: {svc['last_exit']})" if svc.get("last_exit") else "")
        table.add_row(svc["name"], str(svc.get("pid") or "-"), str(svc["port"] or "-"), health, restarts)
    console.print(table)
    return all_ok


@app.command()
def status(state_dir: StateDirOpt = None) -> None:
    """Show the running stack: service, pid, port, health. Exit code 1 if nothing runs or a service is unhealthy."""
    state = _state(state_dir)
    docker = _docker_stack(state)
    if docker is not None:
        containers = compose_ps(docker[1])
        table = Table(title=f"stack: {' '.join(docker[0])} (docker compose)")
        for column in ("service", "state", "health", "ports"):
            table.add_column(column)
        for item in containers:
            table.add_row(item.service, item.state, item.health or "-", item.ports)
        console.print(table)
        if not containers or not all(item.ok for item in containers):
            raise typer.Exit(1)
        return
    if not running_stack(state):
        run = state.read_run()
        hint = f" (stale run file of pid {run['supervisor']['pid']}: `ibt stacks stop` cleans it)" if run else ""
        console.print(f"no stack is running from {state.root}{hint}")
        raise typer.Exit(1)
    if not _print_status(state):
        raise typer.Exit(1)


@app.command()
def logs(
    service: Annotated[str | None, typer.Argument(help="One service (default: all).", show_default=False)] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    state_dir: StateDirOpt = None,
) -> None:
    """Print the services' logs (from `.ibt/logs/`), prefixed like `docker compose logs`; `supervisor` holds the
    restart events."""
    state = _state(state_dir)
    docker = _docker_stack(state)
    if docker is not None:
        raise typer.Exit(subprocess.call([*compose_base(docker[1]), "logs", *(["--follow"] if follow else []),
                                          *([service] if service else [])]))
    known = sorted(p.stem for p in state.logs.glob("*.log")) if state.logs.is_dir() else []
    if service is not None and service not in known:
        raise _fail(f"no log for service {service!r} in {state.logs} (known: {', '.join(known) or 'none'})")
    # The supervisor's restart events come last in the all-services view.
    names = [service] if service else sorted(known, key=lambda n: n == "supervisor")
    width = max((len(n) for n in names), default=0)
    offsets = dict.fromkeys(names, 0)

    def drain() -> None:
        for name in names:
            with open(state.log(name), "rb") as fh:
                fh.seek(offsets[name])
                data = fh.read()
            complete = data[: data.rfind(b"\n") + 1]
            offsets[name] += len(complete)
            for line in complete.decode(errors="replace").splitlines():
                console.print(Text(f"{name:<{width}} | ", style="cyan") + Text.from_ansi(line))

    drain()
    try:
        while follow:
            time.sleep(0.3)
            drain()
    except KeyboardInterrupt:
        pass


@app.command()
def stop(state_dir: StateDirOpt = None) -> None:
    """Stop the stack started with `-d` (or in another terminal), and any service a dead supervisor left behind."""
    state = _state(state_dir)
    docker = _docker_stack(state)
    if docker is not None:  # `down` keeps the volumes: the state outlives the containers, as natively
        code = subprocess.call([*compose_base(docker[1]), "down"])
        if code == 0:
            forget_stack(state.root)
        raise typer.Exit(code)
    stopped = stop_stack(state)
    if stopped is None:
        console.print(f"no stack is running from {state.root}")
        return
    console.print(f"stopped {', '.join(s['name'] for s in stopped.get('services', []))}")


def _compose_files_defining(service: str, stacks_dir: Path) -> list[Path]:
    files = [find_stack_file(name, stacks_dir) for name in available_stacks(stacks_dir)]
    return [path for path in files if service in load_compose_file(path)["services"]]


@app.command()
def restart(
    service: Annotated[str, typer.Argument(help="The service, e.g. `mcp-hub`.", show_default=False)],
    native: Annotated[bool, typer.Option("--native", help="Only a native stack, even if a Docker engine answers.")]
    = False,
    stacks_dir: StacksDirOpt = None,
    state_dir: StateDirOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the service to be healthy again.")] = 180.0,
) -> None:
    """Restart one service in place, keeping its state, and wait for its health check.

    A native stack running from the state directory is asked through its supervisor; otherwise, with a Docker
    engine, this is `docker compose -f <the stack file defining SERVICE> restart SERVICE`.
    """
    state = _state(state_dir)
    try:
        if not native and running_stack(state) is None and docker_available():
            stacks_dir = (stacks_dir or default_stacks_dir()).resolve()
            recorded = recorded_stack(state.root)
            files = recorded[1] if recorded else _compose_files_defining(service, stacks_dir)
            if recorded and not any(service in load_compose_file(path)["services"] for path in files):
                files = []
            if not files:
                raise _fail(f"unknown service {service!r}: no stack under {stacks_dir} defines it")
            argv = compose_restart_command(files, service)
            console.print(f"[dim]Docker engine found: {' '.join(argv)}[/]")
            raise typer.Exit(subprocess.call(argv))
        result = request_restart(state, service, timeout=timeout)
    except AgenticError as exc:
        raise _fail(str(exc)) from None
    console.print(f"{service} restarted (pid {result.get('old_pid') or '-'} → {result['pid']}), "
                  f"healthy in {result['seconds']:.1f}s")
