"""The simulator's GitHub Apps, checked with a third-party App client (PyGithub's GithubIntegration / AppAuth) and
raw requests: JWT rules, installations, installation tokens that expire, the bot as author, per-installation limits."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github, GithubIntegration
from github.GithubException import BadCredentialsException

from agentic.sandbox.github import create_app, load_seed_file
from agentic.sandbox.github.seed import DEMO_SEED
from agentic.testing.services import serving_in_thread

APP_ID = 4242


def new_key() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def app_seed(public_pem: str, token_seconds: float = 3600, repositories: object = "all") -> dict:
    return {"id": APP_ID, "slug": "issue-jules", "name": "Issue Jules", "owner": "acme", "public_key": public_pem,
            "token_seconds": token_seconds, "events": ["issues", "issue_comment"],
            "installations": [{"account": "acme", "id": 777, "repositories": repositories}]}


@pytest.fixture(scope="module")
def key() -> tuple[str, str]:
    return new_key()


def serving(seed: dict):
    """The simulator with `seed` on a real socket (PyGithub is synchronous); yields its URL."""
    return serving_in_thread(create_app({"seed": seed}))


def demo_with_app(public_pem: str, **app: object) -> dict:
    return {**load_seed_file(DEMO_SEED), "apps": [app_seed(public_pem, **app)]}  # type: ignore[arg-type]


def app_jwt(private_pem: str, *, iat_offset: int = -60, lifetime: int = 540, iss: object = APP_ID) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now + iat_offset, "exp": now + iat_offset + lifetime, "iss": str(iss)}, private_pem,
                      algorithm="RS256")


def test_pygithub_app_auth_reaches_the_repo_as_the_bot(key):
    private, public = key
    with serving(demo_with_app(public)) as url:
        integration = GithubIntegration(auth=Auth.AppAuth(APP_ID, private), base_url=url)
        assert integration.get_app().slug == "issue-jules"
        installation = integration.get_repo_installation("acme", "widgets")
        assert installation.id == 777
        token = integration.get_access_token(installation.id)
        assert token.token.startswith("ghs_") and token.expires_at is not None
        gh = Github(auth=Auth.AppInstallationAuth(Auth.AppAuth(APP_ID, private), installation.id), base_url=url)
        issue = gh.get_repo("acme/widgets").get_issue(1)
        comment = issue.create_comment("hello from the app")
        assert comment.user.login == "issue-jules[bot]" and comment.user.type == "Bot"
        names = [r.full_name for r in installation.get_repos()]
        assert names == ["acme/widgets"]


def test_installation_tokens_expire_with_401_and_limits_count_per_installation(key):
    private, public = key
    with serving(demo_with_app(public, token_seconds=3)) as url:
        jwt_headers = {"Authorization": f"Bearer {app_jwt(private)}"}
        created = httpx.post(f"{url}/app/installations/777/access_tokens", headers=jwt_headers)
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        auth = {"Authorization": f"token {token}"}
        first = httpx.get(f"{url}/repos/acme/widgets/issues/1", headers=auth)
        assert first.status_code == 200
        # The installation's quota, not a user's: another token of the same installation shares it.
        other = httpx.post(f"{url}/app/installations/777/access_tokens", headers=jwt_headers).json()["token"]
        second = httpx.get(f"{url}/repos/acme/widgets/issues/1", headers={"Authorization": f"Bearer {other}"})
        assert int(second.headers["X-RateLimit-Used"]) == int(first.headers["X-RateLimit-Used"]) + 1
        assert second.headers["X-RateLimit-Limit"] == "5000"
        listed = httpx.get(f"{url}/installation/repositories", headers=auth).json()
        assert listed["total_count"] == 1 and listed["repository_selection"] == "all"
        assert httpx.get(f"{url}/user", headers=auth).status_code == 403  # a bot is no user: GET /app says who
        time.sleep(3.2)
        expired = httpx.get(f"{url}/repos/acme/widgets/issues/1", headers=auth)
        assert expired.status_code == 401 and expired.json()["message"] == "Bad credentials"
        # PyGithub renews an installation token that expired by itself.
        gh = Github(auth=Auth.AppInstallationAuth(Auth.AppAuth(APP_ID, private), 777), base_url=url)
        assert gh.get_repo("acme/widgets").get_issue(1).number == 1
        time.sleep(3.2)
        assert gh.get_repo("acme/widgets").get_issue(1).number == 1


@pytest.mark.parametrize("claims, message", [
    ({"iat_offset": -60, "lifetime": 700}, "'Expiration time' claim ('exp') is too far in the future"),
    ({"iat_offset": 120}, "'Issued at' claim ('iat') must be an Integer representing the time"),
    ({"iat_offset": -700, "lifetime": 600}, "'Expiration time' claim ('exp') must be a numeric value"),
    ({"iss": 99999}, "Integration not found"),
])
def test_jwt_checks(key, claims, message):
    private, public = key
    with serving(demo_with_app(public)) as url:
        response = httpx.get(f"{url}/app", headers={"Authorization": f"Bearer {app_jwt(private, **claims)}"})
        assert response.status_code == 401 and response.json()["message"].startswith(message), response.text


def test_jwt_within_clock_skew_is_accepted_and_other_keys_are_not(key):
    private, public = key
    with serving(demo_with_app(public)) as url:
        skewed = app_jwt(private, iat_offset=30, lifetime=540)  # a clock 30 s ahead: within GitHub's 60 s
        assert httpx.get(f"{url}/app", headers={"Authorization": f"Bearer {skewed}"}).status_code == 200
        stranger = app_jwt(new_key()[0])
        assert httpx.get(f"{url}/app", headers={"Authorization": f"Bearer {stranger}"}).status_code == 401
        # A JWT is for /app routes; an installation token is not accepted there.
        token = httpx.post(f"{url}/app/installations/777/access_tokens",
                           headers={"Authorization": f"Bearer {app_jwt(private)}"}).json()["token"]
        assert httpx.get(f"{url}/app", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert httpx.get(f"{url}/repos/acme/widgets",
                         headers={"Authorization": f"Bearer {app_jwt(private)}"}).status_code == 401


def test_repository_selection_limits_the_installation(key):
    private, public = key
    seed = demo_with_app(public, repositories=["gadgets"])
    seed["repos"] = [*seed["repos"], {"owner": "acme", "name": "gadgets", "private": True}]
    with serving(seed) as url:
        integration = GithubIntegration(auth=Auth.AppAuth(APP_ID, private), base_url=url)
        assert integration.get_repo_installation("acme", "gadgets").id == 777
        with pytest.raises(Exception):
            integration.get_repo_installation("acme", "widgets")
        token = integration.get_access_token(777).token
        listed = httpx.get(f"{url}/installation/repositories", headers={"Authorization": f"token {token}"}).json()
        assert [r["full_name"] for r in listed["repositories"]] == ["acme/gadgets"]
        # widgets is public: readable by anyone, but the bot may not comment there.
        denied = httpx.post(f"{url}/repos/acme/widgets/issues/1/comments", json={"body": "x"},
                            headers={"Authorization": f"token {token}"})
        assert denied.status_code == 403 and denied.json()["message"] == "Resource not accessible by integration"


def test_expired_token_is_bad_credentials_for_pygithub(key):
    private, public = key
    with serving(demo_with_app(public, token_seconds=1)) as url:
        integration = GithubIntegration(auth=Auth.AppAuth(APP_ID, private), base_url=url)
        token = integration.get_access_token(777).token
        time.sleep(1.2)
        with pytest.raises(BadCredentialsException):
            Github(auth=Auth.Token(token), base_url=url).get_repo("acme/widgets")
