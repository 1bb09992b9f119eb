"""How hosts are compared (agentic/github/issue_ref.py): normalisation, `host:port` splitting and the allow-list,
with exact results and messages (what mutation testing found unchecked by test_issue_url.py)."""

from __future__ import annotations

import pytest

from agentic.errors import BadIssueUrl
from agentic.github.hosts import normalize_host, split_authority, web_host
from agentic.github.issue_ref import _show, parse_issue_url


@pytest.mark.parametrize("host, port, scheme, expected", [
    ("GitHub.COM", None, "https", "github.com"),
    ("  github.com ", None, "https", "github.com"),
    ("x.com", 443, "https", "x.com"),
    ("x.com", 80, "http", "x.com"),
    ("x.com", 80, "https", "x.com:80"),
    ("x.com", 443, "http", "x.com:443"),
    ("127.0.0.1", 3101, "http", "127.0.0.1:3101"),
    ("::1", None, "https", "[::1]"),
    ("FE80::1", 8443, "https", "[fe80::1]:8443"),
    ("fe80::abcd", None, "https", "[fe80::abcd]"),
    ("bücher.example", None, "https", "xn--bcher-kva.example"),
    ("a" * 63 + ".com", None, "https", "a" * 63 + ".com"),
    (".".join(["a" * 63] * 3) + "." + "b" * 61, None, "https", ".".join(["a" * 63] * 3) + "." + "b" * 61),  # 253
])
def test_normalize_host(host, port, scheme, expected):
    assert normalize_host(host, port, scheme) == expected


@pytest.mark.parametrize("host, message", [
    ("", "empty host"),
    ("   ", "empty host"),
    ("fe80::zz", "invalid IPv6 address 'fe80::zz'"),
    ("a" * 64 + ".com", "invalid host name"),
    (".".join(["a" * 63] * 3) + "." + "b" * 62, "invalid host name"),  # 254 characters
    ("-x.com", "invalid host name"),
    ("ｇithub.com", "invalid host name (Codepoint U+FF47 at position 1 of 'ｇithub' not allowed)"),
])
def test_normalize_host_refuses(host, message):
    with pytest.raises(ValueError) as caught:
        normalize_host(host)
    assert str(caught.value) == message


def test_the_default_scheme_is_https():
    assert normalize_host("x.com", 443) == "x.com" and normalize_host("x.com", 80) == "x.com:80"


@pytest.mark.parametrize("value, expected", [
    ("https://GHE.example:8443/api/v3", "ghe.example:8443"),
    ("HTTP://h.example:80/x", "h.example"),
    ("http://h.example:443", "h.example:443"),
    ("h.example:3101", "h.example:3101"),
    ("h.example:443", "h.example"),
    ("user@h.example", "h.example"),
    ("https://a@b@h.example/x", "h.example"),
    ("https://[::1]:3101/x", "[::1]:3101"),
    ("[::1]", "[::1]"),
    ("h.example?x=1", "h.example"),
    ("h.example#frag", "h.example"),
    ("h.example/a/b", "h.example"),
    (" https://github.com/ ", "github.com"),
    ("https://h.example/r?u=http://x.example", "h.example"),  # the first `://` is the scheme's
])
def test_web_host(value, expected):
    assert web_host(value) == expected


@pytest.mark.parametrize("authority, expected", [
    ("h", ("h", None)), ("h:1", ("h", 1)), ("h:65535", ("h", 65535)), ("[::1]", ("::1", None)),
    ("[::1]:80", ("::1", 80)),
])
def test_split_authority(authority, expected):
    assert split_authority(authority) == expected


@pytest.mark.parametrize("authority, message", [
    ("[::1", "malformed IPv6 host"), ("h:0", "bad port '0'"), ("h:65536", "bad port '65536'"),
    ("h:abc", "bad port 'abc'"), ("h:" + "9" * 20, "bad port '9999999999'"), ("h:", "bad port ''"),
])
def test_split_authority_refuses(authority, message):
    with pytest.raises(ValueError) as caught:
        split_authority(authority)
    assert str(caught.value) == message


def test_show_cuts_long_input_and_says_how_long_it_was():
    assert _show("a" * 60) == repr("a" * 60)
    assert _show("a" * 61) == repr("a" * 60) + "… (61 characters)"
    assert _show("abcdef", 3) == "'abc'… (6 characters)"


