"""The ONE status comment on the issue, rendered from the run's current view and edited in place.

Every text field can carry model or Jules output (triage reasons and questions in `details`, plan step titles, Jules'
question and progress messages), so `render()` passes each through `sanitize.for_github`: capped, `@mentions` and
cross-repo references neutralised (logins in `mentions` stay live), HTML escaped so no text can close the
`<details>` block or open a comment. Links and ids come from APIs, and are shown only when they look like what they
claim to be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agentic.agent.sanitize import for_github
from agentic.lifecycle.phases import Phase

DETAIL_CHARS = 1_000
PLAN_STEP_CHARS = 200
QUESTION_CHARS = 3_000
LATEST_CHARS = 300
MAX_DETAILS = 40
MAX_PLAN_STEPS = 30
COMMENT_CHARS = 60_000  # GitHub refuses comments over 65,536 characters
_SAFE_URL = re.compile(r"https?://[^\s<>()\[\]\"'`]+")
_SAFE_ID = re.compile(r"[\w.-]{1,100}")

HEADLINES: dict[Phase, str] = {
    Phase.TRIAGE: "🔎 Reading the issue",
    Phase.QUEUED: "⏳ Waiting for Jules capacity",
    Phase.SESSION_QUEUED: "🚀 Jules session queued",
    Phase.PLANNING: "🧭 Jules is planning",
    Phase.AWAITING_PLAN_APPROVAL: "📝 Plan ready: approval needed",
    Phase.IN_PROGRESS: "🛠️ Jules is working",
    Phase.AWAITING_USER_FEEDBACK: "❓ Jules has a question",
    Phase.PAUSED: "⏸️ Jules session paused",
    Phase.COMPLETED: "✅ Pull request ready",
    Phase.CI_RUNNING: "🧪 Pull request open: waiting for CI",
    Phase.CI_FIXING: "🔧 CI failed: Jules is fixing it",
    Phase.CI_PASSED: "✅ Pull request ready: CI passed",
    Phase.CI_FAILED: "❌ Pull request open: CI still failing",
    Phase.FAILED: "❌ Jules could not finish",
    Phase.NEEDS_INFO: "❔ More information needed",
    Phase.REJECTED: "🚫 Not something Jules should do",
    Phase.HELD: "✋ Waiting for a maintainer's `/jules go`",
    Phase.DUPLICATE: "🔁 Already being handled",
    Phase.TIMED_OUT: "⌛ Timed out",
    Phase.STUCK: "🧊 Jules went silent",
    Phase.NOT_STARTED: "❌ Jules did not start a session",
    Phase.ERROR: "❌ This run stopped on an error",
}


AFTER_PR_MARKER = "<!-- jules-agent-after-pr -->"


def after_pr_section(lines: list[str]) -> list[str]:
    """Reviews relayed and commits pushed after COMPLETED (review_relay.py); last in the comment, so a re-entry
    that has no view of the run can replace it alone (`splice_after_pr`)."""
    if not lines:
        return []
    shown = [for_github(line, DETAIL_CHARS) for line in lines[:MAX_DETAILS]]
    return ["", AFTER_PR_MARKER, "**After the pull request**", "", *shown]


def splice_after_pr(body: str, lines: list[str]) -> str:
    """`body` (a rendered status comment) with its "After the pull request" section replaced by `lines`."""
    head = body.split("\n" + AFTER_PR_MARKER, 1)[0].rstrip("\n")
    return "\n".join([head, *after_pr_section(lines)]).strip() + "\n"


def status_marker(issue_key: str) -> str:
    """Hidden first line that lets a resumed run find the status comment instead of posting a second one."""
    return f"<!-- jules-agent-status {issue_key} -->"


@dataclass
class StatusView:
    issue_key: str
    phase: Phase = Phase.TRIAGE
    prefect_run_url: str | None = None
    session_id: str | None = None
    session_url: str | None = None
    plan: list[str] = field(default_factory=list)
    latest: str | None = None
    question: str | None = None
    pull_request_url: str | None = None
    details: list[str] = field(default_factory=list)
    usage_lines: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # logins the comment may ping (e.g. the issue author)
    after_pr: list[str] = field(default_factory=list)  # reviews and commits after COMPLETED (review_relay.py)

    def _text(self, text: str, limit: int, *, multiline: bool = False) -> str:
        return for_github(text, limit, allow_mentions=self.mentions, multiline=multiline)

    def render(self) -> str:
        headline = HEADLINES[Phase(self.phase)]
        lines = [status_marker(self.issue_key), f"### {headline}", ""]
        links = []
        session_id = self.session_id if self.session_id and _SAFE_ID.fullmatch(self.session_id) else "link"
        if self.session_url and _SAFE_URL.fullmatch(self.session_url):
            links.append(f"Jules session [{session_id}]({self.session_url})")
        if self.prefect_run_url and _SAFE_URL.fullmatch(self.prefect_run_url):
            links.append(f"Prefect run [{self.prefect_run_url.rsplit('/', 1)[-1][:8]}]({self.prefect_run_url})")
        if self.pull_request_url and _SAFE_URL.fullmatch(self.pull_request_url):
            links.append(f"Pull request {self.pull_request_url}")
        if links:
            lines += [" · ".join(links), ""]
        details = self.details[:MAX_DETAILS]
        lines += [self._text(line, DETAIL_CHARS) for line in details]
        if len(self.details) > MAX_DETAILS:
            lines.append(f"_… {len(self.details) - MAX_DETAILS} more lines omitted_")
        if self.plan:
            steps = [self._text(step, PLAN_STEP_CHARS) for step in self.plan[:MAX_PLAN_STEPS]]
            lines += ["", "**Plan**", *[f"{i}. {step}" for i, step in enumerate(steps, 1)]]
            if len(self.plan) > MAX_PLAN_STEPS:
                lines.append(f"_… {len(self.plan) - MAX_PLAN_STEPS} more steps omitted_")
            if self.phase == Phase.AWAITING_PLAN_APPROVAL:
                lines += ["", "Reply `/approve` to start, or `/revise <what to change>` (write access needed). "
                          "The plan can also be approved from the paused Prefect run."]
        if self.question and (question := self._text(self.question, QUESTION_CHARS, multiline=True)):
            # Every line quoted: a blank line in the question cannot end the quote and continue as comment markup.
            lines += ["", *[f"> {line}" if line else ">" for line in question.split("\n")], "",
                      "Reply in a comment on this issue; the reply goes to Jules."]
        if self.latest and (latest := self._text(self.latest, LATEST_CHARS)):
            lines += ["", f"_Latest:_ {latest}"]
        if self.usage_lines:
            lines += ["", "<details><summary>Usage and cost</summary>", "",
                      *[line.replace("<", "&lt;") for line in self.usage_lines], "", "</details>"]
        lines += after_pr_section(self.after_pr)
        body = "\n".join(lines).strip() + "\n"
        return body if len(body) <= COMMENT_CHARS else body[:COMMENT_CHARS - 40] + "\n\n_… comment shortened_\n"
