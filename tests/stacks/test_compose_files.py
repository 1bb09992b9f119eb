"""The compose files: valid against the Compose Specification, coherent when merged like `docker compose -f a -f b`,
and carrying a native description (`x-ibt.native`) for every service the runner starts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from agentic.stacks.compose import Stack, available_stacks, find_stack_file
from agentic.stacks.interpolate import interpolate
from agentic.stacks.native import plan, runner_variables
from tests.stacks.conftest import ROOT, STACKS

SCHEMA = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
COMPOSE_FILES = sorted(STACKS.glob("*/*.yaml"))
README_STACKS = ["prefect", "mcp-hub"]  # docker compose -f prefect.local.yaml -f mcp-hub.local.yaml up


def load(path: Path, env: dict | None = None) -> dict:
    return interpolate(yaml.safe_load(path.read_text()), env or {})


def test_every_stack_has_both_variants():
    assert available_stacks(STACKS) == ["llm", "mcp-hub", "prefect", "sandbox", "triggers", "worker"]
    for name in ("prefect", "mcp-hub"):
        assert (STACKS / name / f"{name}.local.yaml").is_file() and (STACKS / name / f"{name}.yaml").is_file()
    assert find_stack_file("prefect", STACKS).name == "prefect.local.yaml"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("env", [{}, {"IBT_PORT_PREFECT": "14200", "IBT_PORT_MCP_HUB": "13000"}], ids=["defaults", "ports"])
def test_valid_against_compose_spec(path, env):
    jsonschema.validate(load(path, env), SCHEMA)


def test_schema_rejects_what_compose_rejects():
    """The vendored schema is strict enough to catch a typo (or these tests would prove nothing)."""
    bad = load(STACKS / "prefect" / "prefect.local.yaml")
    bad["services"]["prefect"]["helthcheck"] = bad["services"]["prefect"].pop("healthcheck")
    with pytest.raises(jsonschema.ValidationError, match="helthcheck"):
        jsonschema.validate(bad, SCHEMA)


def merged(files: list[Path]) -> dict:
    """What `docker compose -f a -f b config` merges: services and volumes by name, later files win per key."""
    out: dict = {"services": {}, "volumes": {}}
    for path in files:
        data = load(path)
        for name, svc in data["services"].items():
            out["services"].setdefault(name, {}).update(svc)
        out["volumes"].update(data.get("volumes") or {})
    return out


def published(service: dict) -> list[tuple[str, int, int]]:
    ports = []
    for entry in service.get("ports", []):
        host_ip, host, container = entry.rsplit(":", 2) if entry.count(":") == 2 else ("0.0.0.0", *entry.split(":"))
        ports.append((host_ip, int(host), int(container)))
    return ports


@pytest.mark.parametrize("variant", [".local.yaml", ".yaml"])
def test_readme_command_merges_into_prefect_postgres_and_hub(variant):
    files = [STACKS / n / f"{n}{variant}" for n in README_STACKS]
    config = merged(files)
    services = config["services"]
    assert set(services) == {"postgres", "prefect", "mcp-hub"}
    assert services["postgres"]["image"] == "postgres:15"
    # One hub story: ours in Docker as natively (the upstream mcphub is the opt-in stacks/mcp-hub/mcphub.yaml).
    assert services["mcp-hub"]["image"] == "ibt-app:local"
    assert "agentic.hub" in " ".join(services["mcp-hub"]["command"])
    host_ports = [p for svc in services.values() for p in published(svc)]
    assert {(h, c) for _, h, c in host_ports} >= {(4200, 4200), (3000, 3000)}
    assert len({h for _, h, _ in host_ports}) == len(host_ports), "two services publish the same host port"
    if variant == ".local.yaml":
        assert all(ip == "127.0.0.1" for ip, _, _ in host_ports), "the local variant binds loopback only"
    # every depends_on target exists, every named volume is declared
    for svc in services.values():
        assert set(svc.get("depends_on") or {}) <= set(services)
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in config["volumes"]
    prefect = services["prefect"]
    env = prefect["environment"]
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://prefect:")
    assert "@postgres:5432/prefect" in env["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert env["PREFECT_SERVER_API_HOST"] == "0.0.0.0"
    assert env["PREFECT_UI_API_URL"].endswith(":4200/api")
    assert prefect["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/api/health" in " ".join(prefect["healthcheck"]["test"])


@pytest.mark.parametrize("order", [["prefect", "mcp-hub", "sandbox"], ["sandbox", "mcp-hub", "prefect"]])
def test_relative_paths_resolve_whichever_file_comes_first(order):
    """Compose resolves every file's relative paths against the FIRST file's directory; ours must not care."""
    first_dir = STACKS / order[0]
    for name in order:
        path = find_stack_file(name, STACKS)
        for svc in load(path)["services"].values():
            sources = [v.split(":", 1)[0] for v in svc.get("volumes", []) if v.startswith(".")]
            sources += [e["path"] if isinstance(e, dict) else e for e in svc.get("env_file", [])]
            if "build" in svc:
                sources.append(svc["build"]["context"])
            for source in sources:
                assert (path.parent / source).resolve() == (first_dir / source).resolve()
                assert (path.parent / source).resolve().is_relative_to(ROOT)
    hub = load(STACKS / "mcp-hub" / "mcp-hub.local.yaml")["services"]["mcp-hub"]
    state = hub["volumes"][0].split(":")[0].replace("${IBT_STATE:-../../.ibt}", "../../.ibt")
    assert (first_dir / state).resolve() == ROOT / ".ibt" / "mcp-hub", "the hub's state is the native one's"
    assert (STACKS / "mcp-hub" / hub["env_file"][0]["path"]).resolve() == ROOT / "agentic" / ".env"


@pytest.mark.parametrize("name", ["prefect", "mcp-hub", "sandbox"])
def test_local_and_shared_variants_agree(name):
    local = STACKS / name / f"{name}.local.yaml"
    shared = STACKS / name / f"{name}.yaml"
    if not shared.exists():
        pytest.skip(f"{name} has only a local variant")
    a, b = load(local)["services"], load(shared)["services"]
    assert set(a) == set(b)
    for svc in a:
        assert a[svc]["image"] == b[svc]["image"]
        assert [c for *_, c in published(a[svc])] == [c for *_, c in published(b[svc])] or not published(b[svc])
        assert "x-ibt" in a[svc], f"{local.name}: {svc} has no native description"


def test_native_plan_follows_the_files(tmp_path):
    variables = runner_variables(tmp_path, ROOT, environ={"IBT_PORT_PREFECT": "14200"})
    services = plan(Stack.load(["prefect", "mcp-hub", "sandbox"], STACKS), variables)
    order = [s.name for s in services]
    assert order.index("postgres") < order.index("prefect")
    assert order.index("github-sim") < order.index("jules-sim")
    by_name = {s.name: s for s in services}
    pg = by_name["postgres"].postgres
    assert (pg.port, pg.user, pg.password, pg.database) == (15432, "prefect", "prefect", "prefect")
    assert pg.data_dir == tmp_path / "postgres" / "data"
    prefect = by_name["prefect"]
    assert prefect.port == 14200 and prefect.health == "http://127.0.0.1:14200/api/health"
    assert prefect.env["PREFECT_API_DATABASE_CONNECTION_URL"].endswith("@127.0.0.1:15432/prefect")
    assert prefect.env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    hub = by_name["mcp-hub"]
    assert hub.argv[1:4] == ["-m", "agentic.hub", "--host"] and hub.health == "http://127.0.0.1:3000/health"
    assert hub.files == {tmp_path / "mcp-hub" / "mcp_settings.json": STACKS / "mcp-hub" / "mcp_settings.json"}
    assert by_name["jules-sim"].argv[-1] == "http://127.0.0.1:3101"
    assert by_name["github-sim"].health.endswith(":3101/_sim/health")


def test_sqlite_plan_drops_postgres(tmp_path):
    services = plan(Stack.load(["prefect"], STACKS), runner_variables(tmp_path, ROOT, environ={}), sqlite=True)
    assert [s.name for s in services] == ["prefect"]
    assert services[0].env["PREFECT_API_DATABASE_CONNECTION_URL"] == \
        f"sqlite+aiosqlite:///{tmp_path}/prefect/prefect.db"
    assert services[0].depends_on == []


def _prefect_servers(node, where: str = ""):
    """(where, environment) of every `prefect server start` in a stack file: compose services and native commands."""
    if isinstance(node, dict):
        command = node.get("command")
        if isinstance(command, list) and "prefect" in " ".join(map(str, command)) and "server" in command:
            yield where, node.get("environment", node.get("env")) or {}
        for key, value in node.items():
            yield from _prefect_servers(value, f"{where}.{key}")


@pytest.mark.parametrize("path", sorted(ROOT.glob("stacks/*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_prefect_server_keeps_leases_on_disk_and_runs_expiry_and_automations(path):
    """The dispatch lock and the Jules slots are leases: in memory, a restarted server leaks every held slot. The
    expired-wait automation needs the server's pause-expiration and automation services, which must stay on."""
    from agentic.stacks.prefect_server import LEASES_ON_DISK

    servers = list(_prefect_servers(yaml.safe_load(path.read_text())))
    if path.parent.name == "prefect" or path.parent.name == "production":
        assert servers, f"{path} starts no Prefect server?"
    for where, env in servers:
        for name, value in LEASES_ON_DISK.items():
            assert env.get(name) == value, f"{path}{where}: {name} is not {value}"
        off = [k for k, v in env.items() if k.startswith("PREFECT_SERVER_SERVICES_") and str(v).lower() == "false"]
        assert not off, f"{path}{where}: {off}"


# Linux hands out client ports from 32768-60999 (net.ipv4.ip_local_port_range): a default published port in that
# range can be held for a moment by any outgoing connection, and then `docker compose up` cannot bind it. CI met
# exactly that on PostgreSQL's old 55432.
EPHEMERAL_LOW = 32768


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_default_published_ports_lie_below_the_ephemeral_range(path):
    services = load(path).get("services", {})
    published = [str(port).rsplit(":", 2)[-2] for svc in services.values() for port in svc.get("ports", [])]
    native = [svc["x-ibt"]["native"]["port"] for svc in services.values()
              if isinstance(svc.get("x-ibt", {}).get("native", {}).get("port"), (int, str))]
    for port in published + native:
        assert int(port) < EPHEMERAL_LOW, f"{path.name}: default port {port} lies in the kernel's ephemeral range"
