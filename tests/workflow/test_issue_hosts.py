"""How hosts are compared (agentic/workflows/issue_ref.py): normalisation, `host:port` splitting and the allow-list,
with exact results and messages (what mutation testing found unchecked by test_issue_url.py)."""

from __future__ import annotations

import pytest

from agentic.errors import BadIssueUrl
from agentic.workflows.issue_ref import _show, _split_authority, normalize_host, parse_issue_url, web_host


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
])
def test_web_host(value, expected):
    assert web_host(value) == expected


@pytest.mark.parametrize("authority, expected", [
    ("h", ("h", None)), ("h:1", ("h", 1)), ("h:65535", ("h", 65535)), ("[::1]", ("::1", None)),
    ("[::1]:80", ("::1", 80)),
])
def test_split_authority(authority, expected):
    assert _split_authority(authority) == expected


@pytest.mark.parametrize("authority, message", [
    ("[::1", "malformed IPv6 host"), ("h:0", "bad port '0'"), ("h:65536", "bad port '65536'"),
    ("h:abc", "bad port 'abc'"), ("h:" + "9" * 20, "bad port '9999999999'"), ("h:", "bad port ''"),
])
def test_split_authority_refuses(authority, message):
    with pytest.raises(ValueError) as caught:
        _split_authority(authority)
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
