#!/usr/bin/env bash
# Habits CI keeps (issue #22 step 6): ruff (lint and import order) and mypy over agentic/, zero findings.
#   scripts/lint.sh          both; exit 1 on any finding
#   scripts/lint.sh --fix    let ruff fix what it can (import order, stale noqa), then check
# Settings: pyproject.toml's [tool.ruff] and [tool.mypy] (strict on the pure packages). PYTHON=... picks another venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || scripts/bootstrap.sh
rc=0
echo "== ruff"
"$PY" -m ruff check ${1:+"$1"} agentic || rc=1
echo "== mypy"
"$PY" -m mypy || rc=1
exit "$rc"
