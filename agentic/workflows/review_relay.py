"""The shell around reviews.py: read the PR's reviews, comments, 👀 and commits through the hub, send what the core
says to send, and show the outcome on the status comment.

Two places call it: the CI watch (ci_loop.py, every pass, beside the follow-ups) and a re-entry of a run that had
already finished (jules_workflow.py: the receiver starts one per review, agentic/triggers/app.py), which has no view
of its own and so rewrites only the status comment's "After the pull request" section. Every read is one page of
100: a pull request with more reviews than that is beyond what this relays.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agentic.dispatch import claims
from agentic.github.client import pull_number
from agentic.github.models import PullRequest
from agentic.triggers.rules import load_rules
from agentic.workflows import reviews, tasks
from agentic.workflows.run import IssueRun
from agentic.workflows.status_comment import splice_after_pr


async def read_reviews(run: IssueRun, number: int) -> list[reviews.Review]:
    github, ref = run.deps.github, run.job.ref
    found = await github.list_reviews(ref, number)
    by_review: dict[int, list[reviews.DiffComment]] = {}
    for c in await github.list_review_comments(ref, number):
        if c.review_id:
            # who put 👀 on it: asked only when its rollup counts some
            eyes = await github.review_comment_reactors(ref, c.id, "eyes") if c.eyes else frozenset[str]()
            by_review.setdefault(c.review_id, []).append(reviews.DiffComment(
                id=c.id, body=c.body, path=c.path, line=c.line, eyes=eyes))
    return [reviews.Review(id=r.id, author=r.author, state=r.state, body=r.body, submitted_at=r.submitted_at,
                           comments=tuple(by_review.get(r.id, ()))) for r in found]


async def read_commits(run: IssueRun, number: int) -> list[reviews.PushedCommit]:
    return [reviews.PushedCommit(sha=c.sha, message=c.message)
            for c in await run.deps.github.list_pull_request_commits(run.job.ref, number)]


@dataclass
class ReviewRelay:
    """One run's relay; `writers` caches permission answers, `lines` is what the status comment shows."""

    writers: dict[str, bool] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    wait_seconds: float = 0.0  # until the youngest review waiting for Jules' 👀 is due

    async def step(self, run: IssueRun, record: claims.SessionRecord, number: int) -> bool:
        """Read, decide, send. True when a review went to Jules now (it works again)."""
        if not record.session_id:
            return False
        pull: PullRequest = await tasks.read_pull(run.deps.github, run.job.ref, number)
        found = await read_reviews(run, number)
        for author in {r.author for r in found} - set(self.writers):
            self.writers[author] = await run.deps.github.can_write(run.job.ref, author)
        rules = load_rules(run.deps.settings.triggers_rules_path).for_repo(run.job.ref.full_name)
        # The session's messages say which reviews were sent; no review, no need to ask Jules.
        activities = await tasks.poll_activities(run.deps.jules, record.session_id, None) if found else []
        observed = reviews.Observed(
            reviews=found, writers=frozenset(a.lower() for a, ok in self.writers.items() if ok),
            jules_login=pull.author, own_login=run.book.claim.bot_login,
            user_messages=[a.user_message for a in activities if a.user_message],
            session_id=record.session_id, handle=rules.mention, reactive=rules.jules_reactive,
            now=datetime.now(UTC), grace_seconds=run.deps.settings.review_grace_seconds)
        decisions = reviews.decide(observed)
        self.wait_seconds = max((run.deps.settings.review_grace_seconds - (observed.now - d.review.submitted_at)
                                 .total_seconds() for d in decisions if d.outcome == "wait" and d.review.submitted_at),
                                default=0.0)
        sent = 0
        for d in decisions:
            if d.outcome != "send":
                continue
            if pull.state != "open":
                continue  # merged or closed: the session must not push again
            since = d.review.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ") if d.review.submitted_at else None
            if await tasks.send_message(run.deps.jules, record.session_id, reviews.message(record.session_id, d.review),
                                        since):
                sent += 1
                run.report.event("review-sent", f"review {d.review.id} by @{d.review.author}")
        commits = reviews.after_completion(await read_commits(run, number), record.completed_head)
        self.lines = reviews.status_lines(decisions, commits)
        return sent > 0


    async def try_step(self, run: IssueRun, record: claims.SessionRecord, number: int) -> bool:
        """`step`, best effort: reviews are an extra; a failed read (a hub without the review tools, GitHub down)
        must not end a CI watch or overwrite a finished run's status comment with an error. The next pass (or
        the next re-entry) reads everything again."""
        try:
            return await self.step(run, record, number)
        except Exception as exc:  # noqa: BLE001 - logged; nothing was half done (sends are recognised)
            run.report.logger.warning("reviews: could not relay the reviews of #%d (%s); retrying later", number, exc)
            return False


async def show(run: IssueRun, relay: ReviewRelay) -> None:
    """The live run: the view carries the lines; re-render only when they changed."""
    if relay.lines != run.report.view.after_pr:
        run.report.view.after_pr = list(relay.lines)
        await run.report.show()


async def after_end(run: IssueRun, record: claims.SessionRecord) -> None:
    """A re-entry after the run ended at its pull request: relay, then rewrite only the status comment's "After the
    pull request" section (the rest is the finished run's and stays)."""
    if not record.pull_request_url or record.archived:
        return
    relay, number = ReviewRelay(), pull_number(record.pull_request_url)
    await relay.try_step(run, record, number)
    if relay.wait_seconds > 0:  # no later pass would come: wait out the grace here (REVIEW_GRACE_SECONDS at most)
        await asyncio.sleep(relay.wait_seconds + 0.5)
        await relay.try_step(run, record, number)
    comment_id = run.book.claim.status_comment_id
    if comment_id is None or not relay.lines:
        return
    try:
        await _rewrite_section(run, comment_id, relay.lines)
    except Exception as exc:  # noqa: BLE001 - the finished run's comment stays as it was
        run.report.logger.warning("reviews: the status comment's review section was not updated (%s)", exc)


async def _rewrite_section(run: IssueRun, comment_id: int, lines: list[str]) -> None:
    comment = await run.deps.github.get_comment(run.job.ref, comment_id)
    if run.book.claim.bot_login and comment.author != run.book.claim.bot_login:
        return  # not ours to edit
    body = comment.body
    new = splice_after_pr(body, lines)
    if new != body:
        await run.deps.github.update_comment(run.job.ref, comment_id, new)
