"""Trigger rules (one YAML file, per-repository overrides) and the pure decision: does this event start a run?

`match(event, payload, rules, self_login)` reads only the payload: the sender's permission (an API call) is checked
afterwards by the app, so everything here is testable without GitHub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentic.agent.automation import Level
from agentic.errors import ConfigError
from agentic.triggers.payloads import IssueCommentEvent, IssuesEvent

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.yaml")
PERMISSION_RANK = {"none": 0, "read": 1, "write": 2, "admin": 3}
# What GitHub's `permission` field can say: triage maps to read, maintain to write.
Permission = Literal["read", "write", "admin"]
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\[bot\])?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleOverride(_Strict):
    """A repository's differences from the defaults; unset fields inherit."""

    enabled: bool | None = None
    label: str | None = None
    mention: str | None = None
    command: str | None = None
    assignee: str | None = None
    min_permission: Permission | None = None
    allow_bots: list[str] | None = None
    automation: Level | None = None
    jules_reactive: bool | None = None

    @field_validator("mention", "assignee")
    @classmethod
    def _login(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.removeprefix("@")
            if not _LOGIN.match(value):
                raise ValueError(f"not a GitHub login: {value!r}")
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"/[\w-]+", value):
            raise ValueError(f"a command is a slash and a word, like /jules; got {value!r}")
        return value


class RuleSet(RuleOverride):
    """The effective rules of one repository."""

    enabled: bool = True
    label: str | None = "jules"
    mention: str | None = "jules"
    command: str | None = "/jules"
    assignee: str | None = None
    min_permission: Permission = "write"
    allow_bots: list[str] = Field(default_factory=list)
    automation: Level = "cautious"  # how much the triage decides alone (agentic/agent/automation.py)
    # Jules' Reactive Mode is on for the repository: Jules takes @mention review comments itself, the product only
    # records them (agentic/workflows/reviews.py).
    jules_reactive: bool = False


class Rules(_Strict):
    defaults: RuleSet = Field(default_factory=RuleSet)
    repositories: dict[str, RuleOverride] = Field(default_factory=dict)

    @field_validator("repositories")
    @classmethod
    def _repo_keys(cls, value: dict[str, RuleOverride]) -> dict[str, RuleOverride]:
        out = {}
        for key, override in value.items():
            owner, _, name = key.partition("/")
            if not owner or not name or "/" in name:
                raise ValueError(f"repository keys are owner/name, got {key!r}")
            out[key.lower()] = override  # GitHub names are case-insensitive
        return out

    def for_repo(self, full_name: str) -> RuleSet:
        override = self.repositories.get(full_name.lower())
        if override is None:
            return self.defaults
        return self.defaults.model_copy(update=override.model_dump(exclude_unset=True))


