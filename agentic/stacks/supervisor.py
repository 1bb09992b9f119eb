"""Run a planned stack as local processes, the way `docker compose up` runs containers.

Each service starts once its dependencies are healthy, in its own session (so a stop reaches its grandchildren),
with its output prefixed on the console (`prefect  | ...`) and copied to `.ibt/logs/<service>.log`.
A service that fails its first start fails the stack. Once the stack is up, a service that exits is handled by its
compose `restart:` policy (`agentic.stacks.restart`): restarted after a backoff, or left down; every such event is
a line in `.ibt/logs/supervisor.log`. `ibt stacks restart SERVICE` reaches the supervisor through request files in
`.ibt/run/control/`, served by the same loop, so restarts and stops never race.
Whatever ends the run — a signal, a failure — every started service is stopped, dependants first, and none heals.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from rich.console import Console
from rich.text import Text

from agentic.errors import AgenticError, ConfigError, StackError
from agentic.stacks.native import POSTGRES_HEALTH, NativeService
from agentic.stacks.ports import port_holder
from agentic.stacks.postgres import find_pg_bindir
from agentic.stacks.process import http_ok, stop_process
from agentic.stacks.restart import Backoff, describe_exit
from agentic.stacks.state import StateDir, process_identity

TICK = 0.2  # seconds between two looks at the services and the control requests

_COLORS = ["cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta"]


def port_env_var(service: str) -> str:
    """The variable the stack files use for a service's port: `mcp-hub` -> IBT_PORT_MCP_HUB."""
    return "IBT_PORT_" + service.upper().replace("-", "_")


def probe(health: str | None, port: int | None) -> bool:
    """One health check: an HTTP URL answering < 500, or PostgreSQL accepting connections."""
    if health == POSTGRES_HEALTH:
        bindir = find_pg_bindir()
        if bindir is None or port is None:
            return False
        return subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"]).returncode == 0
    if health:
        return http_ok(health, timeout=1.0)
    return True


def check_ports(services: list[NativeService]) -> None:
    """Fail before starting anything if a port is taken, naming who holds it."""
    for svc in services:
        if svc.port is None:
            continue
        holder = port_holder(svc.port)
        if holder:
            raise StackError(
                f"port {svc.port} ({svc.name}) is held by {holder}; stop it or change the port "
                f"(e.g. {port_env_var(svc.name)}={svc.port + 10000})"
            )


@dataclass
class Watch:
    """What the supervisor tracks about one service across its restarts."""

    state: str = "created"  # starting -> healthy; exited -> backoff -> starting ...; or down (stays down)
    restarts: int = 0  # automatic restarts (on-failure:N counts these)
    backoff: Backoff = field(default_factory=Backoff)
    due: float = 0.0  # in backoff: when to start again (monotonic)
    healthy_since: float | None = None
    last_exit: str | None = None  # "code 1", "signal SIGKILL"
    waiters: list[tuple[str, int | None, float]] = field(default_factory=list)  # (request id, old pid, asked at)


