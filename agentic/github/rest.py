"""GitHub's REST API straight, for the parts that run without the MCP hub: the webhook receiver (the sender's
permission, our own login, the 👀 reaction — before answering GitHub, within its 10 s, whether or not a hub is up)
and the poller (comments.py's CommentFeed over a `rest_client`). The flow reaches GitHub through the hub
(client.py HubGitHub); `GitHubRest` implements the part of client.py's Protocol the two share (`GitHubAccess`:
`can_write`, `add_reaction`) under the same names, plus what only the receiver needs (`permission`'s raw value,
`self_login`).

`rest_client` is the one place such a client is made: the API base, GitHub's media type and API version, the
product's token or (App mode) each repository's installation token, and the TLS trust of the settings (a GitHub
Enterprise Server behind a private CA: AGENTIC_CA_BUNDLE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from gidgethub import BadRequest, GitHubException, RateLimitExceeded
from gidgethub.httpx import GitHubAPI

from agentic.errors import GitHubUnavailable
from agentic.github.app_auth import GitHubAppError, GitHubAuth, RepoTokenAuth
from agentic.github.client import WRITE_PERMISSIONS
from agentic.github.issue_ref import IssueRef

if TYPE_CHECKING:
    from agentic.github.client import GitHubAccess

__all__ = ["GitHubRest", "GitHubUnavailable", "rest_client"]


def rest_client(api_url: str, token: str | None, *, auth: GitHubAuth | None = None, verify: Any = True,
                timeout: float = 10.0, user_agent: str = "agentic") -> httpx.AsyncClient:
    """An HTTP client on GitHub's REST API. `auth` in App mode: each call carries its repository's installation
    token (RepoTokenAuth) and `token` is not sent; `verify`: Settings.tls_verify."""
    app = auth if auth is not None and auth.is_app else None
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "User-Agent": user_agent, **({"Authorization": f"Bearer {token}"} if token and not app else {})}
    return httpx.AsyncClient(base_url=api_url.rstrip("/"), headers=headers, timeout=timeout, verify=verify,
                             auth=RepoTokenAuth(app) if app else None)


class GitHubRest:
    def __init__(self, api_url: str, token: str | None, *, timeout: float = 4.0, auth: GitHubAuth | None = None,
                 verify: Any = True) -> None:
        self.auth = auth if auth is not None and auth.is_app else None
        self._http = rest_client(api_url, token, auth=auth, verify=verify, timeout=timeout,
                                 user_agent="agentic-triggers")
        # The client carries the credentials (rest_client): gidgethub adds none of its own.
        self._api = GitHubAPI(self._http, "agentic-triggers", base_url=api_url.rstrip("/"))
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

    async def can_write(self, ref: IssueRef, login: str) -> bool:
        """`login` has write access on `ref`'s repository (GitHubAccess); GitHubUnavailable when GitHub cannot say."""
        return await self.permission(ref.owner, ref.repo, login) in WRITE_PERMISSIONS

    async def add_reaction(self, ref: IssueRef, content: str = "eyes") -> None:
        """A reaction on the issue (GitHubAccess). GitHub answers 200 with the existing reaction when it is already
        there: idempotent."""
        try:
            await self._api.post("/repos/{owner}/{repo}/issues/{issue_number}/reactions",
                                 {"owner": ref.owner, "repo": ref.repo, "issue_number": ref.number},
                                 data={"content": content})
        except (GitHubException, httpx.HTTPError) as exc:
            raise GitHubUnavailable(f"reaction on #{ref.number}: {type(exc).__name__}: {exc}") from None


if TYPE_CHECKING:
    def _shares_the_protocol(rest: GitHubRest) -> GitHubAccess:
        return rest  # mypy: GitHubRest is a GitHubAccess (same names, same signatures as HubGitHub)

