"""Issues, issue comments, labels, assignees and reactions (issues and PRs share numbers and these routes)."""

from __future__ import annotations

from agentic.sandbox.github.seed import ensure_label
from agentic.sandbox.github.store import REACTIONS, Comment, Issue, Reaction, Repo, now
from agentic.sandbox.github.web import ApiError, Ctx, Route, invalid, not_found

ISSUE = "/repos/{owner}/{repo}/issues/{issue_number}"
COMMENT = "/repos/{owner}/{repo}/issues/comments/{comment_id}"
LOCKING_DOCS = "https://docs.github.com/articles/locking-conversations"  # what GitHub links on a locked issue


def get_issue(ctx: Ctx, repo: Repo) -> Issue:
    issue = repo.issues.get(int(ctx.params["issue_number"]))
    if issue is None:
        raise not_found()
    return issue


def get_comment(ctx: Ctx, repo: Repo) -> Comment:
    comment = repo.comments.get(int(ctx.params["comment_id"]))
    if comment is None:
        raise not_found()
    return comment


def _payload(ctx: Ctx, repo: Repo, **extra) -> dict:
    return {**extra, "repository": ctx.render.repo(repo), "sender": ctx.render.user(ctx.login)}


def _str_list(ctx: Ctx, key: str, resource: str) -> list[str] | None:
    value = (ctx.body or {}).get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(resource, key)
    return value


def _check_assignees(ctx: Ctx, repo: Repo, logins: list[str]) -> list[str]:
    for login in logins:
        if login.lower() not in ctx.store.users or (login != repo.owner and login.lower() not in repo.collaborators):
            raise invalid("Issue", "assignees", "invalid")
    return [ctx.store.users[x.lower()].login for x in logins]


def list_issues(ctx: Ctx):
    repo = ctx.repo()
    q = ctx.query
    state = q.get("state", "open")
    items = [i for i in repo.issues.values() if state == "all" or i.state == state]
    if q.get("labels"):
        wanted = {x.strip().lower() for x in q["labels"].split(",") if x.strip()}
        items = [i for i in items if wanted <= {x.lower() for x in i.labels}]
    if q.get("creator"):
        items = [i for i in items if i.user.lower() == q["creator"].lower()]
    if q.get("assignee") and q["assignee"] not in ("*", "none"):
        items = [i for i in items if q["assignee"].lower() in (a.lower() for a in i.assignees)]
    if q.get("since"):
        items = [i for i in items if i.updated_at >= q["since"]]
    sort = q.get("sort", "created")
    key = {"created": lambda i: (i.created_at, i.id), "updated": lambda i: (i.updated_at, i.id),
           "comments": lambda i: (len(i.comments), i.id)}.get(sort)
    if key is None:
        raise invalid("Issue", "sort")
    items.sort(key=key, reverse=q.get("direction", "desc") != "asc")
    page, headers = ctx.paginate(items)
    return 200, [ctx.render.issue(repo, i) for i in page], headers


def create_issue(ctx: Ctx):
    repo = ctx.repo()
    body = ctx.body or {}
    if not isinstance(body.get("title"), str | int) or str(body.get("title")).strip() == "":
        raise invalid("Issue", "title", "missing_field")
    privileged = repo.can(ctx.login, "triage")
    labels = _str_list(ctx, "labels", "Issue") or []
    assignees = _check_assignees(ctx, repo, _str_list(ctx, "assignees", "Issue") or [])
    issue = Issue(id=ctx.store.next_id(), number=repo.next_number, title=str(body["title"]), body=body.get("body"),
                  user=ctx.login,
                  # Like GitHub, labels/assignees from users without triage rights are silently dropped.
                  labels=[ensure_label(ctx.store, repo, n).name for n in labels] if privileged else [],
                  assignees=assignees if privileged else [])
    repo.next_number += 1
    repo.issues[issue.number] = issue
    rendered = ctx.render.issue(repo, issue)
    ctx.emit("issues", _payload(ctx, repo, action="opened", issue=rendered))
    return 201, rendered, {"Location": rendered["url"]}


def issue_get(ctx: Ctx):
    repo = ctx.repo()
    return 200, ctx.render.issue(repo, get_issue(ctx, repo))


