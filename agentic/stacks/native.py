"""Turn compose services into local processes, from their `x-ibt.native` extension (one source of truth, issue #3).

    services:
      prefect:
        image: prefecthq/prefect:3.9.1-python3.11      # what Docker runs
        x-ibt:
          native:                                      # what `ibt stacks run --native` runs instead
            command: ["${IBT_PYTHON:-python}", "-m", "prefect", "server", "start",
                      "--port", "${IBT_PORT_PREFECT:-4200}"]
            env: {PREFECT_API_DATABASE_CONNECTION_URL: "postgresql+asyncpg://...:${IBT_PORT_POSTGRES:-15432}/prefect"}
            port: ${IBT_PORT_PREFECT:-4200}             # checked free before anything starts
            health: http://127.0.0.1:${IBT_PORT_PREFECT:-4200}/api/health
            depends_on: [postgres]                     # default: the compose `depends_on`
            files: [{source: ./x.json, target: "${IBT_STATE:-.ibt}/x.json"}]   # seeded once, never overwritten
            sqlite: {env: {...}}                       # used instead of PostgreSQL with --sqlite
            external_database: {env: {...}}            # used instead of PostgreSQL when IBT_DATABASE_URL is set

`kind: postgres` (with `port` and `data`) is the built-in PostgreSQL cluster; its user, password and database come
from the service's compose `environment` (POSTGRES_USER...), so Docker and native use the same credentials.
Values are interpolated like Compose does, with IBT_STATE, IBT_PYTHON and IBT_ROOT set by the runner. The compose
`restart:` policy applies natively too (`agentic.stacks.restart`). An `env` entry without a value (`VAR:`) passes
the runner's VAR through when it is set and is left out otherwise, as in Compose (`PREFECT_SERVER_API_AUTH_STRING`:
Prefect turns auth on for any value, even an empty one).

Going live (issue #13, docs/going-live.md): IBT_DATABASE_URL (environment or agentic/.env) points the stack at an
existing PostgreSQL — the `kind: postgres` services are not started and their dependants use `external_database`;
the hub keeps a token file (`--token-file`) unless the sandbox's simulators are part of the run (IBT_HUB_TOKEN_FILE).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.errors import ConfigError
from agentic.stacks.compose import ServiceDef, Stack
from agentic.stacks.interpolate import interpolate
from agentic.stacks.postgres import PostgresCluster
from agentic.stacks.restart import RestartPolicy, restart_policy

POSTGRES_HEALTH = "pg_isready"
# Stack settings agentic/.env may hold (the environment wins): the runner reads them like any variable.
STACK_SETTINGS = ("IBT_DATABASE_URL", "PREFECT_SERVER_API_AUTH_STRING")
# With the sandbox's simulators in the run, the hub stays open (the sandbox's clients carry no token).
SANDBOX_SERVICES = {"github-sim", "jules-sim"}


@dataclass
class NativeService:
    """One supervised local process: how to start it, where it listens, how to tell it is healthy."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None
    health: str | None = None  # an http(s) URL, or POSTGRES_HEALTH
    depends_on: list[str] = field(default_factory=list)
    files: dict[Path, Path] = field(default_factory=dict)  # destination <- seed
    env_files: list[tuple[Path, bool]] = field(default_factory=list)  # (path, required)
    stop_signal: int = signal.SIGTERM
    cwd: Path | None = None
    postgres: PostgresCluster | None = None
    sqlite_env: dict[str, str] | None = None  # replaces the PostgreSQL settings under --sqlite
    external_env: dict[str, str] | None = None  # replaces them with IBT_DATABASE_URL
    restart: RestartPolicy = field(default_factory=RestartPolicy)  # the compose `restart:` policy


