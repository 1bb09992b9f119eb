"""Archive the Jules session of every pull request we finished once that PR is merged or closed.

A Jules session pins its base commit and can keep pushing to its branch after COMPLETED (docs/architecture.md,
../shared/research/jules-api.md §9): left alone it may push onto a merged branch or revert work merged since. The
sweep reads the claims (the durable record of which session made which PR), asks GitHub whether each PR is still
open, and archives the sessions whose PR is not. It is idempotent — an archived session is recorded in its claim
and skipped; an issue a live run owns is left to that run — so it can run on a schedule, after a `pull_request`
`closed` webhook, or by hand:

    python -m agentic.workflows.archive [OWNER/REPO]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from prefect import flow, get_client, get_run_logger

from agentic.dispatch import claims
from agentic.github.client import GitHubClient, pull_number
from agentic.github.issue_ref import IssueRef, parse_issue_url
from agentic.jules.client import JulesClient
from agentic.workflows.deps import RunDeps

FLOW_NAME = "jules-archive-merged"
DEPLOYMENT_NAME = "jules-archive"  # `jules-archive-merged/jules-archive`: deploy.py registers it beside the workflow


async def _claims(github_api_url: str, repo: str | None) -> list[str]:
    """Keys of the claims on this GitHub instance (and repository), from the Prefect variables that hold them."""
    prefix = github_api_url.rstrip("/").lower() + "/" + (repo.lower() + "#" if repo else "")
    async with get_client() as client:
        return sorted(key for _name, key in await claims.claim_variables(client, prefix))


async def _archive_one(github: GitHubClient, jules: JulesClient, key: str, run_id: str, stale: float) -> list[dict]:
    claim = await claims.load(key)
    pending = [r for r in (claim.sessions if claim else []) if r.pull_request_url and r.session_id and not r.archived]
    if not pending:
        return []
    acquired = await claims.acquire(key, run_id, stale)
    if not acquired.owned:  # a live run (its CI loop, say) owns the issue: it archives on its own way out
        return []
    done = []
    try:
        for record in acquired.claim.sessions:
            if not (record.pull_request_url and record.session_id) or record.archived:
                continue
            ref = _issue(record.pull_request_url)
            number = pull_number(record.pull_request_url)
            pull = await github.get_pull_request(ref, number)
            if pull.state == "open":
                continue
            archived_now = await jules.archive(record.session_id)
            record.archived = True
            await claims.update(key, run_id, acquired.claim)  # recorded: the next sweep skips it
            done.append({"pull_request": record.pull_request_url, "session": record.session_id,
                         "merged": pull.merged, "archived_now": archived_now})
    finally:
        await claims.release(key, run_id, acquired.claim)
    return done


def _issue(pull_request_url: str) -> IssueRef:
    # A PR URL parses like an issue URL once /pull/ reads /issues/ (the same number space on GitHub).
    return parse_issue_url(pull_request_url.replace("/pull/", "/issues/"))


@flow(name=FLOW_NAME, log_prints=True, validate_parameters=True)
async def archive_merged_sessions(repo: str | None = None) -> list[dict[str, Any]]:
    """Archive the Jules session behind every merged or closed pull request we finished (`repo`: only there)."""
    from prefect.runtime import flow_run

    logger = get_run_logger()
    archived: list[dict[str, Any]] = []
    async with RunDeps.from_settings() as deps:  # keys from Prefect Secret blocks when present
        settings = deps.settings
        for key in await _claims(settings.github_api_url, repo):
            for item in await _archive_one(deps.github, deps.jules, key, str(flow_run.get_id()),
                                           settings.claim_stale_seconds):
                logger.info("archived Jules session %s: its pull request %s is %s", item["session"],
                            item["pull_request"], "merged" if item["merged"] else "closed")
                archived.append(item)
    return archived


def deployment_options(interval_seconds: float) -> dict[str, Any]:
    """How the sweep is deployed (served or in a work pool): on an interval (0: none, then only webhooks and manual
    runs start it), one sweep at a time (`concurrency_limit=1`, ENQUEUE: a burst of closed pull requests queues
    sweeps instead of racing them)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    return {"name": DEPLOYMENT_NAME, "interval": interval_seconds or None,
            "concurrency_limit": ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)}


def to_deployment(interval_seconds: float, *, tags: list[str], version: str | None = None) -> Any:
    """The sweep as a deployment to serve or apply (a sync caller; `deployment_options` for the others)."""
    return archive_merged_sessions.to_deployment(tags=tags, version=version, **deployment_options(interval_seconds))


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    result = asyncio.run(archive_merged_sessions(repo=args[0] if args else None))
    for item in result:
        print(f"archived {item['session']} ({item['pull_request']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
