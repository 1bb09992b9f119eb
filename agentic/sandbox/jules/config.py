"""Configuration of the Jules simulator: keys, connected repositories, quotas, clock, scenarios and faults.

One pydantic model, loadable from YAML (`--config FILE.yaml`); every key has a default so an empty file works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentic.errors import ConfigError

ScriptName = Literal["happy", "fail", "question", "silent", "slow"]
SCRIPT_NAMES: tuple[str, ...] = ("happy", "fail", "question", "silent", "slow")
DEFAULT_API_KEY = "sandbox-jules-key"
DEMO_CONFIG = Path(__file__).with_name("demo.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Model):
    """A repository the Jules GitHub app is 'installed' on."""

    owner: str
    repo: str
    default_branch: str = "main"
    branches: list[str] = Field(default_factory=list, description="Defaults to [default_branch].")
    private: bool = False
    reactive: bool = Field(default=False, description="Jules' Reactive Mode on this repository: a review comment "
                                                      "mentioning @jules on a PR Jules opened gets 👀, a commit and a "
                                                      "PR comment, with no API message.")

    @property
    def name(self) -> str:
        return f"sources/github/{self.owner}/{self.repo}"


Profile = Literal["documented", "live"]
PROFILES: tuple[str, ...] = ("documented", "live")
OutputsMode = Literal["full", "late", "empty"]
Share = Literal["none", "some", "all"]


class LiveConfig(_Model):
    """Knobs of the `live` profile (ignored under `documented`): how the live API behaves beyond its docs
    (research notes jules-api.md §9). Every behaviour is on by default and can be turned off on its own.
    "some" picks sessions deterministically from the session id and `seed` (same ids, same picks)."""

    plan_approval_carries_forward: bool = Field(
        default=True, description="Feedback after an approval gets a revised planGenerated and the session goes on "
                                  "IN_PROGRESS, with no second AWAITING_PLAN_APPROVAL.")
    variant_states: Share = Field(
        default="some", description="Sessions that show PENDING (before QUEUED), RUNNING (for some IN_PROGRESS "
                                    "reads) and AWAITING_USER_INPUT (for AWAITING_USER_FEEDBACK) on the wire.")
    running_share: float = Field(default=0.5, ge=0, le=1,
                                 description="Share of a variant session's IN_PROGRESS reads answered RUNNING.")
    outputs: Literal["full", "late", "empty", "mixed"] = Field(
        default="mixed", description="full: outputs as documented; late: empty on COMPLETED, filled "
                                     "outputs_delay_seconds later; empty: never (diff only in activities, the PR "
                                     "only on GitHub); mixed: one of the three per session.")
    outputs_delay_seconds: float = Field(default=2.0, ge=0)
    activities_not_found_seconds: float = Field(
        default=1.5, ge=0, description="listActivities answers 404 NOT_FOUND this long after createSession.")
    shared_create_time: bool = Field(
        default=True, description="planApproved (automatic) and sessionCompleted reuse the createTime of the "
                                  "activity before them, although they appear later.")
    after_completion_seconds: float | None = Field(
        default=1.0, ge=0, description="One more progressUpdated (updateTime moves) this long after COMPLETED; "
                                       "None: none.")
    repeating_page_tokens: bool = Field(
        default=True, description="listActivities' last page still carries a nextPageToken, and that token answers "
                                  "an empty page with the same nextPageToken again, for ever.")
    create_burst_limit: int | None = Field(
        default=5, ge=1, description="More createSession calls of one key in flight together than this: all but "
                                     "the first `create_burst_kept` answer 400 INVALID_ARGUMENT \"Could not get "
                                     "source\" (jules-sdk#20: 2 and 5 parallel creates succeed, 10 give 8 "
                                     "failures). None: never.")
    create_burst_kept: int = Field(default=2, ge=0, description="Creates of an overloaded burst that still succeed.")
    create_seconds: float = Field(
        default=0.2, ge=0, description="How long a createSession is in flight (creates overlapping in this time "
                                       "are one burst).")


class QuotaConfig(_Model):
    """Per-API-key session quotas (Google AI Pro plan: 15 concurrent, 100 a day). None = unlimited."""

    max_concurrent_sessions: int | None = 15
    max_sessions_per_day: int | None = 100
    day_seconds: float | None = Field(default=None, gt=0, description=(
        "Length of the quota day in seconds, counted from the simulator's start (benchmarks run a 'day' in "
        "seconds); None: the UTC calendar day."))


ClosingRefs = Literal["copy", "drop"]


class ScenarioRule(_Model):
    """Sessions whose prompt or title matches `match` (Python regex, searched) run `script` (None: the default
    script) with these options; a None option keeps the config's value."""

    match: str
    script: ScriptName | None = None
    reason: str | None = Field(default=None, description="FAILED reason for the `fail` script.")
    pr_closing_refs: ClosingRefs | None = Field(
        default=None, description="copy: the PR body repeats the prompt's `Fixes #N` lines; drop: it does not.")
    outputs: OutputsMode | None = Field(default=None, description="live profile: how `outputs` reports the result.")
    reactive: bool | None = Field(default=None, description="Reactive Mode for these sessions (None: the source's).")

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import re

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"scenario match {value!r} is not a valid regex: {exc}") from None
        return value


