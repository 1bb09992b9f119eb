"""Exact edges of the sanitizer's helpers (agentic/agent/sanitize.py) that mutation testing found unchecked: where
`for_github` cuts and what it drops whole, `truncate_middle`'s boundaries, URL defanging of paths, link and summary
rewriting, the image-alt cap and the token estimate."""

from __future__ import annotations

from agentic.agent.sanitize import (IMAGE_ALT_CHARS, defang_urls, estimate_tokens, for_github, sanitize_issue_text,
                                    truncate_middle)


def test_for_github_fits_exactly_or_cuts_plain_text_with_an_ellipsis():
    assert for_github("hello world", 11) == "hello world"  # exactly the limit: no cut
    assert for_github("hello world", 5) == "hell…"
    assert for_github("hello", 2) == "h…"
    assert for_github("x", 1) == "x"
    assert for_github("x", 0) == "" and for_github("", 5) == "" and for_github(None, 5) == ""


def test_for_github_drops_an_escape_whole_and_cuts_only_text():
    assert for_github("abcd<", 4) == "abc…"  # the text that filled the limit is cut to make room for the ellipsis
    assert for_github("ab<", 2) == "a…"
    assert for_github("a<b", 5) == "a…"  # `&lt;` is never cut in half: dropped whole
    assert for_github("a <b> c", 6) == "a …"
    assert for_github("<<", 5) == "&lt;…"


def test_for_github_trims_line_ends_and_folds_unless_multiline():
    assert for_github("line1  \n  line2", 50, multiline=True) == "line1\n  line2"
    assert for_github("a\nb", 50) == "a b"


def test_truncate_middle_boundaries():
    assert truncate_middle("abcdefghij", 10) == "abcdefghij"
    assert truncate_middle("abcdefghij", 0) == "abcdefghij"  # no limit
    note = len("\n[… 100 characters omitted …]\n")
    assert truncate_middle("x" * 100, note) == "x" * note  # no room beside the note: a plain cut
    assert truncate_middle("x" * 100, note + 1) == "x\n[… 99 characters omitted …]\n"
    assert truncate_middle("x" * 100, 50) == "x" * 14 + "\n[… 80 characters omitted …]\n" + "x" * 6


def test_defanged_urls_keep_their_path_as_it_was():
    assert defang_urls("see https://evil.example/a/b.c/d and www.evil.example/x/y.z and www.a.b") == (
        "see hxxps://evil[.]example/a/b.c/d and www[.]evil[.]example/x/y.z and www[.]a[.]b")


def test_only_anchors_with_an_href_become_text_with_their_link():
    assert defang_urls('<a href="https://x.example/p">click  here</a> and <a>no href</a> and <b href="u">bold</b>') == (
        'click here (link: hxxps://x[.]example/p) and <a>no href</a> and <b href="u">bold</b>')


def test_summary_and_image_alt():
    assert sanitize_issue_text("<details><summary>Sum  mary</summary>body</details>") == (
        "[collapsed section: Sum mary]body[end of collapsed section]")
    exact = "a" * IMAGE_ALT_CHARS
    assert sanitize_issue_text(f"![{exact}](http://x/y.png)") == f"[image: {exact}]"
    assert sanitize_issue_text(f"![{exact}b](http://x/y.png)") == f"[image: {'a' * (IMAGE_ALT_CHARS - 1)}…]"


def test_token_estimate_counts_ascii_below_128_only():
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens(chr(127) * 8) == 2
    assert estimate_tokens(chr(128) * 8) == 8
    assert estimate_tokens("é" * 40) == 40


def test_issue_text_edges():
    from agentic.agent.sanitize import cap

    assert sanitize_issue_text("") == "" and sanitize_issue_text(None) == ""
    assert sanitize_issue_text("a  \n  b\t\nc") == "a\n  b\nc"  # trailing blanks go, indentation stays
    assert sanitize_issue_text("a\n\n\n\nb") == "a\n\nb"
    assert sanitize_issue_text("<script>unclosed") == "unclosed"  # a dropped tag never closed: the tag goes
    # An element never closed does not stop the rewriting of a later one.
    assert sanitize_issue_text("<script>unclosed <style>x</style> end") == "unclosed  end"
    assert cap("abc", 3) == "abc" and cap("abcd", 3) == "ab…" and cap("abc", 0) == "…"


def test_closing_tags_match_case_insensitively_and_only_after_the_opening_one():
    assert defang_urls('<A href="https://x.example">y</A>') == "y (link: hxxps://x[.]example)"
    assert defang_urls('</a><a href="https://x.example">y</a>') == "</a>y (link: hxxps://x[.]example)"


def test_variation_selector_ranges_are_exact():
    from agentic.agent.sanitize import strip_invisible

    for code in (0xFE00, 0xE0100, 0xE0101, 0xE01EF):  # both ends of both ranges: smuggling after a letter
        assert strip_invisible("a" + chr(code) + "b") == "ab", hex(code)
    assert strip_invisible("a\ufe10b") == "a,b"  # the first code point after the range is a (compatibility) comma


def test_only_blanks_are_trimmed_at_line_ends():
    assert sanitize_issue_text("keep X  \nY") == "keep X\nY"


def test_every_line_break_becomes_one_newline():
    from agentic.agent.sanitize import strip_invisible

    assert strip_invisible("a\r\nb\u2028c\u2029d\te") == "a\nb\nc\nd\te"


def test_private_use_unassigned_and_control_characters_are_removed_and_both_presentation_selectors_kept():
    from agentic.agent.sanitize import strip_invisible

    assert strip_invisible("a\ue000b") == "ab"  # private use (Co)
    assert strip_invisible("a\U000e01f0b") == "ab"  # unassigned (Cn)
    assert strip_invisible("a\x07b") == "ab"  # control (Cc)
    assert strip_invisible("\u263a\ufe0e") == "\u263a\ufe0e" and strip_invisible("\u263a\ufe0f") == "\u263a\ufe0f"