def load_rules(path: Path | None = None) -> Rules:
    """The rules file, validated; any problem is one ConfigError line naming the file."""
    path = path or DEFAULT_RULES_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Rules.model_validate(data)
    except OSError as exc:
        raise ConfigError(f"cannot read the trigger rules {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"trigger rules {path}: not YAML: {getattr(exc, 'problem', None) or exc}{where}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise ConfigError(f"trigger rules {path}: {problems}") from None


# --- the decision -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trigger:
    event: str          # "issues.labeled", "issue_comment.created", "issues.assigned"
    kind: str           # label | mention | command | go (`/jules go`: dispatch whatever the triage) | assignment
    owner: str
    repo: str
    number: int
    issue_url: str      # the payload's html_url: what the flow is given
    title: str
    body: str
    sender: str
    rules: RuleSet

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"


@dataclass(frozen=True)
class Ignored:
    reason: str


TRIGGER_ACTIONS = {"issues": {"labeled", "assigned"}, "issue_comment": {"created"}}


def is_bot(login: str, user_type: str) -> bool:
    return user_type == "Bot" or login.lower().endswith("[bot]")


def _visible_text(markdown: str) -> str:
    """The comment without fenced code and quoted lines: quoting an earlier `/jules` must not trigger again."""
    markdown = re.sub(r"(?ms)^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1[`~]*[ \t]*$", "", markdown)
    markdown = re.sub(r"`[^`\n]*`", "", markdown)
    return "\n".join(line for line in markdown.splitlines() if not line.lstrip().startswith(">"))


def mentions(text: str, handle: str) -> bool:
    # GitHub logins are letters, digits and hyphens: "@julesfan" and "me@jules.dev" are not mentions of @jules.
    return re.search(rf"(?<![\w@./-])@{re.escape(handle)}(?![\w-])", text, re.IGNORECASE) is not None


def has_command(text: str, command: str) -> bool:
    return re.search(rf"(?m)^[ \t]*{re.escape(command)}(?![\w-])", text, re.IGNORECASE) is not None


def has_go(text: str, command: str) -> bool:
    """A `/jules go` line: a maintainer overrules the triage (agentic/agent/automation.py)."""
    return re.search(rf"(?m)^[ \t]*{re.escape(command)}[ \t]+go[ \t]*$", text, re.IGNORECASE) is not None


def match(event: str, payload: dict, rules: Rules, self_login: str | None = None) -> Trigger | Ignored:
    """Trigger when this delivery asks for a run under `rules`, else Ignored with a short reason.

    Raises pydantic.ValidationError for a payload that lacks what the event's schema promises."""
    action = payload.get("action") if isinstance(payload, dict) else None
    name = f"{event}.{action}" if action else event
    if action not in TRIGGER_ACTIONS.get(event, ()):
        return Ignored(f"{name} is not a trigger")
    parsed = IssuesEvent.model_validate(payload) if event == "issues" else IssueCommentEvent.model_validate(payload)
    repository, issue, sender = parsed.repository, parsed.issue, parsed.sender
    ruleset = rules.for_repo(repository.full_name)
    if not ruleset.enabled:
        return Ignored(f"triggers are off for {repository.full_name}")
    if issue.pull_request is not None:
        return Ignored("conversations on pull requests are not triggers")
    if issue.state != "open":
        return Ignored(f"issue #{issue.number} is {issue.state}")
    if self_login and sender.login.lower() == self_login.lower():
        return Ignored(f"sent by our own login {sender.login}")
    if is_bot(sender.login, sender.type) and sender.login.lower() not in {b.lower() for b in ruleset.allow_bots}:
        return Ignored(f"sender {sender.login} is a bot")

    kind: str | None = None
    if name == "issues.labeled":
        label = parsed.label.name if parsed.label else ""
        if not ruleset.label or label.lower() != ruleset.label.lower():
            return Ignored(f"label {label!r} is not the trigger label {ruleset.label!r}")
        kind = "label"
    elif name == "issues.assigned":
        assignee = parsed.assignee.login if parsed.assignee else ""
        if not ruleset.assignee or assignee.lower() != ruleset.assignee.lower():
            return Ignored(f"assignee {assignee!r} is not the trigger assignee {ruleset.assignee!r}")
        kind = "assignment"
    else:
        text = _visible_text(parsed.comment.body or "")
        if ruleset.command and has_go(text, ruleset.command):
            kind = "go"
        elif ruleset.command and has_command(text, ruleset.command):
            kind = "command"
        elif ruleset.mention and mentions(text, ruleset.mention):
            kind = "mention"
        else:
            wanted = " or ".join(x for x in (f"@{ruleset.mention}" if ruleset.mention else "",
                                             f"a {ruleset.command} line" if ruleset.command else "") if x)
            return Ignored(f"the comment has no {wanted or 'trigger (mention and command are off)'}")
    owner, _, repo = repository.full_name.partition("/")
    return Trigger(event=name, kind=kind, owner=owner, repo=repo, number=issue.number, issue_url=issue.html_url,
                   title=issue.title, body=issue.body or "", sender=sender.login, rules=ruleset)
