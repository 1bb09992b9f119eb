"""`ibt` on bad input: clear message, non-zero exit, nothing left running. Fast: no PostgreSQL, no Prefect."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import psutil
from typer.testing import CliRunner

from agentic.cli import app
from agentic.stacks.ports import free_port
from tests.stacks.conftest import IBT, STACKS, assert_gone, descendants, ibt_env

runner = CliRunner()


def write_stack(root, name, text):
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / f"{name}.local.yaml").write_text(textwrap.dedent(text))


def test_no_arguments_shows_help():
    # No command is a usage error (exit 2, as the README's exit-code table says); asking for help is not.
    result = runner.invoke(app, [])
    assert result.exit_code == 2 and "stacks" in result.output
    result = runner.invoke(app, ["stacks"])
    assert result.exit_code == 2
    assert all(cmd in result.output for cmd in ("run", "status", "logs", "stop"))
    for args in (["--help"], ["stacks", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "stacks" in result.output, args
    assert all(cmd in result.output for cmd in ("run", "status", "logs", "stop"))


def test_unknown_stack_lists_the_known_ones():
    result = runner.invoke(app, ["stacks", "run", "nope", "--native", "--stacks-dir", str(STACKS)])
    assert result.exit_code == 1
    assert "unknown stack 'nope'" in result.stderr
    assert "available: llm, mcp-hub, prefect, sandbox, triggers, worker" in result.stderr


def test_folder_without_compose_file_is_unknown(stacks_tmp):
    (stacks_tmp / "empty").mkdir()
    result = runner.invoke(app, ["stacks", "run", "empty", "--native", "--stacks-dir", str(stacks_tmp)])
    assert result.exit_code == 1 and "no empty/empty.local.yaml or empty/empty.yaml" in result.stderr


def test_malformed_yaml_names_the_file(stacks_tmp):
    write_stack(stacks_tmp, "bad", "services:\n  web: [unclosed\n")
    result = runner.invoke(app, ["stacks", "run", "bad", "--native", "--stacks-dir", str(stacks_tmp)])
    assert result.exit_code == 1
    assert "malformed YAML" in result.stderr and "bad.local.yaml" in result.stderr


def test_not_a_compose_file(stacks_tmp):
    write_stack(stacks_tmp, "bad", "just: a mapping\n")
    result = runner.invoke(app, ["stacks", "run", "bad", "--native", "--stacks-dir", str(stacks_tmp)])
    assert result.exit_code == 1 and "needs a top-level `services:` mapping" in result.stderr


def test_service_without_native_description(stacks_tmp):
    write_stack(stacks_tmp, "dock", "services:\n  web:\n    image: nginx\n")
    result = runner.invoke(app, ["stacks", "run", "dock", "--native", "--stacks-dir", str(stacks_tmp),
                                 "--state-dir", str(stacks_tmp / "state")])
    assert result.exit_code == 1 and "has no `x-ibt.native` section" in result.stderr


def test_missing_dependency_names_the_stack_to_add(stacks_tmp):
    write_stack(stacks_tmp, "orphan", """
        services:
          app:
            image: x
            depends_on: [db]
            x-ibt: {native: {command: ["true"]}}
    """)
    result = runner.invoke(app, ["stacks", "run", "orphan", "--native", "--stacks-dir", str(stacks_tmp),
                                 "--state-dir", str(stacks_tmp / "state")])
    assert result.exit_code == 1 and "depends on 'db', which none of the given stacks defines" in result.stderr


def test_busy_port_names_its_holder_and_starts_nothing(stacks_tmp):
    """A real `ibt` process: the port check happens before PostgreSQL is even created."""
    state = stacks_tmp  # removed afterwards
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        proc = subprocess.run([*IBT, "stacks", "run", "prefect", "--native", "--state-dir", str(state)],
                              env=ibt_env(prefect=port, postgres=free_port()), capture_output=True, text=True,
                              timeout=60)
    assert proc.returncode == 1
    expected = f"port {port} (prefect) is held by pid {psutil.Process().pid} ({psutil.Process().name()}); stop it"
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (state / "postgres" / "data").exists()
    assert not (state / "run" / "stack.json").exists()


def test_failing_service_stops_the_others(stacks_tmp):
    """One service dies before it is healthy: clear error with its log, exit 1, its healthy sibling stopped."""
    web_port = free_port()
    write_stack(stacks_tmp, "pair", f"""
        services:
          web:
            image: python:3.11
            x-ibt:
              native:
                command: ["{sys.executable}", "-m", "http.server", "--bind", "127.0.0.1", "{web_port}"]
                port: {web_port}
                health: http://127.0.0.1:{web_port}/
          broken:
            image: python:3.11
            depends_on: [web]
            x-ibt:
              native:
                command: ["{sys.executable}", "-m", "agentic.no_such_module"]
    """)
    proc = subprocess.Popen([*IBT, "stacks", "run", "pair", "--native", "--stacks-dir", str(stacks_tmp),
                             "--state-dir", str(stacks_tmp / "state")], env=ibt_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = set()
    while proc.poll() is None:
        seen.update(descendants(proc.pid))
    out, err = proc.communicate()
    assert proc.returncode == 1, out + err
    assert "broken exited with code 1 before becoming healthy" in err
    assert "No module named agentic.no_such_module" in err  # the log tail says why
    assert "web" in out and "healthy" in out
    assert seen, "the web service never started"
    assert_gone(list(seen), [web_port])


def test_console_script_is_installed_and_fails_cleanly():
    """The `ibt` entry point from pyproject.toml (not just `python -m agentic.cli`)."""
    from pathlib import Path

    ibt = Path(sys.executable).parent / "ibt"
    assert ibt.exists(), "reinstall the project: pip install -e ."
    proc = subprocess.run([str(ibt), "stacks", "run", "nope", "--native"], env=ibt_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "unknown stack 'nope'" in proc.stderr and "Traceback" not in proc.stderr
