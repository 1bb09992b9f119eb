"""Webhook deliveries, signed like GitHub's: `X-Hub-Signature-256: sha256=<hmac(secret, body)>`.

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

import httpx

KEPT_FOR_REDELIVERY = 200  # bodies kept in memory, newest last


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, url: str, secret: str | None, hook_id: int = 1) -> None:
        self.url, self.secret, self.hook_id = url, secret, hook_id
        self.deliveries: list[dict] = []
        self._tasks: set[asyncio.Task] = set()
        self._sent: OrderedDict[str, tuple[str, bytes, dict[str, str]]] = OrderedDict()

    def emit(self, event: str, payload: dict) -> None:
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/sandbox",
                   "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-GitHub-Hook-ID": str(self.hook_id)}
        if self.secret:
            headers["X-Hub-Signature-256"] = sign(self.secret, body)
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(self.secret.encode(), body, hashlib.sha1).hexdigest()
        record = {"id": delivery, "event": event, "action": payload.get("action"), "status_code": None,
                  "error": None}
        self.deliveries.append(record)
        self._sent[delivery] = (event, body, headers)
        while len(self._sent) > KEPT_FOR_REDELIVERY:
            self._sent.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._post(record, body, headers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, record: dict, body: bytes, headers: dict[str, str]) -> None:
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(self.url, content=body, headers=headers)
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
        await self._post(record, body, headers)
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