def issue_update(ctx: Ctx):
    repo = ctx.repo()
    issue = get_issue(ctx, repo)
    body = ctx.body or {}
    if not repo.can(ctx.login, "triage") and ctx.login != issue.user:
        raise ApiError(403, "Resource not accessible by personal access token")
    changes = {}
    for key in ("title", "body"):
        if key in body and body[key] != getattr(issue, key):
            changes[key] = {"from": getattr(issue, key)}
            setattr(issue, key, body[key])
    if repo.can(ctx.login, "triage"):
        if (labels := _str_list(ctx, "labels", "Issue")) is not None:
            issue.labels = [ensure_label(ctx.store, repo, n).name for n in labels]
        if (assignees := _str_list(ctx, "assignees", "Issue")) is not None:
            issue.assignees = _check_assignees(ctx, repo, assignees)
    action = "edited" if changes else None
    state = body.get("state")
    if state is not None:
        if state not in ("open", "closed"):
            raise invalid("Issue", "state")
        if state != issue.state:
            issue.state, action = state, ("closed" if state == "closed" else "reopened")
            issue.closed_at = now() if state == "closed" else None
            issue.closed_by = ctx.login if state == "closed" else None
            issue.state_reason = body.get("state_reason") or ("completed" if state == "closed" else "reopened")
    issue.updated_at = now()
    rendered = ctx.render.issue(repo, issue)
    if action:
        event, key = ("pull_request", "pull_request") if issue.pull else ("issues", "issue")
        obj = ctx.render.pull(repo, issue) if issue.pull else rendered
        extra = {"changes": changes} if action == "edited" else {}
        ctx.emit(event, _payload(ctx, repo, action=action, **{key: obj}, **extra))
    return 200, rendered


def add_labels(ctx: Ctx):
    repo = ctx.repo("triage")
    issue = get_issue(ctx, repo)
    body = ctx.body
    names = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(names, list) or not names:
        raise invalid("Label", "labels", "missing_field")
    for name in names:
        name = name["name"] if isinstance(name, dict) else str(name)
        label = ensure_label(ctx.store, repo, name)
        if label.name not in issue.labels:
            issue.labels.append(label.name)
            ctx.emit("issues", _payload(ctx, repo, action="labeled", issue=ctx.render.issue(repo, issue),
                                        label=ctx.render.label(repo, label)))
    issue.updated_at = now()
    return 200, [ctx.render.label(repo, repo.labels[n.lower()]) for n in issue.labels]


def add_assignees(ctx: Ctx):
    repo = ctx.repo("triage")
    issue = get_issue(ctx, repo)
    added = []
    for login in _check_assignees(ctx, repo, _str_list(ctx, "assignees", "Issue") or []):
        if login not in issue.assignees:
            issue.assignees.append(login)
            added.append(login)
    issue.updated_at = now()
    for login in added:  # GitHub sends one `assigned` per new assignee
        ctx.emit("issues", _payload(ctx, repo, action="assigned", issue=ctx.render.issue(repo, issue),
                                    assignee=ctx.render.user(login)))
    return 201, ctx.render.issue(repo, issue)


# --- comments -------------------------------------------------------------------------------------------
def list_repo_comments(ctx: Ctx):
    """`GET /repos/{o}/{r}/issues/comments`: every issue and PR comment, ascending by id unless `sort` (created |
    updated) and `direction` say otherwise; `since` filters on updated_at (what a poller asks for)."""
    repo = ctx.repo()
    comments = sorted(repo.comments.values(), key=lambda c: c.id)
    if ctx.query.get("since"):
        comments = [c for c in comments if c.updated_at >= ctx.query["since"]]
    if (sort := ctx.query.get("sort")) in ("created", "updated"):
        comments.sort(key=lambda c: (c.created_at if sort == "created" else c.updated_at, c.id),
                      reverse=ctx.query.get("direction", "desc") == "desc")
    page, headers = ctx.paginate(comments)
    return 200, [ctx.render.comment(repo, c) for c in page], headers


def list_comments(ctx: Ctx):
    repo = ctx.repo()
    issue = get_issue(ctx, repo)
    comments = [repo.comments[c] for c in issue.comments]
    if ctx.query.get("since"):
        comments = [c for c in comments if c.updated_at >= ctx.query["since"]]
    page, headers = ctx.paginate(comments)
    return 200, [ctx.render.comment(repo, c) for c in page], headers


def create_comment(ctx: Ctx):
    repo = ctx.repo()
    issue = get_issue(ctx, repo)
    text = (ctx.body or {}).get("body")
    if not isinstance(text, str) or not text:
        raise invalid("IssueComment", "body", "missing_field")
    if issue.locked and not repo.can(ctx.login, "write"):  # GitHub: only people with write access may comment
        raise ApiError(403, "Unable to create comment because issue is locked.", doc=LOCKING_DOCS)
    comment = Comment(ctx.store.next_id(), issue.number, ctx.login, text)
    repo.comments[comment.id] = comment
    issue.comments.append(comment.id)
    issue.updated_at = comment.created_at
    rendered = ctx.render.comment(repo, comment)
    ctx.emit("issue_comment", _payload(ctx, repo, action="created", issue=ctx.render.issue(repo, issue),
                                       comment=rendered))
    return 201, rendered, {"Location": rendered["url"]}


