#!/usr/bin/env bash
# The test command (README): the whole suite against real PostgreSQL, Prefect, hub and simulators.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false
rc=0
.venv/bin/python -m pytest -ra -p no:cacheprovider "$@" || rc=$?
# pytest exit 5 means no test ran: that is a failure here, never a pass.
if [ "$rc" -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi
exit "$rc"
