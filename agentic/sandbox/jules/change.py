"""What the simulated Jules 'writes': plan steps, the file change, its unified diff, and the pull request text.

Deterministic functions of the session (prompt, title, id), so tests and benchmarks can predict them. The pull
request body repeats every closing reference found in the prompt (`Fixes #12`, `Closes owner/repo#3`): real Jules
does so when the prompt asks for it, and GitHub links the PR to the issue through it.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

_CLOSING_REF = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+(?:[\w.-]+/[\w.-]+)?#\d+", re.IGNORECASE)


def closing_references(prompt: str) -> list[str]:
    """`Fixes #12`-style references in the prompt, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _CLOSING_REF.finditer(prompt):
        seen.setdefault(" ".join(match.group(0).split()), None)
    return list(seen)


def default_title(prompt: str) -> str:
    """Jules generates a title when none is given: here, the prompt's first non-empty line, shortened."""
    line = next((ln.strip(" #*-\t") for ln in prompt.splitlines() if ln.strip(" #*-\t")), "Untitled task")
    return line if len(line) <= 80 else line[:77].rstrip() + "..."


def plan_steps(prompt: str, title: str) -> list[dict[str, Any]]:
    """2-4 steps: more for longer prompts, as a planner would."""
    subject = title if len(title) <= 60 else title[:57].rstrip() + "..."
    steps = [
        ("Explore the code", f"Find the code involved in: {subject}."),
        ("Implement the change", f"Make the change for: {subject}."),
        ("Run the tests", "Run the test suite and fix failures."),
        ("Submit the change", "Commit the change and prepare the pull request."),
    ]
    count = 2 if len(prompt) < 200 else 3 if len(prompt) < 800 else 4
    chosen = [steps[1], steps[3]] if count == 2 else [steps[0], steps[1], steps[3]] if count == 3 else steps
    return [{"title": t, "description": d, "index": i} for i, (t, d) in enumerate(chosen)]


def file_content(session_id: str, title: str, prompt: str) -> str:
    return (f"# {title}\n\nChange made by Jules (sandbox) in session {session_id}.\n\n"
            f"## Task\n\n{prompt.strip()}\n")


def unidiff(path: str, content: str) -> str:
    """A git-style diff creating `path` with `content`."""
    lines = difflib.unified_diff([], content.splitlines(keepends=True), "/dev/null", f"b/{path}", lineterm="\n")
    body = "".join(lines)
    return f"diff --git a/{path} b/{path}\nnew file mode 100644\n{body}"


def commit_message(title: str) -> str:
    return title if len(title) <= 72 else title[:69].rstrip() + "..."


def pull_request_body(title: str, steps: list[dict[str, Any]], path: str, prompt: str, session_url: str,
                      closing_refs: bool = True) -> str:
    """`closing_refs=False`: the prompt's `Fixes #N` lines are left out (Jules does not always copy them)."""
    done = "\n".join(f"- {s['title']}: {s['description']}" for s in steps)
    refs = "\n".join(closing_references(prompt)) if closing_refs else ""
    parts = [f"Changes made by Jules for: {title}", f"Steps:\n{done}\n- Added `{path}`.",
             f"Jules session: {session_url}"]
    if refs:
        parts.append(refs)
    return "\n\n".join(parts) + "\n"


def branch_name(title: str, session_id: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "change"
    return f"jules/{slug}-{session_id[-6:]}"
