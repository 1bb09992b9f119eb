"""The flow's side effects, one Prefect task each, retried only on transient errors.

Each is safe to run again — by a task retry, a crashed run's successor or a resumed run — because it first reads
the durable state it would change (the Jules client's operations, the status comment's marker, the PR body)."""

from __future__ import annotations

import re
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from agentic.errors import JulesQuotaExceeded, JulesSourceBusy, TransientError
from agentic.github import ops as github_ops
from agentic.github.issue_ref import IssueRef
from agentic.hub.mcp_client import HubTools, ToolCallFailed
from agentic.jules.client import JulesClient
from agentic.jules.models import Activity, Session
from agentic.workflows.status_comment import status_marker

_FIXES = re.compile(r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\s+#(\d+)\b", re.IGNORECASE)


def _transient(_task: Any, _run: Any, state: Any) -> bool:
    """Retry only transport failures, 5xx and 429 — never a 4xx or a bug. A quota 429 and a busy source are queued by
    the caller (jules_workflow._dispatch), with its own backoff and bound."""
    return isinstance(state.data, TransientError) and not isinstance(state.data, (JulesQuotaExceeded, JulesSourceBusy))


RETRY = {"retries": 4, "retry_delay_seconds": [1, 3, 8, 20], "retry_condition_fn": _transient,
         "cache_policy": NO_CACHE}


def reentered() -> bool:
    """True on a retry of the current task: an earlier attempt may have done the side effect already."""
    return task_run.get_run_count() > 1


@task(name="read-issue", **RETRY)
async def read_issue(hub: HubTools, ref: IssueRef) -> github_ops.Issue:
    return await github_ops.read_issue(hub, ref)


@task(name="resolve-jules-source", **RETRY)
async def resolve_source(jules: JulesClient, ref: IssueRef) -> dict[str, Any]:
    return await jules.find_source(ref)


@task(name="default-branch", **RETRY)
async def read_default_branch(hub: HubTools, ref: IssueRef) -> str:
    return await github_ops.default_branch(hub, ref)


@task(name="create-jules-session", **RETRY)
async def create_session(jules: JulesClient, *, marker: str, prompt: str, title: str, source: str, branch: str,
                         require_plan_approval: bool, look_first: bool) -> Session:
    return await jules.create_session(marker=marker, prompt=prompt, title=title, source=source, branch=branch,
                                      require_plan_approval=require_plan_approval,
                                      look_first=look_first or reentered())


@task(name="find-jules-session", **RETRY)
async def find_session(jules: JulesClient, marker: str) -> Session | None:
    return await jules.find_session(marker)


@task(name="poll-jules-activities", **RETRY)
async def poll_activities(jules: JulesClient, session_id: str, since: str | None) -> list[Activity]:
    return await jules.list_activities(session_id, since)


@task(name="get-jules-session", **RETRY)
async def get_session(jules: JulesClient, session_id: str) -> Session:
    return await jules.get_session(session_id)


@task(name="approve-plan", **RETRY)
async def approve_plan(jules: JulesClient, session_id: str, plan_id: str) -> bool:
    return await jules.approve_plan(session_id, plan_id)


@task(name="send-message-to-jules", **RETRY)
async def send_message(jules: JulesClient, session_id: str, text: str, since: str | None) -> bool:
    return await jules.send_message(session_id, text, since=since)


@task(name="upsert-status-comment", **RETRY)
async def upsert_status(hub: HubTools, ref: IssueRef, comment_id: int | None, body: str, search: bool = True,
                        bot_login: str | None = None) -> github_ops.Comment:
    # A lost answer may have posted the comment already: on a retry or a re-entry, look for its hidden marker
    # (trusted only from our own login once we know it) instead of posting a second one.
    if comment_id is None and (search or reentered()):
        marker = status_marker(ref.key)
        for comment in await github_ops.list_comments(hub, ref):
            if comment.body.startswith(marker) and (bot_login is None or comment.author == bot_login):
                comment_id = comment.id
                break
    if comment_id is not None:
        try:
            return await github_ops.update_comment(hub, ref, comment_id, body)
        except ToolCallFailed as exc:
            if exc.status not in (403, 404) or isinstance(exc, TransientError):
                raise  # a 403 rate limit is retried, never taken for "not ours"
            # Deleted (404), or not ours to edit (403, a forged marker): post our own.
    return await github_ops.create_comment(hub, ref, body)


@task(name="find-fixing-pull-requests", **RETRY)
async def find_fixing_pull_requests(hub: HubTools, ref: IssueRef) -> list[github_ops.PullRequest]:
    return await github_ops.find_fixing_pull_requests(hub, ref)


@task(name="react-eyes", **RETRY)
async def react(hub: HubTools, ref: IssueRef) -> None:
    await github_ops.add_reaction(hub, ref, "eyes")


@task(name="find-pull-request", **RETRY)
async def find_pull_request(hub: HubTools, ref: IssueRef, session: Session) -> str | None:
    """Live Jules often leaves `outputs` empty although it opened a PR: find it on GitHub by the session."""
    return await github_ops.find_pull_request_for_session(hub, ref, session.id, session.url)


@task(name="finish-pull-request", **RETRY)
async def finish_pull_request(hub: HubTools, ref: IssueRef, pr_url: str, reviewer: str | None) -> dict[str, Any]:
    """The PR must close the issue (`Fixes #N`) and ask the requester for review — read back, not assumed."""
    number = github_ops.pull_number(pr_url)
    pr = await github_ops.get_pull_request(hub, ref, number)
    body = pr.body
    if str(ref.number) not in _FIXES.findall(body):
        body = f"{body.rstrip()}\n\nFixes #{ref.number}\n"
        await github_ops.update_pull_request_body(hub, ref, number, body)
    already = set(pr.requested_reviewers)
    requested = bool(reviewer) and reviewer != pr.author and (
        reviewer in already or await github_ops.request_reviewers(hub, ref, number, [reviewer]))
    return {"number": number, "body": body, "reviewer_requested": requested,
            "head_sha": pr.head_sha or None}


@task(name="read-pull-request", **RETRY)
async def read_pull(hub: HubTools, ref: IssueRef, number: int) -> github_ops.PullRequest:
    return await github_ops.get_pull_request(hub, ref, number)


@task(name="list-check-runs", **RETRY)
async def list_check_runs(hub: HubTools, ref: IssueRef, commit: str) -> list[github_ops.CheckRun]:
    return await github_ops.list_check_runs(hub, ref, commit)
