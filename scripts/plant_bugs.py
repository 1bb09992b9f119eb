#!/usr/bin/env python3
"""Plant realistic bugs (issue #15's seven, issue #24's seventeen) one at a time in a throw-away copy of the tree and
check that a test fails.

    .venv/bin/python scripts/plant_bugs.py                 # all: baseline run, then one run per bug
    .venv/bin/python scripts/plant_bugs.py reviewer edit-hash   # only these (names below)
    .venv/bin/python scripts/plant_bugs.py --list          # the bugs and the tests that must catch them
    .venv/bin/python scripts/plant_bugs.py --no-baseline   # skip the check that the clean copy passes

The working tree is never touched: the tree (tracked and untracked files, without .git/.venv/.ibt) is copied to a
temporary folder, each bug is written into that copy only, and pytest runs there with the copy first on
PYTHONPATH (the hub, the simulators and the flow's subprocesses inherit it, so they run the planted code too).
A bug is *caught* when at least one of its tests fails. Prints "N of M caught"; exit 0 only when all are caught
(and, unless --no-baseline, the same tests passed on the clean copy first). Name bugs to plant only those.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The tree's own venv; a git worktree has none, so the interpreter running this script stands in.
PYTHON = ROOT / ".venv/bin/python" if (ROOT / ".venv/bin/python").exists() else Path(sys.executable)
PROMISES = "tests/workflow/test_promises.py"
HUB_REST = "tests/hub/test_hub_rest.py"
RESUME = "tests/triggers/test_resume_e2e.py"
CLIENT = "tests/jules/test_client_idempotence.py"


@dataclass(frozen=True)
class Bug:
    name: str
    promise: str
    edits: tuple[tuple[str, str, str], ...]  # (file, exact text found once, replacement)
    tests: tuple[str, ...]


BUGS = [
    Bug("fixes-line", "the PR closes the issue (`Fixes #N` added when Jules leaves it out)",
        (("agentic/workflows/tasks.py", "    if str(ref.number) not in _FIXES.findall(body):\n",
          "    if False:  # planted: never add the closing line\n"),),
        (f"{PROMISES}::test_pr_closes_the_issue_and_asks_the_requester_even_when_jules_drops_the_line",)),
    Bug("reviewer", "the requester is asked to review",
        (("agentic/workflows/tasks.py",
          "reviewer in already or await github.request_reviewers(ref, number, [reviewer]))",
          "reviewer in already or True)  # planted: claim it, never request it"),),
        (f"{PROMISES}::test_pr_closes_the_issue_and_asks_the_requester_even_when_jules_drops_the_line",
         f"{PROMISES}::test_requested_by_is_the_reviewer")),
    Bug("write-access", "`/approve` and `/revise` from a user without write access are ignored",
        (("agentic/workflows/plan_approval.py",
          "        if not await run.deps.github.can_write(run.job.ref, comment.author):\n",
          "        if False:  # planted: anyone may decide\n"),),
        (f"{PROMISES}::test_read_only_approve_and_revise_change_nothing",)),
    Bug("lost-answer", "exactly-once when createSession's answer is lost (no marker lookup on the create retry)",
        (("agentic/jules/client.py",
          "if isinstance(exc, TransientError) and (existing := await self.find_session(marker)):",
          "if False:  # planted: never look for the session a lost answer created"),
         ("agentic/workflows/tasks.py", "look_first=look_first or reentered())",
          "look_first=look_first)  # planted: a retry does not look first")),
        (f"{PROMISES}::test_exactly_once_when_create_session_answer_is_lost",)),
    Bug("edit-hash", "an edited issue is a new text (the hash covers the body, not only the title)",
        (("agentic/workflows/owned.py", "claims.text_hash(run.job.issue.title, run.job.issue.body)",
          "claims.text_hash(run.job.issue.title)  # planted"),),
        (f"{PROMISES}::test_edited_issue_is_a_new_text",)),
    Bug("sim-comment-edit", "the GitHub simulator's comment edit stores the new body",
        (("agentic/sandbox/github/routes_issues.py",
          "old, comment.body, comment.updated_at = comment.body, text, now()",
          "old, comment.updated_at = comment.body, now()  # planted: the edit is answered, not stored"),),
        ("tests/sandbox/test_github_simulator.py::test_comment_edit_changes_the_stored_body",
         f"{PROMISES}::test_pr_closes_the_issue_and_asks_the_requester_even_when_jules_drops_the_line")),
    Bug("hub-dead-child", "the hub notices a dead stdio child and restarts it",
        (("agentic/hub/upstream.py",
          "        except (anyio.EndOfStream, anyio.ClosedResourceError):\n            self._closed.set()\n",
          "        except (anyio.EndOfStream, anyio.ClosedResourceError):\n            pass  # planted\n"),
         ("agentic/hub/upstream.py", "    async def aclose(self) -> None:\n        self._closed.set()\n",
          "    async def aclose(self) -> None:\n        pass  # planted: the end of the stream goes unnoticed\n")),
        ("tests/hub/test_hub_rest.py::test_a_dead_stdio_child_is_noticed_and_restarted",)),
    # --- issue #24 item 5: promises 14 of 25 plants slipped past ----------------------------------------------------
    Bug("jwt-unsigned", "the hub's login JWT is checked by its signature",
        (("agentic/hub/auth.py", 'jwt.decode(jwt_token, self._jwt_secret, algorithms=["HS256"])',
          'jwt.decode(jwt_token, options={"verify_signature": False})  # planted'),),
        (f"{HUB_REST}::test_a_login_jwt_counts_only_when_signed_by_the_hub",)),
    Bug("jwt-expiry", "an expired login JWT gets nothing",
        (("agentic/hub/auth.py", 'algorithms=["HS256"])',
          'algorithms=["HS256"], options={"verify_exp": False})  # planted'),),
        (f"{HUB_REST}::test_a_login_jwt_counts_only_when_signed_by_the_hub",)),
    Bug("author-decides", "a plan decision needs write access even from the issue's author (receiver)",
        (("agentic/triggers/resume.py", "if not (answer.author_may and author and",
          "if not (author and"),),
        (f"{RESUME}::test_a_plan_decision_needs_write_access_even_from_the_author_and_never_comes_from_a_bot",)),
    Bug("bot-answers", "bots other than ours never resume a waiting run",
        (("agentic/triggers/resume.py",
          "    if (self_login and sender.login.lower() == self_login.lower()) or (\n"
          "            is_bot(sender.login, sender.type) and sender.login.lower() not in allowed_bots):\n",
          "    if self_login and sender.login.lower() == self_login.lower():  # planted: other bots answer\n"),),
        (f"{RESUME}::test_a_plan_decision_needs_write_access_even_from_the_author_and_never_comes_from_a_bot",)),
    Bug("needs-info-phase", "only a run that ended \"needs info\" or held (the phase in its claim) re-triages on an edit",
        (("agentic/triggers/app.py",
          "        if phase not in (Phase.NEEDS_INFO, Phase.HELD):",
          "        if phase is None:  # planted: any claimed phase"),),
        ("tests/triggers/test_receiver_e2e.py::test_an_edit_on_a_needs_info_issue_retriages_it",)),
    Bug("retriage-bot", "a bot's edit never re-triages a needs-info issue",
        (("agentic/triggers/app.py",
          "        if is_bot(sender.login, sender.type) or (own and sender.login.lower() == own.lower()):\n"
          "            return \"ignored\", f\"sender {sender.login} is a bot\", 200, {}\n        owner, _, repo",
          "        if own and sender.login.lower() == own.lower():  # planted: other bots count\n"
          "            return \"ignored\", f\"sender {sender.login} is a bot\", 200, {}\n        owner, _, repo"),),
        ("tests/triggers/test_receiver_e2e.py::test_an_edit_on_a_needs_info_issue_retriages_it",)),
    Bug("token-first", "the day's Jules token is taken only after the session lease",
        (("agentic/dispatch/session_queue.py",
          "        async with concurrency(SESSIONS_LIMIT, occupy=1, strict=False, timeout_seconds=timeout_seconds):\n",
          "        await rate_limit(DAILY_LIMIT, occupy=1, timeout_seconds=timeout_seconds, strict=False)  # planted\n"
          "        async with concurrency(SESSIONS_LIMIT, occupy=1, strict=False, timeout_seconds=timeout_seconds):\n"),
         ("agentic/dispatch/session_queue.py",
          "            await rate_limit(DAILY_LIMIT, occupy=1, timeout_seconds=timeout_seconds, strict=False)\n"
          "            await stop_ticker()",
          "            await stop_ticker()")),
        ("tests/queue/test_batch_and_worker.py::test_the_days_token_is_taken_only_once_the_session_slot_is_held",)),
    Bug("message-twice", "`sendMessage` is not repeated on retries and re-entries",
        (("agentic/jules/client.py", "        for activity in await self.list_activities(session_id, since):\n",
          "        for activity in []:  # planted: never look for the text sent before\n"),),
        (f"{CLIENT}::test_a_message_jules_already_has_is_not_sent_again",)),
    Bug("message-exact", "a message Jules has is recognised whatever its whitespace",
        (("agentic/jules/client.py",
          "if activity.user_message is not None and \" \".join(activity.user_message.split()) == wanted:",
          "if activity.user_message == text:  # planted: compared as typed"),),
        (f"{CLIENT}::test_a_message_jules_already_has_is_not_sent_again",)),
    Bug("approve-unchecked", "`approvePlan` is not called once the session no longer awaits approval",
        (("agentic/jules/client.py", '        if states.canonical(session.state) != "AWAITING_PLAN_APPROVAL":\n',
          "        if False:  # planted: approve whatever the state (the 400 is re-checked)\n"),),
        (f"{CLIENT}::test_a_plan_no_longer_awaiting_approval_is_not_approved_again",)),
    Bug("author-decides-in-run", "a plan decision needs write access even from the issue's author (the run's watcher)",
        (("agentic/workflows/plan_approval.py",
          "        if not await run.deps.github.can_write(run.job.ref, comment.author):\n",
          "        if comment.author != run.job.issue.author and \\\n"
          "                not await run.deps.github.can_write(run.job.ref, comment.author):  # planted\n"),),
        (f"{PROMISES}::test_read_only_approve_and_revise_change_nothing",)),
    Bug("bot-decides-in-run", "a bot never decides on a plan, write access or not (the run's watcher)",
        (("agentic/workflows/plan_approval.py", '        if comment.author.lower().endswith("[bot]"):',
          '        if comment.author.lower() == (run.claim.bot_login or "").lower():  # planted: only ours'),),
        (f"{PROMISES}::test_read_only_approve_and_revise_change_nothing",)),
    Bug("round-while-working", "a CI-fix round does not start while Jules is still working on the previous one",
        (("agentic/workflows/ci_loop.py", 'return state == "failed" and jules == "idle" and head not in reported_heads',
          'return state == "failed" and jules != "failed" and head not in reported_heads  # planted'),),
        ("tests/workflow/test_ci_pure.py::test_no_fix_round_starts_while_jules_works_on_the_last_report",)),
    # The three fixed earlier on the day of #24's audit, planted again to keep them guarded.
    Bug("host-suffix", "the issue URL's host is the configured one exactly (not a suffix)",
        (("agentic/github/issue_ref.py", "    if host not in allowed:  # the exact host",
          "    if not any(host.endswith(a) for a in allowed):  # planted; the exact host"),),
        ("tests/workflow/test_issue_url.py::test_the_host_must_be_the_configured_one_exactly",)),
    Bug("negation-anywhere", "a negation in an earlier sentence does not excuse a request for secrets",
        (("agentic/agent/policy.py", "before = text[starts[-1] if starts else 0:match.start()]",
          "before = text[:match.start()]  # planted: the whole text before"),),
        ("tests/agent/test_policy.py::test_a_negation_elsewhere_does_not_excuse_a_request_for_secrets",)),
    Bug("heartbeat-stops", "the claim's heartbeat beats for as long as its owner runs",
        (("agentic/dispatch/claims.py", "    while not owner.done():\n        await asyncio.sleep(interval)\n",
          "    for _beat in range(2):  # planted: two beats, not the owner's life\n"
          "        await asyncio.sleep(interval)\n"),),
        ("tests/workflow/test_claims.py::test_the_heartbeat_keeps_a_live_owner_its_claim_until_it_ends",)),
    Bug("archive-open", "the archive sweep leaves the session of an open pull request alone",
        (("agentic/workflows/archive.py", 'if pull.state == "open":', 'if pull.state == "opened":'),),
        ("tests/workflow/test_ci_loop.py::test_ci_that_keeps_failing_stops_after_the_rounds",)),
    Bug("go-read-only", "`/jules go` needs write access whatever min_permission lets start a run (#23)",
        (("agentic/triggers/app.py",
          'if trigger.kind == "go" and need == "read":',
          "if False:  # planted: the repository's floor"),),
        ("tests/triggers/test_receiver_e2e.py::test_jules_go_is_its_own_run_and_only_writers_may_say_it",)),
    Bug("cautious-medium", "the cautious level holds an actionable verdict short of high confidence (#23)",
        (("agentic/agent/automation.py", 'if level == "full" or triage.confidence == "high":',
          'if level == "full" or triage.confidence != "low":  # planted: medium goes on alone'),),
        ("tests/agent/test_automation.py::test_the_gate_under_each_automation_level",)),
    Bug("go-past-policy", "`/jules go` cannot carry a brief the secrets policy refused (#23)",
        (("agentic/agent/automation.py", "    if refused:\n", "    if refused and not go:  # planted\n"),),
        ("tests/agent/test_automation.py::test_a_policy_refusal_stands_against_go",
         "tests/agent/test_automation.py::test_go_cannot_carry_a_brief_that_asks_for_secrets")),
    Bug("go-no-concerns", "the triage's doubts travel to Jules with an overruled brief (#23)",
        (("agentic/workflows/owned.py", "        concerns = automation.concerns(triage) if options.go else []\n",
          "        concerns = []  # planted\n"),),
        ("tests/workflow/test_overrule.py::test_go_dispatches_an_issue_triaged_needs_info",)),
    Bug("review-twice", "a review goes to the session once across re-entries (its nonce in a message counts) (#23)",
        (("agentic/workflows/reviews.py", "        elif any(tag in m for m in obs.user_messages):\n",
          "        elif False:  # planted\n"),),
        ("tests/workflow/test_reviews_pure.py",
         "tests/workflow/test_reviews_e2e.py::test_review_comment_reaches_the_session_once_and_its_commit_is_listed")),
    Bug("review-eyes", "a review comment Jules took itself (its 👀) is recorded, not sent (#23)",
        (("agentic/workflows/reviews.py", "        elif taken:\n", "        elif False:  # planted\n"),),
        ("tests/workflow/test_reviews_pure.py",)),
    Bug("review-readers", "a review by a user without write access is not sent (#23)",
        (("agentic/workflows/reviews.py", "        elif review.author.lower() not in obs.writers:\n",
          "        elif False:  # planted\n"),),
        ("tests/workflow/test_reviews_pure.py",)),
    Bug("review-finished", "a review after the run ended reaches the session (the re-entry relays it) (#23)",
        (("agentic/workflows/owned.py", "        await review_relay.after_end(run, done)",
          "        pass  # planted"),),
        ("tests/workflow/test_reviews_e2e.py::test_review_comment_reaches_the_session_once_and_its_commit_is_listed",)),
    Bug("review-ci-watch", "a review during the CI watch reaches the session (#23)",
        (("agentic/workflows/ci_loop.py", "            await relay.try_step(run, record, pr_number)\n",
          "            pass  # planted\n"),),
        ("tests/workflow/test_reviews_e2e.py::test_a_review_during_the_ci_watch_goes_to_the_session_once",)),
]


def copy_tree(dest: Path) -> None:
    """Tracked and untracked (not ignored) files of the working tree, as they are now."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if not src.is_file() or rel.startswith((".venv/", ".ibt/", "mutants/")):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def plant(tree: Path, bug: Bug) -> dict[Path, str]:
    originals: dict[Path, str] = {}
    for rel, old, new in bug.edits:
        path = tree / rel
        text = originals.get(path) or path.read_text()
        originals.setdefault(path, text)
        current = path.read_text()
        if current.count(old) != 1:
            raise SystemExit(f"{bug.name}: expected the text once in {rel}, found {current.count(old)}: {old!r} "
                             "(the code moved: update scripts/plant_bugs.py)")
        path.write_text(current.replace(old, new))
    return originals


