"""The issue URL parser on a corpus of good and hostile URLs: pure, no server, no environment."""

from __future__ import annotations

import time

import pytest

from agentic.errors import BadIssueUrl
from agentic.settings import Settings
from agentic.github.issue_ref import MAX_ISSUE_NUMBER, parse_issue_url

GITHUB = ["github.com"]

GOOD = [
    ("https://github.com/acme/widgets/issues/1", ("acme", "widgets", 1)),
    ("https://github.com/acme/widgets/issues/12/", ("acme", "widgets", 12)),  # one trailing slash
    ("https://github.com/acme/widgets/issues/3?x=1#y", ("acme", "widgets", 3)),  # query and fragment ignored
    ("https://github.com/acme/widgets/issues/3#issuecomment-99", ("acme", "widgets", 3)),
    ("http://github.com/acme/widgets/issues/4", ("acme", "widgets", 4)),  # GitHub redirects http to https
    ("https://GitHub.COM/Acme/Widgets/issues/5", ("Acme", "Widgets", 5)),  # host case does not matter
    ("HTTPS://github.com/acme/widgets/issues/6", ("acme", "widgets", 6)),
    ("https://github.com:443/acme/widgets/issues/7", ("acme", "widgets", 7)),  # the default port is no port
    ("  https://github.com/acme/widgets/issues/8  ", ("acme", "widgets", 8)),  # pasted with spaces around
    ("https://github.com/a/b/issues/9", ("a", "b", 9)),
    ("https://github.com/a-b-c/my.repo_name-2/issues/10", ("a-b-c", "my.repo_name-2", 10)),
    ("https://github.com/" + "o" * 39 + "/" + "r" * 100 + "/issues/11", ("o" * 39, "r" * 100, 11)),
    ("https://github.com/acme/.github/issues/13", ("acme", ".github", 13)),
    (f"https://github.com/acme/widgets/issues/{MAX_ISSUE_NUMBER}", ("acme", "widgets", MAX_ISSUE_NUMBER)),
    # Issue #24: github.com's www alias is github.com (GitHub redirects it), not a refusal.
    ("https://www.github.com/acme/widgets/issues/14", ("acme", "widgets", 14)),
    ("https://WWW.GitHub.com:443/acme/widgets/issues/15", ("acme", "widgets", 15)),
    ("https://github.com/acme/a..b/issues/16", ("acme", "a..b", 16)),  # dots inside a name are fine
]