class Supervisor:
    """Start, watch, heal and stop the services of one stack. `run()` blocks until `stop` is set (a clean stop,
    returns) or the stack fails (raises StackError)."""

    def __init__(self, services: list[NativeService], state: StateDir, console: Console, *, stacks: list[str],
                 echo: bool = True, startup_timeout: float = 180.0, event_log: Path | None = None) -> None:
        self.services = services
        self.state = state
        self.console = console
        self.stacks = stacks
        self.echo = echo
        self.startup_timeout = startup_timeout
        # Restart events also go to this file; None when the console already is the supervisor log (`-d`).
        self.event_log = event_log
        self.stop = threading.Event()
        self.procs: dict[str, subprocess.Popen] = {}
        self.healthy: set[str] = set()
        self.watch: dict[str, Watch] = {s.name: Watch() for s in services}
        self.status = "starting"
        self._pumps: list[threading.Thread] = []
        self._spawned_at: dict[str, float] = {}
        width = max((len(s.name) for s in services), default=0)
        colors = itertools.cycle(_COLORS)
        self._prefix = {s.name: (f"{s.name:<{width}} | ", next(colors)) for s in services}

    # --- lifecycle -------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Start everything, wait for health, then supervise until stopped. Raises StackError on any failure;
        returns normally on a requested stop. Every started process is gone when this returns or raises."""
        check_ports(self.services)
        began = time.monotonic()
        if self.event_log is not None:
            self.event_log.write_bytes(b"")  # one run per log file, like the services' logs
        try:
            self._write_state()
            self._start_all()
            if self.stop.is_set():
                return
            self.status = "healthy"  # = up and supervised; each service's own state is in the run file
            self._write_state()
            self._announce(time.monotonic() - began)
            while not self.stop.wait(TICK):
                self._serve_requests()
                self._look_after()
        except BaseException as exc:
            self.status = "failed"
            self._write_state(error=str(exc) if isinstance(exc, StackError) else repr(exc))
            raise
        finally:
            self.stop_all()

    def stop_all(self) -> None:
        """Dependants first (reverse start order), each process group signalled, SIGKILL after a grace period."""
        self.stop.set()  # nothing heals from here on
        started = [svc for svc in reversed(self.services) if svc.name in self.procs]
        if started:
            self.console.print(f"[dim]stopping {', '.join(s.name for s in started)}[/]")
        for svc in started:
            if self.watch[svc.name].state in ("backoff", "down"):
                continue  # exited and its group cleared already; its pid may belong to someone else by now
            stop_process(self.procs[svc.name], sig=svc.stop_signal, timeout=20)
        for name, watch in self.watch.items():
            for request, _, _ in watch.waiters:
                self._answer(request, ok=False, message=f"the stack stopped before {name} was healthy again")
            watch.waiters.clear()
        for pump in self._pumps:
            pump.join(timeout=5)
        self.procs.clear()
        self.state.clear_run()

    # --- healing ---------------------------------------------------------------------------------------------
    def _look_after(self) -> None:
        """One pass over the services: notice exits, start what is due, tell who became healthy again."""
        for svc in self.services:
            watch, proc = self.watch[svc.name], self.procs.get(svc.name)
            if watch.state in ("starting", "healthy") and proc is not None and proc.poll() is not None:
                self._exited(svc, proc.returncode)
            elif watch.state == "backoff" and time.monotonic() >= watch.due and not self.stop.is_set():
                self._respawn(svc)
            elif watch.state == "starting" and self._probe_started(svc):
                self._became_healthy(svc)
                asked = [at for _, _, at in watch.waiters]
                since = f", {time.monotonic() - min(asked):.1f}s after the request" if asked else ""
                self._event(f"{svc.name} healthy again (pid {self.procs[svc.name].pid}{since})")
                for request, old_pid, at in watch.waiters:
                    self._answer(request, ok=True, service=svc.name, old_pid=old_pid,
                                 pid=self.procs[svc.name].pid, seconds=round(time.monotonic() - at, 2))
                watch.waiters.clear()
        if all(w.state == "down" for w in self.watch.values()):
            raise StackError("every service has exited and none restarts (see `ibt stacks logs`)")

    def _exited(self, svc: NativeService, returncode: int) -> None:
        watch = self.watch[svc.name]
        healthy_for = None if watch.healthy_since is None else time.monotonic() - watch.healthy_since
        stop_process(self.procs[svc.name])  # already exited: SIGKILLs what is left of its group (workers, backends)
        self.healthy.discard(svc.name)
        watch.last_exit, watch.healthy_since = describe_exit(returncode), None
        why_not = svc.restart.decide(returncode, watch.restarts)
        if why_not is None:
            delay = watch.backoff.next(healthy_for)
            watch.restarts += 1
            watch.state, watch.due = "backoff", time.monotonic() + delay
            self._event(f"{svc.name} exited with {watch.last_exit}; restart {watch.restarts} in {delay:.1f}s "
                        f"(restart: {svc.restart})")
        else:
            watch.state = "down"
            self._event(f"{svc.name} exited with {watch.last_exit}; it stays down: {why_not}{self._tail(svc.name)}")
        for request, _, _ in watch.waiters:
            then = "a restart is due" if why_not is None else "it stays down"
            self._answer(request, ok=False,
                         message=f"{svc.name} exited with {watch.last_exit} before becoming healthy ({then}; "
                                 f"`ibt stacks logs {svc.name}`)")
        watch.waiters.clear()
        self._write_state()

    def _serve_requests(self) -> None:
        """Requests written by `agentic.stacks.control.request_restart` (`ibt stacks restart`)."""
        if not self.state.control.is_dir():
            return
        for path in sorted(self.state.control.glob("*.request")):
            request = path.name.removesuffix(".request")
            try:
                body = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            path.unlink(missing_ok=True)
            svc = next((s for s in self.services if s.name == body.get("service")), None)
            if body.get("action") != "restart" or svc is None:
                self._answer(request, ok=False, message=f"unknown service {body.get('service')!r} (this stack runs "
                                                        f"{', '.join(s.name for s in self.services)})")
                continue
            self._restart_now(svc, request)

    def _restart_now(self, svc: NativeService, request: str) -> None:
        """Stop the service with its stop signal and start it again in place (same state dir, same settings)."""
        watch, proc = self.watch[svc.name], self.procs.get(svc.name)
        old_pid = proc.pid if proc is not None and proc.poll() is None else None
        self._event(f"{svc.name} restart requested (pid {old_pid or '-'}, was {watch.state})")
        watch.state = "stopping"  # its exit is ours: no policy applies
        if old_pid is not None:
            stop_process(proc, sig=svc.stop_signal, timeout=20)
        self.healthy.discard(svc.name)
        # A requested restart is a fresh start: count and backoff start over, as after `docker restart`.
        watch.restarts, watch.backoff, watch.healthy_since = 0, Backoff(), None
        watch.waiters.append((request, old_pid, time.monotonic()))
        if self.stop.is_set():  # a stop arrived while it was stopping: stop_all answers the request
            return
        self._respawn(svc)

    def _respawn(self, svc: NativeService) -> None:
        """Start a service again; if it cannot even be spawned (binary or env_file gone), it stays down and the
        rest of the stack keeps running."""
        watch = self.watch[svc.name]
        try:
            self._spawn(svc, fresh_log=False)
        except AgenticError as exc:
            watch.state = "down"
            self._event(f"{svc.name} cannot be started again; it stays down: {exc}")
            for request, _, _ in watch.waiters:
                self._answer(request, ok=False, message=f"{svc.name} cannot be started again: {exc}")
            watch.waiters.clear()
        self._write_state()

    def _answer(self, request: str, **result: object) -> None:
        control = self.state.control
        control.mkdir(parents=True, exist_ok=True)
        tmp = control / f"{request}.result.tmp"
        tmp.write_text(json.dumps(result))
        os.replace(tmp, control / f"{request}.result")

    def _event(self, text: str) -> None:
        """A restart event: on the console and in the supervisor log, timestamped."""
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}"
        self.console.print(Text(line, style="yellow"), highlight=False, soft_wrap=True)
        if self.event_log is not None:
            with open(self.event_log, "a") as log:
                log.write(line + "\n")

    # --- starting --------------------------------------------------------------------------------------------
    def _start_all(self) -> None:
        pending = list(self.services)
        began = time.monotonic()
        deadline = began + self.startup_timeout
        with self.console.status("starting", spinner="dots") as status:
            while len(self.healthy) < len(self.services) and not self.stop.is_set():
                for svc in list(pending):
                    if all(dep in self.healthy for dep in svc.depends_on):
                        status.update(f"starting {svc.name}")
                        self._spawn(svc)
                        pending.remove(svc)
                        self._write_state()
                waiting = [s for s in self.services if s.name in self.procs and s.name not in self.healthy]
                for svc in waiting:
                    proc = self.procs[svc.name]
                    if proc.poll() is not None:
                        raise StackError(f"{svc.name} exited with code {proc.returncode} before becoming healthy"
                                         f"{self._tail(svc.name)}")
                    if self._probe_started(svc):
                        self._became_healthy(svc)
                        self.console.print(f"[green]✔[/] {svc.name} healthy "
                                           f"[dim]({time.monotonic() - began:.1f}s)[/]")
                names = [s.name for s in self.services if s.name not in self.healthy]
                if names:
                    status.update(f"waiting for {', '.join(names)} [dim]({time.monotonic() - began:.0f}s)[/]")
                if time.monotonic() > deadline:
                    raise StackError(f"{', '.join(names)} not healthy after {self.startup_timeout:.0f}s"
                                     f"{self._tail(names[0])}")
                self.stop.wait(0.2)

    def _probe_started(self, svc: NativeService) -> bool:
        if svc.health is None:  # nothing to ask: "healthy" means it survived its first second
            return time.monotonic() - self._spawned_at[svc.name] >= 1.0
        return probe(svc.health, svc.port)

    def _spawn(self, svc: NativeService, *, fresh_log: bool = True) -> None:
        self._seed_files(svc)
        if fresh_log:
            self.state.log(svc.name).write_bytes(b"")  # one run per log file: `ibt stacks logs` shows this run
            os.chmod(self.state.log(svc.name), 0o600)  # the hub prints its generated token there once (#13)
        argv, user = svc.argv, None
        if svc.postgres is not None:
            self.console.print(f"[dim]{svc.name}: cluster in {svc.postgres.data_dir}[/]")
            svc.postgres.ensure()  # initdb on first run only
            argv, user = svc.postgres.command(), svc.postgres.popen_kwargs()["user"]
        env = {**os.environ}
        for path, required in svc.env_files:
            if path.exists():
                env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
            elif required:
                raise ConfigError(f"{svc.name}: env_file {path} not found")
        env.update(svc.env)
        try:
            proc = subprocess.Popen(
                argv, env=env, cwd=svc.cwd, user=user, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        except OSError as exc:
            raise StackError(f"{svc.name}: cannot run {argv[0]}: {exc}") from exc
        self.procs[svc.name] = proc
        self._spawned_at[svc.name] = time.monotonic()
        self.watch[svc.name].state = "starting"
        pump = threading.Thread(target=self._pump, args=(svc.name, proc), daemon=True, name=f"log-{svc.name}")
        pump.start()
        self._pumps = [p for p in self._pumps if p.is_alive()] + [pump]

    def _seed_files(self, svc: NativeService) -> None:
        for dest, src in svc.files.items():
            if dest.exists():
                continue
            if not src.exists():
                raise ConfigError(f"{svc.name}: seed file {src} not found")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)

    def _became_healthy(self, svc: NativeService) -> None:
        if svc.postgres is not None:
            svc.postgres.create_database()  # dependants need the database, not just the server
        self.healthy.add(svc.name)
        watch = self.watch[svc.name]
        watch.state, watch.healthy_since = "healthy", time.monotonic()
        self._write_state()

    # --- output ----------------------------------------------------------------------------------------------
    def _pump(self, name: str, proc: subprocess.Popen) -> None:
        prefix, color = self._prefix[name]
        with open(self.state.log(name), "ab") as log:
            for line in iter(proc.stdout.readline, b""):  # type: ignore[union-attr]
                log.write(line)
                log.flush()
                if self.echo:
                    text = Text.from_ansi(line.decode(errors="replace").rstrip("\r\n"))
                    self.console.print(Text(prefix, style=color) + text, highlight=False, soft_wrap=True)

    def _announce(self, elapsed: float) -> None:
        for svc in self.services:
            where = f"port {svc.port}" if svc.port else ""
            url = svc.health if svc.health and svc.health.startswith("http") else ""
            self.console.print(f"[bold green]●[/] {svc.name:<12} {where:<11} [dim]{url}[/]")
        hint = "; Ctrl+C stops it" if self.echo else ""
        self.console.print(f"[green]stack healthy in {elapsed:.1f}s[/][dim]{hint}[/]")

    def _tail(self, name: str, lines: int = 25) -> str:
        path: Path = self.state.log(name)
        time.sleep(0.2)  # let the pump flush the last lines of a dying process
        if not path.exists():
            return ""
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- last lines of {path} ---\n" + "\n".join(text)

    def _running(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def _write_state(self, error: str | None = None) -> None:
        self.state.write_run({
            "supervisor": process_identity(os.getpid()),
            "status": self.status,
            "error": error,
            "stacks": self.stacks,
            "services": [
                {"name": s.name, "port": s.port, "health": s.health,
                 "healthy": s.name in self.healthy, "log": str(self.state.log(s.name)),
                 "state": self.watch[s.name].state, "restart": str(s.restart),
                 "restarts": self.watch[s.name].restarts, "last_exit": self.watch[s.name].last_exit,
                 **(process_identity(self.procs[s.name].pid) if self._running(s.name) else {"pid": None})}
                for s in self.services
            ],
        })
