"""Webhook deliveries, signed like GitHub's: `X-Hub-Signature-256: sha256=<hmac(secret, body)>`.

Headers as GitHub sends them (docs "Webhook events and payloads", "Delivery headers"): `X-GitHub-Event`,
`X-GitHub-Delivery` (a GUID), `X-GitHub-Hook-ID`, `X-GitHub-Hook-Installation-Target-Type` / `-ID`,
`X-Hub-Signature` (SHA-1, legacy) and `X-Hub-Signature-256`, `User-Agent: GitHub-Hookshot/<short sha>`.
Hooks: the one given on the command line (every repository) plus those created with
`POST /repos/{owner}/{repo}/hooks` (that repository, its `events` only; `["*"]` is all).

Deliveries run in the background (GitHub delivers asynchronously too) and are recorded for `/_sim/state`.
`redeliver(id)` posts a recorded delivery again with the same body and headers (X-GitHub-Delivery included), as
GitHub's "Redeliver" button does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import httpx

KEPT_FOR_REDELIVERY = 200  # bodies kept in memory, newest last


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


USER_AGENT = "GitHub-Hookshot/8a3b9c1"  # GitHub's agent carries a short build sha


@dataclass
class Hook:
    id: int
    url: str
    secret: str | None
    events: list[str] = field(default_factory=lambda: ["*"])
    repo: str | None = None  # "owner/name" (lowercase); None: every repository (the command-line hook)
    active: bool = True

    def wants(self, event: str, payload: dict) -> bool:
        full_name = str((payload.get("repository") or {}).get("full_name", "")).lower()
        return (self.active and (self.repo is None or self.repo == full_name)
                and ("*" in self.events or event in self.events))


_FULL_PULL_ONLY = ("additions", "changed_files", "comments", "commits", "deletions", "maintainer_can_modify",
                   "mergeable", "mergeable_state", "merged", "merged_by", "rebaseable", "review_comments")


def webhook_shape(event: str, payload: dict) -> dict:
    """The REST objects the routes render, as webhook payloads carry them (checked against
    @octokit/webhooks-schemas in tests/triggers/test_webhook_shapes.py): repositories carry `custom_properties`,
    issues no `closed_by`, a check run's `details_url` / `external_id` are strings and its suite has a `url`."""

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "full_name" in node and "owner" in node:
                node.setdefault("custom_properties", {})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    payload = json.loads(json.dumps(payload))  # a copy: the routes' objects stay as REST renders them
    walk(payload)
    if isinstance(payload.get("issue"), dict):
        payload["issue"].pop("closed_by", None)
    if event.startswith("pull_request_review") and isinstance(payload.get("pull_request"), dict):
        for key in _FULL_PULL_ONLY:  # review events carry the pull request's short form
            payload["pull_request"].pop(key, None)
    if isinstance(payload.get("review"), dict):  # webhooks spell review states in lower case
        payload["review"]["state"] = str(payload["review"].get("state", "")).lower()
    run = payload.get("check_run")
    if isinstance(run, dict):
        run["details_url"] = run.get("details_url") or run.get("html_url") or ""
        run["external_id"] = run.get("external_id") or ""
        repository, sender = payload.get("repository") or {}, payload.get("sender") or {}
        # Webhooks carry the app and the whole suite where REST has `app: null` and `{"id"}` (the sender is the
        # app's bot user: `acme-ci[bot]` is the app `acme-ci`).
        slug = str(sender.get("login", "app")).removesuffix("[bot]")
        stamp = run.get("started_at") or run.get("completed_at") or ""
        app = run.get("app") or {
            "id": sender.get("id", 0), "slug": slug, "node_id": f"A_{sender.get('id', 0)}", "owner": repository.get(
                "owner") or sender, "name": slug, "description": None, "external_url": f"https://{slug}.example",
            "html_url": f"https://github.com/apps/{slug}", "created_at": stamp, "updated_at": stamp,
            "permissions": {"checks": "write"}, "events": []}
        run["app"] = app
        suite = run.get("check_suite") or {}
        heads = run.get("pull_requests") or []
        run["check_suite"] = {
            "id": suite.get("id", 0), "node_id": f"CS_{suite.get('id', 0)}",
            "head_branch": heads[0]["head"]["ref"] if heads else None, "head_sha": run.get("head_sha", ""),
            "status": run.get("status"), "conclusion": run.get("conclusion"),
            "url": f"{repository.get('url', '')}/check-suites/{suite.get('id', 0)}", "before": None,
            "after": run.get("head_sha"), "pull_requests": heads, "app": app, "created_at": stamp,
            "updated_at": run.get("completed_at") or stamp}
    return payload


class WebhookSender:
    def __init__(self, url: str | None, secret: str | None, hook_id: int = 1,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.hooks: list[Hook] = [Hook(hook_id, url, secret)] if url else []
        self.transport = transport  # None: the network (SimConfig.webhook_transport)
        self.deliveries: list[dict] = []
        self._tasks: set[asyncio.Task] = set()
        self._sent: OrderedDict[str, tuple[str, bytes, dict[str, str]]] = OrderedDict()

    @property
    def url(self) -> str | None:
        return self.hooks[0].url if self.hooks else None

    def emit(self, event: str, payload: dict) -> None:
        for hook in [h for h in self.hooks if h.wants(event, payload)]:
            self.deliver(hook, event, payload)

    def deliver(self, hook: Hook, event: str, payload: dict) -> None:
        """One delivery to one hook (a new hook's `ping` goes to it alone)."""
        payload = webhook_shape(event, payload)
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        repository = payload.get("repository") or {}
        headers = {"Accept": "*/*", "Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-GitHub-Hook-ID": str(hook.id),
                   "X-GitHub-Hook-Installation-Target-Type": "repository",
                   "X-GitHub-Hook-Installation-Target-ID": str(repository.get("id", 0))}
        if hook.secret:
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(hook.secret.encode(), body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature-256"] = sign(hook.secret, body)
        record = {"id": delivery, "event": event, "action": payload.get("action"), "status_code": None,
                  "error": None, "hook_id": hook.id, "url": hook.url}
        self.deliveries.append(record)
        self._sent[delivery] = (event, body, headers)
        while len(self._sent) > KEPT_FOR_REDELIVERY:
            self._sent.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._post(record, body, headers, hook.url))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, record: dict, body: bytes, headers: dict[str, str], url: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=10, transport=self.transport) as client:
                response = await client.post(url, content=body, headers=headers)
            record["status_code"] = response.status_code
            record["response"] = response.text[:1000]  # the receiver's answer, for tests and /_sim/state
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"

    async def redeliver(self, delivery: str) -> dict:
        """Post delivery `delivery` again, unchanged, and wait for the answer; the new attempt is recorded too."""
        event, body, headers = self._sent[delivery]
        record = {"id": delivery, "event": event, "action": json.loads(body).get("action"), "status_code": None,
                  "error": None, "redelivery": True}
        self.deliveries.append(record)
        hook = next(h for h in self.hooks if str(h.id) == headers["X-GitHub-Hook-ID"])
        await self._post(record, body, headers, hook.url)
        return record

    def sent(self, delivery: str) -> tuple[str, bytes, dict[str, str]]:
        """What delivery `delivery` posted: (event, body, headers)."""
        return self._sent[delivery]

    def last(self, event: str | None = None) -> dict | None:
        """The newest recorded delivery (of `event`), None if there is none."""
        return next((d for d in reversed(self.deliveries) if event in (None, d["event"])), None)

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