def runner_variables(state_dir: Path, root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What `${...}` can refer to natively: the caller's environment (+ STACK_SETTINGS from agentic/.env when
    `environ` is not given) plus the runner's own variables."""
    return {
        **(_stack_settings() if environ is None else {}),
        **(os.environ if environ is None else environ),
        "IBT_STATE": str(state_dir),
        "IBT_PYTHON": sys.executable,
        "IBT_ROOT": str(root),
    }


def _stack_settings() -> dict[str, str]:
    from agentic.settings import get_settings

    settings = get_settings()
    values = {name: getattr(settings, name.lower()) for name in STACK_SETTINGS}
    return {name: value.get_secret_value() for name, value in values.items() if value is not None}


def _passed_through(value: Any, variables: Mapping[str, str]) -> dict[str, str]:
    """`env` with Compose's `VAR:` (no value): the runner's VAR when set, else left out."""
    if not isinstance(value, dict):
        return value
    return {k: variables[k] if v is None else v for k, v in value.items() if v is not None or variables.get(k)}


def database_url(value: str) -> str:
    """IBT_DATABASE_URL as Prefect wants it: `postgresql+asyncpg://`. The value is never quoted (a password)."""
    scheme, sep, rest = value.strip().partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+asyncpg") or "@" not in rest:
        raise ConfigError(f"IBT_DATABASE_URL must be postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
                          f"(got a {scheme or 'malformed'!r} URL)")
    return f"postgresql+asyncpg://{rest}"


def _mapping(value: Any, where: str) -> dict[str, str]:
    """Compose accepts `environment` as a mapping or a list of `KEY=VALUE`."""
    if value is None:
        return {}
    if isinstance(value, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in map(str, value))
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    raise ConfigError(f"{where} must be a mapping or a list of KEY=VALUE")


