"""stacks/production/compose.yaml: valid Compose, and the production settings docs/going-live.md promises — TLS on
every published port, no bundled PostgreSQL, tokens and auth from the environment only, a health check per
service, the product's clients on https."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from agentic.stacks.interpolate import interpolate

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "stacks" / "production"
RAW = yaml.safe_load((HERE / "compose.yaml").read_text())
SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|AUTH_STRING|API_KEY|CONNECTION_URL|HEADERS")


def config(env: dict | None = None) -> dict:
    return interpolate(yaml.safe_load((HERE / "compose.yaml").read_text()), env or {})


def test_valid_against_the_compose_spec():
    jsonschema.validate(config(), json.loads((ROOT / "tests/stacks/compose-spec.json").read_text()))


def test_every_published_port_speaks_tls_and_prefect_only_through_the_proxy():
    services = config()["services"]
    assert "postgres" not in services  # external PostgreSQL (docs/going-live.md#external-postgresql)
    assert "ports" not in services["prefect"] and services["prefect"]["expose"] == ["4200"]
    publishing = {name for name, svc in services.items() if svc.get("ports")}
    assert publishing == {"prefect-proxy", "mcp-hub", "triggers"}
    caddy = (HERE / "Caddyfile").read_text()
    assert "tls /certs/prefect.pem /certs/prefect.key" in caddy and "reverse_proxy prefect:4200" in caddy
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["prefect-proxy"]["volumes"]
    hub = services["mcp-hub"]["command"]
    assert hub[hub.index("--ssl-certfile") + 1] == "/certs/hub.pem" and "--ssl-keyfile" in hub
    assert "--token-file" in hub
    triggers = services["triggers"]["environment"]
    assert triggers["TRIGGERS_SSL_CERTFILE"] == "/certs/triggers.pem" and triggers["TRIGGERS_ALLOW_UNSIGNED"] == "false"
    for name in ("prefect-proxy", "mcp-hub", "triggers", "worker"):
        assert "./certs:/certs:ro" in services[name]["volumes"]


def test_clients_use_https_and_verify():
    services = config()["services"]
    for name in ("mcp-hub", "triggers", "worker"):
        env = services[name]["environment"]
        assert env["PREFECT_API_URL"].startswith("https://") and env["MCP_SERVER_URL"].startswith("https://")
        assert env["AGENTIC_CA_BUNDLE"] == env["PREFECT_API_SSL_CERT_FILE"] == env["SSL_CERT_FILE"] == (
            "/etc/ssl/certs/ca-certificates.crt")
    private = config({"CA_BUNDLE": "/certs/ca.pem"})["services"]["worker"]["environment"]
    assert private["AGENTIC_CA_BUNDLE"] == private["PREFECT_API_SSL_CERT_FILE"] == "/certs/ca.pem"
    assert config()["services"]["prefect"]["environment"]["PREFECT_UI_API_URL"].startswith("https://")


def test_secrets_come_only_from_the_environment():
    for name, svc in RAW["services"].items():
        env = {**RAW.get("x-product-env", {}), **{k: v for k, v in (svc.get("environment") or {}).items()
                                                  if k != "<<"}}
        for key, value in env.items():
            if SECRET_NAMES.search(key):
                assert value is None or re.fullmatch(r"\$\{[A-Z_]+:-\}", str(value)), (name, key, value)


@pytest.mark.parametrize("name", sorted(RAW["services"]))
def test_every_service_has_a_health_check(name):
    check = " ".join(config()["services"][name]["healthcheck"]["test"])
    assert re.search(r"/(api/)?health\b", check), check


def test_the_files_it_names_exist():
    for path in ("Caddyfile", "prefect-logging.yml", "../app/Dockerfile"):
        assert (HERE / path).is_file(), path
    worker = config()["services"]["worker"]
    assert worker["environment"]["PREFECT_LOGGING_SETTINGS_PATH"] == "/app/stacks/production/prefect-logging.yml"
    assert "--with-healthcheck" in worker["command"]
