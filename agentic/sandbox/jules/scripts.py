"""Scripted session lifecycles. Each session runs one script as an asyncio task, one step per clock tick.

    happy     QUEUED → PLANNING → [AWAITING_PLAN_APPROVAL] → IN_PROGRESS → COMPLETED (+ pull request if asked)
    fail      ... plan approved → IN_PROGRESS → a failing command → FAILED with a reason
    question  ... IN_PROGRESS → AWAITING_USER_FEEDBACK (agent asks) → sendMessage → IN_PROGRESS → COMPLETED
    silent    ... IN_PROGRESS, then nothing ever again (the workflow's "stuck session" case)
    slow      happy, with ten times the ticks

Every state change is traced by the activity a client would see for it (planGenerated, planApproved,
progressUpdated, agentMessaged, userMessaged, sessionCompleted, sessionFailed).

Under the `live` profile (config `live:`, traits in `live.py`) the same scripts also: start PENDING; publish a
cumulative changeSet with every progress step (the last one is the whole change); give the automatic planApproved
and the sessionCompleted the createTime of the activity before them; leave `outputs` empty on COMPLETED (`late`:
filled a little later; `empty`: never) while the pull request is still opened; and, after COMPLETED, push one
more commit to the PR branch with one more progressUpdated (its changeSet is the new whole change).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from agentic.sandbox.jules import change, reactive
from agentic.sandbox.jules.config import JulesSimConfig
from agentic.sandbox.jules.publish import (
    PublishError,
    PullRequestDraft,
    base_commit,
    open_pull_request,
    push_follow_up,
)
from agentic.sandbox.jules.store import SessionRecord, SessionStore

log = logging.getLogger(__name__)

QUESTION = "Before I change anything: should the fix keep the current public behaviour for existing callers?"
DEFAULT_FAIL_REASON = "The tests failed after the change and Jules could not fix them."


class SessionRun:
    """Drives one session through its script."""

    def __init__(self, record: SessionRecord, store: SessionStore, config: JulesSimConfig,
                 github: httpx.AsyncClient) -> None:
        self.record, self.store, self.config, self.github = record, store, config, github
        self.slowdown = 10 if record.script == "slow" else 1
        self.pull: tuple[PullRequestDraft, str] | None = None  # the opened PR's draft and base commit
        self.reactive: asyncio.Task | None = None  # Reactive Mode's review watcher (reactive.py)

    async def tick(self, ticks: float = 1) -> None:
        await asyncio.sleep(self.config.tick_seconds * ticks * self.slowdown)

    async def run(self) -> None:
        try:
            await self._script()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a script must fail the session, not vanish in a task
            log.exception("session %s script crashed", self.record.id)
            self.fail(f"Internal simulator error: {type(exc).__name__}: {exc}")

    # --- the script -----------------------------------------------------------------------------------------
    async def _script(self) -> None:
        record, store = self.record, self.store
        if record.state == "PENDING":
            await self.tick()
            store.set_state(record, "QUEUED")
        await self.tick()
        store.set_state(record, "PLANNING")
        await self.tick()
        self.generate_plan()
        await self.approval()
        if record.script == "silent":
            await asyncio.Event().wait()  # never set: the session stays IN_PROGRESS with no new activity
        steps = record.plan["steps"] if record.plan else []
        live = record.traits.live
        if record.script == "fail":
            await self.tick()
            self.progress(steps[0], bash={"command": "python -m pytest -q", "exitCode": 1,
                                          "output": "FAILED tests/test_core.py::test_change - AssertionError\n"
                                                    "1 failed, 12 passed"})
            await self.tick()
            self.fail(record.fail_reason or DEFAULT_FAIL_REASON)
            return
        # The plan is re-read every step: a revision carried forward (live profile) changes the remaining steps.
        while record.plan and record.next_step < len(record.plan["steps"]):
            await self.tick()
            steps, number = record.plan["steps"], record.next_step  # read after the tick: a revision may have come
            step = steps[number]
            bash = None
            if "test" in step["title"].lower() or number == len(steps) - 1:
                bash = {"command": "python -m pytest -q", "output": "13 passed", "exitCode": 0}
            partial = [{"changeSet": self.change_set(partial=True)}] if live and number < len(steps) - 1 else None
            record.next_step = number + 1
            self.progress(step, bash=bash, artifacts=partial)
            if record.script == "question" and number == 0:
                await self.ask_question()
        await self.tick()
        await self.finish()

    # --- steps ----------------------------------------------------------------------------------------------
    def generate_plan(self) -> None:
        record, store = self.record, self.store
        resource = record.resource
        steps = [{"id": store.new_id(), **s} for s in change.plan_steps(resource["prompt"], resource["title"])]
        record.plan = {"id": store.new_id(), "steps": steps, "createTime": store.stamp(record)}
        store.add_activity(record, "agent", "planGenerated", {"plan": record.plan},
                           description=f"Plan with {len(steps)} steps")

    async def approval(self) -> None:
        record, store = self.record, self.store
        if record.resource.get("requirePlanApproval"):
            store.set_state(record, "AWAITING_PLAN_APPROVAL")
            await record.approved.wait()  # approvePlan records the activity and the state change
        else:
            await self.tick()
            shared = self.shared_time()
            store.add_activity(record, "system", "planApproved", {"planId": record.plan["id"]},
                               description="Plan approved automatically", create_time=shared)
            store.set_state(record, "IN_PROGRESS")
            record.approved.set()

    def progress(self, step: dict[str, Any], bash: dict[str, Any] | None = None,
                 artifacts: list[dict[str, Any]] | None = None) -> None:
        items = list(artifacts or [])
        if bash:
            items.append({"bashOutput": bash})
        self.store.add_activity(self.record, "agent", "progressUpdated",
                                {"title": step["title"], "description": step.get("description", "")},
                                description=step["title"], artifacts=items)

    async def ask_question(self) -> None:
        record, store = self.record, self.store
        await self.tick()
        store.add_activity(record, "agent", "agentMessaged", {"agentMessage": QUESTION}, description=QUESTION)
        store.set_state(record, "AWAITING_USER_FEEDBACK")
        answer = await record.messages.get()  # sendMessage records userMessaged and resumes IN_PROGRESS
        await self.tick()
        reply = f"Thanks, continuing with your answer in mind: {answer[:200]}"
        store.add_activity(record, "agent", "agentMessaged", {"agentMessage": reply}, description=reply)

    async def finish(self) -> None:
        """Write the change, open the pull request if asked, complete."""
        record, store, config = self.record, self.store, self.config
        resource = record.resource
        title, prompt = resource["title"], resource["prompt"]
        path = config.change_path.format(session_id=record.id)
        content = change.file_content(record.id, title, prompt)
        message = change.commit_message(title)
        source_name = (resource.get("sourceContext") or {}).get("source")
        source = config.source(source_name) if source_name else None
        wants_pr = resource.get("automationMode") == "AUTO_CREATE_PR" and source is not None
        base = ((resource.get("sourceContext") or {}).get("githubRepoContext") or {}).get("startingBranch") \
            or (source.default_branch if source else "main")
        base_sha = None
        if source is not None:
            try:
                base_sha = await base_commit(self.github, source.owner, source.repo, base)
            except PublishError as exc:
                if wants_pr:
                    self.fail(f"Could not read branch {base} of {source.owner}/{source.repo}: {exc}")
                    return
        change_set = self.change_set(base_sha=base_sha)
        store.add_activity(record, "agent", "progressUpdated",
                           {"title": "Prepared the change", "description": f"Added {path}"},
                           description="Prepared the change", artifacts=[{"changeSet": change_set}])
        outputs: list[dict[str, Any]] = []
        if wants_pr:
            assert source is not None and base_sha is not None
            body = change.pull_request_body(title, record.plan["steps"] if record.plan else [], path, prompt,
                                            resource["url"], closing_refs=record.closing_refs == "copy")
            draft = PullRequestDraft(owner=source.owner, repo=source.repo, base=base,
                                     head=change.branch_name(title, record.id), path=path, content=content,
                                     commit_message=message, title=title, body=body)
            try:
                pull = await open_pull_request(self.github, draft, base_sha)
            except PublishError as exc:
                self.fail(f"Jules could not publish the pull request: {exc}")
                return
            self.pull = (draft, base_sha)
            self.reactive = reactive.start(self, draft, pull)
            outputs.append({"pullRequest": {"url": pull["html_url"], "title": pull.get("title", title),
                                            "description": pull.get("body") or body,
                                            "baseRef": base, "headRef": draft.head}})
        outputs.append({"changeSet": change_set})
        mode = record.traits.outputs
        if mode == "full":
            resource["outputs"] = outputs
        store.add_activity(record, "agent", "sessionCompleted", {}, description="Session completed",
                           create_time=self.shared_time())
        store.set_state(record, "COMPLETED")
        if record.traits.live:
            await self.after_completion(outputs if mode == "late" else None)

    async def after_completion(self, late_outputs: list[dict[str, Any]] | None) -> None:
        """Live: a COMPLETED session still moves. `outputs` may arrive later; one more activity comes."""
        record, store, live = self.record, self.store, self.config.live

        async def fill_outputs() -> None:
            await asyncio.sleep(live.outputs_delay_seconds)
            record.resource["outputs"] = late_outputs
            record.resource["updateTime"] = store.stamp(record)

        async def one_more_activity() -> None:
            await asyncio.sleep(live.after_completion_seconds or 0)
            description, artifacts = "Reviewed the change after the session completed.", []
            if self.pull is not None:  # the session never rebases and keeps pushing to its branch (§9)
                draft, base_sha = self.pull
                content = draft.content + "\nFollow-up: checked the change once more after completion.\n"
                try:
                    sha = await push_follow_up(self.github, draft, content, f"Follow-up: {draft.commit_message}"[:72])
                    description = f"Pushed follow-up commit {sha[:7]} to {draft.head} after the session completed."
                    artifacts = [{"changeSet": self.change_set(base_sha=base_sha, content=content)}]
                except PublishError as exc:
                    log.warning("session %s: follow-up push failed: %s", record.id, exc)
            store.add_activity(record, "agent", "progressUpdated",
                               {"title": "Updated the branch", "description": description},
                               description="Updated the branch", artifacts=artifacts)

        await asyncio.gather(*([fill_outputs()] if late_outputs is not None else []),
                             *([one_more_activity()] if live.after_completion_seconds is not None else []))

    async def follow_up(self, message: str, after: asyncio.Task | None = None) -> None:
        """A message after COMPLETED (e.g. a CI failure summary): back to IN_PROGRESS, one more commit on the PR
        branch when there is one, COMPLETED again. `after`: the session's current task, finished first."""
        record, store = self.record, self.store
        if after is not None and not after.done():
            await asyncio.gather(after, return_exceptions=True)
        try:
            store.set_state(record, "IN_PROGRESS")
            await self.tick()
            description, artifacts = "Looked at the message; no change was needed.", []
            if self.pull is not None:
                draft, base_sha = self.pull
                fixes = sum(1 for a in record.activities if "userMessaged" in a)
                content = draft.content + f"\nFix {fixes}: addressed the reported failure.\n"
                sha = await push_follow_up(self.github, draft, content,
                                           f"Follow-up fix: {message.splitlines()[0][:50]}")
                description = f"Pushed commit {sha[:7]} to {draft.head} for the reported failure."
                artifacts = [{"changeSet": self.change_set(base_sha=base_sha, content=content)}]
            store.add_activity(record, "agent", "progressUpdated",
                               {"title": "Addressed the follow-up", "description": description},
                               description="Addressed the follow-up", artifacts=artifacts)
            await self.tick()
            store.add_activity(record, "agent", "sessionCompleted", {}, description="Session completed")
            store.set_state(record, "COMPLETED")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed push fails the session, as on Jules
            log.exception("session %s follow-up crashed", record.id)
            self.fail(f"Jules could not push the follow-up: {exc}")

    def shared_time(self) -> str | None:
        """Live: the createTime of the last activity, for the next one to reuse (a `create_time>"T"` reader that
        saw the first one misses the second); None otherwise."""
        record = self.record
        if record.traits.live and self.config.live.shared_create_time and record.activities:
            return record.activities[-1]["createTime"]
        return None

    def change_set(self, base_sha: str | None = None, partial: bool = False,
                   content: str | None = None) -> dict[str, Any]:
        """The session's change as a changeSet; `partial`: the work so far (the file's heading only); `content`:
        the file as it is now. Each is a whole diff against the base, so the last one published is the complete
        change."""
        record, config = self.record, self.config
        resource = record.resource
        path = config.change_path.format(session_id=record.id)
        content = content or change.file_content(record.id, resource["title"], resource["prompt"])
        if partial:
            content = content.split("\n", 1)[0] + "\n"
        git_patch: dict[str, Any] = {"unidiffPatch": change.unidiff(path, content),
                                     "suggestedCommitMessage": change.commit_message(resource["title"])}
        if base_sha:
            git_patch["baseCommitId"] = base_sha
        change_set: dict[str, Any] = {"gitPatch": git_patch}
        if source_name := (resource.get("sourceContext") or {}).get("source"):
            change_set["source"] = source_name
        return change_set

    def fail(self, reason: str) -> None:
        if self.record.terminal:
            return
        self.store.add_activity(self.record, "system", "sessionFailed", {"reason": reason}, description=reason)
        self.store.set_state(self.record, "FAILED")
