#!/usr/bin/env bash
# The test command (README): the whole suite against real PostgreSQL, Prefect, hub and simulators.
#   scripts/test.sh            everything
#   scripts/test.sh ARGS...    pytest ARGS (a slice: files, -k, -x ...)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false
pytest() {
  local rc=0
  .venv/bin/python -m pytest -ra -p no:cacheprovider "$@" || rc=$?
  # pytest exit 5 means no test ran: that is a failure here, never a pass.
  if [ "$rc" -eq 5 ]; then echo "no tests were collected" >&2; return 1; fi
  return "$rc"
}
if [ "$#" -gt 0 ]; then
  pytest "$@"
  exit
fi
# tests/golive runs its own production-shaped stack (Prefect with auth on an external PostgreSQL, the hub with its
# token) and points this process's Prefect settings at it for the whole package: it gets a process of its own, so
# neither it nor the session sandbox of the other tests sees the other's settings.
# tests/reliability likewise: its session-wide fault stack sets this process's Prefect settings for good.
# tests/docker runs real containers on the seed's fixed ports (4200, 3000): a process of its own, last.
# The main suite spends most of its time waiting on servers (a 2-core machine is 70% idle under it), so its files run
# on IBT_TEST_WORKERS pytest-xdist workers (3; 0 = in this process), each with its own session sandbox; a file's tests
# stay together on one worker (--dist loadfile), so module-wide fixtures start once. The 25 slowest tests are listed.
rc=0
workers="${IBT_TEST_WORKERS:-3}"
parallel=()
if [ "$workers" != 0 ]; then
  parallel=(-n "$workers" --dist loadfile)
  # Each worker's sandbox hub starts the npm GitHub server with `npx -y`; on a fresh machine the workers would all
  # download it at once into npm's cache, which npx does not lock: fetch it once first (same cache entry).
  if command -v npx >/dev/null; then
    pkg=$(.venv/bin/python -c 'from agentic.deployment.servers import GITHUB_MCP_PACKAGE; print(GITHUB_MCP_PACKAGE)')
    npx -y -p "$pkg" -- node -e 0 || echo "!! could not fetch $pkg ahead of the workers" >&2
  fi
fi
pytest "${parallel[@]}" --durations=25 --ignore=tests/golive --ignore=tests/reliability --ignore=tests/docker || rc=$?
# .ci/run's image build waits for this: it runs beside the next two suites rather than the main one.
if [ -n "${IBT_IMAGES_GO:-}" ]; then touch "$IBT_IMAGES_GO"; fi
pytest tests/reliability || rc=$?
pytest tests/golive || rc=$?
if [ -n "${IBT_IMAGES_DONE:-}" ]; then  # .ci/run builds the images in the background: wait for it
  while [ ! -f "$IBT_IMAGES_DONE" ]; do sleep 5; done
  cat "${IBT_IMAGES_LOG:-/dev/null}" | grep -v "^\s" || true
fi
pytest tests/docker || rc=$?
exit "$rc"
