"""The poller: the receiver's behaviour where GitHub cannot reach us (no public URL), as a scheduled deployment.

    python -m agentic.triggers.poller --repo acme/widgets [--repo ...] [--interval 60]   # serve, every interval
    python -m agentic.triggers.poller --repo acme/widgets --once                         # one pass, then exit

Each pass lists the repository's issue comments through `agentic.github.comments.CommentFeed` (GitHub's rules: a
conditional request with the last ETag, a 304 costing no rate limit, pages, limits) from `since` the newest comment
handled, and feeds every new comment, as the `issue_comment.created` delivery GitHub would have sent, to the same
code as the receiver (`Receiver.process`): answers to waiting runs (`/approve`, `/revise`, replies) resume them,
`/jules` and `@jules` start runs, under the same rules, permission checks and idempotency keys. The cursor (ETag,
`since`, ids handled at that instant) lives in a Prefect Variable, so a restarted poller neither replays nor
skips. Rate limits are honoured: a 403/429 with `Retry-After` or `X-RateLimit-Remaining: 0` pauses that repository
until the reset, and a pass stops early when fewer than `RESERVE` requests remain. The first pass of a repository
only records where "now" is: history is not replayed. Labels and assignments need webhooks (the sender of a label
is in the issue events API only).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import BaseModel, Field

from agentic.github.comments import PAGE, CommentFeed
from agentic.triggers.app import Receiver, ReceiverConfig

STATE_VARIABLE = "github-poller-state"
RESERVE = 50  # requests left for the flow itself (it shares the token)


class RepoCursor(BaseModel):
    etag: str | None = None
    since: str | None = None                          # updated_at of the newest comment handled (inclusive on GitHub)
    seen: list[int] = Field(default_factory=list)     # comment ids handled at `since`
    not_before: float = 0.0                           # epoch seconds: rate limited until


class PollState(BaseModel):
    repos: dict[str, RepoCursor] = Field(default_factory=dict)


async def poll_once(receiver: Receiver, feed: CommentFeed, repositories: list[str], state: PollState,
                    now: float | None = None) -> list[dict[str, Any]]:
    """One pass over `repositories`; `state` is updated in place. Returns one line per repository and comment."""
    now = time.time() if now is None else now
    report: list[dict[str, Any]] = []
    for full_name in repositories:
        cursor = state.repos.setdefault(full_name.lower(), RepoCursor())
        if cursor.not_before > now:
            report.append({"repo": full_name, "status": "rate-limited", "until": cursor.not_before})
            continue
        # The baseline is the newest comments: oldest-first would set it inside history and replay the rest
        # (every id at the newest second is kept: `since` is inclusive, per second).
        since, newest_first = cursor.since, cursor.since is None
        listing = await feed.listing(full_name, since=since, newest_first=newest_first, etag=cursor.etag, now=now)
        if listing.status == "rate-limited":
            cursor.not_before = listing.until
            report.append({"repo": full_name, "status": "rate-limited", "until": listing.until})
            continue
        if listing.status == "not-modified":
            report.append({"repo": full_name, "status": "not-modified"})
            continue
        comments = listing.comments
        # An unchanged full first page says nothing of the next pages: no conditional request after one.
        cursor.etag = listing.etag if len(comments) < PAGE else None
        if cursor.since is None:  # first pass: remember where now is, do not replay history
            newest = max((c["updated_at"] for c in comments), default=None)
            cursor.since = newest or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
            # `since` is inclusive and per second: every comment of the newest second is "seen", even past a page.
            page, batch = 1, comments
            cursor.seen = []
            while True:
                cursor.seen += [c["id"] for c in batch if c["updated_at"] == newest]
                if len(batch) < PAGE or not batch or batch[-1]["updated_at"] != newest:
                    break
                page += 1
                batch = await feed.page(full_name, since=since, newest_first=newest_first, page=page)
            report.append({"repo": full_name, "status": "baseline", "since": cursor.since})
            continue
        # A full page: the rest of the window is on the next pages (more than PAGE comments since the cursor).
        page = 1
        while len(comments) >= PAGE * page:
            page += 1
            more = await feed.page(full_name, since=since, newest_first=newest_first, page=page)
            comments += more
            if len(more) < PAGE:
                break
        repository: dict | None = None
        for comment in comments:
            if comment["id"] in cursor.seen:
                continue
            edited_old = comment["created_at"] != comment["updated_at"] and comment["created_at"] < (since or "")
            if not edited_old:  # an edit of an older comment: GitHub would send issue_comment.edited, not a trigger
                try:
                    repository = repository or await feed.repository(full_name)
                    issue = await feed.issue(comment["issue_url"])
                    payload = {"action": "created", "issue": issue, "comment": comment, "repository": repository,
                               "sender": comment["user"]}
                    status, reason, _, extra = await receiver.process("issue_comment", payload)
                except Exception as exc:  # noqa: BLE001 - GitHub or Prefect blip: the cursor stays before it
                    report.append({"repo": full_name, "comment": comment["id"], "status": "retry-later",
                                   "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})
                    cursor.etag = None  # the same list must come back as 200 next time, not as a 304
                    break
                report.append({"repo": full_name, "comment": comment["id"], "status": status, "reason": reason,
                               **extra})
            # Handled (or deliberately skipped): only now does the cursor move past it.
            if comment["updated_at"] != cursor.since:
                cursor.since, cursor.seen = comment["updated_at"], []
            cursor.seen.append(comment["id"])
        if listing.remaining is not None and listing.remaining < RESERVE:
            cursor.not_before = listing.reset if listing.reset is not None else now + 60
            report.append({"repo": full_name, "status": "rate-limited", "until": cursor.not_before})
            break
    return report


def _config(settings: Any) -> ReceiverConfig:
    from agentic.github.app_auth import GitHubAuth
    from agentic.triggers.rules import load_rules

    token = settings.github_token.get_secret_value() if settings.github_token else None
    return ReceiverConfig(api_url=settings.github_api_url, token=token, secret=None,
                          auth=GitHubAuth.from_settings(settings), rules=load_rules(settings.triggers_rules_path),
                          deployment=settings.triggers_deployment,
                          deadline_seconds=settings.triggers_deadline_seconds, bot_login=settings.triggers_bot_login,
                          edit_settle_seconds=settings.triggers_edit_settle_seconds, verify=settings.tls_verify)


async def run_pass(repositories: list[str]) -> list[dict[str, Any]]:
    """One pass with the settings' token and the durable cursor (what the scheduled flow runs)."""
    from prefect import get_client
    from prefect.variables import Variable

    from agentic.secret_blocks import with_secret_blocks
    from agentic.settings import get_settings

    settings = await with_secret_blocks(get_settings())  # GITHUB_TOKEN from its Secret block when present
    config = _config(settings)
    stored = await Variable.aget(STATE_VARIABLE, default=None)
    state = PollState.model_validate(stored) if stored else PollState()
    from agentic.github.rest import rest_client

    async with get_client() as prefect, rest_client(config.api_url, config.token, auth=config.auth,
                                                    verify=config.verify, user_agent="agentic-poller") as http:
        receiver = Receiver(config, prefect_client=prefect)
        try:
            report = await poll_once(receiver, CommentFeed(http), repositories, state)
        finally:
            await Variable.aset(STATE_VARIABLE, state.model_dump(mode="json"), overwrite=True)
            await receiver.github.aclose()
    return report


