"""`create_app(...)`: the webhook receiver, a Starlette app.

    POST /api/github/webhooks   GitHub deliveries (the Probot path)
    GET  /health                liveness, and whether signatures are checked

One delivery: size cap → signature (401) → already handled? → a comment answering a waiting run resumes it (resume.py) →
rules → sender's permission → 👀 on the issue → flow run with the issue-text idempotency key; a closed pull request
starts the archive sweep of its repository instead; a review (or diff comment) by a writer on a pull request that closes
an issue re-enters that issue's run, one run per review (`_review`), and so does a push to its branch
(`pull_request.synchronize`, one run per head). All of it runs before answering, bounded by `deadline_seconds` (below
GitHub's 10 s), so the answer is the truth: 2xx means the run exists (or the event is not ours); 503 means nothing may
have happened yet and a redelivery from GitHub is safe (every step is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentic.dispatch import claims
from agentic.github.app_auth import GitHubAuth
from agentic.github.issue_ref import IssueRef
from agentic.github.rest import GitHubRest, GitHubUnavailable
from agentic.lifecycle.phases import Phase
from agentic.triggers.launch import (
    DeploymentNotFound,
    PrefectUnavailable,
    idempotency_key,
    launch,
    launch_deployment,
    supersede_pending,
)
from agentic.triggers.payloads import BadDelivery, InvalidSignature, IssuesEvent, verify_delivery
from agentic.triggers.resume import route_comment
from agentic.triggers.rules import PERMISSION_RANK, Ignored, Rules, Trigger, is_bot, match

# Review events that re-enter the issue's run (`_review`), with the action that counts.
REVIEW_EVENTS = {"pull_request_review": "submitted", "pull_request_review_comment": "created"}
_CLOSES = re.compile(r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\s*:?\s+#(\d+)\b", re.IGNORECASE)
log = logging.getLogger("agentic.triggers")
WEBHOOK_PATH = "/api/github/webhooks"
RECENT_DELIVERIES = 10_000


@dataclass(frozen=True)
class ReceiverConfig:
    api_url: str                 # GitHub REST base (settings.github_api_url)
    token: str | None            # the product's GitHub token (permission checks, reactions)
    secret: str | None           # None only in explicitly unsigned mode
    rules: Rules
    deployment: str = "jules-agent-workflow/jules-agent-deployment"
    archive_deployment: str = "jules-archive-merged/jules-archive"
    max_body_bytes: int = 1024 * 1024
    deadline_seconds: float = 8.0
    bot_login: str | None = None
    edit_settle_seconds: float = 60.0  # an edit's run starts this much later; a newer edit replaces it
    auth: Any = None             # GitHubAuth in App mode: installation tokens per repository (agentic/github)
    verify: Any = True           # TLS trust for GitHub (Settings.tls_verify: a GHES behind a private CA)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():  # chunked bodies are counted as they arrive
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: str, reason: str, code: int = 200, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": status, "reason": reason, **extra}, status_code=code)


class Receiver:
    def __init__(self, config: ReceiverConfig, github: GitHubRest | None = None, prefect_client: Any = None) -> None:
        self.config = config
        self.github = github or GitHubRest(config.api_url, config.token, auth=config.auth, verify=config.verify)
        self.prefect = prefect_client  # opened in the lifespan when not given
        # Deliveries answered 2xx, newest last. Fast path only: after a restart the idempotency key in Prefect
        # is what turns a redelivery into a no-op.
        self.recent: OrderedDict[str, dict] = OrderedDict()

    def remember(self, delivery: str, answer: dict) -> None:
        self.recent[delivery] = answer
        self.recent.move_to_end(delivery)
        while len(self.recent) > RECENT_DELIVERIES:
            self.recent.popitem(last=False)

    async def handle(self, request: Request) -> JSONResponse:
        started = time.monotonic()
        try:
            body = await _read_body(request, self.config.max_body_bytes)
        except _TooLarge:
            return _answer("refused", f"body over {self.config.max_body_bytes} bytes", 413)
        try:
            event = verify_delivery(request.headers, body, self.config.secret)
        except InvalidSignature as exc:
            log.warning("refused a delivery with a bad signature from %s: %s",
                        request.client.host if request.client else "?", exc)
            return _answer("refused", "invalid or missing X-Hub-Signature-256", 401)
        except BadDelivery as exc:
            return _answer("refused", str(exc), 400)
        delivery, name = event.delivery_id, event.event
        if delivery in self.recent:
            return _answer("duplicate", f"delivery {delivery} was already handled", 200,
                           first=self.recent[delivery])
        try:
            async with asyncio.timeout(self.config.deadline_seconds):
                status, reason, code, extra = await self.process(name, event.data)
        except TimeoutError:
            status, reason, code, extra = ("error", f"not done within {self.config.deadline_seconds:g}s; "
                                           "a redelivery is safe", 503, {})
        except (GitHubUnavailable, PrefectUnavailable, DeploymentNotFound) as exc:
            status, reason, code, extra = "error", str(exc), 503, {}
        elapsed = time.monotonic() - started
        log.info("delivery %s %s%s: %s (%s) in %.0f ms", delivery, name,
                 f".{event.data.get('action')}" if isinstance(event.data, dict) and event.data.get("action") else "",
                 status, reason, elapsed * 1000)
        answer = {"status": status, "reason": reason, **extra}
        if 200 <= code < 300:
            self.remember(delivery, answer)
        return JSONResponse(answer, status_code=code)

    async def process(self, name: str, data: Any) -> tuple[str, str, int, dict]:
        if name == "ping":
            return "ok", "pong", 200, {}
        installed = _installation_of(data)
        if installed is not None:  # an App's delivery: its installation answers for the repositories it names
            for full_name in installed[1]:
                self.github.note_installation(full_name, installed[0])
        if name in ("installation", "installation_repositories"):
            action = data.get("action") if isinstance(data, dict) else None
            return "ok", f"{name}.{action}: {len(installed[1]) if installed else 0} repositories noted", 200, {}
        try:
            if name == "issue_comment":  # first: an answer to a run waiting on people resumes it
                own = self.config.bot_login or await self.github.self_login()
                if resumed := await route_comment(self.prefect, self.github, self.config.rules, data, own):
                    return resumed
            if name == "issues" and isinstance(data, dict) and data.get("action") == "edited":
                return await self._retriage(data)
            if name == "pull_request" and isinstance(data, dict) and data.get("action") == "closed":
                return await self._archive(data)
            if name in REVIEW_EVENTS and isinstance(data, dict) and data.get("action") == REVIEW_EVENTS[name]:
                return await self._review(name, data)
            if name == "pull_request" and isinstance(data, dict) and data.get("action") == "synchronize":
                return await self._reenter(name, data, f"push@{data.get('after')}", writer=None)
            decision = match(name, data, self.config.rules, self.config.bot_login)
        except ValidationError as exc:
            return "refused", f"{name} payload lacks fields: {exc.error_count()} errors", 400, {}
        if isinstance(decision, Ignored):
            return "ignored", decision.reason, 200, {}
        # Asked only for would-be triggers, so unrelated events cost no API call. A machine user (type User)
        # posting as us is caught here; our [bot] logins are already caught as bots.
        if self.config.bot_login is None:
            own = await self.github.self_login()
            if own and decision.sender.lower() == own.lower():
                return "ignored", f"sent by our own login {own}", 200, {}
        return await self._start(decision)

    async def _retriage(self, data: dict) -> tuple[str, str, int, dict]:
        """`issues.edited` on an issue whose last run ended "needs info" (the phase in its claim, which only our runs
        write): the reporter (or a maintainer) added the details, so the new text gets a new run (a new idempotency
        key) without anyone asking again."""
        parsed = IssuesEvent.model_validate(data)
        issue, sender, full_name = parsed.issue, parsed.sender, parsed.repository.full_name
        ruleset = self.config.rules.for_repo(full_name)
        own = self.config.bot_login or await self.github.self_login()
        if not ruleset.enabled or issue.pull_request is not None or issue.state != "open":
            return "ignored", "issues.edited is not a trigger here", 200, {}
        if not set(data.get("changes") or {}) & {"title", "body"}:
            return "ignored", "issues.edited without a new title or body", 200, {}
        if is_bot(sender.login, sender.type) or (own and sender.login.lower() == own.lower()):
            return "ignored", f"sender {sender.login} is a bot", 200, {}
        owner, _, repo = full_name.partition("/")
        phase = await self._phase(IssueRef(owner=owner, repo=repo, number=issue.number))
        if phase not in (Phase.NEEDS_INFO, Phase.HELD):  # what a new text may change: the triage's verdict
            return "ignored", f"issues.edited: issue #{issue.number} is not waiting for information", 200, {}
        trigger = Trigger(event="issues.edited", kind="edit", owner=owner, repo=repo, number=issue.number,
                          issue_url=issue.html_url, title=issue.title, body=issue.body or "", sender=sender.login,
                          rules=ruleset)
        author = str(((data.get("issue") or {}).get("user") or {}).get("login") or "")
        # The edit's time is in the key: A → B → A is three edits (the last needs a run), a redelivery is one.
        edited_at = str((data.get("issue") or {}).get("updated_at") or "")
        return await self._start(trigger, check_permission=sender.login.lower() != author.lower(),
                                 settle=self.config.edit_settle_seconds, key_suffix=f"~edit@{edited_at}")

    async def _phase(self, ref: IssueRef) -> Phase | None:
        """The lifecycle phase the issue's claim holds (None: never claimed). Prefect down: redeliver later."""
        try:
            claim = await claims.load(claims.claim_key(self.config.api_url, ref))
        except Exception as exc:  # noqa: BLE001 - Prefect raises httpx and HTTP-status errors here
            raise PrefectUnavailable(f"Prefect: {type(exc).__name__}: {exc}") from None
        return claim.phase if claim else None

    async def _archive(self, data: dict) -> tuple[str, str, int, dict]:
        """`pull_request.closed` (merged or not): Jules can keep pushing to a finished session's branch, so the
        archive sweep runs for that repository now (agentic/workflows/archive.py). It archives only sessions whose
        claim names a pull request that is no longer open, so any closed PR may start it: the sweep decides."""
        full_name = str((data.get("repository") or {}).get("full_name") or "")
        number = (data.get("pull_request") or {}).get("number")
        if "/" not in full_name or not isinstance(number, int):
            return "refused", "pull_request payload lacks repository.full_name or pull_request.number", 400, {}
        if not self.config.rules.for_repo(full_name).enabled:
            return "ignored", f"{full_name} is not enabled in the trigger rules", 200, {}
        key = f"archive:{self.config.api_url.rstrip('/')}/{full_name.lower()}#pull/{number}"
        try:
            launched = await launch_deployment(self.prefect, self.config.archive_deployment,
                                               parameters={"repo": full_name}, tags=["github", "trigger:pull_request",
                                                                                      f"repo:{full_name.lower()}"],
                                               key=key)
        except DeploymentNotFound as exc:  # an older deploy without the sweep: nothing to redeliver for
            log.warning("pull_request.closed on %s#%d: %s", full_name, number, exc)
            return "ignored", str(exc), 200, {}
        extra = {"flow_run_id": launched.flow_run_id, "flow_run_name": launched.flow_run_name, "idempotency_key": key,
                 "trigger": "archive"}
        if launched.created:
            return "accepted", f"pull request #{number} closed: archive sweep started", 202, extra
        return "duplicate", "the archive sweep for this pull request exists already", 200, extra

    async def _review(self, name: str, data: dict) -> tuple[str, str, int, dict]:
        """A review (or a diff comment, which GitHub wraps in a review) by a writer on a pull request that closes an
        issue: the issue's run re-enters (a finished one relays the review, a live one's CI watch already does), one
        run per review whatever the deliveries: both events of one diff comment and every redelivery share the key.
        The flow decides whether the PR is its session's and sends each review once (agentic/workflows/reviews.py)."""
        review_id = (data.get("review") or {}).get("id") or (data.get("comment") or {}).get("pull_request_review_id")
        if not isinstance(review_id, int):
            return "refused", f"{name} payload lacks the review id", 400, {}
        sender = data.get("sender") or {}
        login = str(sender.get("login") or "")
        own = self.config.bot_login or await self.github.self_login()
        if is_bot(login, str(sender.get("type") or "")) or (own and login.lower() == own.lower()):
            return "ignored", f"{name} by {login}, a bot", 200, {}
        return await self._reenter(name, data, f"review@{review_id}", writer=login)

    async def _reenter(self, name: str, data: dict, what: str, *, writer: str | None) -> tuple[str, str, int, dict]:
        """Re-enter the run of the issue the pull request closes (`Fixes #N`), key `<api>/<repo>#<n>~<what>`: a
        review (`writer` must have write access) or a push to the PR's branch (`pull_request.synchronize`: Jules'
        own commits after COMPLETED reach the status comment of a run that already ended)."""
        full_name = str((data.get("repository") or {}).get("full_name") or "")
        pull = data.get("pull_request") or {}
        if "/" not in full_name or not isinstance(pull.get("number"), int):
            return "refused", f"{name} payload lacks repository.full_name or pull_request.number", 400, {}
        if not self.config.rules.for_repo(full_name).enabled:
            return "ignored", f"{full_name} is not enabled in the trigger rules", 200, {}
        closes = _CLOSES.search(str(pull.get("body") or ""))
        if not closes:
            return "ignored", f"pull request #{pull['number']} closes no issue", 200, {}
        owner, _, repo = full_name.partition("/")
        number = int(closes[1])
        if writer is not None and not await self.github.can_write(IssueRef(owner=owner, repo=repo, number=number),
                                                                  writer):
            return "ignored", f"{name} by {writer}, who has no write access", 200, {}
        issue_url = str(pull.get("html_url") or "").rsplit("/pull/", 1)[0] + f"/issues/{number}"
        key = f"{self.config.api_url.rstrip('/')}/{full_name.lower()}#{number}~{what}"
        launched = await launch_deployment(self.prefect, self.config.deployment,
                                           parameters={"github_issue_url": issue_url},
                                           tags=["github", f"trigger:{name}", f"repo:{full_name.lower()}",
                                                 f"issue:{full_name.lower()}#{number}"], key=key)
        kind = what.split("@", 1)[0]
        extra = {"flow_run_id": launched.flow_run_id, "flow_run_name": launched.flow_run_name, "idempotency_key": key,
                 "trigger": kind}
        if launched.created:
            return "accepted", f"{what} on #{pull['number']}: issue #{number}'s run re-enters", 202, extra
        return "duplicate", f"{what} was already handed to issue #{number}'s run", 200, extra

    async def _start(self, trigger: Trigger, *, check_permission: bool = True, settle: float = 0,
                     key_suffix: str = "") -> tuple[str, str, int, dict]:
        # Overruling the triage is a maintainer's call, whatever the repository lets start a run.
        need = trigger.rules.min_permission
        if trigger.kind == "go" and need == "read":
            need = "write"
        permission = await self.github.permission(trigger.owner, trigger.repo, trigger.sender) \
            if check_permission else need
        if PERMISSION_RANK.get(permission, 0) < PERMISSION_RANK[need]:
            return "ignored", f"sender {trigger.sender} has {permission} access; {need} is needed", 200, {}
        try:
            await self.github.add_reaction(IssueRef(owner=trigger.owner, repo=trigger.repo, number=trigger.number),
                                           "eyes")
        except GitHubUnavailable as exc:
            log.warning("no 👀 on %s#%d (the run starts anyway): %s", trigger.full_name, trigger.number, exc)
        # `/jules go` is its own run of the same text: the run that held or asked for information already has the
        # plain key (a redelivered or repeated `/jules go` still maps to one run).
        key = idempotency_key(self.config.api_url, trigger.owner, trigger.repo, trigger.number, trigger.title,
                              trigger.body) + ("~go" if trigger.kind == "go" else "") + key_suffix
        launched = await launch(self.prefect, self.config.deployment, trigger, key, start_in=settle)
        extra = {"flow_run_id": launched.flow_run_id, "flow_run_name": launched.flow_run_name,
                 "idempotency_key": key, "trigger": trigger.kind}
        if settle:  # a burst of edits: the newest one's run replaces the ones still waiting to start
            extra |= {"starts_in_seconds": settle, "superseded": await supersede_pending(self.prefect, trigger,
                                                                                         launched)}
        if launched.created:
            return "accepted", f"{trigger.event} by {trigger.sender}: run started", 202, extra
        return "duplicate", "a run for this issue text exists already", 200, extra


