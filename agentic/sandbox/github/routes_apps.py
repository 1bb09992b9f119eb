"""GitHub App routes: `GET /app`, installations, installation tokens, the repositories a token reaches."""

from __future__ import annotations

from datetime import UTC, datetime

from agentic.sandbox.github.apps import App, Installation
from agentic.sandbox.github.seed import grant_installation
from agentic.sandbox.github.web import ApiError, Ctx, Route, not_found

WEB = "https://github.com"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _app(ctx: Ctx) -> App:
    """The app whose JWT authenticated this request."""
    return next(a for a in ctx.store.apps.apps.values() if a.bot_login == ctx.login)


def render_app(ctx: Ctx, app: App) -> dict:
    return {"id": app.id, "slug": app.slug, "node_id": f"A_kwDO{app.id}", "client_id": app.client_id or None,
            "owner": ctx.render.user(app.owner), "name": app.name, "description": None,
            "external_url": f"https://{app.slug}.example", "html_url": f"{WEB}/apps/{app.slug}",
            "created_at": app.created_at, "updated_at": app.created_at, "permissions": app.permissions,
            "events": app.events,
            "installations_count": sum(1 for i in ctx.store.apps.installations.values() if i.app_id == app.id)}


def render_installation(ctx: Ctx, installation: Installation) -> dict:
    app = ctx.store.apps.apps[installation.app_id]
    account = ctx.render.user(installation.account)
    api = f"{ctx.base}/app/installations/{installation.id}"
    return {"id": installation.id, "account": account, "repository_selection": installation.repository_selection,
            "access_tokens_url": f"{api}/access_tokens", "repositories_url": f"{ctx.base}/installation/repositories",
            "html_url": f"{WEB}/organizations/{installation.account}/settings/installations/{installation.id}",
            "app_id": app.id, "app_slug": app.slug, "client_id": app.client_id or None,
            "target_id": account["id"] if account else 0, "target_type": account["type"] if account else "User",
            "permissions": app.permissions, "events": app.events, "created_at": installation.created_at,
            "updated_at": installation.created_at, "single_file_name": None, "has_multiple_single_files": False,
            "single_file_paths": [], "suspended_by": None, "suspended_at": None}


def app_get(ctx: Ctx):
    return 200, render_app(ctx, _app(ctx))


def installations_list(ctx: Ctx):
    app = _app(ctx)
    items, headers = ctx.paginate([i for i in ctx.store.apps.installations.values() if i.app_id == app.id])
    return 200, [render_installation(ctx, i) for i in items], headers


def _installation(ctx: Ctx) -> Installation:
    installation = ctx.store.apps.installations.get(int(ctx.params["installation_id"]))
    if installation is None or installation.app_id != _app(ctx).id:
        raise not_found()
    return installation


def installation_get(ctx: Ctx):
    return 200, render_installation(ctx, _installation(ctx))


def repo_installation(ctx: Ctx):
    repo = ctx.store.repo(ctx.params["owner"], ctx.params["repo"])
    installation = ctx.store.apps.installation_for(_app(ctx), repo) if repo else None
    if installation is None:
        raise not_found()
    return 200, render_installation(ctx, installation)


def owner_installation(ctx: Ctx):
    owner = (ctx.params.get("org") or ctx.params.get("username") or "").lower()
    app = _app(ctx)
    installation = next((i for i in ctx.store.apps.installations.values()
                         if i.app_id == app.id and i.account.lower() == owner), None)
    if installation is None:
        raise not_found()
    return 200, render_installation(ctx, installation)


def access_token_create(ctx: Ctx):
    """An installation token, optionally narrowed to some repositories (`repositories`: names; `repository_ids`)."""
    installation = _installation(ctx)
    app = ctx.store.apps.apps[installation.app_id]
    body = ctx.body or {}
    covered = [r for r in ctx.store.repos.values() if installation.covers(r)]
    wanted: list[str] | None = None
    if body.get("repositories") or body.get("repository_ids"):
        names = {f"{installation.account}/{n}".lower() for n in body.get("repositories") or []}
        ids = set(body.get("repository_ids") or [])
        chosen = [r for r in covered if r.full_name.lower() in names or r.id in ids]
        if len(chosen) != len(names) + len(ids):
            raise ApiError(422, "There is at least one repository that does not exist or is not accessible to the "
                           "parent installation.")
        wanted = [r.full_name.lower() for r in chosen]
    permissions = body.get("permissions")
    if permissions is not None and not isinstance(permissions, dict):
        raise ApiError(422, "Invalid request.\n\nFor 'properties/permissions', is not an object.")
    if permissions and any(app.permissions.get(k) not in (v, "write") for k, v in permissions.items()):
        raise ApiError(422, "The permissions requested are not granted to this installation.")
    grant_installation(ctx.store, installation)  # repositories created since it was installed
    token = ctx.store.apps.mint(installation, wanted, permissions)
    ctx.store.app_tokens.add(token.token)  # an installation token may create check runs
    out = {"token": token.token, "expires_at": _iso(token.expires_at), "permissions": token.permissions,
           "repository_selection": installation.repository_selection if wanted is None else "selected"}
    if wanted is not None:
        out["repositories"] = [ctx.render.repo(ctx.store.repo(*name.split("/", 1))) for name in wanted]
    return 201, out


def installation_repositories(ctx: Ctx):
    token = getattr(ctx.request.state, "installation_token", None)
    if token is None:
        raise ApiError(403, "You must authenticate with an installation access token in order to list "
                       "repositories for an installation.")
    repos = ctx.store.apps.token_repos(ctx.store, token)
    items, headers = ctx.paginate(repos)
    installation = ctx.store.apps.installations[token.installation_id]
    return 200, {"total_count": len(repos), "repository_selection": installation.repository_selection,
                 "repositories": [ctx.render.repo(r) for r in items]}, headers


def installation_token_revoke(ctx: Ctx):
    token = getattr(ctx.request.state, "installation_token", None)
    if token is None:
        raise ApiError(403, "Resource not accessible by personal access token")
    token.expires_at = 0
    return 204, None


ROUTES = [
    Route("GET", "/app", "getAuthenticated", app_get, auth="jwt"),
    Route("GET", "/app/installations", "listInstallations", installations_list, auth="jwt"),
    Route("GET", "/app/installations/{installation_id}", "getInstallation", installation_get,
          "/app/installations/{installation_id:int}", auth="jwt"),
    Route("POST", "/app/installations/{installation_id}/access_tokens", "createInstallationAccessToken",
          access_token_create, "/app/installations/{installation_id:int}/access_tokens", auth="jwt"),
    Route("GET", "/repos/{owner}/{repo}/installation", "getRepoInstallation", repo_installation, auth="jwt"),
    Route("GET", "/orgs/{org}/installation", "getOrgInstallation", owner_installation, auth="jwt"),
    Route("GET", "/users/{username}/installation", "getUserInstallation", owner_installation, auth="jwt"),
    Route("GET", "/installation/repositories", "listReposAccessibleToInstallation", installation_repositories),
    Route("DELETE", "/installation/token", "revokeInstallationAccessToken", installation_token_revoke),
]