def run_tests(tree: Path, tests: list[str], log: Path) -> tuple[int, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PYTEST_ADDOPTS", None)
    started = time.monotonic()
    with open(log, "w") as out:
        rc = subprocess.run([str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "--import-mode=importlib", *tests], cwd=tree, env=env, stdout=out,
                            stderr=subprocess.STDOUT).returncode
    return rc, time.monotonic() - started


def check_import(tree: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run([str(PYTHON), "-c", "import agentic; print(agentic.__file__)"],
                           cwd=tree, env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not where.startswith(str(tree)):
        raise SystemExit(f"the copy's agentic is shadowed by {where}: refusing to run")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bugs", nargs="*", help="names of the bugs to plant (default: all)")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and the logs")
    args = parser.parse_args()
    if args.list:
        for bug in BUGS:
            print(f"{bug.name:17} {bug.promise}" + "".join(f"\n{'':18}{t}" for t in bug.tests))
        return 0
    unknown = set(args.bugs) - {b.name for b in BUGS}
    if unknown:
        parser.error(f"unknown bug(s): {', '.join(sorted(unknown))}; see --list")
    chosen = [b for b in BUGS if not args.bugs or b.name in args.bugs]
    tree = Path(tempfile.mkdtemp(prefix="plant-bugs-"))
    try:
        copy_tree(tree)
        check_import(tree)
        print(f"copy: {tree}", flush=True)
        if not args.no_baseline:
            tests = sorted({t for b in chosen for t in b.tests})
            rc, took = run_tests(tree, tests, tree / "baseline.log")
            print(f"baseline (clean copy): {'pass' if rc == 0 else 'FAIL'} in {took:.0f}s", flush=True)
            if rc != 0:
                print((tree / "baseline.log").read_text()[-4000:])
                print("the clean copy fails its own tests: a planted bug proves nothing", file=sys.stderr)
                return 1
        caught = 0
        for bug in chosen:
            originals = plant(tree, bug)
            try:
                rc, took = run_tests(tree, list(bug.tests), tree / f"{bug.name}.log")
            finally:
                for path, text in originals.items():
                    path.write_text(text)
            hit = rc == 1  # tests ran and some failed (2-5: interrupted, internal or usage error, none ran)
            caught += hit
            failed = [line.split(" - ")[0] for line in (tree / f"{bug.name}.log").read_text().splitlines()
                      if line.startswith(("FAILED", "ERROR"))]
            print(f"{'caught ' if hit else 'MISSED '} {bug.name:17} {took:5.0f}s  {bug.promise}"
                  + "".join(f"\n{'':26}{f}" for f in failed), flush=True)
        print(f"{caught} of {len(chosen)} caught")
        return 0 if caught == len(chosen) else 1
    finally:
        if args.keep:
            print(f"kept {tree}")
        else:
            shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