def test_the_expected_form_names_the_first_accepted_host():
    with pytest.raises(BadIssueUrl) as caught:
        parse_issue_url("", hosts=["GHE.example", "github.com"])
    assert str(caught.value) == "the issue URL is empty; expected https://ghe.example/OWNER/REPO/issues/NUMBER"
    with pytest.raises(BadIssueUrl) as caught:
        parse_issue_url("", hosts=[])
    assert str(caught.value).endswith("; expected https://github.com/OWNER/REPO/issues/NUMBER")


def test_a_bad_allow_list_entry_allows_nothing_but_the_rest_still_counts():
    ref = parse_issue_url("https://github.com/acme/widgets/issues/3", hosts=["bad host!", "h:0", "github.com"])
    assert (ref.owner, ref.repo, ref.number) == ("acme", "widgets", 3)
    with pytest.raises(BadIssueUrl) as caught:
        parse_issue_url("https://other.example/acme/widgets/issues/3", hosts=["bad host!", "github.com", "github.com"])
    assert "(github.com; set GITHUB_WEB_URL" in str(caught.value)


GH = ["github.com"]


def _refusal(url, hosts=GH) -> str:
    with pytest.raises(BadIssueUrl) as caught:
        parse_issue_url(url, hosts=hosts)
    return str(caught.value)


@pytest.mark.parametrize("url, part, cut", [
    ("https://github.com/" + "a" * 3000, None, 40),  # the URL itself, for "starts ..."
    ("f" * 30 + "://github.com/a/b/issues/1", "f" * 30, 20),
    ("https://" + "h" * 50 + ":abc/a/b/issues/1", "h" * 50 + ":abc", 40),
    ("https://-" + "h" * 50 + "/a/b/issues/1", "-" + "h" * 50, 40),
    ("https://" + "o" * 50 + ".example/a/b/issues/1", "o" * 50 + ".example", 40),
    ("https://github.com/" + "p" * 60, "/" + "p" * 60, 50),
    ("https://github.com/acme/" + "r" * 50 + "/pull/1", "/acme/" + "r" * 50 + "/pull/1", 50),
    ("https://github.com/a/b/" + "k" * 30 + "/1", "k" * 30, 20),
    ("https://github.com/" + "-" * 50 + "/b/issues/1", "-" * 50, 40),
    ("https://github.com/a/" + "r!" * 30 + "/issues/1", "r!" * 30, 40),
    ("https://github.com/a/b/issues/" + "x" * 30, "x" * 30, 20),
    ("https://github.com/a/b/issues/0" + "1" * 25, "0" + "1" * 25, 20),
    ("https://github.com/a/b/issues/" + "9" * 30, "9" * 30, 20),
])
def test_each_refusal_quotes_the_bad_part_cut_to_its_length(url, part, cut):
    message = _refusal(url)
    quoted = _show(url if part is None else part, cut)
    assert quoted in message, (quoted, message)
    assert message.endswith("expected https://github.com/OWNER/REPO/issues/NUMBER") or \
        message.endswith("expected https://github.com/OWNER/REPO/issues/NUMBER)")


def test_a_url_of_exactly_the_maximum_length_is_judged_on_its_parts():
    url = "https://github.com/acme/" + "r" * 100 + "/issues/1"
    url = url.replace("/acme/", "/" + "a" * (2048 - len(url) + 4) + "/")
    assert len(url) == 2048
    message = _refusal(url)
    assert "characters, more than the" not in message and "is not a GitHub account name" in message


def test_the_port_is_compared_with_the_urls_own_scheme():
    assert "is not the configured GitHub" in _refusal("http://github.com:443/a/b/issues/1")
    assert parse_issue_url("http://github.com:80/a/b/issues/1", hosts=GH).number == 1


def test_the_host_refusal_lists_three_configured_hosts_and_the_idna_form():
    message = _refusal("https://other.example/a/b/issues/1",
                       hosts=["a.example", "b.example", "c.example", "d.example"])
    assert "(a.example, b.example, c.example; set GITHUB_WEB_URL" in message
    assert "(IDNA" not in message and "host 'other.example' is not the configured GitHub" in message
    assert "(none; set GITHUB_WEB_URL" in _refusal("https://other.example/a/b/issues/1", hosts=[])
    assert "bücher.example' (IDNA: xn--bcher-kva.example) is not" in _refusal("https://bücher.example/a/b/issues/1")
    long = "bücher." + "x" * 60 + ".example"
    idna = normalize_host(long)
    assert f"(IDNA: {idna[:60]}) is not" in _refusal(f"https://{long}/a/b/issues/1")


def test_non_text_is_named_by_its_type():
    assert _refusal(123).startswith("the issue URL must be text, got int;")
