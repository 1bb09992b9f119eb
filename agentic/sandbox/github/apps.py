"""GitHub Apps in the simulator: apps with public keys, installations per owner, JWTs, installation tokens.

What GitHub checks and the simulator checks too (docs "Generating a JSON Web Token (JWT) for a GitHub App",
"Generating an installation access token"):
- an app authenticates with a JWT signed RS256 by one of its private keys: `iss` is the app's id (or client id),
  `iat` and `exp` are required, 60 s of clock skew are tolerated, and `exp` may be at most 10 minutes after `iat`;
- `POST /app/installations/{id}/access_tokens` gives an installation token (`ghs_...`) that acts as `<slug>[bot]`
  on the installation's repositories until it expires (1 h on GitHub; `token_seconds` per app here, so that tests
  see tokens expire within a run), then answers `401 Bad credentials`.
- rate limits count per installation (5,000/h plus 50 per repository over 20, at most 12,500), not per user.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jwt

if TYPE_CHECKING:  # store.py holds an `Apps`
    from agentic.sandbox.github.store import Repo, Store

CLOCK_SKEW_SECONDS = 60
MAX_JWT_SECONDS = 600
JWT_DOCS = ("https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/"
            "generating-a-json-web-token-jwt-for-a-github-app")
# Permission level -> the repository role it amounts to (issues/pull_requests write lets the bot comment and edit).
DEFAULT_PERMISSIONS = {"issues": "write", "pull_requests": "write", "contents": "read", "checks": "read",
                       "metadata": "read"}


class JwtRejected(Exception):
    """The JWT is not acceptable; the message is GitHub's."""


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: str
    public_keys: list[str]  # PEM
    client_id: str = ""
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    events: list[str] = field(default_factory=list)
    token_seconds: float = 3600.0
    created_at: str = ""

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app_id: int
    account: str  # the owner's login
    repository_selection: str = "all"  # all | selected
    repositories: list[str] = field(default_factory=list)  # "owner/name" lower-case, when `selected`
    created_at: str = ""

    def covers(self, repo: Repo) -> bool:
        if repo.owner.lower() != self.account.lower():
            return False
        return self.repository_selection == "all" or repo.full_name.lower() in self.repositories


@dataclass
class InstallationToken:
    token: str
    installation_id: int
    expires_at: float
    repositories: list[str] | None = None  # narrowed at creation; None: all the installation covers
    permissions: dict[str, str] = field(default_factory=dict)
    minted_at: float = field(default_factory=time.time)
    uses: Counter = field(default_factory=Counter)  # User-Agent -> requests made with it (`/_sim/apps`)


@dataclass
class Apps:
    """Every app, installation and installation token of one simulator."""

    apps: dict[int, App] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, InstallationToken] = field(default_factory=dict)

    def by_issuer(self, issuer: object) -> App | None:
        for app in self.apps.values():
            if str(issuer) in (str(app.id), app.client_id):
                return app
        return None

    def verify_jwt(self, token: str, now: float | None = None) -> App:
        """The app that signed `token`, or JwtRejected with GitHub's message."""
        now = time.time() if now is None else now
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise JwtRejected("A JSON web token could not be decoded") from None
        app = self.by_issuer(claims.get("iss"))
        if app is None:
            raise JwtRejected("'Issuer' claim ('iss') must be an Integer" if claims.get("iss") is None
                              else "Integration not found")
        for name, claim in (("iat", "Issued at"), ("exp", "Expiration time")):
            if not isinstance(claims.get(name), int):
                raise JwtRejected(f"'{claim}' claim ('{name}') must be an Integer representing the time that the "
                                  "assertion was issued" if name == "iat" else
                                  f"'{claim}' claim ('{name}') must be a numeric value representing the future "
                                  "time at which the assertion expires")
        too_long = claims["exp"] - claims["iat"] > MAX_JWT_SECONDS
        if too_long or claims["exp"] > now + MAX_JWT_SECONDS + CLOCK_SKEW_SECONDS:
            raise JwtRejected("'Expiration time' claim ('exp') is too far in the future")
        if claims["iat"] > now + CLOCK_SKEW_SECONDS:
            raise JwtRejected("'Issued at' claim ('iat') must be an Integer representing the time that the "
                              "assertion was issued")
        for key in app.public_keys:
            try:
                jwt.decode(token, key, algorithms=["RS256"], leeway=CLOCK_SKEW_SECONDS,
                           options={"require": ["iat", "exp", "iss"], "verify_iss": False})
                return app
            except jwt.ExpiredSignatureError:
                raise JwtRejected("'Expiration time' claim ('exp') must be a numeric value representing the future "
                                  "time at which the assertion expires") from None
            except jwt.PyJWTError:
                continue
        raise JwtRejected("A JSON web token could not be decoded")

    def installation_for(self, app: App, repo: Repo) -> Installation | None:
        return next((i for i in self.installations.values() if i.app_id == app.id and i.covers(repo)), None)

    def installations_covering(self, repo: Repo) -> list[Installation]:
        return [i for i in self.installations.values() if i.covers(repo)]

    def mint(self, installation: Installation, repositories: list[str] | None,
             permissions: dict[str, str] | None) -> InstallationToken:
        app = self.apps[installation.app_id]
        token = InstallationToken("ghs_" + secrets.token_urlsafe(27)[:36], installation.id,
                                  time.time() + app.token_seconds, repositories,
                                  dict(permissions or app.permissions))
        self.tokens[token.token] = token
        return token

    def live_token(self, token: str, now: float | None = None) -> InstallationToken | None:
        found = self.tokens.get(token)
        if found is None or found.expires_at <= (time.time() if now is None else now):
            return None
        return found

    def token_repos(self, store: Store, token: InstallationToken) -> list[Repo]:
        installation = self.installations[token.installation_id]
        return [r for r in store.repos.values() if installation.covers(r)
                and (token.repositories is None or r.full_name.lower() in token.repositories)]

    def rate_limit(self, store: Store, installation: Installation, base: int) -> int:
        """GitHub's installation limit: `base` (5,000/h), +50 per repository over 20, at most 12,500."""
        repos = sum(1 for r in store.repos.values() if installation.covers(r))
        return min(max(base, base + 50 * (repos - 20)), 12_500)


def role_for(permissions: dict[str, str]) -> str:
    """The repository role an installation token acts with: write when it may write issues or pull requests."""
    if "write" in (permissions.get("issues"), permissions.get("pull_requests"), permissions.get("contents")):
        return "write"
    return "read"