def _flow():
    from prefect import flow

    @flow(name="github-poller", log_prints=True)
    async def github_poller(repositories: list[str]) -> list[dict[str, Any]]:
        """Poll the repositories' issue comments and act on them like the webhook receiver."""
        report = await run_pass(repositories)
        for line in report:
            print(line)
        return report

    return github_poller


def main() -> None:
    import asyncio

    import typer

    app = typer.Typer(add_completion=False)

    @app.command()
    def serve(repo: Annotated[list[str], typer.Option(help="owner/name to poll (repeatable).")],
              interval: Annotated[float | None, typer.Option(help="Seconds between passes (default: "
                                                             "POLLER_INTERVAL_SECONDS).")] = None,
              once: Annotated[bool, typer.Option("--once", help="One pass now, then exit.")] = False) -> None:
        """Serve the `github-poller` deployment on a schedule (or run one pass)."""
        from agentic.settings import export_prefect_env, load_settings

        settings = load_settings()
        export_prefect_env(settings)
        if once:
            for line in asyncio.run(run_pass(repo)):
                print(line)
            return
        _flow().serve(name="github-poller", interval=interval or settings.poller_interval_seconds,
                      parameters={"repositories": repo}, print_starting_message=True)

    app()


if __name__ == "__main__":
    main()