BAD = [  # (url, a piece the message must contain)
    ("https://gitlab.com/o/r/issues/1", "not the configured GitHub"),
    ("https://g\u0456thub.com/acme/widgets/issues/1", "xn--"),  # Cyrillic і: a look-alike host
    ("https://\uff47\uff49\uff54\uff48\uff55\uff42.com/acme/widgets/issues/1", "not a valid host"),  # full-width
    ("https://github.com.evil.com/acme/widgets/issues/1", "not the configured GitHub"),
    ("https://evil.com/github.com/acme/widgets/issues/1", "not the configured GitHub"),
    ("https://user:pass@github.com/acme/widgets/issues/1", "user name or password"),
    ("https://github.com@evil.com/acme/widgets/issues/1", "user name or password"),
    ("https://github.com\\@evil.com/acme/widgets/issues/1", "backslash"),
    ("https://github.com:8443/acme/widgets/issues/1", "not the configured GitHub"),
    ("https://github.com:99999/acme/widgets/issues/1", "malformed"),
    ("https://github.com:/acme/widgets/issues/1", "malformed"),
    ("https://github.com/acme/widgets/issues/\u0661\u0662", "ASCII digits"),  # Arabic-Indic digits
    ("https://github.com/acme/widgets/issues/\uff11", "ASCII digits"),  # full-width 1
    ("https://github.com/acme/../issues/1", "repository"),
    ("https://github.com/acme/./issues/1", "repository"),
    # Issue #24: a name of only dots passed and cost a flow run and two GitHub calls before "does not exist".
    ("https://github.com/acme/..../issues/1", "not only dots"),
    ("https://github.com/acme/.../issues/1", "not only dots"),
    ("https://www.www.github.com/acme/widgets/issues/1", "not the configured GitHub"),
    ("https://wwwgithub.com/acme/widgets/issues/1", "not the configured GitHub"),
    ("https://github.com/acme/wid%67ets/issues/1", "repository"),
    ("https://github.com/-acme/widgets/issues/1", "owner"),
    ("https://github.com/acme-/widgets/issues/1", "owner"),
    ("https://github.com/ac--me/widgets/issues/1", "owner"),
    ("https://github.com/" + "o" * 40 + "/widgets/issues/1", "owner"),
    ("https://github.com/acme/" + "r" * 101 + "/issues/1", "repository"),
    ("https://github.com/acme/widgets/issues/" + "9" * 5000, "characters, more than"),
    ("https://github.com/acme/widgets/issues/" + "9" * 2000, "out of range"),
    (f"https://github.com/acme/widgets/issues/{MAX_ISSUE_NUMBER + 1}", "out of range"),
    ("https://github.com/acme/widgets/issues/0", "1 to"),
    ("https://github.com/acme/widgets/issues/007", "leading zeros"),
    ("https://github.com/acme/widgets/issues/-1", "ASCII digits"),
    ("https://github.com/acme/widgets/issues/abc", "ASCII digits"),
    ("https://github.com/acme/widgets/pull/3", "pull request"),
    ("https://github.com/acme/widgets/pulls/3", "pull request"),
    ("https://github.com/acme/widgets/discussions/3", "'issues' belongs"),
    ("https://github.com/acme/widgets/issues/3//", "not /OWNER/REPO/issues/NUMBER"),
    ("https://github.com/acme/widgets/issues/3/comments", "not /OWNER/REPO/issues/NUMBER"),
    ("https://github.com/acme/widgets", "not /OWNER/REPO/issues/NUMBER"),
    ("https://github.com/acme/wid gets/issues/1", "spaces"),
    ("https://github.com/acme/wid\u202egets/issues/1", "control"),  # right-to-left override
    ("https://github.com/acme/wid\u200bgets/issues/1", "control"),  # zero-width space
    ("ftp://github.com/acme/widgets/issues/1", "not http or https"),
    ("javascript:alert(1)//github.com/acme/widgets/issues/1", "scheme"),
    ("github.com/acme/widgets/issues/1", "scheme"),
    ("not a url", "spaces"),
    ("example", "scheme"),
    ("", "empty"),
    ("https:///acme/widgets/issues/1", "no host"),
    ("https://" + "a" * 10_000 + ".com/o/r/issues/1", "characters, more than"),
]


@pytest.mark.parametrize("url, expected", GOOD)
def test_good_issue_urls_parse(url, expected):
    ref = parse_issue_url(url, GITHUB)
    assert (ref.owner, ref.repo, ref.number) == expected


@pytest.mark.parametrize("url, reason", BAD)
def test_bad_issue_urls_are_refused_with_one_short_line(url, reason):
    started = time.perf_counter()
    with pytest.raises(BadIssueUrl) as info:
        parse_issue_url(url, GITHUB)
    message = str(info.value)
    assert time.perf_counter() - started < 0.1
    assert reason in message, message
    assert "\n" not in message and len(message) < 400, message
    assert "expected https://github.com/OWNER/REPO/issues/NUMBER" in message or "give the issue" in message
    # Never the whole of a long input: at most a short piece of it.
    assert "a" * 120 not in message and "9" * 120 not in message


def test_surrounding_whitespace_is_trimmed():
    assert parse_issue_url("https://github.com/acme/widgets/issues/1\n", GITHUB).number == 1


def test_corpus_is_large_enough():
    assert len(GOOD) + len(BAD) >= 25


