"""A simulated CI for the GitHub simulator: check runs on every pull request head, as a GitHub Actions app writes.

Enabled per repository (`POST /_sim/ci`); off everywhere by default, so nothing else waits for checks. When a pull
request opens, or its head branch moves, each configured check goes `queued` → `in_progress` → `completed` on the new
head SHA, and each step is delivered as a `check_run` webhook. A head fails (with the output GitHub Actions writes: a
title, a summary naming the failing tests and a log tail in `text`) until the pull request's branch carries
`fail_rounds` fix commits — commits whose message starts with "Follow-up fix", which the Jules simulator pushes when a
completed session is sent a message. Other pushes (the live profile's follow-up commit) do not fix anything: the "fails,
the summary goes to Jules, its fix passes" loop the workflow's CI round trip is tested on. Enabling CI also gives the
default branch's head a passing run, as a repository with Actions on push has.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentic.sandbox.github.store import CheckRun, Repo, now

if TYPE_CHECKING:
    from agentic.sandbox.github.web import Sim

CI_APP = "github-actions[bot]"
FIX_PREFIX = "Follow-up fix"  # the Jules simulator's commits answering a message (scripts.py follow_up)
FAILING_TESTS = ("tests/test_core.py::test_change", "tests/test_api.py::test_contract")


@dataclass
class CiConfig:
    checks: list[str] = field(default_factory=lambda: ["test"])
    fail_rounds: int = 1  # fix commits a pull request needs before its checks pass
    delay_seconds: float = 0.1  # push → in_progress
    duration_seconds: float = 0.3  # in_progress → completed
    seen: dict[int, list[str]] = field(default_factory=dict)  # pull number → head SHAs checked, in order
    base_runs: list[int] = field(default_factory=list)  # ids of the default branch's runs `enable` added


def failure_output(check: str, round_number: int) -> dict[str, str]:
    tail = "\n".join([
        "============================= test session starts ==============================",
        *(f"{name} FAILED" for name in FAILING_TESTS),
        "E   AssertionError: expected 'fixed', got 'broken'",
        f"=========================== {len(FAILING_TESTS)} failed, 41 passed in 3.2s ===========================",
        "Error: Process completed with exit code 1.",
    ])
    return {"title": f"{len(FAILING_TESTS)} tests failed",
            "summary": f"`{check}` failed on round {round_number}: " + ", ".join(f"`{t}`" for t in FAILING_TESTS),
            "text": tail}


class SimulatedCi:
    """Per-repository CI of one simulator (`sim.ci`)."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.repos: dict[str, CiConfig] = {}
        self._tasks: set[asyncio.Task] = set()

    def enable(self, repo: Repo, config: CiConfig) -> None:
        self.repos[repo.full_name.lower()] = config
        head = repo.refs.get(f"refs/heads/{repo.default_branch}")
        if head and not any(c.head_sha == head for c in repo.check_runs):
            for name in config.checks:
                run = CheckRun(self.sim.store.next_id(), head, name, "completed", "success", started_at=now(),
                               completed_at=now(), output={"title": "All tests passed", "summary": "43 passed"},
                               app=CI_APP)
                repo.check_runs.append(run)
                config.base_runs.append(run.id)

    def disable(self, repo: Repo) -> None:
        """CI off again, and the repository looks as if it never had any (its default branch loses the runs
        `enable` gave it): a later workflow run in the same simulator does not wait for checks."""
        config = self.repos.pop(repo.full_name.lower(), None)
        if config is not None:
            repo.check_runs[:] = [c for c in repo.check_runs if c.id not in config.base_runs]

    def head_moved(self, repo: Repo, branch: str, base_url: str) -> None:
        """A push to `branch` (or a pull request opened from it): check every open pull request it heads.
        `base_url`: the API base of the request that moved it, for the webhook payloads' URLs."""
        config = self.repos.get(repo.full_name.lower())
        if config is None:
            return
        self.store_user()
        sha = repo.refs.get(f"refs/heads/{branch}")
        for issue in list(repo.issues.values()):
            if not (issue.pull and issue.state == "open" and issue.pull.head_ref == branch and sha):
                continue
            heads = config.seen.setdefault(issue.number, [])
            if sha in heads:
                continue
            heads.append(sha)
            base = repo.refs.get(f"refs/heads/{issue.pull.base_ref}") or ""
            merged = {c.sha for c in repo.history(base)}
            fixes = sum(1 for c in repo.history(sha) if c.sha not in merged and c.message.startswith(FIX_PREFIX))
            task = asyncio.get_running_loop().create_task(
                self._run(repo, config, sha, fixes < config.fail_rounds, len(heads), base_url))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def store_user(self) -> None:
        self.sim.store.user(CI_APP, type="Bot")

    async def _run(self, repo: Repo, config: CiConfig, sha: str, fails: bool, round_number: int,
                   base_url: str) -> None:
        runs = [CheckRun(self.sim.store.next_id(), sha, name, "queued", app=CI_APP) for name in config.checks]
        repo.check_runs.extend(runs)
        self._deliver(repo, runs, "created", base_url)
        await asyncio.sleep(config.delay_seconds)
        for run in runs:
            run.status, run.started_at = "in_progress", now()
        await asyncio.sleep(config.duration_seconds)
        for run in runs:
            run.status, run.completed_at = "completed", now()
            run.conclusion = "failure" if fails else "success"
            run.output = failure_output(run.name, round_number) if fails else {
                "title": "All tests passed", "summary": f"`{run.name}`: 43 passed"}
        self._deliver(repo, runs, "completed", base_url)

    def _deliver(self, repo: Repo, runs: list[CheckRun], action: str, base_url: str) -> None:
        if self.sim.webhooks is None:
            return
        from agentic.sandbox.github.render import Renderer

        render = Renderer(self.sim.store, base_url)
        for run in runs:
            payload: dict[str, Any] = {"action": action, "check_run": render.check_run(repo, run),
                                       "repository": render.repo(repo), "sender": render.user(CI_APP)}
            self.sim.webhooks.emit("check_run", payload)
