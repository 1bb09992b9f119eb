"""The receiver as a GitHub App (agentic/github/app_auth.py): App-level deliveries (`installation`,
`installation_repositories`) are accepted, a delivery's `installation.id` picks the token, a repository without
one is looked up once, tokens renew when they expire, a revoked one is replaced after its 401, and our own login is
the app's `<slug>[bot]`. GitHub is the simulator (real HTTP), tokens live 4 s."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from agentic.github.app_auth import AppCredentials, GitHubAuth, repository_of
from agentic.sandbox.github import sign
from agentic.settings import Settings
from agentic.triggers import WEBHOOK_PATH, ReceiverConfig, Rules, create_app
from agentic.triggers.app import config_from_settings
from tests.sandbox.test_github_apps import APP_ID, demo_with_app, new_key, serving

SECRET = "app-secret"
LOOKUP = "GET /repos/{owner}/{repo}/installation"


class NeverCalled:
    """Where the Prefect client goes: these deliveries never start a run."""


def _seed(public: str) -> dict:
    seed = demo_with_app(public, token_seconds=4)
    seed["repos"] = [*seed["repos"], {"owner": "globex", "name": "tools", "collaborators": {"alice": "write"}}]
    seed["apps"][0]["installations"].append({"account": "globex", "id": 888})
    return seed


async def _deliver(client: httpx.AsyncClient, event: str, payload: dict, delivery: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post(WEBHOOK_PATH, content=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body)})


async def test_receiver_as_an_app(tmp_path):
    private, public = new_key()
    with serving(_seed(public)) as github:
        auth = GitHubAuth(github, app=AppCredentials(str(APP_ID), private))
        config = ReceiverConfig(api_url=github, token=None, secret=SECRET, rules=Rules(), auth=auth)
        app = create_app(config, prefect_client=NeverCalled())
        receiver = app.state.receiver
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as client:
            answer = await _deliver(client, "installation", {
                "action": "created", "installation": {"id": 888, "account": {"login": "globex"}},
                "repositories": [{"full_name": "globex/tools"}], "sender": {"login": "octo-maintainer"}}, "d-1")
            assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.text
            answer = await _deliver(client, "installation_repositories", {
                "action": "added", "installation": {"id": 888}, "repositories_added": [{"full_name": "globex/x"}],
                "repositories_removed": [], "sender": {"login": "octo-maintainer"}}, "d-2")
            assert answer.status_code == 200, answer.text

        # globex/tools: the delivery named its installation, no lookup; acme/widgets: looked up once.
        assert await receiver.github.permission("globex", "tools", "alice") == "write"
        assert await receiver.github.permission("acme", "widgets", "alice") == "write"
        assert await receiver.github.permission("acme", "widgets", "mallory") == "read"
        counts = httpx.get(f"{github}/_sim/requests").json()
        assert counts["routes"].get(LOOKUP) == 1, counts["routes"]
        assert await receiver.github.self_login() == "issue-jules[bot]"

        tokens = httpx.get(f"{github}/_sim/apps").json()["tokens"]
        assert sorted(t["installation_id"] for t in tokens) == [777, 888]  # one each, reused
        await asyncio.sleep(4.1)  # both expired: renewed before use, never sent stale
        assert await receiver.github.permission("acme", "widgets", "alice") == "write"
        assert httpx.get(f"{github}/_sim/requests").json()["unauthorized"] == {}

        # A token GitHub no longer accepts (revoked): its 401 drops it and the call is made once more.
        token = await auth.token_for("acme", "widgets")
        httpx.delete(f"{github}/installation/token", headers={"Authorization": f"token {token}"}).raise_for_status()
        assert await receiver.github.permission("acme", "widgets", "alice") == "write"
        assert await auth.token_for("acme", "widgets") != token
        await receiver.github.aclose()


def test_settings_pick_app_mode(tmp_path):
    private, _ = new_key()
    key = tmp_path / "app.pem"
    key.write_text(private)
    settings = Settings(_env_file=None, github_app_id="4242", github_app_private_key_file=str(key),  # type: ignore
                        github_webhook_secret="s")
    config = config_from_settings(settings)
    assert config.auth.is_app and config.token is None
    escaped = Settings(_env_file=None, github_app_id="4242",  # type: ignore[call-arg]
                       github_app_private_key=private.replace("\n", "\\n"))
    assert escaped.github_app_private_key_pem.strip() == private.strip()
    assert not config_from_settings(Settings(_env_file=None, github_token="t",  # type: ignore[call-arg]
                                             github_webhook_secret="s")).auth.is_app


def test_half_configured_app_is_a_clear_error():
    import pytest

    from agentic.errors import ConfigError

    with pytest.raises(ConfigError, match="GITHUB_APP_PRIVATE_KEY"):
        GitHubAuth.from_settings(Settings(_env_file=None, github_app_id="4242"))  # type: ignore[call-arg]


def test_repository_of_paths():
    assert repository_of("/repos/acme/widgets/issues/1") == ("acme", "widgets")
    assert repository_of("/api/v3/repos/acme/widgets") == ("acme", "widgets")
    assert repository_of("/user") is None and repository_of("/repos/acme") is None




def test_tokens_renew_five_minutes_or_half_their_life_before_expiry():
    from agentic.github.app_auth import InstallationToken

    hour = InstallationToken("t", expires_at=3600.0, minted_at=0.0)
    assert hour.fresh(3299) and not hour.fresh(3300) and hour.renew_at == 3300
    short = InstallationToken("t", expires_at=10.0, minted_at=0.0)  # the simulator's: renewed with half left
    assert short.fresh(4.9) and not short.fresh(5.0)


def test_app_jwt_passes_the_simulators_checks():
    from agentic.github.app_auth import app_jwt
    from agentic.sandbox.github.apps import App, Apps

    private, public = new_key()
    apps = Apps(apps={APP_ID: App(APP_ID, "issue-jules", "Issue Jules", "acme", [public])})
    token = app_jwt(AppCredentials(str(APP_ID), private))
    assert apps.verify_jwt(token).slug == "issue-jules"
    assert apps.verify_jwt(app_jwt(AppCredentials(str(APP_ID), private), now=time.time() - 500)).id == APP_ID


async def test_concurrent_askers_share_one_mint():
    private, public = new_key()
    with serving(_seed(public)) as github:
        auth = GitHubAuth(github, app=AppCredentials(str(APP_ID), private, installation_id=777))
        tokens = await asyncio.gather(*(auth.token_for("acme", "widgets") for _ in range(10)))
        assert len(set(tokens)) == 1
        assert len(httpx.get(f"{github}/_sim/apps").json()["tokens"]) == 1
        assert httpx.get(f"{github}/_sim/requests").json()["routes"].get(LOOKUP) is None  # pinned: no lookup