def _installation_of(data: Any) -> tuple[int, list[str]] | None:
    """(installation id, repositories) of an App's delivery: `installation.id` with the delivery's repository, or
    the repositories an `installation` / `installation_repositories` event lists (added ones)."""
    if not isinstance(data, dict) or not isinstance(data.get("installation"), dict):
        return None
    installation = data["installation"].get("id")
    if not isinstance(installation, int):
        return None
    names = [str((data.get("repository") or {}).get("full_name") or "")]
    for key in ("repositories", "repositories_added"):
        names += [str(r.get("full_name") or "") for r in data.get(key) or [] if isinstance(r, dict)]
    return installation, [n for n in names if "/" in n]


def create_app(config: ReceiverConfig, *, github: GitHubRest | None = None, prefect_client: Any = None) -> Starlette:
    receiver = Receiver(config, github, prefect_client)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_client = None
        if receiver.prefect is None:
            from prefect.client.orchestration import get_client

            own_client = get_client()
            receiver.prefect = await own_client.__aenter__()
        try:
            yield
        finally:
            if own_client is not None:
                await own_client.__aexit__(None, None, None)
            await receiver.github.aclose()

    async def webhooks(request: Request) -> JSONResponse:
        return await receiver.handle(request)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "signatures": "checked" if config.secret else "NOT CHECKED"})

    app = Starlette(routes=[Route(WEBHOOK_PATH, webhooks, methods=["POST"]), Route("/health", health)],
                    lifespan=lifespan)
    app.state.receiver = receiver
    return app


