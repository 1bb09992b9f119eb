"""Comments that answer a waiting run: `/approve`, `/revise <text>` or a reply to Jules' question resume it.

A run waiting on people is Paused in Prefect: *Suspended* (a deployment run; no process is held) or paused
in-process (a direct Python call). Its pause key says what it waits for (`plan-<plan id>`, `question-<activity>-…`,
agentic/workflows/plan_approval.py). The receiver and the poller route an `issue_comment.created` here first: when
a run of this issue waits and the comment answers it, the run is resumed with the input its form expects, and the
flow (restarted from the top for a suspended run) continues from its durable state.

Who may answer: a plan decision needs the rules' `min_permission` (write); a reply to Jules' question may come from
the issue's author or a user with that permission. Bots and our own login never answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from agentic.triggers.launch import PrefectUnavailable
from agentic.triggers.payloads import IssueCommentEvent
from agentic.triggers.rules import PERMISSION_RANK, Rules, is_bot
from agentic.workflows.plan_approval import PLAN_KEY, QUESTION_KEY, Reply, decision_from_text

FLOW_NAME = "jules-agent-workflow"
_ISSUE_PATH = re.compile(r"/([^/]+)/([^/]+)/issues/(\d+)/*$")


@dataclass(frozen=True)
class Waiting:
    flow_run_id: str
    pause_key: str
    suspended: bool  # False: paused in-process (its own comment watcher may resume it too)


@dataclass(frozen=True)
class Answer:
    """What the comment would resume: the run, the input, and who must be allowed to give it."""

    waiting: Waiting
    run_input: dict[str, Any]
    what: str              # "plan decision" | "reply"
    author_may: bool       # the issue's author may give it without write access


def same_issue(url: Any, owner: str, repo: str, number: int) -> bool:
    found = _ISSUE_PATH.search(str(url or "").split("?")[0].split("#")[0])
    return bool(found) and (found[1].lower(), found[2].lower(), int(found[3])) == (owner.lower(), repo.lower(), number)


_PAGE = 200  # the Prefect server's largest page of flow runs


async def waiting_run(client: Any, owner: str, repo: str, number: int) -> Waiting | None:
    """The newest paused run of the product's flow for this issue that waits on people, if any. Runs the receiver
    started carry the issue's tag and are asked for first; any other run (the UI, the CLI) is found by paging
    through every paused run of the flow — a team may have more runs waiting than one page holds."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    paused = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
    for tags in ([f"issue:{owner.lower()}/{repo.lower()}#{number}"], None):
        offset = 0
        while True:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
                flow_run_filter=FlowRunFilter(state=paused, tags=FlowRunFilterTags(all_=tags) if tags else None),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=_PAGE, offset=offset)
            for run in runs:
                key = (run.state.state_details.pause_key if run.state else None) or ""
                if key.startswith((PLAN_KEY, QUESTION_KEY)) and same_issue(run.parameters.get("github_issue_url"),
                                                                           owner, repo, number):
                    return Waiting(str(run.id), key, suspended=run.state.name == "Suspended")
            if len(runs) < _PAGE:
                break
            offset += _PAGE
    return None


def answer_for(waiting: Waiting, text: str) -> Answer | None:
    """The input this comment gives the waiting run, or None when it is not an answer to what the run waits for."""
    if waiting.pause_key.startswith(PLAN_KEY):
        decision = decision_from_text(text)
        if decision is None:
            return None
        return Answer(waiting, decision.model_dump(), "plan decision", author_may=False)
    if text.lstrip().startswith("/"):  # commands are never replies (follow_loop._relay_answer skips them too)
        return None
    # The reply itself is read from the issue by the resumed run (fenced as data); the input only wakes it.
    return Answer(waiting, Reply(answer="").model_dump(), "reply", author_may=True)


async def route_comment(client: Any, github: Any, rules: Rules, payload: dict,
                        self_login: str | None) -> tuple[str, str, int, dict] | None:
    """Resume the issue's waiting run when this `issue_comment.created` answers it; None: not an answer, let the
    trigger rules decide. The answer is the receiver's (status, reason, HTTP code, extra)."""
    if not isinstance(payload, dict) or payload.get("action") != "created":
        return None
    parsed = IssueCommentEvent.model_validate(payload)
    issue, sender = parsed.issue, parsed.sender
    ruleset = rules.for_repo(parsed.repository.full_name)
    if issue.pull_request is not None or not ruleset.enabled:
        return None
    allowed_bots = {b.lower() for b in ruleset.allow_bots}
    if (self_login and sender.login.lower() == self_login.lower()) or (
            is_bot(sender.login, sender.type) and sender.login.lower() not in allowed_bots):
        return None  # our own status comments and bots never answer, unless allowed by name (as for triggers)
    text = parsed.comment.body or ""
    if decision_from_text(text) is None and text.lstrip().startswith("/"):
        return None  # another command (/jules): no run to look up
    owner, _, repo = parsed.repository.full_name.partition("/")
    try:
        waiting = await waiting_run(client, owner, repo, issue.number)
    except (httpx.HTTPError, OSError) as exc:
        raise PrefectUnavailable(f"Prefect: {type(exc).__name__}: {exc}") from None
    answer = answer_for(waiting, text) if waiting else None
    if answer is None:
        return None
    author = (payload.get("issue") or {}).get("user", {}).get("login")
    if not (answer.author_may and author and sender.login.lower() == str(author).lower()):
        need = ruleset.min_permission
        permission = await github.permission(owner, repo, sender.login)
        if PERMISSION_RANK.get(permission, 0) < PERMISSION_RANK[need]:
            return ("ignored", f"sender {sender.login} has {permission} access; {need} is needed to give a "
                    f"{answer.what}", 200, {"flow_run_id": answer.waiting.flow_run_id})
    return await resume(client, answer, sender.login)


async def resume(client: Any, answer: Answer, sender: str) -> tuple[str, str, int, dict]:
    from prefect.client.schemas.responses import SetStateStatus

    run_id = answer.waiting.flow_run_id
    extra = {"flow_run_id": run_id, "pause_key": answer.waiting.pause_key}
    try:
        result = await client.resume_flow_run(run_id, run_input=answer.run_input)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code >= 500:
            raise PrefectUnavailable(f"Prefect answered {exc.response.status_code}") from None
        return "ignored", f"Prefect refused to resume: {exc.response.text[:200]}", 200, extra
    except (httpx.HTTPError, OSError) as exc:
        raise PrefectUnavailable(f"Prefect: {type(exc).__name__}: {exc}") from None
    if result.status != SetStateStatus.ACCEPT:
        # Resumed meanwhile (the in-process watcher, the poller, the UI) or timed out.
        reason = result.details.reason if getattr(result, "details", None) else result.status.value
        return "duplicate", f"the run was not waiting any more ({reason})", 200, extra
    return "resumed", f"{answer.what} by {sender}", 200, extra
