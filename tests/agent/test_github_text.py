"""Model and Jules output posted on the issue: capped, no live mention, cannot break the status comment's markup."""

from __future__ import annotations

import re

import pytest

from agentic.agent.brief import Triage
from agentic.agent.sanitize import GITHUB_BREAK, for_github
from agentic.workflows.status_comment import COMMENT_CHARS, StatusView, status_marker

# What GitHub turns into a notification: `@` directly followed by a login (no comment node in between).
LIVE_MENTION = re.compile(r"@[A-Za-z0-9]")
HOSTILE = [
    "@org/team please review", "ping @alice and @bob-2", "</details><details open><summary>x</summary>",
    "<!-- hide the rest", "```\ncode swallowing the comment", "~~~", "acme/other#12 and GH-1", "a & b < c > d",
    "![pixel](https://evil.example/p.gif) [approve here](https://evil.example/phish)", "\u202e@evil\u202c",
    "@" * 50, "x" * 5000, "@a" * 3000, "<" * 3000,
]


def test_mentions_are_neutralised_with_an_empty_comment():
    assert for_github("ping @org/team and @alice", 200) == f"ping @{GITHUB_BREAK}org/team and @{GITHUB_BREAK}alice"
    assert for_github("ping @alice and @Bob", 200, allow_mentions=["ALICE"]) == f"ping @alice and @{GITHUB_BREAK}Bob"
    # A team is never live, even when its org is an allowed login.
    assert for_github("@alice/team", 200, allow_mentions=["alice"]) == f"@{GITHUB_BREAK}alice/team"


def test_markup_is_escaped_and_links_flattened():
    assert for_github("</details> <b>x</b> ```", 200) == "&lt;/details&gt; &lt;b&gt;x&lt;/b&gt; \\`\\`\\`"
    assert for_github("![pixel](https://evil.example/p.gif) [approve](https://evil.example/phish)", 200) == (
        "[image: pixel] approve (https://evil.example/phish)")
    assert for_github("see acme/other#12", 200) == f"see acme/other#{GITHUB_BREAK}12"
    assert for_github("a\n\nb", 200) == "a b" and for_github("a\n\nb", 200, multiline=True) == "a\n\nb"


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("limit", [1, 2, 9, 10, 50, 300])
def test_for_github_is_bounded_and_never_leaves_a_live_mention(text, limit):
    out = for_github(text, limit)
    assert len(out) <= limit
    assert not LIVE_MENTION.search(out)
    # Every `<` we emit is one of our own empty comments; none is cut in half.
    assert out.count("<") == out.count(GITHUB_BREAK) and "<!--" not in out.replace(GITHUB_BREAK, "")


def test_a_50kb_triage_reason_with_mentions_is_capped_in_the_status_comment():
    reason = "Ask @org/security-team and @alice to look. " * 1_200  # ~52 KB
    triage = Triage(decision="needs_info", reasons=[reason], questions=[reason])
    view = StatusView(issue_key="acme/widgets#7", phase="needs_info",
                      details=[f"- {r}" for r in triage.reasons] + ["", *[f"1. {q}" for q in triage.questions]])
    body = view.render()
    assert len(body) < 2_000
    assert not LIVE_MENTION.search(body)
    # And raw, uncapped text (a flow that skips Triage validation) is capped by render() itself.
    raw = StatusView(issue_key="acme/widgets#7", phase="needs_info", details=[reason] * 500, plan=[reason] * 500,
                     question=reason * 3, latest=reason).render()
    assert len(raw) <= COMMENT_CHARS and not LIVE_MENTION.search(raw)


def test_a_question_cannot_close_the_details_block_or_hide_the_rest():
    view = StatusView(issue_key="acme/widgets#7", phase="AWAITING_USER_FEEDBACK",
                      question="Which version?\n\n</details>\n<details open><summary>Approved</summary>\n```\n<!-- hide",
                      usage_lines=["- model requests: 1"], latest="</summary>@jules-bot")
    body = view.render()
    assert body.startswith(status_marker("acme/widgets#7") + "\n")
    assert body.count("<details>") == 1 and body.count("</details>") == 1 and body.count("<summary>") == 1
    assert body.rstrip().endswith("</details>")
    assert body.count("<!--") == 1 + body.count(GITHUB_BREAK)  # the marker and our own breaks only
    lines = body.split("\n")
    start = lines.index("> Which version?")
    question_lines = lines[start:lines.index("", start)]
    assert len(question_lines) == 5 and all(line.startswith(">") for line in question_lines)
    assert "\\`\\`\\`" in body and "\n```" not in body


def test_plan_steps_and_messages_from_jules_are_neutralised():
    view = StatusView(issue_key="acme/widgets#7", phase="AWAITING_PLAN_APPROVAL",
                      plan=["Edit `src/a.py` and ping @maintainers", "<img src=x onerror=alert(1)>"],
                      latest="Done, cc @everyone")
    body = view.render()
    assert f"1. Edit `src/a.py` and ping @{GITHUB_BREAK}maintainers" in body
    assert "2. [image]" in body and "onerror" not in body
    assert f"_Latest:_ Done, cc @{GITHUB_BREAK}everyone" in body


def test_the_flows_own_mentions_stay_live_when_listed():
    details = ["- unclear", "", "@alice, could you answer these? Then re-run the workflow.", "1. ask @mallory"]
    body = StatusView(issue_key="acme/widgets#7", phase="needs_info", details=details, mentions=["alice"]).render()
    assert "\n@alice, could you answer these?" in body and f"ask @{GITHUB_BREAK}mallory" in body


def test_links_from_apis_are_shown_only_when_they_are_plain_urls():
    body = StatusView(issue_key="acme/widgets#7", phase="IN_PROGRESS", session_id="s](javascript:x)",
                      session_url="javascript:alert(1)", pull_request_url="https://github.com/acme/widgets/pull/3)",
                      prefect_run_url="http://127.0.0.1:4200/runs/flow-run/abcdef12-0000").render()
    assert "javascript" not in body and "pull/3)" not in body
    assert "Prefect run [abcdef12](http://127.0.0.1:4200/runs/flow-run/abcdef12-0000)" in body
