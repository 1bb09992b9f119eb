"""A delivery, verified and parsed: gidgethub checks the signature; typed models of the fields the rules read.

gidgethub has no payload models and githubkit (which has) did not import with the hishel its pins resolve to
(docs/triggers.md), so the models below cover only what the receiver reads, and ignore the rest.
"""

from __future__ import annotations

from collections.abc import Mapping

from gidgethub import BadRequest, ValidationFailure
from gidgethub.sansio import Event
from pydantic import BaseModel, ConfigDict


class InvalidSignature(Exception):
    """The delivery is not signed with our secret (answer 401)."""


class BadDelivery(Exception):
    """Not a GitHub webhook delivery (answer 400)."""


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
    try:
        return Event.from_http(lowered, body, secret=secret)
    except ValidationFailure as exc:
        raise InvalidSignature(str(exc)) from None
    except BadRequest as exc:
        raise BadDelivery(str(exc) or "not a JSON or form-encoded body") from None
    except ValueError as exc:  # malformed JSON
        raise BadDelivery(f"body is not JSON: {exc}") from None


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
