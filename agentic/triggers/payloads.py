"""A delivery, verified and parsed: gidgethub checks the signature; typed models of the fields the rules read.

gidgethub has no payload models and githubkit (which has) did not import with the hishel its pins resolve to
(docs/triggers.md), so the models below cover only what the receiver reads, and ignore the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from gidgethub import ValidationFailure
from gidgethub.sansio import Event, validate_event
from pydantic import BaseModel, ConfigDict

from agentic.errors import BadDelivery, InvalidSignature

_JSON, _FORM = "application/json", "application/x-www-form-urlencoded"


def verify_delivery(headers: Mapping[str, str], body: bytes, secret: str | None) -> Event:
    """The delivery as a gidgethub Event, its X-Hub-Signature-256 checked in constant time against `secret`.

    `secret=None` (explicitly unsigned mode) skips the check. Only the SHA-256 header counts: gidgethub would fall
    back to the SHA-1 `X-Hub-Signature`, which GitHub keeps only for old integrations."""
    lowered = {k.lower(): v for k, v in headers.items() if k.lower() != "x-hub-signature"}
    if secret is None:
        lowered.pop("x-hub-signature-256", None)
    elif "x-hub-signature-256" not in lowered:
        raise InvalidSignature("no X-Hub-Signature-256 header")
    for header in ("x-github-event", "x-github-delivery"):
        if not lowered.get(header):
            raise BadDelivery(f"no {header} header")
    if secret is not None:
        try:
            validate_event(body, signature=lowered["x-hub-signature-256"], secret=secret)
        except ValidationFailure as exc:
            raise InvalidSignature(str(exc)) from None
    # Decoded here, not by gidgethub's `Event.from_http`: it answers every failure to decode, a signed body that is
    # not JSON included, with "expected a content-type of 'application/json' …".
    return Event(_payload(lowered.get("content-type"), body), event=lowered["x-github-event"],
                 delivery_id=lowered["x-github-delivery"])


def _payload(content_type: str | None, body: bytes) -> Any:
    """The delivery's JSON: the body (`application/json`) or its `payload` field (`x-www-form-urlencoded`, GitHub's
    other content type); BadDelivery saying which of the two is wrong, the content type or the body."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type not in (_JSON, _FORM):
        raise BadDelivery(f"expected a content-type of '{_JSON}' or '{_FORM}', got {media_type[:60]!r}")
    try:
        text = body.decode("utf-8")
        if media_type == _FORM:
            payloads = parse_qs(text).get("payload")
            if not payloads:
                raise BadDelivery("the form-encoded body has no payload field")
            text = payloads[0]
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadDelivery(f"the body is not valid JSON ({exc.__class__.__name__}: {' '.join(str(exc).split())[:100]})"
                          ) from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class User(_Model):
    login: str
    type: str = "User"


class Label(_Model):
    name: str


class Issue(_Model):
    number: int
    title: str
    body: str | None = None
    html_url: str
    state: str = "open"
    pull_request: dict | None = None  # present when the "issue" is a pull request


class Comment(_Model):
    body: str | None = None
    user: User


class Repository(_Model):
    full_name: str


class IssuesEvent(_Model):
    action: str
    issue: Issue
    repository: Repository
    sender: User
    label: Label | None = None
    assignee: User | None = None


class IssueCommentEvent(_Model):
    action: str
    issue: Issue
    comment: Comment
    repository: Repository
    sender: User
