"""One configuration: agentic/.env feeds the product's settings and Prefect's; the seed's forms keep working.
Pure: settings built from explicit files and mappings, never the developer's agentic/.env or os.environ."""

from __future__ import annotations

import runpy

import pytest
from pydantic import ValidationError

from agentic.errors import ConfigError
from agentic.settings import ENV_FILE, PACKAGE_DIR, Settings, export_prefect_env, hub_base_url, load_settings


@pytest.fixture(autouse=True)
def _no_inherited_environment(monkeypatch):
    """Other suites export a sandbox environment for the whole session; these tests read only their own files."""
    import os

    from agentic.settings import Settings as _S

    names = {name.upper() for name in _S.model_fields} | {"AGENTIC_ENV_FILE"}
    for name in list(os.environ):
        if name.upper() in names:
            monkeypatch.delenv(name)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("value, base, mcp", [
    ("http://localhost:8000/mcp", "http://localhost:8000", "http://localhost:8000/mcp"),  # the seed's .env
    ("http://localhost:8000/mcp/", "http://localhost:8000", "http://localhost:8000/mcp"),
    ("http://hub:3000", "http://hub:3000", "http://hub:3000/mcp"),
    ("http://hub:3000/", "http://hub:3000", "http://hub:3000/mcp"),
    ("https://tools.example/hub/mcp", "https://tools.example/hub", "https://tools.example/hub/mcp"),
    ("  http://hub:3000  ", "http://hub:3000", "http://hub:3000/mcp"),
    ("", "http://localhost:3000", "http://localhost:3000/mcp"),  # `MCP_SERVER_URL=` copied empty: the default
])
def test_mcp_server_url_forms_map_to_hub_base_and_mcp_endpoint(value, base, mcp):
    s = settings(mcp_server_url=value)
    assert (s.mcp_server_url, s.hub_mcp_url) == (base, mcp)


@pytest.mark.parametrize("value", ["localhost:3000", "ftp://hub:3000", "http://", "http://hub:3000/?x=1"])
def test_bad_mcp_server_url_is_refused(value):
    with pytest.raises(ValueError):
        hub_base_url(value)
    with pytest.raises(ValidationError):
        settings(mcp_server_url=value)


def test_seed_env_file_works(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("MCP_SERVER_URL=http://localhost:8000/mcp\nLLM_MODEL=google-gla:gemini-1.5-flash\n"
                        "GITHUB_TOKEN=\nPREFECT_API_URL=http://prefect.internal:4200/api\n")
    with pytest.warns(DeprecationWarning):
        s = Settings(_env_file=env_file)
    assert s.mcp_server_url == "http://localhost:8000" and s.hub_mcp_url == "http://localhost:8000/mcp"
    assert s.github_token is None and s.prefect_api_url == "http://prefect.internal:4200/api"


def test_prefect_settings_are_exported_unless_already_set(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PREFECT_API_URL=http://prefect.internal:4200/api\nPREFECT_API_AUTH_STRING=admin:pw\n")
    s = Settings(_env_file=env_file)
    environ: dict[str, str] = {}
    assert export_prefect_env(s, environ) == {"PREFECT_API_URL": "http://prefect.internal:4200/api",
                                              "PREFECT_API_AUTH_STRING": "admin:pw"}
    assert environ["PREFECT_API_URL"] == "http://prefect.internal:4200/api"
    # What the environment already says wins; an empty value counts as unset.
    environ = {"PREFECT_API_URL": "http://elsewhere:4200/api", "PREFECT_API_AUTH_STRING": ""}
    assert export_prefect_env(s, environ) == {"PREFECT_API_AUTH_STRING": "admin:pw"}
    assert environ["PREFECT_API_URL"] == "http://elsewhere:4200/api"


def test_without_any_file_the_documented_default_is_exported():
    environ: dict[str, str] = {}
    export_prefect_env(settings(), environ)
    assert environ == {"PREFECT_API_URL": "http://localhost:4200/api"}  # not a temporary Prefect server


def test_invalid_setting_is_one_config_error_naming_the_variable():
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None, prefect_api_url="localhost:4200")
    assert "PREFECT_API_URL" in str(info.value) and "\n" not in str(info.value)


def test_env_file_is_found_from_the_package_not_the_working_directory(tmp_path, monkeypatch):
    assert ENV_FILE.is_absolute()
    # From another directory, with AGENTIC_ENV_FILE unset (the autouse fixture), the module's code run afresh still
    # finds agentic/.env of the package: runpy executes agentic/settings.py as a new import would, in this process.
    monkeypatch.chdir(tmp_path)
    fresh = runpy.run_path(str(PACKAGE_DIR / "settings.py"))
    assert fresh["PACKAGE_DIR"] == PACKAGE_DIR and fresh["ENV_FILE"] == PACKAGE_DIR / ".env"


@pytest.mark.parametrize("api, hosts", [
    ("https://api.github.com", ("github.com",)),
    ("https://api.github.com/", ("github.com",)),
    ("https://ghe.corp.example/api/v3", ("ghe.corp.example",)),
    ("https://ghe.corp.example:8443/api/v3", ("ghe.corp.example:8443",)),
    ("https://api.octo.ghe.com", ("octo.ghe.com",)),
    ("http://127.0.0.1:3101", ("127.0.0.1:3101", "github.com")),  # the sandbox links issues on github.com
])
def test_github_web_host_is_derived_from_the_api_url(api, hosts):
    assert settings(github_api_url=api).github_issue_hosts == hosts
