"""What the agent decides (structured output) and how a decision becomes Jules' prompt."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Brief(BaseModel):
    """Jules' task, written from the issue: what to change, why, and how to know it is done."""

    title: str = Field(description="Short imperative title for the Jules session and pull request.")
    goal: str = Field(description="One paragraph: the change to make and why.")
    context: str = Field(description="Relevant facts from the issue: behaviour seen, expected, reproduction.")
    acceptance_criteria: list[str] = Field(description="Checkable conditions taken from the issue.")
    files_or_areas: list[str] = Field(default_factory=list, description="Files, modules or areas the issue names.")


class Triage(BaseModel):
    """The agent's verdict on an issue, before any Jules quota is spent."""

    decision: Literal["actionable", "needs_info", "reject"]
    reasons: list[str] = Field(description="Why this decision, in one line each.")
    questions: list[str] = Field(default_factory=list, description="For needs_info: what the reporter must answer.")
    brief: Brief | None = Field(default=None, description="Required when decision is actionable.")


def render_prompt(brief: Brief, *, issue_number: int, issue_url: str, marker: str) -> str:
    """Jules' prompt. Ends with the PR keyword so the pull request closes the issue, and with the dispatch marker
    that lets a resumed run find the session it created (exactly-once, see workflows/claims.py)."""
    lines = [f"# {brief.title}", "", "## Goal", brief.goal, "", "## Context", brief.context, "",
             "## Acceptance criteria", *[f"- {item}" for item in brief.acceptance_criteria]]
    if brief.files_or_areas:
        lines += ["", "## Files and areas", *[f"- `{item}`" for item in brief.files_or_areas]]
    lines += ["", "## Pull request",
              f"Reference the issue in the pull request description with the line: Fixes #{issue_number}",
              f"Issue: {issue_url}", "", f"dispatch-marker: {marker}"]
    return "\n".join(lines)