def _port(value: Any, where: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: port must be a number, got {value!r}") from exc


def _stop_signal(raw: dict[str, Any], where: str) -> int:
    name = str(raw.get("stop_signal", "SIGTERM")).upper()
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError as exc:
        raise ConfigError(f"{where}: unknown stop_signal {name}") from exc


def _env_files(raw: dict[str, Any], base: Path) -> list[tuple[Path, bool]]:
    value = raw.get("env_file") or []
    entries = [value] if isinstance(value, (str, dict)) else value
    files = []
    for entry in entries:
        if isinstance(entry, str):
            files.append(((base / entry).resolve(), True))
        else:
            files.append(((base / entry["path"]).resolve(), bool(entry.get("required", True))))
    return files


def _files(value: Any, path: Any, where: str) -> dict[Path, Path]:
    """`files: [{source, target}]` (Compose's `configs` wording) -> {target: source}."""
    if not value:
        return {}
    if not isinstance(value, list) or not all(isinstance(f, dict) and {"source", "target"} <= f.keys() for f in value):
        raise ConfigError(f"{where}: x-ibt.native.files must be a list of {{source, target}}")
    return {path(f["target"]): path(f["source"]) for f in value}


def _compose_depends_on(raw: dict[str, Any]) -> list[str]:
    deps = raw.get("depends_on") or []
    return list(deps) if isinstance(deps, (list, dict)) else []


def native_service(service: ServiceDef, variables: Mapping[str, str]) -> NativeService:
    """Read one service's `x-ibt.native` (interpolated); paths are relative to the compose file."""
    where = f"{service.source}: service {service.name!r}"
    native = (service.raw.get("x-ibt") or {}).get("native")
    if not isinstance(native, dict):
        raise ConfigError(f"{where} has no `x-ibt.native` section, so it can only run with Docker")
    native = interpolate(native, variables)
    base = service.source.parent

    def path(value: str) -> Path:
        return (base / value).resolve()

    common = dict(
        name=service.name,
        port=_port(native.get("port"), where),
        depends_on=[str(d) for d in native.get("depends_on", _compose_depends_on(service.raw))],
        env_files=_env_files(interpolate(service.raw, variables), base),
        stop_signal=_stop_signal(service.raw, where),
        files=_files(native.get("files"), path, where),
        restart=restart_policy(interpolate(service.raw, variables), where),
    )
    if native.get("kind") == "postgres":
        env = _mapping(interpolate(service.raw.get("environment"), variables), f"{where} environment")
        if "data" not in native or common["port"] is None:
            raise ConfigError(f"{where}: `kind: postgres` needs `port` and `data`")
        user = env.get("POSTGRES_USER") or "postgres"
        cluster = PostgresCluster(
            data_dir=path(native["data"]), port=common["port"], user=user,
            password=env.get("POSTGRES_PASSWORD") or user, database=env.get("POSTGRES_DB") or user,
        )
        return NativeService(argv=[], health=POSTGRES_HEALTH, postgres=cluster, **common)
    command = native.get("command")
    if not (isinstance(command, list) and command and all(isinstance(a, (str, int, float)) for a in command)):
        raise ConfigError(f"{where}: `x-ibt.native.command` must be a non-empty list of strings")
    sqlite, external = native.get("sqlite"), native.get("external_database")
    return NativeService(
        argv=[str(a) for a in command],
        env=_mapping(_passed_through(native.get("env"), variables), f"{where} x-ibt.native.env"),
        health=native.get("health"),
        cwd=path(native["cwd"]) if native.get("cwd") else Path(variables["IBT_ROOT"]),
        sqlite_env=None if sqlite is None else _mapping(sqlite.get("env"), f"{where} x-ibt.native.sqlite.env"),
        external_env=None if external is None else _mapping(
            external.get("env"), f"{where} x-ibt.native.external_database.env"),
        **common,
    )


def plan(stack: Stack, variables: Mapping[str, str], *, sqlite: bool = False) -> list[NativeService]:
    """Services in start order (dependencies first). With `sqlite`, PostgreSQL is dropped and its dependants
    switch to their `sqlite.env`; a dependant without one is a ConfigError. With IBT_DATABASE_URL in `variables`,
    the same with `external_database.env` (the URL in asyncpg form)."""
    variables = dict(variables)
    external = variables.get("IBT_DATABASE_URL") or ""
    if external:
        if sqlite:
            raise ConfigError("IBT_DATABASE_URL and --sqlite exclude each other: unset one")
        variables["IBT_DATABASE_URL"] = database_url(external)
    if SANDBOX_SERVICES & set(stack.services):
        variables.setdefault("IBT_HUB_TOKEN_FILE", "")
    services = {name: native_service(svc, variables) for name, svc in stack.services.items()}
    if sqlite or external:
        key, label = ("sqlite_env", "`sqlite`") if sqlite else ("external_env", "`external_database`")
        dropped = {name for name, svc in services.items() if svc.postgres is not None}
        for name in dropped:
            del services[name]
        for svc in services.values():
            needs = [d for d in svc.depends_on if d in dropped]
            if not needs:
                continue
            if getattr(svc, key) is None:
                raise ConfigError(f"service {svc.name!r} needs PostgreSQL ({', '.join(needs)}) and its "
                                  f"x-ibt.native has no {label} fallback")
            svc.env.update(getattr(svc, key))
            svc.depends_on = [d for d in svc.depends_on if d not in dropped]
    return _start_order(services)


def _start_order(services: dict[str, NativeService]) -> list[NativeService]:
    order: list[NativeService] = []
    visiting: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if any(s.name == name for s in order):
            return
        if name in visiting:
            raise ConfigError(f"dependency cycle: {' -> '.join((*chain, name))}")
        if name not in services:
            raise ConfigError(f"service {chain[-1]!r} depends on {name!r}, which none of the given stacks defines "
                              f"(add its stack to the command, e.g. `ibt stacks run prefect ...`)")
        visiting.add(name)
        for dep in services[name].depends_on:
            visit(dep, (*chain, name))
        visiting.discard(name)
        order.append(services[name])

    for name in services:
        visit(name, ())
    return order
