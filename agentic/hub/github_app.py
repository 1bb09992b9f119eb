"""The hub as a GitHub App: it mints the installation token its GitHub servers use and rotates it before it expires.

With GITHUB_APP_ID and the App's private key (GITHUB_APP_PRIVATE_KEY, GITHUB_APP_PRIVATE_KEY_FILE, or the Secret
block github-app-private-key) in the hub's environment, the hub keeps `GITHUB_TOKEN` in its own environment set to
an installation token of GITHUB_APP_INSTALLATION_ID (else the App's only installation), from GITHUB_API_URL.
Server definitions name it `${GITHUB_TOKEN}` (deploy.py writes them so in App mode):

- `openapi` servers (github-rest) expand their `security` on every call: the next call carries the new token;
- a `stdio` server (the npm GitHub server) reads its token once, at start. Before the old token expires, a second
  child is started with the new one; once it is connected, the hub's tools point at it, and the old child is
  stopped when its calls in flight are done (or could no longer succeed: its token expired). No call fails for
  the rotation: a call goes either to the old child, whose token is still valid, or to the new one.

A token is renewed when `min(5 min, half its lifetime)` is left (agentic/github/app_auth.py).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from agentic.github.app_auth import AppCredentials, GitHubAppError, GitHubAuth
from agentic.hub.upstream import MCPUpstream

if TYPE_CHECKING:
    from agentic.hub.registry import Hub
    from agentic.hub.secret_refs import HubSecrets

log = logging.getLogger("agentic.hub")
VARIABLE = "GITHUB_TOKEN"
RETRY_SECONDS = 5.0


def _refers_to_token(config: dict[str, Any]) -> bool:
    text = json.dumps({k: v for k, v in config.items() if k != "openapi"}) + json.dumps(
        (config.get("openapi") or {}).get("security") or {})
    return f"${{{VARIABLE}}}" in text or f"${VARIABLE}" in text


class HubGitHubApp:
    def __init__(self, hub: Hub, auth: GitHubAuth, environ: MutableMapping[str, str] | None = None) -> None:
        self.hub = hub
        self.auth = auth
        self.environ = os.environ if environ is None else environ
        self.installation: int | None = None
        self.expires_at = 0.0
        self.rotations = 0  # stdio children replaced (tests, logs)
        self._renew_at = 0.0
        self.previous_expiry = 0.0
        self._locks: dict[str, anyio.Lock] = {}
        self._child_expiry: dict[str, float] = {}  # server -> expiry of the token its running child was started with

    @classmethod
    async def from_env(cls, hub: Hub, secrets: HubSecrets | None = None,
                       environ: MutableMapping[str, str] | None = None) -> HubGitHubApp | None:
        """The App from the hub's environment (the key possibly from its Secret block); None without GITHUB_APP_ID."""
        environ = os.environ if environ is None else environ
        app_id = (environ.get("GITHUB_APP_ID") or "").strip()
        if not app_id:
            return None
        if secrets is not None:
            secrets.hand_over(VARIABLE)  # this module sets it now, not the Secret blocks
            if not environ.get("GITHUB_APP_PRIVATE_KEY"):
                await secrets.refresh()  # the block github-app-private-key
        key = (environ.get("GITHUB_APP_PRIVATE_KEY") or "").replace("\\n", "\n").strip()
        if not key and environ.get("GITHUB_APP_PRIVATE_KEY_FILE"):
            with open(environ["GITHUB_APP_PRIVATE_KEY_FILE"], encoding="utf-8") as fh:
                key = fh.read().strip()
        if not key:
            log.error("GITHUB_APP_ID is set but the hub has no private key (GITHUB_APP_PRIVATE_KEY, "
                      "GITHUB_APP_PRIVATE_KEY_FILE or the Secret block github-app-private-key): GitHub App off")
            return None
        pinned = (environ.get("GITHUB_APP_INSTALLATION_ID") or "").strip()
        credentials = AppCredentials(app_id, key + "\n", int(pinned) if pinned.isdigit() else None)
        return cls(hub, GitHubAuth(environ.get("GITHUB_API_URL") or "https://api.github.com", app=credentials),
                   environ)

    async def renew(self) -> bool:
        """Make sure `GITHUB_TOKEN` holds a fresh token; True when it changed."""
        if self.installation is None:
            self.installation = await self.auth.default_installation()
        token = await self.auth.installation_token_info(self.installation)
        if token.expires_at != self.expires_at:
            self.previous_expiry = self.expires_at
        self.expires_at = token.expires_at
        self._renew_at = token.renew_at
        if self.environ.get(VARIABLE) == token.token:
            return False
        self.environ[VARIABLE] = token.token
        return True

    async def prime(self) -> None:
        """The first token, before the servers start (they expand `${GITHUB_TOKEN}` when they start)."""
        try:
            await self.renew()
            log.info("GitHub App: installation %s token until %s", self.installation,
                     time.strftime("%H:%M:%S", time.localtime(self.expires_at)))
        except GitHubAppError as exc:
            log.error("GitHub App: no installation token yet (%s); retrying", exc)

    async def run(self, tg: anyio.abc.TaskGroup) -> None:
        """Renew before expiry, forever; each new token reaches the servers that use it."""
        while True:
            wait = max(1.0, self._renew_at - time.time())
            await anyio.sleep(wait if self.expires_at else RETRY_SECONDS)
            try:
                if await self.renew():
                    log.info("GitHub App: token renewed (installation %s)", self.installation)
                    self.rotate(tg)
            except GitHubAppError as exc:
                log.error("GitHub App: token renewal failed (%s); retrying in %.0f s", exc, RETRY_SECONDS)
                self._renew_at = time.time() + RETRY_SECONDS

    def rotate(self, tg: anyio.abc.TaskGroup) -> None:
        """Restart each stdio server that reads the token, without a gap: new child first, old one drained."""
        for name, upstream in list(self.hub.upstreams.items()):
            if isinstance(upstream, MCPUpstream) and upstream.config.get("type") == "stdio" \
                    and _refers_to_token(upstream.config):
                lock = self._locks.setdefault(name, anyio.Lock())
                if not lock.locked():  # a restart under way takes the newest token when it is done
                    tg.start_soon(self._replace, tg, name, lock)

    async def _replace(self, tg: anyio.abc.TaskGroup, name: str, lock: anyio.Lock) -> None:
        async with lock:
            while True:
                old = self.hub.upstreams.get(name)
                token, expiry = self.environ.get(VARIABLE), self.expires_at
                if not isinstance(old, MCPUpstream) or old.config.get("type") != "stdio":
                    return
                new = MCPUpstream(name, old.config, lambda: None, self.hub.log_dir)  # quiet until it takes over
                new.on_list_changed, new.on_resource_updated = old.on_list_changed, old.on_resource_updated
                tg.start_soon(new.run)
                with anyio.move_on_after(new.connect_timeout):
                    while new.status != "connected":
                        await anyio.sleep(0.05)
                if new.status != "connected" or self.hub.upstreams.get(name) is not old:
                    log.error("GitHub App: %s did not restart with the new token (%s); keeping the running one",
                              name, new.error or new.status)
                    await new.stop()
                    return
                new._on_change = self.hub._changed
                self.hub.upstreams[name] = new
                self.hub._reindex()  # calls from now on go to the new child
                self.rotations += 1
                log.info("GitHub App: %s restarted with the new token", name)
                tg.start_soon(self._drain, old, self._child_expiry.get(name, self.previous_expiry))
                self._child_expiry[name] = expiry
                if self.environ.get(VARIABLE) == token:
                    return  # else a newer token came while this child started: once more

    async def _drain(self, old: MCPUpstream, old_expiry: float) -> None:
        """Calls already sent to the old child finish there: wait for them (at most a call's timeout, and never
        past the old token's expiry, after which they could not succeed anyway), then stop it."""
        deadline = min(time.time() + old.call_timeout, old_expiry)
        while time.time() < deadline and _busy(old):
            await anyio.sleep(0.1)
        await old.stop()


def _busy(upstream: MCPUpstream) -> bool:
    """Has the upstream's session requests in flight? (Unknown: assume so, until the deadline.)"""
    session = upstream.session
    if session is None:
        return False
    dispatcher = getattr(session, "_dispatcher", None)
    pending = getattr(dispatcher, "_pending", None)  # the MCP SDK's requests awaiting an answer
    return bool(pending) if isinstance(pending, dict) else True
