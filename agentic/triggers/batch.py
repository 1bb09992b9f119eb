"""Hand every matching open issue of a repository to the queue: one flow run of the deployment per issue text.

    batch_issues(repo="acme/widgets", label="jules", limit=50)      # the flow `jules-batch`
    ibt batch --repo acme/widgets [--label L] [--limit N] [--dry-run]

Safe to interrupt and re-run: each run is created with the webhook receiver's idempotency key (the issue and a
hash of its text, agentic/triggers/launch.py), so Prefect returns the run that exists instead of a second one; an
issue whose claim (claims.py) shows a finished session for this text, or a live owner, is skipped before asking.
The runs then wait in Prefect's queue (session_queue.py): this flow only enqueues, it does not wait for them.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from agentic.dispatch import claims
from agentic.errors import ConfigError
from agentic.github.client import GitHubClient
from agentic.github.issue_ref import IssueRef, parse_issue_url
from agentic.settings import Settings, get_settings
from agentic.triggers.launch import idempotency_key, launch
from agentic.triggers.rules import RuleSet, Trigger
from agentic.workflows import progress
from agentic.workflows.deps import RunDeps

BATCH_FLOW_NAME = "jules-batch"
REPO_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
CHUNK = 8

Outcome = Literal["queued", "already-queued", "done", "in-flight", "would-queue"]


class BatchItem(BaseModel):
    number: int
    url: str
    outcome: Outcome
    flow_run_id: str | None = None
    reason: str = ""


class BatchResult(BaseModel):
    repo: str
    label: str | None
    dry_run: bool
    items: list[BatchItem]

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(item.outcome for item in self.items))


@dataclass(frozen=True)
class OpenIssue:
    number: int
    url: str
    title: str
    body: str


def parse_repo(repo: str) -> tuple[str, str]:
    """`OWNER/REPO` or a clear one-line error (nothing is listed or started)."""
    if not isinstance(repo, str) or not REPO_PATTERN.fullmatch(repo.strip()):
        raise ConfigError(f"--repo must be OWNER/REPO (e.g. acme/widgets), got {str(repo)[:100]!r}")
    owner, name = repo.strip().split("/")
    return owner, name


def verdict(claim: claims.Claim | None, title: str, body: str, stale_after: float,
            now: datetime | None = None) -> tuple[Outcome, str] | None:
    """Why an issue is skipped before a run is asked for (None: hand it over). Finished for this text: `done`;
    a live owner (heartbeat fresher than `stale_after`): `in-flight`."""
    if claim is None:
        return None
    record = claim.session_for(claims.text_hash(title, body))
    if record and (record.pull_request_url or record.state == "FAILED"):
        return "done", record.pull_request_url or f"session {record.session_id} FAILED"
    now = now or datetime.now(UTC)
    if claim.owner_run_id and claim.heartbeat and now - claim.heartbeat < timedelta(seconds=stale_after):
        return "in-flight", f"run {claim.owner_run_id} is on it"
    return None


@task(retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)  # the GitHub client is no cache input
async def list_open_issues(github: GitHubClient, owner: str, repo: str, label: str | None) -> list[OpenIssue]:
    """Every open issue with `label`, oldest first (GitHubClient.list_open_issues: the hub's npm `list_issues`)."""
    return [OpenIssue(issue.ref.number, issue.html_url, issue.title, issue.body)
            for issue in await github.list_open_issues(owner, repo, label)]


async def _hand_over(prefect: Any, settings: Settings, deployment: str, issue: OpenIssue,
                     dry_run: bool) -> BatchItem:
    ref: IssueRef = parse_issue_url(issue.url)
    claim = await claims.load(claims.claim_key(settings.github_api_url, ref))
    skip = verdict(claim, issue.title, issue.body, settings.claim_stale_seconds)
    if skip:
        return BatchItem(number=issue.number, url=issue.url, outcome=skip[0], reason=skip[1])
    if dry_run:
        return BatchItem(number=issue.number, url=issue.url, outcome="would-queue")
    trigger = Trigger(event="batch", kind="batch", owner=ref.owner, repo=ref.repo, number=ref.number,
                      issue_url=issue.url, title=issue.title, body=issue.body, sender="", rules=RuleSet())
    key = idempotency_key(settings.github_api_url, ref.owner, ref.repo, ref.number, issue.title, issue.body)
    launched = await launch(prefect, deployment, trigger, key)
    return BatchItem(number=issue.number, url=issue.url, flow_run_id=launched.flow_run_id,
                     outcome="queued" if launched.created else "already-queued",
                     reason="" if launched.created else f"run {launched.flow_run_name} exists for this text")


@flow(name=BATCH_FLOW_NAME, log_prints=True, validate_parameters=True)
async def batch_issues(repo: str, label: str | None = None, limit: int | None = None, dry_run: bool = False,
                       deployment: str | None = None) -> BatchResult:
    """Hand every open issue of `repo` (with `label`) to the Jules deployment's queue: at most `limit` issues that
    are not done (queued now, queued before or in flight)."""
    from prefect.client.orchestration import get_client

    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    owner, name = parse_repo(repo)
    settings = get_settings()
    deployment = deployment or settings.triggers_deployment
    async with RunDeps.from_settings(settings) as deps:  # the token and TLS (a private CA too) as for every run
        issues = await list_open_issues(deps.github, owner, name, label)
    progress.emit(batch="listed", total=len(issues))
    items: list[BatchItem] = []
    new = 0
    async with get_client() as prefect:
        # A few at a time, oldest first and in order: each is a claim read and one idempotent create. A chunk is
        # never larger than what the limit leaves, so no run is created past it.
        position = 0
        while position < len(issues) and (limit is None or new < limit):
            size = CHUNK if limit is None else min(CHUNK, limit - new)
            chunk = issues[position:position + size]
            position += len(chunk)
            for item in await asyncio.gather(*(_hand_over(prefect, settings, deployment, i, dry_run) for i in chunk)):
                new += item.outcome != "done"  # a re-run after an interrupt finds its runs again: same N
                items.append(item)
                progress.emit(batch="item", item=item.model_dump())
    result = BatchResult(repo=f"{owner}/{name}", label=label, dry_run=dry_run, items=items)
    print(f"{result.repo}: {len(issues)} open issue(s); " + ", ".join(f"{k} {v}" for k, v in
                                                                      sorted(result.counts.items())))
    return result
