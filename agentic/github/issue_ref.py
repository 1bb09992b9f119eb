"""Parse a GitHub issue URL before anything else happens: a bad URL must fail with no side effect.

Strict on purpose: the URL decides which repository an agent writes to. Accepted:

    http(s)://HOST/OWNER/REPO/issues/NUMBER[/][?query][#fragment]

where HOST is one of the configured GitHub web hosts (`Settings.github_issue_hosts`: github.com for
`GITHUB_API_URL=https://api.github.com`, HOST for an Enterprise `https://HOST/api/v3`, plus `GITHUB_WEB_URL` and
`GITHUB_WEB_HOSTS`), compared after IDNA normalisation (a look-alike host such as `gіthub.com` with a Cyrillic `і`
is a different host) and matched exactly, never as a suffix; `www.github.com` is read as github.com when github.com
is accepted (GitHub redirects it; an Enterprise host has no such alias); no user:password@; a port only if the
configured host has one; OWNER and REPO in GitHub's grammar (a repository name is not only dots: `.`, `..` and
`....` are refused here, before a flow run and two GitHub calls find they do not exist); NUMBER in ASCII digits,
1..2^31-1. Every refusal is a BadIssueUrl with one line saying why and what is expected, echoing at most a short,
escaped piece of the input.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from agentic.errors import BadIssueUrl
from agentic.github.hosts import normalize_host, split_authority, web_host

if TYPE_CHECKING:
    from agentic.settings import Settings

MAX_URL_LENGTH = 2048
MAX_ISSUE_NUMBER = 2**31 - 1  # GitHub's issue numbers are 32-bit signed integers
_DEFAULT_PORTS = {"http": 80, "https": 443}

_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)(?:\?[^#]*)?(?:#.*)?",
                  re.ASCII | re.DOTALL)
_PATH = re.compile(r"/(?P<owner>[^/]*)/(?P<repo>[^/]*)/(?P<kind>[^/]*)/(?P<number>[^/]*)/?", re.DOTALL)
# GitHub account names: 1-39 letters/digits, single hyphens inside. Repository names: 1-100 of [A-Za-z0-9._-].
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}", re.ASCII)
_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_PULL_KINDS = {"pull", "pulls"}
_WWW_GITHUB = "www.github.com"


class IssueRef(BaseModel, frozen=True):
    owner: str
    repo: str
    number: int

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def key(self) -> str:
        """Stable identity of the issue: `owner/repo#number` (lowercase, as GitHub names are case-insensitive)."""
        return f"{self.owner.lower()}/{self.repo.lower()}#{self.number}"

    def __str__(self) -> str:
        return f"{self.full_name}#{self.number}"


def _show(text: str, limit: int = 60) -> str:
    """A short, escaped rendering of (part of) the input for an error message: never the whole of a huge string."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text)} characters)"


def _allowed_hosts(hosts: Iterable[str] | None, settings: Settings | None) -> list[str]:
    if hosts is None:
        if settings is None:
            from agentic.settings import get_settings

            settings = get_settings()
        hosts = settings.github_issue_hosts
    allowed = []
    for entry in hosts:
        try:
            normalized = web_host(entry)
        except ValueError:
            continue  # a bad allow-list entry allows nothing
        if normalized not in allowed:
            allowed.append(normalized)
    return allowed