def test_non_text_is_refused():
    with pytest.raises(BadIssueUrl, match="must be text"):
        parse_issue_url(None, GITHUB)  # type: ignore[arg-type]


@pytest.mark.parametrize("api, accepted, refused", [
    ("https://api.github.com", "https://github.com/o/r/issues/1", "https://ghe.corp.example/o/r/issues/1"),
    ("https://ghe.corp.example/api/v3", "https://ghe.corp.example/o/r/issues/1", "https://github.com/o/r/issues/1"),
    ("https://api.octo.ghe.com", "https://octo.ghe.com/o/r/issues/1", "https://github.com/o/r/issues/1"),
    # The sandbox: the simulator on a loopback port; it links issues on github.com, as GitHub does.
    ("http://127.0.0.1:3101", "http://127.0.0.1:3101/o/r/issues/1", "http://127.0.0.1:3102/o/r/issues/1"),
    ("http://127.0.0.1:3101", "https://github.com/o/r/issues/1", "https://127.0.0.1/o/r/issues/1"),
])
def test_the_accepted_host_follows_github_api_url(api, accepted, refused):
    settings = Settings(_env_file=None, github_api_url=api)
    assert parse_issue_url(accepted, settings=settings).number == 1
    with pytest.raises(BadIssueUrl, match="not the configured GitHub"):
        parse_issue_url(refused, settings=settings)


def test_extra_hosts_and_explicit_web_url_are_accepted():
    settings = Settings(_env_file=None, github_api_url="https://ghe.corp.example/api/v3",
                        github_web_url="https://git.corp.example", github_web_hosts="alias.corp.example, "
                        "b\u00fccher.example:8443")
    assert settings.github_issue_hosts == ("ghe.corp.example", "git.corp.example", "alias.corp.example",
                                           "xn--bcher-kva.example:8443")
    for url in ("https://ghe.corp.example/o/r/issues/1", "https://git.corp.example/o/r/issues/1",
                "https://ALIAS.corp.example/o/r/issues/1", "https://b\u00fccher.example:8443/o/r/issues/1"):
        assert parse_issue_url(url, settings=settings).number == 1
    with pytest.raises(BadIssueUrl, match="not the configured GitHub"):
        parse_issue_url("https://b\u00fccher.example/o/r/issues/1", settings=settings)  # the port is required


def test_explicit_hosts_argument_wins_over_settings():
    assert parse_issue_url("http://127.0.0.1:3101/o/r/issues/2", ["http://127.0.0.1:3101"]).number == 2
    with pytest.raises(BadIssueUrl, match="not the configured GitHub"):
        parse_issue_url("https://github.com/o/r/issues/2", ["127.0.0.1:3101"])


@pytest.mark.parametrize("host", ["evilgithub.com", "gist.github.com", "api.github.com", "raw.github.com",
                                  "www.evilgithub.com", "github.co", "ithub.com", "github.com.evil.com",
                                  "github.comm"])
def test_the_host_must_be_the_configured_one_exactly(host):
    """Issue #24: a suffix or substring match (either way round) would accept one of these."""
    with pytest.raises(BadIssueUrl, match="not the configured GitHub"):
        parse_issue_url(f"https://{host}/acme/widgets/issues/1", GITHUB)


def test_www_is_an_alias_of_github_com_only():
    """An Enterprise host has no www alias: `www.` in front of it is another host."""
    ghe = Settings(_env_file=None, github_api_url="https://ghe.corp.example/api/v3")
    with pytest.raises(BadIssueUrl, match="not the configured GitHub"):
        parse_issue_url("https://www.ghe.corp.example/o/r/issues/1", settings=ghe)
    with pytest.raises(BadIssueUrl, match="not the configured GitHub"):
        parse_issue_url("https://www.github.com/o/r/issues/1", settings=ghe)  # github.com is not configured there
    assert parse_issue_url("https://www.github.com/o/r/issues/1", settings=Settings(_env_file=None)).number == 1
