"""The receiver's HTTP contract without GitHub or Prefect: signatures (gidgethub), headers, the body cap, events
that are not ours, and the refusal to start without a secret. GitHub is a closed port here: any API call this
path must not make would turn the answer into a 503."""

from __future__ import annotations

import json
import os

import pytest
from starlette.testclient import TestClient

from agentic.errors import ConfigError
from agentic.sandbox.github import sign
from agentic.settings import Settings
from agentic.triggers import WEBHOOK_PATH, ReceiverConfig, Rules, create_app
from agentic.triggers.app import config_from_settings

SECRET = "It's a Secret to Everybody"
CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens


class NeverCalled:
    """Stands where the Prefect client goes; these requests never reach it (an attribute access fails the test)."""


@pytest.fixture
def client():
    config = ReceiverConfig(api_url=CLOSED, token="t", secret=SECRET, rules=Rules(), max_body_bytes=4096,
                            deadline_seconds=2)
    with TestClient(create_app(config, prefect_client=NeverCalled())) as test_client:
        yield test_client


def deliver(client, event: str, payload: dict | bytes, *, secret: str | None = SECRET, delivery: str = "d-1",
            **headers: str):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    if secret is not None:
        sent["X-Hub-Signature-256"] = sign(secret, body)
    sent.update(headers)
    return client.post(WEBHOOK_PATH, content=body, headers=sent)


def test_github_documented_signature_vector_is_accepted():
    """GitHub's own example (docs "Validating webhook deliveries"), checked by gidgethub."""
    from agentic.triggers.payloads import verify_delivery

    headers = {"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
               "X-GitHub-Event": "ping", "X-GitHub-Delivery": "x", "Content-Type": "application/json"}
    # The docs sign the text "Hello, World!"; gidgethub parses JSON after verifying, so the check must pass first.
    with pytest.raises(Exception) as info:
        verify_delivery(headers, b"Hello, World!", SECRET)
    assert type(info.value).__name__ == "BadDelivery"  # not InvalidSignature: the signature matched
    headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"][:-1] + "8"
    with pytest.raises(Exception) as info:
        verify_delivery(headers, b"Hello, World!", SECRET)
    assert type(info.value).__name__ == "InvalidSignature"


def test_ping_and_health(client):
    assert deliver(client, "ping", {"zen": "Keep it logically awesome."}).json() == {"status": "ok", "reason": "pong"}
    assert client.get("/health").json() == {"status": "ok", "signatures": "checked"}


@pytest.mark.parametrize("case", ["wrong secret", "no signature", "sha1 only", "tampered body", "not sha256="])
def test_bad_signatures_get_401(client, case):
    body = json.dumps({"action": "labeled"}).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-401"}
    if case == "wrong secret":
        headers["X-Hub-Signature-256"] = sign("guess", body)
    elif case == "sha1 only":
        import hashlib
        import hmac

        headers["X-Hub-Signature"] = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    elif case == "tampered body":
        headers["X-Hub-Signature-256"] = sign(SECRET, body)
        body = body.replace(b"labeled", b"assigned")
    elif case == "not sha256=":
        headers["X-Hub-Signature-256"] = sign(SECRET, body).removeprefix("sha256=")
    response = client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"status": "refused", "reason": "invalid or missing X-Hub-Signature-256"}


def test_unrelated_events_get_2xx_with_a_reason(client):
    answer = deliver(client, "push", {"ref": "refs/heads/main"})
    assert (answer.status_code, answer.json()) == (200, {"status": "ignored", "reason": "push is not a trigger"})
    answer = deliver(client, "issues", {"action": "opened"}, delivery="d-2")
    assert answer.json()["reason"] == "issues.opened is not a trigger"


def test_a_repeated_delivery_id_is_answered_from_memory(client):
    first = deliver(client, "push", {"ref": "x"}, delivery="same")
    again = deliver(client, "push", {"ref": "x"}, delivery="same")
    assert again.json() == {"status": "duplicate", "reason": "delivery same was already handled",
                            "first": first.json()}


def test_malformed_deliveries_get_4xx(client):
    assert deliver(client, "issues", b"{not json").status_code == 400
    missing = client.post(WEBHOOK_PATH, content=b"{}", headers={"X-Hub-Signature-256": sign(SECRET, b"{}"),
                                                                 "Content-Type": "application/json"})
    assert (missing.status_code, missing.json()["reason"]) == (400, "no x-github-event header")
    fields = deliver(client, "issues", {"action": "labeled", "issue": {"number": 1}})
    assert fields.status_code == 400 and "issues payload lacks fields" in fields.json()["reason"]


