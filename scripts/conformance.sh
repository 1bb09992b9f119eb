#!/usr/bin/env bash
# The official MCP conformance suite against our fixture server, the hub's /mcp/<server> and /mcp (issue #25):
# installs node 22 and @modelcontextprotocol/conformance@0.1.16 into ~/.cache/agentic/conformance/0.1.16 (or
# $AGENTIC_CONFORMANCE_CACHE) on first use. Options: --install-only, --keep DIR (the suite's checks.json files, logs).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || py=python3
exec "$py" tests/hub/conformance/runner.py "$@"
