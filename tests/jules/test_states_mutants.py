"""The open state set, spelled every way Jules (or a person) might: separators, `STATE_` prefixes, cancellation,
and the one-time warning for an unknown state (what mutation testing found unchecked)."""

from __future__ import annotations

import logging

import pytest

from agentic.jules import states


@pytest.mark.parametrize("raw, expected", [
    ("in-progress", "IN_PROGRESS"), ("in progress", "IN_PROGRESS"), (" Awaiting-Plan approval ", "AWAITING_PLAN_APPROVAL"),
    ("STATE_QUEUED", "QUEUED"), ("state_planning", "PLANNING"), ("STATE_UNSPECIFIED", "STATE_UNSPECIFIED"),
    ("awaiting-user-input", "AWAITING_USER_FEEDBACK"), ("Canceled", "FAILED"), ("completed_unknown", "COMPLETED"),
    ("", "QUEUED"), (None, "QUEUED"),
])
def test_spellings(raw, expected):
    assert states.canonical(raw) == expected


def test_default_is_used_only_without_a_value():
    assert states.canonical(None, default="PLANNING") == "PLANNING"
    assert states.canonical("RUNNING", default="PLANNING") == "IN_PROGRESS"


def test_an_unknown_state_is_warned_about_once_with_its_value_cut(caplog, monkeypatch):
    monkeypatch.setattr(states, "_reported", set())  # once per process: start from a process that saw none
    raw = "HIBERNATING_" + "Z" * 100
    with caplog.at_level(logging.WARNING, logger="agentic.jules.states"):
        assert states.canonical(raw) == "IN_PROGRESS"
        assert states.canonical(raw) == "IN_PROGRESS"
        assert states.canonical("MUTANT_STATE_OTHER") == "IN_PROGRESS"
    messages = [r.getMessage() for r in caplog.records if r.name == "agentic.jules.states"]
    assert messages == [f"unknown Jules session state {raw[:80]!r}: treated as IN_PROGRESS",
                        "unknown Jules session state 'MUTANT_STATE_OTHER': treated as IN_PROGRESS"]


@pytest.mark.parametrize("raw, cancelled", [
    ("CANCELLED", True), (" cancelled ", True), ("CANCELED", True), ("canceled", True),
    ("FAILED", False), ("", False), (None, False),
])
def test_was_cancelled(raw, cancelled):
    assert states.was_cancelled(raw) is cancelled


@pytest.mark.parametrize("raw, terminal", [
    ("COMPLETED", True), ("FAILED", True), ("CANCELLED", True), ("COMPLETED_UNKNOWN", True),
    ("RUNNING", False), ("AWAITING_PLAN_APPROVAL", False), (None, False), ("SOMETHING_NEW", False),
])
def test_is_terminal(raw, terminal):
    assert states.is_terminal(raw) is terminal