FaultKind = Literal["error", "latency", "drop", "malformed", "source_busy"]


class FaultRule(_Model):
    """One injected fault. `count` requests get it (None = every request); `route` narrows it to an operationId
    (e.g. `createSession`) or an `METHOD /path` prefix (e.g. `GET /sessions`). `phase: after` serves the request
    first (a created session exists, a message is recorded) and then loses the answer: the case a client's
    lost-answer recovery is for. `source_busy` answers 400 INVALID_ARGUMENT "Could not get source", live Jules'
    answer to parallel creates."""

    kind: FaultKind
    count: int | None = 1
    route: str | None = None
    status: Literal[429, 500, 503] = 503
    seconds: float = 0.0
    phase: Literal["before", "after"] = "before"


class JulesSimConfig(_Model):
    """Everything the simulator can be told. Defaults give a working sandbox on port 3102."""

    api_keys: list[str] = Field(default_factory=lambda: [DEFAULT_API_KEY])
    sources: list[SourceConfig] = Field(default_factory=list)
    quota: QuotaConfig = Field(default_factory=QuotaConfig)
    tick_seconds: float = Field(default=1.0, gt=0, description="Simulated time between two session steps.")
    default_script: ScriptName = "happy"
    scenarios: list[ScenarioRule] = Field(default_factory=list)
    faults: list[FaultRule] = Field(default_factory=list)
    github_url: str = "http://127.0.0.1:3101"
    github_token: str | None = Field(default=None, description="Token for the GitHub API when opening PRs.")
    github_timeout_seconds: float = 10.0
    change_path: str = Field(default="jules/session-{session_id}.md",
                             description="File Jules 'writes' in its change; {session_id} is substituted.")
    web_url: str = "https://jules.google.com"
    seed: int = Field(default=0, description="Seed of the id generator (same seed, same ids).")
    profile: Profile = Field(default="documented",
                             description="documented: the API as its reference describes it; live: as observed "
                                         "(see `live`). Env JULES_SIM_PROFILE / --profile override the file.")
    live: LiveConfig = Field(default_factory=LiveConfig)
    pr_closing_refs: ClosingRefs = Field(
        default="copy", description="copy: PR bodies repeat the prompt's `Fixes #N` lines; drop: they do not "
                                    "(the client must add the closing reference itself).")

    def source(self, name: str) -> SourceConfig | None:
        for source in self.sources:
            if source.name.lower() == name.lower():
                return source
        return None


def load_config(path: Path | None = None, **overrides: object) -> JulesSimConfig:
    """Read a YAML config (keys as in `JulesSimConfig`); keyword overrides win (the CLI's flags)."""
    data: dict = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read Jules simulator config {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the Jules simulator config must be a mapping")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return JulesSimConfig.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"invalid Jules simulator config{f' {path}' if path else ''}: {exc}") from None