UNSIGNED_WARNING = ("WEBHOOK SIGNATURES ARE NOT CHECKED: GITHUB_WEBHOOK_SECRET is unset and unsigned deliveries were "
                    "allowed explicitly. Anyone who can reach this port can start flow runs. Local use only.")


def config_from_settings(settings: Any, *, rules_path: Any = None, allow_unsigned: bool = False) -> ReceiverConfig:
    """The receiver's configuration from `Settings`; ConfigError when it must not start (no secret, bad rules)."""
    from agentic.errors import ConfigError
    from agentic.triggers.rules import load_rules

    secret = settings.github_webhook_secret.get_secret_value() if settings.github_webhook_secret else None
    if secret is None and not (allow_unsigned or settings.triggers_allow_unsigned):
        raise ConfigError("GITHUB_WEBHOOK_SECRET is not set: the receiver refuses unsigned deliveries. Set it to the "
                          "webhook's secret (agentic/.env), or for local use only pass --insecure-no-signature "
                          "(TRIGGERS_ALLOW_UNSIGNED=true)")
    if secret is None:
        log.warning(UNSIGNED_WARNING)
    rules = load_rules(rules_path or settings.triggers_rules_path)
    auth = GitHubAuth.from_settings(settings)
    # An App speaks as its installations; a PAT also in the environment is not used (nor kept) by the receiver.
    token = settings.github_token.get_secret_value() if settings.github_token and not auth.is_app else None
    if token is None and not auth.is_app:
        log.warning("GITHUB_TOKEN is not set: permission checks will fail and every trigger answers 503")
    return ReceiverConfig(api_url=settings.github_api_url, token=token, secret=secret, rules=rules, auth=auth,
                          deployment=settings.triggers_deployment,
                          archive_deployment=settings.triggers_archive_deployment,
                          max_body_bytes=settings.triggers_max_body_bytes,
                          deadline_seconds=settings.triggers_deadline_seconds, bot_login=settings.triggers_bot_login,
                          edit_settle_seconds=settings.triggers_edit_settle_seconds, verify=settings.tls_verify)
