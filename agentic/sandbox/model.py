"""A deterministic stand-in for the LLM (Pydantic AI `FunctionModel`), so the sandbox runs with no key.

It reads the issue from the prompt the flow builds and applies fixed rules a reviewer can predict:
- fewer than 12 words of body, or a body that is only "doesn't work"-style text -> needs_info with questions;
- a `wontfix`/`question` label -> reject;
- otherwise actionable: the brief's acceptance criteria are the issue's bullet/checkbox lines, its files are the
  backticked paths, and if the hub offers `github-get_file_contents` it reads the first named file first (so the
  agent's MCP path through the hub is exercised exactly as with a real model).
"""

from __future__ import annotations

import json
import re

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

_VAGUE = re.compile(r"\b(doesn'?t work|broken|not working|help|pls|please fix)\b", re.IGNORECASE)
_PATH = re.compile(r"`([\w./-]+\.[A-Za-z0-9]+)`")
_CRITERION = re.compile(r"^\s*(?:[-*]|\d+\.)\s+(?:\[[ xX]\]\s*)?(.+?)\s*$", re.MULTILINE)


def _field(prompt: str, tag: str) -> str:
    match = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", prompt, re.DOTALL)
    return match.group(1).strip() if match else ""


def _user_prompt(messages: list[ModelMessage]) -> str:
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if getattr(part, "part_kind", "") == "user-prompt" and isinstance(part.content, str):
                    return part.content
    return ""


def decide(prompt: str) -> dict:
    """The triage as a plain dict (the `Triage` output schema)."""
    title, body = _field(prompt, "title"), _field(prompt, "body")
    labels = re.search(r"labels: (.*)", prompt)
    label_set = {label.strip() for label in (labels.group(1) if labels else "").split(",")}
    words = len(body.split())
    if label_set & {"wontfix", "question", "invalid"}:
        named = ", ".join(sorted(label_set & {"wontfix", "question", "invalid"}))
        return {"decision": "reject", "reasons": [f"labelled {named}"]}
    if words < 12 or (_VAGUE.search(body) and words < 30):
        return {"decision": "needs_info", "reasons": [f"the issue body has {words} words and no reproduction"],
                "questions": ["What did you do, step by step, to see the problem?",
                              "What did you expect to happen, and what happened instead (error message, output)?",
                              "Which version or commit are you on?"]}
    criteria = [c for c in _CRITERION.findall(body) if len(c.split()) >= 2][:8]
    files = list(dict.fromkeys(_PATH.findall(body)))[:8]
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip() and not _CRITERION.match(p)]
    return {
        "decision": "actionable",
        "reasons": ["the issue states the problem and what done means"],
        "brief": {
            "title": title[:120] or "Resolve the issue",
            "goal": f"Resolve: {title}. " + (paragraphs[0][:400] if paragraphs else ""),
            "context": "\n\n".join(paragraphs[:3])[:1500] or body[:1500],
            "acceptance_criteria": criteria or [f"The problem described in '{title}' no longer occurs",
                                                "A test covers the fixed behaviour"],
            "files_or_areas": files,
        },
    }


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    prompt = _user_prompt(messages)
    verdict = decide(prompt)
    already_read = any(isinstance(p, ToolReturnPart) for m in messages if isinstance(m, ModelRequest) for p in m.parts)
    tools = {t.name for t in info.function_tools}
    files = (verdict.get("brief") or {}).get("files_or_areas") or []
    repo = re.search(r"Repository: (\S+)/(\S+)", prompt)
    if files and repo and not already_read and "github-get_file_contents" in tools:
        return ModelResponse(parts=[ToolCallPart("github-get_file_contents",
                                                 {"owner": repo.group(1), "repo": repo.group(2), "path": files[0]})])
    if info.output_tools:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, verdict)])
    return ModelResponse(parts=[TextPart(json.dumps(verdict))])


def sandbox_model() -> FunctionModel:
    return FunctionModel(_respond, model_name="sandbox-rules")