def parse_issue_url(url: str, hosts: Iterable[str] | None = None, *, settings: Settings | None = None) -> IssueRef:
    """`https://github.com/OWNER/REPO/issues/N` -> IssueRef; anything else raises BadIssueUrl saying why.

    `hosts`: the GitHub web hosts accepted (`github.com`, `ghe.example.com`, `127.0.0.1:3101`, or URLs); default
    `settings.github_issue_hosts`, with `settings` defaulting to `get_settings()`.
    """
    allowed = _allowed_hosts(hosts, settings)
    primary = allowed[0] if allowed else "github.com"
    expected = f"expected https://{primary}/OWNER/REPO/issues/NUMBER"
    if not isinstance(url, str):
        raise BadIssueUrl(f"the issue URL must be text, got {type(url).__name__}; {expected}")
    text = url.strip()
    if not text:
        raise BadIssueUrl(f"the issue URL is empty; {expected}")
    if len(text) > MAX_URL_LENGTH:
        raise BadIssueUrl(f"the issue URL is {len(text)} characters, more than the {MAX_URL_LENGTH} allowed "
                          f"(starts {_show(text, 40)}); {expected}")
    for char in text:
        if char.isspace() or unicodedata.category(char)[0] == "C" or char == "\\":
            raise BadIssueUrl(f"the issue URL contains {char!r} (spaces, control characters and backslashes are "
                              f"not allowed): {_show(text)}; {expected}")
    match = _URL.fullmatch(text)
    if not match:
        raise BadIssueUrl(f"not an issue URL (no http:// or https:// scheme): {_show(text)}; {expected}")
    scheme = match["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        raise BadIssueUrl(f"issue URL scheme {_show(match['scheme'], 20)} is not http or https; {expected}")
    authority = match["authority"]
    if "@" in authority:
        raise BadIssueUrl(f"the issue URL must not carry a user name or password (…@ before the host); {expected}")
    try:
        raw_host, port = split_authority(authority)
    except ValueError as exc:
        raise BadIssueUrl(f"issue URL host {_show(authority, 40)} is malformed ({exc}); {expected}") from None
    if not raw_host:
        raise BadIssueUrl(f"the issue URL has no host: {_show(text)}; {expected}")
    try:
        host = normalize_host(raw_host, port, scheme)
    except ValueError as exc:
        raise BadIssueUrl(f"issue URL host {_show(raw_host, 40)} is not a valid host name ({exc}); "
                          f"{expected}") from None
    if host == _WWW_GITHUB and "github.com" in allowed:
        host = "github.com"  # github.com's own alias (it redirects there); an Enterprise host has none
    if host not in allowed:  # the exact host: a suffix would let evilgithub.com or gist.github.com through
        ascii_note = "" if raw_host.isascii() else f" (IDNA: {host[:60]})"
        configured = ", ".join(allowed[:3]) or "none"
        raise BadIssueUrl(f"issue URL host {_show(authority, 40)}{ascii_note} is not the configured GitHub "
                          f"({configured}; set GITHUB_WEB_URL or GITHUB_WEB_HOSTS for another); {expected}")
    path = _PATH.fullmatch(match["path"])
    if not path:
        raise BadIssueUrl(f"not an issue URL: path {_show(match['path'], 50)} is not /OWNER/REPO/issues/NUMBER; "
                          f"{expected}")
    owner, repo, kind, number = path["owner"], path["repo"], path["kind"], path["number"]
    if kind in _PULL_KINDS:
        raise BadIssueUrl(f"{_show(match['path'], 50)} is a pull request URL, not an issue URL; give the issue "
                          f"it should fix ({expected})")
    if kind != "issues":
        raise BadIssueUrl(f"not an issue URL: {_show(kind, 20)} where 'issues' belongs; {expected}")
    if not _OWNER.fullmatch(owner):
        raise BadIssueUrl(f"issue URL owner {_show(owner, 40)} is not a GitHub account name (1-39 letters, digits "
                          f"or single inner hyphens); {expected}")
    if not _REPO.fullmatch(repo) or not repo.strip("."):
        raise BadIssueUrl(f"issue URL repository {_show(repo, 40)} is not a GitHub repository name (1-100 of "
                          f"A-Z a-z 0-9 . _ -, not only dots); {expected}")
    if not _DIGITS.fullmatch(number):
        raise BadIssueUrl(f"issue URL number {_show(number, 20)} is not a number in ASCII digits; {expected}")
    if number.startswith("0"):
        raise BadIssueUrl(f"issue URL number {_show(number, 20)} must be 1 to {MAX_ISSUE_NUMBER} without "
                          f"leading zeros; {expected}")
    if len(number) > len(str(MAX_ISSUE_NUMBER)) or int(number) > MAX_ISSUE_NUMBER:  # no int() of a huge string
        raise BadIssueUrl(f"issue URL number {_show(number, 20)} is out of range (1 to {MAX_ISSUE_NUMBER}); "
                          f"{expected}")
    return IssueRef(owner=owner, repo=repo, number=int(number))
