"""Pull request reviews, review comments (comments on the diff), their reactions, and a PR's commits.

A review is submitted with an `event` (APPROVE, REQUEST_CHANGES, COMMENT) or stays PENDING (no webhook, visible to
its author only on GitHub; here to everyone). A review comment posted on its own becomes a single-comment COMMENTED
review, as on GitHub. Webhooks: `pull_request_review` (`submitted`) and `pull_request_review_comment` (`created`),
with the review or comment and the pull request, as GitHub sends them.
"""

from __future__ import annotations

from agentic.sandbox.github.routes_issues import _list_reactions, _payload, _react
from agentic.sandbox.github.routes_pulls import _N, P, _pull
from agentic.sandbox.github.store import Issue, Repo, Review, ReviewComment, now
from agentic.sandbox.github.web import ApiError, Ctx, Route, invalid, not_found

EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
C = "/repos/{owner}/{repo}/pulls/comments/{comment_id}"
_C = "/repos/{owner}/{repo}/pulls/comments/{comment_id:int}"


def _head(repo: Repo, issue: Issue) -> str:
    return repo.refs.get(f"refs/heads/{issue.pull.head_ref}", issue.pull.head_sha)


def _comment(ctx: Ctx, repo: Repo) -> ReviewComment:
    comment = repo.review_comments.get(int(ctx.params["comment_id"]))
    if comment is None:
        raise not_found()
    return comment


def _new_comment(ctx: Ctx, repo: Repo, issue: Issue, review_id: int, spec: dict, commit_id: str, *,
                 in_review: bool = False) -> ReviewComment:
    """One diff comment from a request body (`path`, `body`, `line` or `position`); 422 like GitHub's when the path
    is not in the commit (plain strings inside a review, GitHub's field errors on its own)."""
    if not isinstance(spec.get("body"), str) or not spec["body"]:
        raise invalid("PullRequestReviewComment", "body", "missing_field")
    path = spec.get("path")
    if not isinstance(path, str) or path not in repo.commits[commit_id].tree:
        if in_review:
            raise ApiError(422, "Unprocessable Entity", ["Path could not be resolved"])
        field = "pull_request_review_thread.path"
        raise ApiError(422, "Validation Failed", [{"resource": "PullRequestReviewComment", "code": "custom",
                                                   "field": field, "message": f"{field} could not be resolved"}])
    line = spec.get("line", spec.get("position"))
    if line is not None and (not isinstance(line, int) or line < 1):
        raise invalid("PullRequestReviewComment", "line")
    return ReviewComment(ctx.store.next_id(), issue.number, review_id, ctx.login, spec["body"], path, commit_id,
                         line=line, side=str(spec.get("side") or "RIGHT"))


def _emit_comment(ctx: Ctx, repo: Repo, issue: Issue, comment: ReviewComment) -> None:
    ctx.emit("pull_request_review_comment", _payload(ctx, repo, action="created",
                                                     comment=ctx.render.review_comment(repo, comment),
                                                     pull_request=ctx.render.pull(repo, issue)))


def _emit_review(ctx: Ctx, repo: Repo, issue: Issue, review: Review) -> None:
    ctx.emit("pull_request_review", _payload(ctx, repo, action="submitted", review=ctx.render.review(repo, review),
                                             pull_request=ctx.render.pull(repo, issue)))


def _of_pull(ctx: Ctx, kind: str):
    """The pull request's reviews or review comments, oldest first, one page."""
    repo = ctx.repo()
    issue = _pull(ctx, repo)
    stored, render = (repo.reviews, ctx.render.review) if kind == "reviews" else \
        (repo.review_comments, ctx.render.review_comment)
    page, headers = ctx.paginate([x for x in stored.values() if x.pull_number == issue.number])
    return 200, [render(repo, x) for x in page], headers


def reviews_list(ctx: Ctx):
    return _of_pull(ctx, "reviews")


def review_get(ctx: Ctx):
    repo = ctx.repo()
    issue = _pull(ctx, repo)
    review = repo.reviews.get(int(ctx.params["review_id"]))
    if review is None or review.pull_number != issue.number:
        raise not_found()
    return 200, ctx.render.review(repo, review)


