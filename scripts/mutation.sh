#!/usr/bin/env bash
# Mutation testing of the pure modules with mutmut (issue #15): a developer's command before a stop, never CI.
#
#   scripts/mutation.sh            # all pure modules, their fast pure tests only; prints the score and survivors
#   KEEP=1 scripts/mutation.sh     # keep the temporary copy (then: cd <copy> && mutmut show <mutant>)
#   JOBS=1 scripts/mutation.sh     # fewer parallel children (default 2)
#
# It copies the working tree (tracked + untracked files, no .git/.venv/.ibt) to a temporary folder and runs mutmut
# there, so the working tree, which others may be testing, is never mutated. Score = killed / (mutants tested);
# the survivors and what each means are in docs/testing.md. Needs mutmut (installed into .venv if missing).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
"$PY" -c "import mutmut" 2>/dev/null || "$PY" -m pip install -q "mutmut>=3.8,<4"

# The pure modules; for claims.py only its pure functions (the rest talks to Prefect), for the hub's config.py
# the body/name checks, type inference and ${VAR} expansion (the rest is covered through the server).
MODULES=(agentic/github/issue_ref.py agentic/agent/sanitize.py agentic/dispatch/claims.py
         agentic/jules/follow.py agentic/jules/states.py agentic/workflows/polling.py agentic/hub/config.py
         agentic/lifecycle/machine.py agentic/lifecycle/phases.py agentic/agent/automation.py)
MUTANTS=("agentic.github.issue_ref.*" "agentic.agent.sanitize.*" "agentic.jules.follow.*" "agentic.jules.states.*"
         "agentic.lifecycle.machine.*" "agentic.lifecycle.phases.*" "agentic.agent.automation.*"
         "agentic.workflows.polling.*" "agentic.hub.config.x_split_body__mutmut_*"
         "agentic.hub.config.x_check_name__mutmut_*" "agentic.hub.config.x_infer_type__mutmut_*"
         "agentic.hub.config.x_expand__mutmut_*"
         "agentic.dispatch.claims.x_text_hash__mutmut_*" "agentic.dispatch.claims.x_marker_for__mutmut_*"
         "agentic.dispatch.claims.x_claim_key__mutmut_*" "agentic.dispatch.claims.x_variable_name__mutmut_*"
         "agentic.dispatch.claims.xǁClaimǁsession_for__mutmut_*")
# Their fast tests: no server, no subprocess (a few seconds in all).
TESTS=(tests/jules tests/agent tests/workflow/test_issue_url.py tests/workflow/test_issue_hosts.py
       tests/workflow/test_units.py tests/workflow/test_polling.py tests/workflow/test_claims_pure.py
       tests/hub/test_config.py tests/workflow/test_lifecycle.py)

WORK="$(mktemp -d /tmp/mutation-XXXXXX)"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$WORK"' EXIT; else echo "copy kept: $WORK"; fi
git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
  | (cd "$ROOT" && xargs -0 -I{} sh -c '[ -f "{}" ] && case "{}" in .venv/*|.ibt/*|mutants/*) ;; *) printf "%s\0" "{}";; esac') \
  | (cd "$ROOT" && tar --null -T - -cf -) | tar -C "$WORK" -xf -

toml_list() { local out="" x; for x in "$@"; do out+="\"$x\", "; done; echo "[${out%, }]"; }
{
  echo
  echo "[tool.mutmut]"
  echo "source_paths = [\"agentic\"]"
  echo "only_mutate = $(toml_list "${MODULES[@]}")"
  echo "pytest_add_cli_args_test_selection = $(toml_list "${TESTS[@]}")"
  echo "pytest_add_cli_args = [\"-p\", \"no:cacheprovider\", \"-q\", \"-m\", \"not slow\"]"
  echo "use_git_change_detection = false"
  # Tests read bench/agent_quality.py and docs/architecture.md by path: the copy needs them beside the tests.
  echo 'also_copy = ["bench", "docs"]'
  # A mutant 4x slower than the clean run counts as killed (timeout): the sanitizer's linear-time tests make a
  # quadratic mutant spin, and waiting 15x (mutmut's default) for each would take most of an hour.
  echo "timeout_multiplier = 4.0"
  echo "timeout_constant = 2.0"
  # Log message text is not behaviour.
  echo 'do_not_mutate_patterns = ["logger\\.(debug|info|warning|error)\\("]'

} >> "$WORK/pyproject.toml"

cd "$WORK"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
start=$(date +%s)
"$PY" -m mutmut run --max-children "${JOBS:-2}" "${MUTANTS[@]}" > "$WORK/mutmut-run.log" 2>&1 || {
  tail -40 "$WORK/mutmut-run.log"; echo "mutmut run failed (log above)" >&2; exit 1; }
"$PY" -m mutmut results --all true > "$WORK/results.txt" 2>&1 || true
"$PY" - "$WORK/results.txt" "$(( $(date +%s) - start ))" "${MUTANTS[@]}" <<'EOF'
import fnmatch, sys
from collections import Counter

path, seconds, patterns = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = [line.strip().rsplit(": ", 1) for line in open(path) if ": " in line and "__mutmut_" in line]
rows = [(name, status) for name, status in rows if any(fnmatch.fnmatch(name, p) for p in patterns)]
counts = Counter(status for _, status in rows)
tested = sum(n for s, n in counts.items() if s not in ("skipped", "not checked"))
killed = counts["killed"] + counts["timeout"]
print(f"mutants: {len(rows)}  " + "  ".join(f"{s}: {n}" for s, n in sorted(counts.items())))
print(f"score: {killed}/{tested} = {100 * killed / max(tested, 1):.1f}%  ({seconds}s)")
for name, status in rows:
    if status not in ("killed", "timeout"):
        print(f"  {status:12} {name}")
EOF
