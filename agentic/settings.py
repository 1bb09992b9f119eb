"""Every setting the product reads, in one place.

Values come from the environment, then `agentic/.env` (the seed's file), then the defaults below. Every other module
receives a `Settings` object (or values taken from one) instead of reading `os.environ` itself, so tests override
settings by constructing them, not by poking the environment.

Env var names are the seed's (`GITHUB_TOKEN`, `MCP_SERVER_URL`, `LLM_MODEL`, ...) so existing `.env` files keep working.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
ENV_FILE = PACKAGE_DIR / ".env"
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

    # --- where things are -------------------------------------------------------------------------------------
    mcp_server_url: str = Field(default="http://localhost:3000", description="Base URL of the MCP hub.")
    prefect_api_url: str = "http://localhost:4200/api"
    jules_api_url: str = "https://jules.googleapis.com/v1alpha"
    github_api_url: str = "https://api.github.com"
    github_web_url: str = "https://github.com"
    jules_web_url: str = "https://jules.google.com"

    # --- the model -------------------------------------------------------------------------------------------
    llm_model: str = DEFAULT_LLM_MODEL

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
    llm_total_tokens_limit: int = 200_000
    max_issue_body_chars: int = Field(default=20_000, description="Issue body kept for the model and Jules: head "
                                      "and tail, with a visible note of what was omitted.")

    # --- the native stack -------------------------------------------------------------------------------------
    state_dir: Path = PROJECT_DIR / ".ibt"

    @field_validator("google_api_key", "openai_api_key", "github_token", "jules_api_key", "mcp_hub_token",
                     mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        # `.env.example` copied as is leaves `GITHUB_TOKEN=`: that means "not set", not an empty token.
        return None if value == "" else value

    @field_validator("llm_model")
    @classmethod
    def _accept_seed_model_names(cls, value: str) -> str:
        return normalize_model_name(value)

    @property
    def hub_mcp_url(self) -> str:
        """Streamable-HTTP MCP endpoint exposing every enabled server's tools (mcphub's `/mcp`)."""
        return self.mcp_server_url.rstrip("/") + "/mcp"


def get_settings(**overrides: object) -> Settings:
    """Load settings from env + `agentic/.env`; keyword overrides win (tests and CLIs use them)."""
    return Settings(**overrides)  # type: ignore[arg-type]
