"""The pure part of exactly-once dispatch (agentic/dispatch/claims.py): what makes two texts, two issues or two
GitHub instances different. No Prefect here; tests/workflow/test_promises.py and test_resilience.py run the rest."""

from __future__ import annotations

import hashlib
import re

from agentic.dispatch.claims import Claim, SessionRecord, claim_key, marker_for, text_hash, variable_name
from agentic.github.issue_ref import IssueRef

REF = IssueRef(owner="Acme", repo="Widgets", number=7)


def test_text_hash_is_a_short_stable_digest_of_every_part():
    digest = text_hash("Title", "Body")
    assert digest == hashlib.sha256("Title\x1fBody".encode()).hexdigest()[:16]
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    assert text_hash("Title", "Body") == digest
    assert text_hash("Title", "Body edited") != digest  # an edit of the body alone is a new text
    assert text_hash("Title edited", "Body") != digest
    assert text_hash("Title") != digest
    assert text_hash("TitleB", "ody") != text_hash("Title", "Body")  # the separator keeps parts apart
    assert text_hash("é", "ü") == hashlib.sha256("é\x1fü".encode()).hexdigest()[:16]


def test_marker_names_the_issue_and_the_text():
    assert marker_for(REF, "abc123") == "jules-agent:acme/widgets#7@abc123"


def test_claim_key_separates_github_instances_but_not_spellings():
    assert claim_key("https://api.github.com", REF) == "https://api.github.com/acme/widgets#7"
    assert claim_key("HTTPS://API.GitHub.com/", REF) == claim_key("https://api.github.com", REF)
    assert claim_key("https://GHX//", REF) == "https://ghx/acme/widgets#7"  # only slashes are trimmed
    assert claim_key("https://ghe.example/api/v3", REF) != claim_key("https://api.github.com", REF)
    assert claim_key("http://127.0.0.1:3101", IssueRef(owner="acme", repo="widgets", number=7)) == \
        "http://127.0.0.1:3101/acme/widgets#7"


def test_variable_names_are_valid_prefect_names_and_distinct():
    name = variable_name("https://api.github.com/acme/widgets#7")
    assert name == "jules-claim-" + hashlib.sha256(b"https://api.github.com/acme/widgets#7").hexdigest()[:24]
    assert re.fullmatch(r"[a-z0-9_-]+", name) and len(name) == len("jules-claim-") + 24
    assert variable_name("https://api.github.com/acme/widgets#8") != name


def test_session_for_finds_the_record_of_that_text_only():
    first = SessionRecord(text_hash="aaaa", marker="m1", session_id="s1")
    second = SessionRecord(text_hash="bbbb", marker="m2", session_id="s2")
    claim = Claim(issue="k", sessions=[first, second])
    assert claim.session_for("aaaa") is first
    assert claim.session_for("bbbb") is second
    assert claim.session_for("cccc") is None
    assert Claim(issue="k").session_for("aaaa") is None
    twice = Claim(issue="k", sessions=[first, SessionRecord(text_hash="aaaa", marker="m3")])
    assert twice.session_for("aaaa") is first  # the first record of a text wins
