"""Pull requests: list, get, create, update, request reviewers. A PR is an issue with `pull` data."""

from __future__ import annotations

from agentic.sandbox.github.routes_issues import _payload
from agentic.sandbox.github.store import Issue, PullData, Repo, now
from agentic.sandbox.github.web import ApiError, Ctx, Route, invalid, not_found

P = "/repos/{owner}/{repo}/pulls"


def _pull(ctx: Ctx, repo: Repo) -> Issue:
    issue = repo.issues.get(int(ctx.params["pull_number"]))
    if issue is None or issue.pull is None:
        raise not_found()
    return issue


def _branch(ref: str, repo: Repo) -> str:
    """`head` may be `owner:branch` (forks are not simulated, the owner must be the repo's)."""
    owner, _, branch = ref.rpartition(":")
    return branch if not owner or owner.lower() == repo.owner.lower() else ""


def synchronize(ctx: Ctx, repo: Repo, branch: str, before: str) -> None:
    """A push to `branch`: `pull_request` `synchronize` for each open pull request it heads, as GitHub sends."""
    after = repo.refs.get(f"refs/heads/{branch}", before)
    for issue in [i for i in repo.issues.values() if i.pull and i.state == "open" and i.pull.head_ref == branch]:
        issue.pull.head_sha = after
        ctx.emit("pull_request", _payload(ctx, repo, action="synchronize", number=issue.number, before=before,
                                          after=after, pull_request=ctx.render.pull(repo, issue)))


def pulls_list(ctx: Ctx):
    repo = ctx.repo()
    q = ctx.query
    state = q.get("state", "open")
    items = [i for i in repo.issues.values() if i.pull and (state == "all" or i.state == state)]
    if q.get("head"):
        items = [i for i in items if i.pull.head_ref == _branch(q["head"], repo)]
    if q.get("base"):
        items = [i for i in items if i.pull.base_ref == q["base"]]
    key = (lambda i: (i.updated_at, i.id)) if q.get("sort") == "updated" else (lambda i: (i.created_at, i.id))
    # GitHub: direction defaults to desc when sort is given, asc otherwise... for `created` it is desc.
    items.sort(key=key, reverse=q.get("direction", "desc") != "asc")
    page, headers = ctx.paginate(items)
    return 200, [ctx.render.pull(repo, i) for i in page], headers


def pull_get(ctx: Ctx):
    repo = ctx.repo()
    return 200, ctx.render.pull(repo, _pull(ctx, repo))


def pull_create(ctx: Ctx):
    repo = ctx.repo("write")
    body = ctx.body or {}
    for key in ("head", "base"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise invalid("PullRequest", key, "missing_field")
    if not body.get("title") and not body.get("issue"):
        raise invalid("PullRequest", "title", "missing_field")
    head, base = _branch(body["head"], repo), body["base"]
    head_sha, base_sha = repo.refs.get(f"refs/heads/{head}"), repo.refs.get(f"refs/heads/{base}")
    if head_sha is None:
        raise invalid("PullRequest", "head")
    if base_sha is None:
        raise invalid("PullRequest", "base")
    if {c.sha for c in repo.history(head_sha)} <= {c.sha for c in repo.history(base_sha)}:
        raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                   "message": f"No commits between {base} and {head}"}])
    if any(i.pull and i.state == "open" and i.pull.head_ref == head and i.pull.base_ref == base
           for i in repo.issues.values()):
        exists = f"A pull request already exists for {repo.owner}:{head}."
        raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom", "message": exists}])
    issue = Issue(id=ctx.store.next_id(), number=repo.next_number, title=body.get("title", ""),
                  body=body.get("body"), user=ctx.login)
    issue.pull = PullData(ctx.store.next_id(), head, head_sha, base, draft=bool(body.get("draft", False)),
                          maintainer_can_modify=bool(body.get("maintainer_can_modify", True)))
    repo.next_number += 1
    repo.issues[issue.number] = issue
    rendered = ctx.render.pull(repo, issue)
    ctx.emit("pull_request", _payload(ctx, repo, action="opened", number=issue.number, pull_request=rendered))
    ctx.sim.ci.head_moved(repo, head, ctx.base)
    return 201, rendered, {"Location": rendered["url"]}


