"""Repositories, contents, git refs, branches, commits, collaborators, users and (minimal) search."""

from __future__ import annotations

import base64
import binascii
import re

from agentic.sandbox.github.routes_pulls import synchronize
from agentic.sandbox.github.store import ROLES, Commit, Repo, now
from agentic.sandbox.github.web import ApiError, Ctx, Route, invalid, not_found

R = "/repos/{owner}/{repo}"


def repo_get(ctx: Ctx):
    return 200, ctx.render.repo(ctx.repo(), full=True)


def _at(ctx: Ctx, repo: Repo, ref: str | None) -> tuple[str, Commit]:
    ref = ref or repo.default_branch
    commit = repo.resolve(ref)
    if commit is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    return ref, commit


def contents_get(ctx: Ctx):
    repo = ctx.repo()
    ref, commit = _at(ctx, repo, ctx.query.get("ref"))
    path = ctx.params.get("path", "").strip("/")
    if path in commit.tree:
        return 200, ctx.render.file(repo, ref, path, commit.tree[path])
    listing = ctx.render.directory(repo, ref, commit.tree, path)
    if not listing:
        raise not_found()
    return 200, listing


def contents_put(ctx: Ctx):
    repo = ctx.repo("write")
    body = ctx.body or {}
    path = ctx.params["path"].strip("/")
    for key in ("message", "content"):
        if not isinstance(body.get(key), str):
            raise ApiError(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    try:
        data = base64.b64decode(body["content"], validate=False)
    except (binascii.Error, ValueError):
        raise ApiError(422, "content is not valid Base64") from None
    branch = body.get("branch") or repo.default_branch
    tip = repo.refs.get(f"refs/heads/{branch}")
    if tip is None:
        raise ApiError(404, f"Branch {branch} not found")
    existing = repo.commits[tip].tree.get(path)
    if existing and not body.get("sha"):
        raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if existing and body["sha"] != existing:
        raise ApiError(409, f"{path} does not match {body['sha']}")
    who = body.get("committer") or body.get("author") or {}
    user = ctx.store.users[ctx.login.lower()]
    author = {"name": who.get("name") or user.name or user.login,
              "email": who.get("email") or user.email or f"{user.id}+{user.login}@users.noreply.github.com",
              "date": now()}
    commit = repo.commit(tip, {path: data}, body["message"], author)
    repo.refs[f"refs/heads/{branch}"] = commit.sha
    synchronize(ctx, repo, branch, tip)
    ctx.sim.ci.head_moved(repo, branch, ctx.base)
    return (200 if existing else 201), {
        "content": ctx.render.content_entry(repo, branch, path, commit.tree[path], "file", len(data)),
        "commit": ctx.render.git_commit(repo, commit),
    }


# --- refs & branches ------------------------------------------------------------------------------------
def _full_ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/{ref}"


def ref_get(ctx: Ctx):
    repo = ctx.repo()
    name = _full_ref(ctx.params["ref"])
    if name not in repo.refs:
        raise not_found()
    return 200, ctx.render.ref(repo, name, repo.refs[name])


def refs_matching(ctx: Ctx):
    repo = ctx.repo()
    prefix = _full_ref(ctx.params.get("ref", ""))
    return 200, [ctx.render.ref(repo, n, s) for n, s in sorted(repo.refs.items()) if n.startswith(prefix)]


def ref_create(ctx: Ctx):
    repo = ctx.repo("write")
    body = ctx.body or {}
    name, sha = body.get("ref"), body.get("sha")
    if not isinstance(name, str) or not name.startswith("refs/") or name.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if not isinstance(sha, str) or sha not in repo.commits:
        raise ApiError(422, "Object does not exist")
    if name in repo.refs:
        raise ApiError(422, "Reference already exists")
    repo.refs[name] = sha
    rendered = ctx.render.ref(repo, name, sha)
    return 201, rendered, {"Location": rendered["url"]}


def ref_update(ctx: Ctx):
    repo = ctx.repo("write")
    name = _full_ref(ctx.params["ref"])
    sha = (ctx.body or {}).get("sha")
    if name not in repo.refs:
        raise ApiError(422, "Reference does not exist")
    if sha not in repo.commits:
        raise ApiError(422, "Object does not exist")
    if not (ctx.body or {}).get("force") and repo.refs[name] not in {c.sha for c in repo.history(sha)}:
        raise ApiError(422, "Update is not a fast forward")
    before, repo.refs[name] = repo.refs[name], sha
    if name.startswith("refs/heads/"):
        synchronize(ctx, repo, name.removeprefix("refs/heads/"), before)
        ctx.sim.ci.head_moved(repo, name.removeprefix("refs/heads/"), ctx.base)
    return 200, ctx.render.ref(repo, name, sha)


def branches_list(ctx: Ctx):
    repo = ctx.repo()
    items = [{"name": n.removeprefix("refs/heads/"),
              "commit": {"sha": s, "url": f"{ctx.base}/repos/{repo.full_name}/commits/{s}"}, "protected": False}
             for n, s in sorted(repo.refs.items()) if n.startswith("refs/heads/")]
    page, headers = ctx.paginate(items)
    return 200, page, headers


def branch_get(ctx: Ctx):
    repo = ctx.repo()
    name = ctx.params["branch"]
    sha = repo.refs.get(f"refs/heads/{name}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    api = f"{ctx.base}/repos/{repo.full_name}/branches/{name}"
    return 200, {"name": name, "commit": ctx.render.commit(repo, repo.commits[sha]),
                 "_links": {"self": api, "html": f"https://github.com/{repo.full_name}/tree/{name}"},
                 "protected": False, "protection": {"enabled": False,
                                                    "required_status_checks": {"enforcement_level": "off",
                                                                               "contexts": [], "checks": []}},
                 "protection_url": f"{api}/protection"}


def commits_list(ctx: Ctx):
    repo = ctx.repo()
    _, tip = _at(ctx, repo, ctx.query.get("sha"))
    items = repo.history(tip.sha)
    if ctx.query.get("path"):
        items = [c for c in items if c.tree.get(ctx.query["path"]) != (
            repo.commits[c.parents[0]].tree.get(ctx.query["path"]) if c.parents else None)]
    page, headers = ctx.paginate(items)
    return 200, [ctx.render.commit(repo, c) for c in page], headers


def commit_get(ctx: Ctx):
    repo = ctx.repo()
    commit = repo.resolve(ctx.params["ref"])
    if commit is None:
        raise ApiError(422, f"No commit found for SHA: {ctx.params['ref']}")
    return 200, ctx.render.commit(repo, commit)


# --- people ---------------------------------------------------------------------------------------------
def collaborator_permission(ctx: Ctx):
    repo = ctx.repo()
    login = ctx.params["username"].lower()
    if login not in ctx.store.users:
        raise not_found()
    role = repo.role(ctx.store.users[login].login) or "none"
    # The legacy `permission` field folds maintain->write and triage->read; `role_name` keeps the real role.
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    user = ctx.render.user(ctx.store.users[login].login)
    rank = ROLES.index(role) if role in ROLES else -1
    user["permissions"] = {"admin": rank >= 4, "maintain": rank >= 3, "push": rank >= 2, "triage": rank >= 1,
                           "pull": rank >= 0}
    user["role_name"] = role
    return 200, {"permission": legacy, "role_name": role, "user": user}


def user_get(ctx: Ctx):
    login = ctx.params["username"].lower()
    if login not in ctx.store.users:
        raise not_found()
    return 200, ctx.render.public_user(ctx.store.users[login].login)


def user_me(ctx: Ctx):
    if getattr(ctx.request.state, "installation_token", None) is not None:  # an app's bot is no user: GET /app
        raise ApiError(403, "Resource not accessible by integration")
    return 200, ctx.render.public_user(ctx.login) | {
        "user_view_type": "private", "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0, "two_factor_authentication": True}


# --- search (enough for the npm MCP server's search tools) ----------------------------------------------
_QUAL = re.compile(r'(\w+):("[^"]*"|\S+)')


def _parse_q(q: str) -> tuple[dict[str, list[str]], list[str]]:
    quals: dict[str, list[str]] = {}
    for key, value in _QUAL.findall(q):
        quals.setdefault(key.lower(), []).append(value.strip('"'))
    words = [w.lower() for w in _QUAL.sub(" ", q).split()]
    return quals, words


def _search_repos(ctx: Ctx, quals: dict[str, list[str]]) -> list[Repo]:
    repos = [r for r in ctx.store.repos.values() if r.can(ctx.login, "read")]
    if "repo" in quals:
        repos = [r for r in repos if r.full_name.lower() in {x.lower() for x in quals["repo"]}]
    for key in ("user", "org", "owner"):
        if key in quals:
            repos = [r for r in repos if r.owner.lower() in {x.lower() for x in quals[key]}]
    return repos


def search_issues(ctx: Ctx):
    q = ctx.query.get("q")
    if not q:
        raise invalid("Search", "q", "missing")
    quals, words = _parse_q(q)
    found = []
    for repo in _search_repos(ctx, quals):
        for issue in repo.issues.values():
            kinds = set(quals.get("is", []) + quals.get("type", []))
            if {"pr", "pull-request"} & kinds and not issue.pull or "issue" in kinds and issue.pull:
                continue
            states = {s for s in quals.get("state", []) + quals.get("is", []) if s in ("open", "closed")}
            if states and issue.state not in states:
                continue
            if "label" in quals and not {x.lower() for x in quals["label"]} <= {x.lower() for x in issue.labels}:
                continue
            if "author" in quals and issue.user.lower() not in {x.lower() for x in quals["author"]}:
                continue
            text = f"{issue.title}\n{issue.body or ''}".lower()
            if all(w in text for w in words):
                found.append((repo, issue))
    found.sort(key=lambda ri: (ri[1].created_at, ri[1].id), reverse=True)
    page, headers = ctx.paginate(found)
    items = [ctx.render.issue(r, i) | {"score": 1.0} for r, i in page]
    return 200, {"total_count": len(found), "incomplete_results": False, "search_type": "lexical",
                 "items": items}, headers


def search_code(ctx: Ctx):
    q = ctx.query.get("q")
    if not q:
        raise invalid("Search", "q", "missing")
    quals, words = _parse_q(q)
    found = []
    for repo in _search_repos(ctx, quals):
        commit = repo.resolve(repo.default_branch)
        for path, sha in sorted(commit.tree.items()):
            if "path" in quals and not any(path.startswith(p.strip("/")) for p in quals["path"]):
                continue
            if "filename" in quals and path.rsplit("/", 1)[-1] not in quals["filename"]:
                continue
            if all(w in repo.blobs[sha].decode(errors="replace").lower() for w in words):
                found.append((repo, path, sha))
    page, headers = ctx.paginate(found)
    items = []
    for repo, path, sha in page:
        entry = ctx.render.content_entry(repo, sha, path, sha, "file", len(repo.blobs[sha]))
        minimal = {k: v for k, v in ctx.render.repo(repo).items() if k not in ("permissions",)}
        items.append({"name": entry["name"], "path": path, "sha": sha, "url": entry["url"],
                      "git_url": entry["git_url"], "html_url": entry["html_url"], "repository": minimal, "score": 1.0})
    return 200, {"total_count": len(found), "incomplete_results": False, "items": items}, headers


# --- repository webhooks (admin only, as on GitHub) ---------------------------------------------------------
def hook_create(ctx: Ctx):
    from agentic.sandbox.github.webhooks import Hook, WebhookSender

    repo = ctx.repo("admin")
    body = ctx.body or {}
    config = body.get("config") or {}
    if not isinstance(config, dict) or not str(config.get("url", "")).startswith(("http://", "https://")):
        raise invalid("Hook", "url", "custom", message="url is not a valid URL")  # GitHub: 422 Validation Failed
    events = body.get("events") or ["push"]  # GitHub's default
    if ctx.sim.webhooks is None:
        ctx.sim.webhooks = WebhookSender(None, None, transport=ctx.sim.config.webhook_transport)
    hook = Hook(ctx.store.next_id(), str(config["url"]), config.get("secret") or None, [str(e) for e in events],
                repo.full_name.lower(), bool(body.get("active", True)))
    ctx.sim.webhooks.hooks.append(hook)
    rendered = _hook(ctx, repo, hook)
    ctx.sim.webhooks.deliver(hook, "ping", {"zen": "Keep it logically awesome.", "hook_id": hook.id, "hook": rendered,
                                            "repository": ctx.render.repo(repo), "sender": ctx.render.user(ctx.login)})
    return 201, rendered, {"Location": rendered["url"]}


def hook_delete(ctx: Ctx):
    ctx.repo("admin")
    hooks = ctx.sim.webhooks.hooks if ctx.sim.webhooks else []
    hook = next((h for h in hooks if h.id == int(ctx.params["hook_id"])), None)
    if hook is None:
        raise not_found()
    hooks.remove(hook)
    return 204, None


def _hook(ctx: Ctx, repo: Repo, hook) -> dict:
    url = f"{ctx.base}/repos/{repo.full_name}/hooks/{hook.id}"
    return {"type": "Repository", "id": hook.id, "name": "web", "active": hook.active, "events": hook.events,
            "config": {"content_type": "json", "insecure_ssl": "0", "url": hook.url,
                       **({"secret": "********"} if hook.secret else {})},
            "updated_at": now(), "created_at": now(), "url": url, "test_url": url + "/test",
            "ping_url": url + "/pings", "deliveries_url": url + "/deliveries",
            "last_response": {"code": None, "status": "unused", "message": None}}


ROUTES = [
    Route("POST", R + "/hooks", "createWebhook", hook_create),
    Route("DELETE", R + "/hooks/{hook_id}", "deleteWebhook", hook_delete, R + "/hooks/{hook_id:int}"),
    Route("GET", R, "getRepo", repo_get),
    Route("GET", R + "/contents/{path}", "getContent", contents_get, R + "/contents/{path:path}"),
    Route("GET", R + "/contents/{path}", "getContent", contents_get, R + "/contents"),
    Route("PUT", R + "/contents/{path}", "createOrUpdateFileContents", contents_put, R + "/contents/{path:path}"),
    Route("GET", R + "/git/ref/{ref}", "getRef", ref_get, R + "/git/ref/{ref:path}"),
    # The legacy plural form, still served by GitHub and used by @modelcontextprotocol/server-github.
    Route("GET", R + "/git/ref/{ref}", "getRef", ref_get, R + "/git/refs/{ref:path}"),
    Route("GET", R + "/git/matching-refs/{ref}", "listMatchingRefs", refs_matching,
          R + "/git/matching-refs/{ref:path}"),
    Route("POST", R + "/git/refs", "createRef", ref_create),
    Route("PATCH", R + "/git/refs/{ref}", "updateRef", ref_update, R + "/git/refs/{ref:path}"),
    Route("GET", R + "/branches", "listBranches", branches_list),
    Route("GET", R + "/branches/{branch}", "getBranch", branch_get, R + "/branches/{branch:path}"),
    Route("GET", R + "/commits", "listCommits", commits_list),
    Route("GET", R + "/collaborators/{username}/permission", "getCollaboratorPermission", collaborator_permission),
    Route("GET", "/users/{username}", "getUser", user_get),
    Route("GET", "/user", "getAuthenticatedUser", user_me),
    Route("GET", "/search/issues", "searchIssues", search_issues),
    Route("GET", "/search/code", "searchCode", search_code),
]
# Registered after the /commits/{ref}/... routes of routes_checks (a `path` convertor would swallow them).
COMMIT_ROUTE = Route("GET", R + "/commits/{ref}", "getCommit", commit_get, R + "/commits/{ref:path}")
