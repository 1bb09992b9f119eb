"""The ONE status comment on the issue, rendered from the run's current view and edited in place."""

from __future__ import annotations

from dataclasses import dataclass, field

HEADLINES = {
    "triage": "🔎 Reading the issue",
    "queued": "⏳ Waiting for Jules capacity",
    "QUEUED": "🚀 Jules session queued",
    "PLANNING": "🧭 Jules is planning",
    "AWAITING_PLAN_APPROVAL": "📝 Plan ready: approval needed",
    "IN_PROGRESS": "🛠️ Jules is working",
    "AWAITING_USER_FEEDBACK": "❓ Jules has a question",
    "PAUSED": "⏸️ Jules session paused",
    "COMPLETED": "✅ Pull request ready",
    "FAILED": "❌ Jules could not finish",
    "needs_info": "❔ More information needed",
    "rejected": "🚫 Not something Jules should do",
    "timed_out": "⌛ Timed out",
    "stuck": "🧊 Jules went silent",
}


def status_marker(issue_key: str) -> str:
    """Hidden first line that lets a resumed run find the status comment instead of posting a second one."""
    return f"<!-- jules-agent-status {issue_key} -->"


@dataclass
class StatusView:
    issue_key: str
    phase: str = "triage"
    prefect_run_url: str | None = None
    session_id: str | None = None
    session_url: str | None = None
    plan: list[str] = field(default_factory=list)
    latest: str | None = None
    question: str | None = None
    pull_request_url: str | None = None
    details: list[str] = field(default_factory=list)
    usage_lines: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [status_marker(self.issue_key), f"### {HEADLINES.get(self.phase, self.phase)}", ""]
        links = []
        if self.session_url:
            links.append(f"Jules session [{self.session_id}]({self.session_url})")
        if self.prefect_run_url:
            links.append(f"Prefect run [{self.prefect_run_url.rsplit('/', 1)[-1][:8]}]({self.prefect_run_url})")
        if self.pull_request_url:
            links.append(f"Pull request {self.pull_request_url}")
        if links:
            lines += [" · ".join(links), ""]
        lines += self.details
        if self.plan:
            lines += ["", "**Plan**", *[f"{i}. {step}" for i, step in enumerate(self.plan, 1)]]
            if self.phase == "AWAITING_PLAN_APPROVAL":
                lines += ["", "Reply `/approve` to start, or `/revise <what to change>` (write access needed). "
                          "The plan can also be approved from the paused Prefect run."]
        if self.question:
            lines += ["", f"> {self.question}", "", "Reply in a comment on this issue; the reply goes to Jules."]
        if self.latest:
            lines += ["", f"_Latest:_ {self.latest}"]
        if self.usage_lines:
            lines += ["", "<details><summary>Usage and cost</summary>", "", *self.usage_lines, "", "</details>"]
        return "\n".join(lines).strip() + "\n"