def pull_update(ctx: Ctx):
    repo = ctx.repo()
    issue = _pull(ctx, repo)
    if ctx.login != issue.user and not repo.can(ctx.login, "write"):
        raise ApiError(403, "Resource not accessible by personal access token")
    body = ctx.body or {}
    changes = {}
    for key in ("title", "body"):
        if key in body and body[key] != getattr(issue, key):
            changes[key] = {"from": getattr(issue, key)}
            setattr(issue, key, body[key])
    if "base" in body:
        if f"refs/heads/{body['base']}" not in repo.refs:
            raise invalid("PullRequest", "base")
        changes["base"] = {"ref": {"from": issue.pull.base_ref}}
        issue.pull.base_ref = body["base"]
    if "maintainer_can_modify" in body:
        issue.pull.maintainer_can_modify = bool(body["maintainer_can_modify"])
    action = "edited" if changes else None
    if body.get("state") not in (None, "open", "closed"):
        raise invalid("PullRequest", "state")
    if body.get("state") and body["state"] != issue.state:
        issue.state = body["state"]
        issue.closed_at = now() if issue.state == "closed" else None
        action = "closed" if issue.state == "closed" else "reopened"
    issue.updated_at = now()
    rendered = ctx.render.pull(repo, issue)
    if action:
        extra = {"changes": changes} if action == "edited" else {}
        ctx.emit("pull_request", _payload(ctx, repo, action=action, number=issue.number, pull_request=rendered,
                                          **extra))
    return 200, rendered


def request_reviewers(ctx: Ctx):
    repo = ctx.repo("write")
    issue = _pull(ctx, repo)
    body = ctx.body or {}
    reviewers = body.get("reviewers") or []
    if body.get("team_reviewers"):
        raise ApiError(422, "Reviews may only be requested from collaborators. One or more of the teams you "
                       f"specified is not a collaborator of the {repo.full_name} repository.")
    if not isinstance(reviewers, list) or not reviewers:
        raise invalid("PullRequest", "reviewers", "missing_field")
    for login in reviewers:
        if login.lower() == issue.user.lower():
            raise ApiError(422, "Review cannot be requested from pull request author.")
        if login.lower() not in ctx.store.users or login.lower() not in repo.collaborators and login != repo.owner:
            raise ApiError(422, "Reviews may only be requested from collaborators. One or more of the users or "
                           f"teams you specified is not a collaborator of the {repo.full_name} repository.")
    for login in reviewers:
        login = ctx.store.users[login.lower()].login
        if login not in issue.pull.requested_reviewers:
            issue.pull.requested_reviewers.append(login)
            rendered = ctx.render.pull(repo, issue)
            ctx.emit("pull_request", _payload(ctx, repo, action="review_requested", number=issue.number,
                                              pull_request=rendered, requested_reviewer=ctx.render.user(login)))
    issue.updated_at = now()
    return 201, ctx.render.pull(repo, issue)


_N = P + "/{pull_number:int}"
def pull_merge(ctx: Ctx):
    """`PUT /pulls/{n}/merge`, fast-forward only (what Jules' branches off the base allow); GitHub's 405 when the PR
    is not open or the base moved on, then `pull_request.closed` with `merged: true`."""
    repo = ctx.repo("write")
    issue = _pull(ctx, repo)
    pull = issue.pull
    head = repo.refs.get(f"refs/heads/{pull.head_ref}", pull.head_sha)
    base = repo.refs.get(f"refs/heads/{pull.base_ref}")
    if issue.state != "open" or pull.merged_at:
        raise ApiError(405, "Pull Request is not mergeable")
    if base not in {c.sha for c in repo.history(head)}:
        raise ApiError(405, "Merge conflict")  # not a fast-forward: a true merge is not simulated
    expected = (ctx.body or {}).get("sha")
    if expected and expected != head:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    repo.refs[f"refs/heads/{pull.base_ref}"] = head
    pull.head_sha, pull.merged_at = head, now()
    issue.state, issue.closed_at, issue.updated_at = "closed", pull.merged_at, pull.merged_at
    ctx.emit("pull_request", _payload(ctx, repo, action="closed", number=issue.number,
                                      pull_request=ctx.render.pull(repo, issue)))
    return 200, {"sha": head, "merged": True, "message": "Pull Request successfully merged"}


ROUTES = [
    Route("GET", P, "listPullRequests", pulls_list),
    Route("PUT", P + "/{pull_number}/merge", "mergePullRequest", pull_merge, _N + "/merge"),
    Route("POST", P, "createPullRequest", pull_create),
    Route("GET", P + "/{pull_number}", "getPullRequest", pull_get, _N),
    Route("PATCH", P + "/{pull_number}", "updatePullRequest", pull_update, _N),
    Route("POST", P + "/{pull_number}/requested_reviewers", "requestReviewers", request_reviewers,
          _N + "/requested_reviewers"),
]