def comment_get(ctx: Ctx):
    repo = ctx.repo()
    return 200, ctx.render.comment(repo, get_comment(ctx, repo))


def comment_update(ctx: Ctx):
    repo = ctx.repo()
    comment = get_comment(ctx, repo)
    if ctx.login != comment.user and not repo.can(ctx.login, "write"):
        raise ApiError(403, "Resource not accessible by personal access token")
    text = (ctx.body or {}).get("body")
    if not isinstance(text, str) or not text:
        raise invalid("IssueComment", "body", "missing_field")
    old, comment.body, comment.updated_at = comment.body, text, now()
    rendered = ctx.render.comment(repo, comment)
    ctx.emit("issue_comment", _payload(ctx, repo, action="edited", changes={"body": {"from": old}},
                                       issue=ctx.render.issue(repo, repo.issues[comment.issue_number]),
                                       comment=rendered))
    return 200, rendered


# --- reactions ------------------------------------------------------------------------------------------
def _react(ctx: Ctx, reactions: list[Reaction]):
    content = (ctx.body or {}).get("content")
    if content not in REACTIONS:
        raise invalid("Reaction", "content", "invalid" if content else "missing_field")
    existing = next((x for x in reactions if x.user == ctx.login and x.content == content), None)
    if existing:  # GitHub answers 200 with the existing reaction instead of duplicating it
        return 200, ctx.render.reaction(existing)
    reaction = Reaction(ctx.store.next_id(), ctx.login, content)
    reactions.append(reaction)
    return 201, ctx.render.reaction(reaction)


def _list_reactions(ctx: Ctx, reactions: list[Reaction]):
    content = ctx.query.get("content")
    items = [x for x in reactions if content is None or x.content == content]
    page, headers = ctx.paginate(items)
    return 200, [ctx.render.reaction(x) for x in page], headers


def issue_react(ctx: Ctx):
    repo = ctx.repo()
    return _react(ctx, get_issue(ctx, repo).reactions)


def issue_reactions(ctx: Ctx):
    repo = ctx.repo()
    return _list_reactions(ctx, get_issue(ctx, repo).reactions)


def comment_react(ctx: Ctx):
    repo = ctx.repo()
    return _react(ctx, get_comment(ctx, repo).reactions)


def comment_reactions(ctx: Ctx):
    repo = ctx.repo()
    return _list_reactions(ctx, get_comment(ctx, repo).reactions)


_I = ISSUE.replace("{issue_number}", "{issue_number:int}")
_C = COMMENT.replace("{comment_id}", "{comment_id:int}")
ROUTES = [
    Route("GET", "/repos/{owner}/{repo}/issues", "listIssues", list_issues),
    Route("POST", "/repos/{owner}/{repo}/issues", "createIssue", create_issue),
    Route("GET", "/repos/{owner}/{repo}/issues/comments", "listIssueCommentsForRepo", list_repo_comments),
    Route("GET", COMMENT, "getIssueComment", comment_get, _C),
    Route("PATCH", COMMENT, "updateIssueComment", comment_update, _C),
    Route("GET", COMMENT + "/reactions", "listIssueCommentReactions", comment_reactions, _C + "/reactions"),
    Route("POST", COMMENT + "/reactions", "createIssueCommentReaction", comment_react, _C + "/reactions"),
    Route("GET", ISSUE, "getIssue", issue_get, _I),
    Route("PATCH", ISSUE, "updateIssue", issue_update, _I),
    Route("GET", ISSUE + "/comments", "listIssueComments", list_comments, _I + "/comments"),
    Route("POST", ISSUE + "/comments", "createIssueComment", create_comment, _I + "/comments"),
    Route("POST", ISSUE + "/labels", "addLabels", add_labels, _I + "/labels"),
    Route("POST", ISSUE + "/assignees", "addAssignees", add_assignees, _I + "/assignees"),
    Route("GET", ISSUE + "/reactions", "listIssueReactions", issue_reactions, _I + "/reactions"),
    Route("POST", ISSUE + "/reactions", "createIssueReaction", issue_react, _I + "/reactions"),
]
