"""The GitHub token to use for a repository now: the PAT, or a GitHub App installation token.

    auth = GitHubAuth.from_settings(settings)
    token = await auth.token_for("acme", "widgets")   # PAT unchanged; App: that repository's installation token

App mode (GITHUB_APP_ID + private key): a JWT signed RS256 with the app's key (PyJWT) → the repository's
installation (`GET /repos/{o}/{r}/installation`, remembered; a webhook's `installation.id` can tell it first) →
an installation token (`POST /app/installations/{id}/access_tokens`), cached per installation and renewed before it
expires: when less than `min(5 min, half its lifetime)` is left, so a call started with it still finishes in time.
A token GitHub answered 401 can be `forget`-ed: the next ask mints a new one.

Safe to share between threads and event loops: the cache sits behind a thread lock, and one mint per installation
runs at a time (a second asker waits for it and takes its token).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import jwt

from agentic.errors import ConfigError

JWT_LIFETIME_SECONDS = 540      # GitHub's limit is 10 min; leave room for a clock running ahead
JWT_BACKDATE_SECONDS = 60       # GitHub's advice: `iat` 60 s in the past, against clock drift
RENEW_BEFORE_SECONDS = 300.0    # renew at most this long before expiry...
RENEW_FRACTION = 0.5            # ...or at half the token's life, when it lives shorter (the simulator's tokens)
API_VERSION = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubAppError(Exception):
    """The App could not give a token (not installed on the repository, bad key, GitHub down); no secret in it."""


@dataclass(frozen=True)
class AppCredentials:
    app_id: str
    private_key: str = field(repr=False)  # PEM
    installation_id: int | None = None  # pinned (GITHUB_APP_INSTALLATION_ID); else found per repository


@dataclass
class InstallationToken:
    token: str = field(repr=False)
    expires_at: float        # epoch seconds
    minted_at: float

    def fresh(self, now: float) -> bool:
        margin = min(RENEW_BEFORE_SECONDS, RENEW_FRACTION * (self.expires_at - self.minted_at))
        return now < self.expires_at - margin

    @property
    def renew_at(self) -> float:
        return self.expires_at - min(RENEW_BEFORE_SECONDS, RENEW_FRACTION * (self.expires_at - self.minted_at))


def app_jwt(credentials: AppCredentials, now: float | None = None) -> str:
    """The app's JWT (RS256): iat 60 s back, exp 9 min ahead, iss the app id."""
    now = int(time.time() if now is None else now)
    try:
        return jwt.encode({"iat": now - JWT_BACKDATE_SECONDS, "exp": now + JWT_LIFETIME_SECONDS,
                           "iss": str(credentials.app_id)}, credentials.private_key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise GitHubAppError(f"GITHUB_APP_PRIVATE_KEY is not a usable RSA private key ({type(exc).__name__})") \
            from None


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class GitHubAuth:
    """`token_for(owner, repo)`: the PAT when no App is configured, else the repository's installation token."""

    def __init__(self, api_url: str, *, token: str | None = None, app: AppCredentials | None = None,
                 verify: Any = True, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._pat = token
        self.app = app
        self._verify, self._transport, self._timeout = verify, transport, timeout
        self._lock = threading.Lock()
        self._tokens: dict[int, InstallationToken] = {}
        self._installations: dict[str, int] = {}  # "owner/repo" (lower) -> installation id
        self._minting: dict[int, threading.Lock] = {}
        self._slug: str | None = None

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> GitHubAuth:
        token = settings.github_token.get_secret_value() if settings.github_token else None
        return cls(settings.github_api_url, token=token, app=app_credentials(settings),
                   verify=getattr(settings, "tls_verify", True), **kwargs)

    @property
    def is_app(self) -> bool:
        return self.app is not None

    @property
    def pat(self) -> str | None:
        """The static token (GITHUB_TOKEN), used when no App is configured."""
        return self._pat

    # -- the one question the rest of the product asks ----------------------------------------------------------
    async def token_for(self, owner: str, repo: str) -> str | None:
        """The token to call GitHub with for `owner/repo` now (None: no token configured at all)."""
        if self.app is None:
            return self._pat
        return await self.installation_token(await self.installation_for(owner, repo))

    def note_installation(self, full_name: str, installation_id: int) -> None:
        """A webhook said which installation covers `full_name` (its `installation.id`): no lookup needed."""
        with self._lock:
            self._installations[full_name.lower()] = int(installation_id)

    def forget(self, token: str) -> None:
        """GitHub refused `token` (401): mint a new one next time."""
        with self._lock:
            for installation, cached in list(self._tokens.items()):
                if cached.token == token:
                    del self._tokens[installation]

    # -- App calls ---------------------------------------------------------------------------------------------
    async def installation_for(self, owner: str, repo: str) -> int:
        assert self.app is not None
        if self.app.installation_id is not None:
            return self.app.installation_id
        key = f"{owner}/{repo}".lower()
        with self._lock:
            known = self._installations.get(key)
        if known is not None:
            return known
        response = await self._app_call("GET", f"/repos/{owner}/{repo}/installation")
        if response.status_code == 404:
            raise GitHubAppError(f"the GitHub App {self.app.app_id} is not installed on {owner}/{repo} (or cannot "
                                 "see it): install it there, or give it access to the repository")
        installation = int(self._json(response, f"installation of {owner}/{repo}")["id"])
        self.note_installation(key, installation)
        return installation

    async def default_installation(self) -> int:
        """GITHUB_APP_INSTALLATION_ID, else the app's only installation (the hub's servers use one token)."""
        assert self.app is not None
        if self.app.installation_id is not None:
            return self.app.installation_id
        found = self._json(await self._app_call("GET", "/app/installations"), "the app's installations")
        if len(found) != 1:
            raise GitHubAppError(f"the GitHub App has {len(found)} installations: set GITHUB_APP_INSTALLATION_ID "
                                 "to the one this hub serves")
        return int(found[0]["id"])

    async def installation_token(self, installation: int, *, now: float | None = None) -> str:
        """The cached token of `installation`, minted anew when missing or near expiry."""
        return (await self.installation_token_info(installation, now=now)).token

    async def installation_token_info(self, installation: int, *, now: float | None = None) -> InstallationToken:
        with self._lock:
            cached = self._tokens.get(installation)
            if cached is not None and cached.fresh(time.time() if now is None else now):
                return cached
            gate = self._minting.setdefault(installation, threading.Lock())
        # One mint at a time per installation; a thread that waited finds the new token cached.
        while not gate.acquire(blocking=False):
            await _pause()
        try:
            with self._lock:
                cached = self._tokens.get(installation)
                if cached is not None and cached.fresh(time.time() if now is None else now):
                    return cached
            minted_at = time.time()
            response = await self._app_call("POST", f"/app/installations/{installation}/access_tokens")
            data = self._json(response, f"token of installation {installation}")
            token = InstallationToken(str(data["token"]), _epoch(str(data["expires_at"])), minted_at)
            with self._lock:
                self._tokens[installation] = token
            return token
        finally:
            gate.release()

    async def bot_login(self) -> str | None:
        """The app's bot login `<slug>[bot]` (GET /app, asked once); None without an App."""
        if self.app is None:
            return None
        if self._slug is None:
            self._slug = str(self._json(await self._app_call("GET", "/app"), "the app")["slug"])
        return f"{self._slug}[bot]"

    async def _app_call(self, method: str, path: str) -> httpx.Response:
        assert self.app is not None
        headers = {**API_VERSION, "Authorization": f"Bearer {app_jwt(self.app)}", "User-Agent": "agentic"}
        try:
            async with httpx.AsyncClient(timeout=self._timeout, verify=self._verify,
                                         transport=self._transport) as client:
                return await client.request(method, self.api_url + path, headers=headers)
        except httpx.HTTPError as exc:
            raise GitHubAppError(f"{method} {path}: {type(exc).__name__}: {exc}") from None

    def _json(self, response: httpx.Response, what: str) -> Any:
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message", ""))[:200]
            except ValueError:
                message = response.text[:200]
            raise GitHubAppError(f"GitHub App: {what}: {response.status_code} {message}")
        return response.json()


class RepoTokenAuth(httpx.Auth):
    """httpx auth: each request to `/repos/{owner}/{repo}/...` carries that repository's token (`token_for`); a
    401 drops the cached token and the request is sent once more with a new one. An App that cannot give a token
    is an `httpx.RequestError` (callers already treat those as "GitHub unavailable now")."""

    def __init__(self, auth: GitHubAuth) -> None:
        self.auth = auth

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        repo = repository_of(request.url.path)
        token = await self._token(request, repo)
        if token:
            request.headers["Authorization"] = f"token {token}"
        response = yield request
        if response.status_code == 401 and token and self.auth.is_app:
            self.auth.forget(token)
            token = await self._token(request, repo)
            request.headers["Authorization"] = f"token {token}"
            yield request

    async def _token(self, request: httpx.Request, repo: tuple[str, str] | None) -> str | None:
        try:
            if repo is not None:
                return await self.auth.token_for(*repo)
            if self.auth.is_app:  # not about one repository: the pinned or only installation
                return await self.auth.installation_token(await self.auth.default_installation())
            return self.auth.pat
        except GitHubAppError as exc:
            raise httpx.RequestError(str(exc), request=request) from None


def repository_of(path: str) -> tuple[str, str] | None:
    """(owner, repo) of a REST path `.../repos/{owner}/{repo}/...` (an Enterprise `/api/v3` prefix allowed)."""
    parts = [p for p in path.split("/") if p]
    if "repos" in parts:
        i = parts.index("repos")
        if len(parts) > i + 2:
            return parts[i + 1], parts[i + 2]
    return None


async def _pause() -> None:
    import anyio

    await anyio.sleep(0.01)


def app_credentials(settings: Any) -> AppCredentials | None:
    """The App settings, or None without GITHUB_APP_ID; ConfigError when half configured."""
    app_id = getattr(settings, "github_app_id", None)
    if not app_id:
        return None
    key = settings.github_app_private_key_pem
    if not key:
        raise ConfigError("GITHUB_APP_ID is set but no private key: set GITHUB_APP_PRIVATE_KEY (the PEM), "
                          "GITHUB_APP_PRIVATE_KEY_FILE (its path) or the Secret block github-app-private-key")
    return AppCredentials(str(app_id), key, settings.github_app_installation_id)


__all__ = ["AppCredentials", "GitHubAppError", "GitHubAuth", "InstallationToken", "RepoTokenAuth", "app_credentials",
           "app_jwt", "repository_of"]
