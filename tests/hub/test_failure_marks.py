"""The failure mark (agentic/hub/failures.py) and how the flow's client reads it: pure, no hub."""

from __future__ import annotations

import pytest

from agentic.errors import TransientError
from agentic.hub.failures import FAILURE_META, FailureMark, failure_meta, read_failure_meta, retryable_status
from agentic.hub.mcp_client import ToolCallFailed, classify_failure

API_404 = 'API call failed: 404 Not Found - {"message": "Not Found"}'


@pytest.mark.parametrize(("status", "body", "retryable"), [
    (400, "", False), (401, "", False), (404, "", False), (422, "timed out", False),
    (403, "Resource not accessible by integration", False), (403, "API rate limit exceeded for user ID 1.", True),
    (403, "You have exceeded a secondary rate limit", True), (408, "", True), (429, "", True), (500, "", True),
    (502, "", True), (503, "", True),
])
def test_which_statuses_lift_by_themselves(status, body, retryable):
    assert retryable_status(status, body) is retryable


def test_a_mark_survives_its_round_trip_and_a_malformed_one_is_none():
    for mark in (FailureMark(True), FailureMark(False, 404), FailureMark(True, 503)):
        assert read_failure_meta(failure_meta(mark)) == mark
    for meta in (None, {}, [], {FAILURE_META: None}, {FAILURE_META: {}}, {FAILURE_META: {"retryable": "yes"}},
                 {FAILURE_META: {"retryable": True, "status": "503"}},
                 {FAILURE_META: {"retryable": True, "status": True}},
                 {"other/failure": {"retryable": True}}):
        assert read_failure_meta(meta) is None, meta


def test_the_mark_decides_the_class_whatever_the_text_says():
    # Words that read as transient, a mark that says final: final.
    final = classify_failure("x-y", "upstream timed out", failure_meta(FailureMark(False)))
    assert type(final) is ToolCallFailed and "upstream timed out" in str(final)
    # A 404 in the text, a mark that says it lifts (and its own status): transient, with the mark's status.
    lifting = classify_failure("x-y", API_404, failure_meta(FailureMark(True, 409)))
    assert isinstance(lifting, TransientError) and lifting.status == 409 and lifting.body == {"message": "Not Found"}
    # No status in the mark: the text's stays.
    assert classify_failure("x-y", API_404, failure_meta(FailureMark(True))).status == 404


def test_without_a_mark_the_text_decides_as_for_mcphub():
    assert type(classify_failure("x-y", API_404)) is ToolCallFailed
    assert isinstance(classify_failure("x-y", "Server 'x' is not connected"), TransientError)
    assert isinstance(classify_failure("x-y", API_404, {FAILURE_META: {"retryable": "maybe"}}), ToolCallFailed)
    assert isinstance(classify_failure("x-y", 'API call failed: 503 Service Unavailable - {}', {}), TransientError)