def review_create(ctx: Ctx):
    repo = ctx.repo()
    issue = _pull(ctx, repo)
    body = ctx.body or {}
    event = body.get("event")
    if event is not None and event not in EVENTS:
        raise invalid("PullRequestReview", "event")
    text = body.get("body") or ""
    specs = body.get("comments") or []
    if not isinstance(text, str) or not isinstance(specs, list):
        raise invalid("PullRequestReview", "body" if not isinstance(text, str) else "comments")
    if event in ("REQUEST_CHANGES", "COMMENT") and not text and not specs:
        raise ApiError(422, "Unprocessable Entity", [f"Review Body can't be blank when using {event}"])
    if event in ("APPROVE", "REQUEST_CHANGES") and ctx.login == issue.user:
        verb = "approve" if event == "APPROVE" else "request changes on"
        raise ApiError(422, "Unprocessable Entity", [f"Can not {verb} your own pull request"])
    commit_id = body.get("commit_id") or _head(repo, issue)
    if commit_id not in repo.commits:
        raise invalid("PullRequestReview", "commit_id")
    review = Review(ctx.store.next_id(), issue.number, ctx.login, text, EVENTS.get(event, "PENDING"), commit_id,
                    submitted_at=now() if event else None)
    comments = [_new_comment(ctx, repo, issue, review.id, spec if isinstance(spec, dict) else {}, commit_id,
                             in_review=True)
                for spec in specs]  # all checked before anything is stored
    repo.reviews[review.id] = review
    for comment in comments:
        repo.review_comments[comment.id] = comment
    if event:
        issue.updated_at = now()
        for comment in comments:
            _emit_comment(ctx, repo, issue, comment)
        _emit_review(ctx, repo, issue, review)
    return 200, ctx.render.review(repo, review)


def comments_list(ctx: Ctx):
    return _of_pull(ctx, "comments")


def comment_create(ctx: Ctx):
    """A diff comment on its own (or a reply, `in_reply_to`): a COMMENTED review holding just it."""
    repo = ctx.repo()
    issue = _pull(ctx, repo)
    body = ctx.body or {}
    reply_to = body.get("in_reply_to")
    if reply_to is not None:
        parent = repo.review_comments.get(reply_to) if isinstance(reply_to, int) else None
        if parent is None or parent.pull_number != issue.number:
            raise invalid("PullRequestReviewComment", "in_reply_to")
        body = {**body, "path": parent.path, "line": parent.line}
        commit_id = parent.commit_id
    else:
        for key in ("commit_id", "path"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise invalid("PullRequestReviewComment", key, "missing_field")
        commit_id = body["commit_id"]
        if commit_id not in repo.commits:
            raise invalid("PullRequestReviewComment", "commit_id")
    review = Review(ctx.store.next_id(), issue.number, ctx.login, "", "COMMENTED", commit_id, submitted_at=now())
    comment = _new_comment(ctx, repo, issue, review.id, body, commit_id)
    comment.in_reply_to_id = reply_to
    repo.reviews[review.id] = review
    repo.review_comments[comment.id] = comment
    issue.updated_at = now()
    _emit_comment(ctx, repo, issue, comment)
    _emit_review(ctx, repo, issue, review)
    rendered = ctx.render.review_comment(repo, comment)
    return 201, rendered, {"Location": rendered["url"]}


def comment_get(ctx: Ctx):
    repo = ctx.repo()
    return 200, ctx.render.review_comment(repo, _comment(ctx, repo))


def comment_react(ctx: Ctx):
    repo = ctx.repo()
    return _react(ctx, _comment(ctx, repo).reactions)


def comment_reactions(ctx: Ctx):
    repo = ctx.repo()
    return _list_reactions(ctx, _comment(ctx, repo).reactions)


def commits_list(ctx: Ctx):
    """The PR's commits, oldest first (those on the head not on the base), as GitHub lists them."""
    repo = ctx.repo()
    issue = _pull(ctx, repo)
    head = _head(repo, issue)
    base = repo.refs.get(f"refs/heads/{issue.pull.base_ref}", head)
    on_base = {c.sha for c in repo.history(base)}
    items = [c for c in reversed(repo.history(head)) if c.sha not in on_base]
    page, headers = ctx.paginate(items)
    return 200, [ctx.render.commit(repo, c) for c in page], headers


ROUTES = [
    Route("GET", P + "/{pull_number}/reviews", "listReviews", reviews_list, _N + "/reviews"),
    Route("POST", P + "/{pull_number}/reviews", "createReview", review_create, _N + "/reviews"),
    Route("GET", P + "/{pull_number}/reviews/{review_id}", "getReview", review_get, _N + "/reviews/{review_id:int}"),
    Route("GET", P + "/{pull_number}/comments", "listReviewComments", comments_list, _N + "/comments"),
    Route("POST", P + "/{pull_number}/comments", "createReviewComment", comment_create, _N + "/comments"),
    Route("GET", C, "getReviewComment", comment_get, _C),
    Route("GET", C + "/reactions", "listReviewCommentReactions", comment_reactions, _C + "/reactions"),
    Route("POST", C + "/reactions", "createReviewCommentReaction", comment_react, _C + "/reactions"),
    Route("GET", P + "/{pull_number}/commits", "listPullRequestCommits", commits_list, _N + "/commits"),
]
