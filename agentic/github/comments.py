"""A repository's issue comments read as a feed: the part of GitHub's REST API the poller stands on.

GitHub's own rules live here, so the poller (agentic/triggers/poller.py) keeps only its cursor and decisions:
- a conditional request (`If-None-Match` with the last ETag) for an unchanged list is a 304, which GitHub does not
  count against the rate limit;
- `since` is inclusive and per second; pages hold at most `PAGE` comments;
- a 403/429 with `Retry-After`, or with `X-RateLimit-Remaining: 0` until `X-RateLimit-Reset`, means "not before".

The client comes from `rest_client` (rest.py): the API base, media type, token or App installation token, TLS.
Comments stay GitHub's JSON objects: the poller hands them on as the webhook deliveries GitHub would have sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

PAGE = 100  # GitHub's largest page of issue comments


@dataclass(frozen=True)
class CommentListing:
    """One answer to a listing: the comments, or why there are none this time."""

    status: Literal["ok", "not-modified", "rate-limited"]
    comments: list[dict[str, Any]] = field(default_factory=list)
    etag: str | None = None
    until: float = 0.0  # rate-limited: epoch seconds before which not to ask again
    remaining: float | None = None  # X-RateLimit-Remaining of an answered request
    reset: float | None = None  # X-RateLimit-Reset (epoch seconds)


def _number(value: str | None, default: float) -> float:
    """A header's number, or `default` when absent or not a number (Retry-After may also be an HTTP date)."""
    number = _maybe_number(value)
    return default if number is None else number


def _maybe_number(value: str | None) -> float | None:
    """A header's number, None when absent or not a number."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def rate_limited_until(response: httpx.Response, now: float) -> float | None:
    """When a refused request may be asked again, or None when it was not a rate limit."""
    if response.status_code not in (403, 429):
        return None
    if retry := response.headers.get("retry-after"):
        return now + _number(retry, 60.0)
    if response.headers.get("x-ratelimit-remaining") == "0":
        return _number(response.headers.get("x-ratelimit-reset"), now + 60)
    return None


class CommentFeed:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    @staticmethod
    def _params(since: str | None, newest_first: bool, page: int) -> dict[str, Any]:
        params: dict[str, Any] = {"sort": "updated", "direction": "desc" if newest_first else "asc",
                                  "per_page": PAGE}
        if since:
            params["since"] = since
        if page > 1:
            params["page"] = page
        return params

    async def listing(self, full_name: str, *, since: str | None, newest_first: bool, etag: str | None,
                   now: float) -> CommentListing:
        """The first page of comments updated at or after `since`; a 304 when unchanged since `etag`."""
        response = await self._http.get(f"/repos/{full_name}/issues/comments",
                                        params=self._params(since, newest_first, 1),
                                        headers={"If-None-Match": etag} if etag else {})
        if (until := rate_limited_until(response, now)) is not None:
            return CommentListing("rate-limited", until=until)
        if response.status_code == 304:
            return CommentListing("not-modified")
        response.raise_for_status()
        return CommentListing("ok", comments=response.json(), etag=response.headers.get("etag"),
                              remaining=_maybe_number(response.headers.get("x-ratelimit-remaining")),
                              reset=_maybe_number(response.headers.get("x-ratelimit-reset")))

    async def page(self, full_name: str, *, since: str | None, newest_first: bool, page: int) -> list[dict[str, Any]]:
        """A later page of the same listing (never conditional: an unchanged first page says nothing of it)."""
        response = await self._http.get(f"/repos/{full_name}/issues/comments",
                                        params=self._params(since, newest_first, page))
        return list(response.raise_for_status().json())

    async def repository(self, full_name: str) -> dict[str, Any]:
        """The repository object a webhook delivery carries."""
        return dict((await self._http.get(f"/repos/{full_name}")).raise_for_status().json())

    async def issue(self, api_url: str) -> dict[str, Any]:
        """A comment's issue (its `issue_url`), as a delivery carries it."""
        return dict((await self._http.get(api_url)).raise_for_status().json())


__all__ = ["PAGE", "CommentFeed", "CommentListing", "rate_limited_until"]