@pytest.mark.parametrize("body", [b"{not json", b"Hello, World!", b"", b"\xff\xfe{}", b'{"action": "opened"'])
def test_a_signed_body_that_is_not_json_is_refused_as_not_json(client, body):
    """Issue #24: a correctly signed body that is not JSON was refused with gidgethub's content-type reason."""
    answer = deliver(client, "issues", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["status"] == "refused" and "body is not valid JSON" in answer.json()["reason"]
    assert "content-type" not in answer.json()["reason"]


def test_the_content_type_still_decides_first(client):
    """A wrong content type is refused for its content type, JSON or not; GitHub's form encoding is accepted."""
    from urllib.parse import urlencode

    for content_type in ("text/plain", "application/xml", ""):
        answer = deliver(client, "ping", {"zen": "z"}, delivery=f"ct-{content_type}", **{"Content-Type": content_type})
        assert answer.status_code == 400 and "expected a content-type of 'application/json'" in answer.json()["reason"]
    form = urlencode({"payload": json.dumps({"zen": "z"})}).encode()
    answer = deliver(client, "ping", form, delivery="form", **{"Content-Type": "application/x-www-form-urlencoded"})
    assert (answer.status_code, answer.json()["reason"]) == (200, "pong")
    form = urlencode({"payload": "{not json"}).encode()
    answer = deliver(client, "ping", form, delivery="form-bad", **{"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400 and "body is not valid JSON" in answer.json()["reason"]
    answer = deliver(client, "ping", b"zen=z", delivery="form-none",
                     **{"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400 and "no payload field" in answer.json()["reason"]
    # Signed with the wrong secret: 401 before the body is read as JSON at all.
    assert deliver(client, "issues", b"{not json", secret="guess", delivery="sig").status_code == 401


def test_body_cap_413_before_the_signature_is_even_computed(client):
    big = json.dumps({"action": "opened", "pad": "x" * 5000}).encode()
    assert deliver(client, "issues", big).status_code == 413
    chunked = client.post(WEBHOOK_PATH, content=iter([b"{" + b" " * 3000, b" " * 3000 + b"}"]),
                          headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": "c"})
    assert chunked.status_code == 413


def test_a_trigger_needs_github_and_says_so_when_it_is_down(client):
    """A matching event does call GitHub (the permission check): down → 503, so GitHub may redeliver."""
    data = {"action": "created", "issue": {"number": 7, "title": "t", "html_url": "https://github.com/a/b/issues/7"},
            "comment": {"body": "/jules", "user": {"login": "alice"}}, "repository": {"full_name": "a/b"},
            "sender": {"login": "alice", "type": "User"}}
    answer = deliver(client, "issue_comment", data)
    assert answer.status_code == 503 and answer.json()["status"] == "error"
    assert deliver(client, "issue_comment", data).status_code == 503  # not remembered: a redelivery is processed


def test_unsigned_mode_is_explicit():
    settings = Settings(_env_file=None, github_token="t")
    with pytest.raises(ConfigError, match="GITHUB_WEBHOOK_SECRET is not set"):
        config_from_settings(settings)
    assert config_from_settings(settings, allow_unsigned=True).secret is None
    assert config_from_settings(Settings(_env_file=None, triggers_allow_unsigned=True)).secret is None
    signed = config_from_settings(Settings(_env_file=None, github_webhook_secret=SECRET))
    assert signed.secret == SECRET and SECRET not in repr(Settings(_env_file=None, github_webhook_secret=SECRET))
    config = ReceiverConfig(api_url=CLOSED, token=None, secret=None, rules=Rules())
    with TestClient(create_app(config, prefect_client=NeverCalled())) as unsigned:
        assert unsigned.get("/health").json()["signatures"] == "NOT CHECKED"
        assert deliver(unsigned, "ping", {}, secret=None).status_code == 200
        assert deliver(unsigned, "ping", {}, secret="anything", delivery="d-9").status_code == 200


def test_cli_refuses_to_start_without_a_secret(tmp_path):
    """The receiver's CLI in this process (tests/triggers/test_stack.py starts it as `ibt stacks run` would)."""
    from typer.testing import CliRunner

    from agentic.triggers.__main__ import app

    env = {k: None for k in os.environ if k.startswith(("GITHUB_", "TRIGGERS_"))}
    env["AGENTIC_ENV_FILE"] = str(tmp_path / "none.env")
    result = CliRunner().invoke(app, ["--port", "9"], env=env)
    assert result.exit_code == 2
    # The error is the last line (a warning about Prefect's secret blocks may precede it: no Prefect runs here).
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("triggers: GITHUB_WEBHOOK_SECRET is not set") and "--insecure-no-signature" in last
    bad_rules = tmp_path / "rules.yaml"
    bad_rules.write_text("defaults: {lable: x}")
    result = CliRunner().invoke(app, ["--insecure-no-signature", "--rules", str(bad_rules)], env=env)
    assert result.exit_code == 2 and "defaults.lable" in result.stderr
