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
from agentic.github.client import GitHubClient, pull_number
from agentic.github.issue_ref import IssueRef
from agentic.github.models import CheckRun, Comment, Issue, PullRequest
from agentic.hub.mcp_client import ToolCallFailed
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
async def read_issue(github: GitHubClient, ref: IssueRef) -> Issue:
    return await github.read_issue(ref)


@task(name="resolve-jules-source", **RETRY)
async def resolve_source(jules: JulesClient, ref: IssueRef) -> dict[str, Any]:
    return await jules.find_source(ref)


@task(name="default-branch", **RETRY)
async def read_default_branch(github: GitHubClient, ref: IssueRef) -> str:
    return await github.default_branch(ref)


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
async def upsert_status(github: GitHubClient, ref: IssueRef, comment_id: int | None, body: str, search: bool = True,
                        bot_login: str | None = None) -> Comment:
    # A lost answer may have posted the comment already: on a retry or a re-entry, look for its hidden marker
    # (trusted only from our own login once we know it) instead of posting a second one.
    if comment_id is None and (search or reentered()):
        marker = status_marker(ref.key)
        for comment in await github.list_comments(ref):
            if comment.body.startswith(marker) and (bot_login is None or comment.author == bot_login):
                comment_id = comment.id
                break
    if comment_id is not None:
        try:
            return await github.update_comment(ref, comment_id, body)
        except ToolCallFailed as exc:
            if exc.status not in (403, 404) or isinstance(exc, TransientError):
                raise  # a 403 rate limit is retried, never taken for "not ours"
            # Deleted (404), or not ours to edit (403, a forged marker): post our own.
    return await github.create_comment(ref, body)


@task(name="find-fixing-pull-requests", **RETRY)
async def find_fixing_pull_requests(github: GitHubClient, ref: IssueRef) -> list[PullRequest]:
    return await github.find_fixing_pull_requests(ref)


@task(name="react-eyes", **RETRY)
async def react(github: GitHubClient, ref: IssueRef) -> None:
    await github.add_reaction(ref, "eyes")


@task(name="find-pull-request", **RETRY)
async def find_pull_request(github: GitHubClient, ref: IssueRef, session: Session) -> str | None:
    """Live Jules often leaves `outputs` empty although it opened a PR: find it on GitHub by the session."""
    return await github.find_pull_request_for_session(ref, session.id, session.url)


@task(name="finish-pull-request", **RETRY)
async def finish_pull_request(github: GitHubClient, ref: IssueRef, pr_url: str, reviewer: str | None) -> dict[str, Any]:
    """The PR must close the issue (`Fixes #N`) and ask the requester for review — read back, not assumed."""
    number = pull_number(pr_url)
    pr = await github.get_pull_request(ref, number)
    body = pr.body
    if str(ref.number) not in _FIXES.findall(body):
        body = f"{body.rstrip()}\n\nFixes #{ref.number}\n"
        await github.update_pull_request_body(ref, number, body)
    already = set(pr.requested_reviewers)
    requested = bool(reviewer) and reviewer != pr.author and (
        reviewer in already or await github.request_reviewers(ref, number, [reviewer]))
    return {"number": number, "body": body, "reviewer_requested": requested,
            "head_sha": pr.head_sha or None}


@task(name="read-pull-request", **RETRY)
async def read_pull(github: GitHubClient, ref: IssueRef, number: int) -> PullRequest:
    return await github.get_pull_request(ref, number)


@task(name="list-check-runs", **RETRY)
async def list_check_runs(github: GitHubClient, ref: IssueRef, commit: str) -> list[CheckRun]:
    return await github.list_check_runs(ref, commit)
