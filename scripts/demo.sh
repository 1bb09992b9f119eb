#!/usr/bin/env bash
# The README's first command: install everything, then run the product end to end on the sandbox
# (Prefect + PostgreSQL, MCP hub, GitHub and Jules simulators) and print the pull request. See docs/demo.md.
#   scripts/demo.sh [--issue N] [--stop] [--local-model]   (--local-model: a real model on this machine, `ibt stacks run llm`)
set -euo pipefail
cd "$(dirname "$0")/.."

# OS packages: PostgreSQL (Prefect's database) and Node.js/npm (the hub's GitHub MCP server runs with npx).
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v npx >/dev/null || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo)
  else sudo=(none); fi
  if [ "${sudo[0]:-}" != none ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (apt-get)" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "please install: ${missing[*]} (e.g. apt-get install ${missing[*]}); continuing without them" >&2
  fi
fi

scripts/bootstrap.sh
exec .venv/bin/ibt demo "$@"
