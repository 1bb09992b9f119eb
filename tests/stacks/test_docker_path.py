"""With a Docker engine, `ibt stacks run` is `docker compose -f ... up`. There is no engine here, so a stand-in
`docker` executable on PATH answers `info`/`compose version` and records what it was asked to run."""

from __future__ import annotations

import os
import stat
import subprocess

from tests.stacks.conftest import IBT, STACKS, ibt_env

FAKE_DOCKER = """#!/bin/sh
echo "$@" >> "{log}"
case "$1 $2" in
  "info "*|"compose version") exit 0 ;;
  "image inspect") echo '{{}}'; exit 0 ;;
esac
exit {rc}
"""


def fake_docker(tmp_path, rc=0):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "docker.log"
    script = bindir / "docker"
    script.write_text(FAKE_DOCKER.format(log=log, rc=rc))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = ibt_env()
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    return env, log


def test_engine_present_runs_docker_compose_with_the_local_files(tmp_path):
    env, log = fake_docker(tmp_path, rc=7)
    proc = subprocess.run([*IBT, "stacks", "run", "prefect", "mcp-hub", "-d", "--stacks-dir", str(STACKS),
                           "--state-dir", str(tmp_path / "state")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 7, "the exit code of docker compose is ibt's"
    calls = log.read_text().splitlines()
    assert calls[-1] == (f"compose -f {STACKS}/prefect/prefect.local.yaml -f {STACKS}/mcp-hub/mcp-hub.local.yaml "
                         "up -d --wait")
    # Natively the state dir holds clusters and logs; on the Docker path only which files ran, for status/logs/stop.
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["docker-stack.json"]


def test_native_flag_skips_docker(tmp_path):
    env, log = fake_docker(tmp_path)
    proc = subprocess.run([*IBT, "stacks", "run", "nope", "--native", "--stacks-dir", str(STACKS)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "unknown stack" in proc.stderr
    assert not log.exists(), "--native must not even ask docker"


def test_restart_with_an_engine_is_docker_compose_restart(tmp_path):
    env, log = fake_docker(tmp_path, rc=5)
    state = ["--stacks-dir", str(STACKS), "--state-dir", str(tmp_path / "state")]  # no native stack there
    proc = subprocess.run([*IBT, "stacks", "restart", "jules-sim", *state], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 5, "the exit code of docker compose is ibt's"
    assert log.read_text().splitlines()[-1] == f"compose -f {STACKS}/sandbox/sandbox.local.yaml restart jules-sim"
    unknown = subprocess.run([*IBT, "stacks", "restart", "nope", *state], env=env, capture_output=True, text=True,
                             timeout=60)
    assert unknown.returncode == 1 and "unknown service 'nope': no stack under" in unknown.stderr
    assert "restart" not in log.read_text().splitlines()[-1], "docker is not asked to restart what no file defines"
