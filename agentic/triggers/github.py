"""The receiver's GitHub REST calls (gidgethub): the sender's permission, our own login, the 👀 reaction.

Straight REST with the product's token rather than through the MCP hub: these run before answering GitHub, within
its 10 s, and must not depend on a hub being up.
"""

from __future__ import annotations

import httpx
from gidgethub import BadRequest, GitHubException, RateLimitExceeded
from gidgethub.httpx import GitHubAPI

from agentic.errors import GitHubUnavailable
from agentic.github.app_auth import GitHubAppError, GitHubAuth, RepoTokenAuth

__all__ = ["GitHub", "GitHubUnavailable"]


class GitHub:
    def __init__(self, api_url: str, token: str | None, *, timeout: float = 4.0, auth: GitHubAuth | None = None
                 ) -> None:
        """`auth` in App mode: each call carries its repository's installation token (RepoTokenAuth)."""
        self.auth = auth if auth is not None and auth.is_app else None
        self._http = httpx.AsyncClient(timeout=timeout, auth=RepoTokenAuth(self.auth) if self.auth else None)
        self._api = GitHubAPI(self._http, "agentic-triggers", oauth_token=None if self.auth else token,
                              base_url=api_url.rstrip("/"))
        self._self_login: str | None = None

    def note_installation(self, full_name: str, installation_id: int) -> None:
        """A delivery's `installation.id`: the token for `full_name` comes from that installation."""
        if self.auth is not None:
            self.auth.note_installation(full_name, installation_id)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def permission(self, owner: str, repo: str, login: str) -> str:
        """GitHub's `permission` for `login` on the repository: admin | write | read | none."""
        try:
            data = await self._api.getitem("/repos/{owner}/{repo}/collaborators/{username}/permission",
                                           {"owner": owner, "repo": repo, "username": login})
        except BadRequest as exc:
            if exc.status_code == 404:  # not a collaborator (or the user is gone)
                return "none"
            raise GitHubUnavailable(f"permission of {login}: {exc.status_code} {exc}") from None
        except (GitHubException, httpx.HTTPError) as exc:
            raise GitHubUnavailable(f"permission of {login}: {type(exc).__name__}: {exc}") from None
        return str(data.get("permission") or "none")

    async def self_login(self) -> str | None:
        """Our own login, asked once: GET /user, or an App's `<slug>[bot]` (GET /app); None when unknown now."""
        if self._self_login is None and self.auth is not None:  # an App's bot is no user: GET /app says its slug
            try:
                self._self_login = await self.auth.bot_login() or ""
            except GitHubAppError:
                return None  # transient: ask again next time
        if self._self_login is None:
            try:
                self._self_login = str((await self._api.getitem("/user"))["login"])
            except RateLimitExceeded:
                return None
            except BadRequest:
                self._self_login = ""  # a 401/403 will not change: stop asking
            except (GitHubException, httpx.HTTPError, KeyError):
                return None  # transient: ask again next time
        return self._self_login or None

    async def add_eyes(self, owner: str, repo: str, number: int) -> None:
        """👀 on the issue. GitHub answers 200 with the existing reaction when it is already there: idempotent."""
        try:
            await self._api.post("/repos/{owner}/{repo}/issues/{issue_number}/reactions",
                                 {"owner": owner, "repo": repo, "issue_number": number}, data={"content": "eyes"})
        except (GitHubException, httpx.HTTPError) as exc:
            raise GitHubUnavailable(f"reaction on #{number}: {type(exc).__name__}: {exc}") from None

