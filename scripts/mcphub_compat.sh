#!/usr/bin/env bash
# The product against a real mcphub built natively from a local checkout of its source (issue #14): a developer's
# command, not CI (it needs Node, a network for npm and ~5 minutes). docs/hub.md has what it showed.
#
#   MCPHUB_SRC=/path/to/mcphub scripts/mcphub_compat.sh            # build (if needed), deploy.py, one sandbox issue
#   MCPHUB_SRC=... RECORD=1 scripts/mcphub_compat.sh               # also rewrite tests/hub/mcphub/old-ae3fe1c.json
#
# MCPHUB_SRC (default /work/mcphub-old/lock) is a checkout OUTSIDE this repository (its code never enters ours),
# e.g. `git clone https://github.com/samanhappy/mcphub && git -C mcphub checkout ae3fe1c`. Built there as its
# README says: `pnpm install --frozen-lockfile` (pnpm 9 via npx when absent), `tsc`, `vite build` of the frontend
# (the old build's /health is that dashboard's page). Without a checkout it says so and exits 0.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="${MCPHUB_SRC:-/work/mcphub-old/lock}"
if [[ ! -f "$SRC/package.json" ]] || ! grep -q '"@samanhappy/mcphub"\|"mcphub"' "$SRC/package.json"; then
  echo "mcphub_compat: no mcphub checkout at $SRC (set MCPHUB_SRC); skipped"
  exit 0
fi
case "$(cd "$SRC" && pwd)/" in "$ROOT"/*) echo "mcphub_compat: $SRC is inside the repository; use a folder outside it" >&2; exit 2;; esac
command -v node >/dev/null || { echo "mcphub_compat: node is not installed" >&2; exit 1; }
LABEL="${MCPHUB_LABEL:-$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo ae3fe1c)}"
if [[ ! -f "$SRC/dist/index.js" ]]; then
  echo "building mcphub $LABEL in $SRC"
  (cd "$SRC" && if command -v pnpm >/dev/null; then pnpm install --frozen-lockfile --ignore-scripts;
                else npx -y pnpm@9 install --frozen-lockfile --ignore-scripts; fi)
  (cd "$SRC" && npx tsc || [[ -f dist/index.js ]])  # a type error still emits JS (research note mcphub.md)
  (cd "$SRC/frontend" && npx vite build) || echo "frontend not built: /health then answers 404, not HTML"
fi
ARGS=(--mcphub-dir "$SRC" --label "$LABEL")
[[ -n "${RECORD:-}" ]] && ARGS+=(--record "$ROOT/tests/hub/mcphub/old-$LABEL.json")
cd "$ROOT" && exec "$ROOT/.venv/bin/python" -u tests/hub/mcphub/compat.py "${ARGS[@]}"
