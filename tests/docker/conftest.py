"""The Docker suite: real containers from images this machine built (`ibt images build`), nothing mocked, nothing
pulled. `.ci/run` starts an engine and sets AGENTIC_DOCKER_TESTS=1, which turns a missing engine into a failure;
elsewhere the suite is skipped without one. It runs in a process of its own (scripts/test.sh)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentic.stacks.docker import docker_available
from agentic.stacks.ports import port_holder

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    if docker_available():
        return
    if os.environ.get("AGENTIC_DOCKER_TESTS") == "1":
        raise pytest.UsageError("AGENTIC_DOCKER_TESTS=1 but no Docker engine with the compose plugin answers")
    skip = pytest.mark.skip(reason="no Docker engine with the compose plugin (`.ci/run` installs one)")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


def sh(command: str, cwd: Path, env: dict[str, str], timeout: float = 600, check: bool = True
       ) -> subprocess.CompletedProcess[str]:
    """A command as a user types it (a shell line), with its output kept for the failure message."""
    proc = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"`{command}` exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def checkout(tmp: Path) -> Path:
    """A copy of this checkout's files as a user has them (no .venv, .ibt, agentic/.env): its own agentic/.env and
    .ibt/ state, so the test never touches the developer's. Run the product from it with PYTHONPATH=<copy> (the
    venv's editable install points at this checkout, and the settings find agentic/.env next to the package)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    dest = tmp / "checkout"
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def container_ip(project: str, service: str) -> str:
    """The service's address on its compose network: the host reaches it there, and so do the other containers."""
    cid = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                          "--filter", f"label=com.docker.compose.service={service}"], capture_output=True,
                         text=True, check=True).stdout.split()[0]
    networks = json.loads(subprocess.run(["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", cid],
                                         capture_output=True, text=True, check=True).stdout)
    return next(iter(networks.values()))["IPAddress"]


def write_env(path: Path, values: dict[str, str]) -> None:
    """`cp agentic/.env.example agentic/.env`, then the user's edits: each key set once, in place."""
    lines = path.read_text().splitlines()
    seen = set()
    for i, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if key in values and not line.lstrip().startswith("#"):
            lines[i] = f"{key}={values[key]}"
            seen.add(key)
    lines += [f"{k}={v}" for k, v in values.items() if k not in seen]
    path.write_text("\n".join(lines) + "\n")


def wait_http(url: str, timeout: float = 120, **kwargs) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5, **kwargs)
            if response.status_code < 500:
                return response
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout}s (last: {last!r})")


def ensure_images(*stacks: str) -> None:
    """The kit, as a user runs it offline: builds only what this engine lacks (CI's step already built them)."""
    proc = subprocess.run([PY, "-m", "agentic.cli", "images", "build", *stacks], cwd=ROOT, capture_output=True,
                          text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def require_free_ports(*ports: int) -> None:
    held = {port: port_holder(port) for port in ports}
    busy = {port: who for port, who in held.items() if who}
    if busy:
        pytest.fail(f"the seed's commands use fixed ports; these are taken: {busy}")


@pytest.fixture
def user_env() -> Iterator[dict[str, str]]:
    """A user's shell: no test harness settings (IBT_*, PREFECT_*, the session sandbox's URLs)."""
    drop = ("IBT_", "PREFECT_", "MCP_", "GITHUB_", "JULES_", "LLM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["PATH"] = f"{Path(PY).parent}{os.pathsep}{env['PATH']}"  # `python` is this venv's, as after `pip install`
    yield env
