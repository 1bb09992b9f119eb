"""Untrusted text stays data: what goes to the model, to Jules and to GitHub passes through here.

Three directions, three functions:

- `sanitize_issue_text`: what a reader of the issue on github.com sees, nothing more. Prompt-injection in issues hides
  in HTML comments, invisible Unicode (zero-width, format characters, the tag block that spells ASCII invisibly,
  variation-selector smuggling), bidi overrides (a reader sees the text reversed, a model reads it in order: the
  override run is replaced by what the reader sees), markdown link-reference "comments" and HTML elements marked
  hidden. Images become `[image: alt]` (alt capped, URL dropped: an image's address is not content), `<details>` tags
  become visible labels (the content is one click away for a reader, so it stays, labelled). Visible text is kept
  as is, including `<` in code (`List<String>`): the text is fenced as data wherever it goes.
- `for_prompt` (Jules): the above, capped (head + tail, `[… N characters omitted …]`), and every URL defanged
  (`https://evil.example/x` -> `hxxps://evil[.]example/x`). Jules has live internet access and fetches URLs found in
  its prompt, so no untrusted URL stays fetchable; the defanged form keeps the information for a human reviewer.
  Markdown links become `text (link: <defanged url>)` so the link text cannot disguise the target.
- `for_github(text, limit)`: model or Jules output posted on the issue: length-capped, `@mentions` and cross-repo
  references neutralised with an empty HTML comment (`@<!-- -->name`: GitHub's mention filter works on text nodes,
  the comment splits them; it renders as plain `@name`), HTML (`<`, `>`) escaped so the text cannot close or open
  the status comment's `<details>`, comments or tags, code fences escaped, images and links flattened to text.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable

DEFAULT_MAX_BODY_CHARS = 20_000
IMAGE_ALT_CHARS = 100

# Every pattern runs in linear time on hostile input: attribute, alt and URL runs are bounded and exclude the opening
# character of the next candidate (`<`, `[`), and elements are matched open-tag-first with a per-tag memo of missing
# closing tags (`_elements`), never with a lazy `.*?` from every opener.
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_OPEN_TAG = re.compile(r"<(?P<tag>[a-zA-Z][a-zA-Z0-9]{0,30})(?P<attrs>(?:\s[^<>]{0,2000})?)>")
_HIDDEN_ATTRS = re.compile(r"\bhidden\b|display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_LINK_REF_COMMENT = re.compile(r"^[ \t]*\[(?://|comment|_)\]:[ \t]*#.*$", re.MULTILINE | re.IGNORECASE)
# Elements GitHub drops with their content (script, style) or never renders (iframe, object, embed).
_DROPPED_TAGS = frozenset({"script", "style", "iframe", "object", "embed"})
_TAGS = re.compile(r"</?(?:script|style|iframe|object|embed)\b[^<>]{0,2000}>", re.IGNORECASE)
_HTML_IMG = re.compile(r"<img\b(?P<attrs>[^<>]{0,2000})>", re.IGNORECASE)
_ALT_ATTR = re.compile(r"""\balt\s*=\s*(?:"(?P<d>[^"]*)"|'(?P<s>[^']*)'|(?P<u>[^\s>]+))""", re.IGNORECASE)
_HREF_ATTR = re.compile(r"""\bhref\s*=\s*(?:"(?P<d>[^"]*)"|'(?P<s>[^']*)'|(?P<u>[^\s>]+))""", re.IGNORECASE)
_MD_IMAGE = re.compile(r"!\[(?P<alt>[^\[\]\n]{0,1000})\]\((?P<url>[^()\s]{0,2000})(?:[ \t]+\"[^\"\n]{0,500}\")?\)")
_MD_LINK = re.compile(r"(?<!!)\[(?P<text>[^\[\]\n]{0,1000})\]\((?P<url>[^()\s]{1,2000})(?:[ \t]+\"[^\"\n]{0,500}\")?\)")
_DETAILS_OPEN = re.compile(r"<details\b[^<>]{0,2000}>", re.IGNORECASE)
_DETAILS_CLOSE = re.compile(r"</details\s*>", re.IGNORECASE)
_URL = re.compile(r"\b(?P<scheme>https?|ftp|wss?)://(?P<rest>[^\s<>\"'`)\]]+)", re.IGNORECASE)
_WWW = re.compile(r"(?<![\w./\[])www\.(?P<rest>[^\s<>\"'`)\]]+)", re.IGNORECASE)

# Bidi controls. Overrides (LRO, RLO) reorder what a reader sees; embeddings, isolates and marks only nudge it.
_RLO, _LRO, _PDF = "\u202e", "\u202d", "\u202c"
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Invisible characters outside the Cf category: Hangul fillers, combining grapheme joiner, Khmer inherent vowels.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5")


def _is_variation_selector(ch: str) -> bool:
    code = ord(ch)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _resolve_overrides(text: str) -> str:
    """Replace each right-to-left override run (RLO ... PDF, or to the end of the line) by what a reader sees: its
    characters reversed. Other bidi controls are dropped later; their runs keep their logical order."""
    if _RLO not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != _RLO:
            out.append(ch)
            i += 1
            continue
        j, run = i + 1, []
        while j < len(text) and text[j] not in (_PDF, "\n"):
            if text[j] not in BIDI_CONTROLS:
                run.append(text[j])
            j += 1
        out.append("".join(reversed(run)))
        i = j + 1 if j < len(text) and text[j] == _PDF else j
    return "".join(out)


def strip_invisible(text: str) -> str:
    """NFKC, bidi overrides resolved to their displayed order, then every character a reader cannot see removed:
    format (Cf: zero-width, bidi, tag block), control (Cc but newline and tab), private-use, unassigned, variation
    selectors beyond the first (the "emoji smuggling" channel), invisible fillers. U+2028/U+2029 become newlines."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = _resolve_overrides(text)
    out: list[str] = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
        elif _is_variation_selector(ch):
            # One selector after a visible character is legitimate emoji presentation; a run of them encodes data.
            if out and not _is_variation_selector(out[-1]) and ord(ch) in (0xFE0E, 0xFE0F):
                out.append(ch)
        elif ch in _INVISIBLE_LETTERS or unicodedata.category(ch) in ("Cf", "Co", "Cn", "Cc", "Cs"):
            continue
        else:
            out.append(ch)
    return "".join(out)


def _alt_text(alt: str) -> str:
    alt = " ".join(alt.split())
    return alt if len(alt) <= IMAGE_ALT_CHARS else alt[: IMAGE_ALT_CHARS - 1] + "…"


def _image_label(alt: str) -> str:
    alt = _alt_text(alt)
    return f"[image: {alt}]" if alt else "[image]"


def _html_image(match: re.Match[str]) -> str:
    return _image_label(_attr(_ALT_ATTR, match.group("attrs")))


def _elements(text: str, rewrite) -> str:
    """Rewrite HTML elements `<tag attrs>inner</tag>` (first closing tag, like a lazy match) in linear time.
    `rewrite(tag, attrs, inner)` returns the replacement, or None to leave the opening tag as it is."""
    out: list[str] = []
    pos = search_from = 0
    no_close: set[str] = set()  # a closing tag absent after one position is absent after every later one
    closers: dict[str, re.Pattern[str]] = {}
    while match := _OPEN_TAG.search(text, search_from):
        tag = match.group("tag").lower()
        search_from = match.end()
        if tag in no_close or rewrite(tag, match.group("attrs"), None) is None:
            continue
        closer = closers.setdefault(tag, re.compile(rf"</{tag}\s*>", re.IGNORECASE))
        close = closer.search(text, match.end())
        if close is None:
            no_close.add(tag)
            continue
        out += [text[pos:match.start()], rewrite(tag, match.group("attrs"), text[match.end():close.start()])]
        pos = search_from = close.end()
    out.append(text[pos:])
    return "".join(out)


def _attr(pattern: re.Pattern[str], attrs: str) -> str:
    found = pattern.search(attrs)
    return next((g for g in found.groups() if g is not None), "") if found else ""


def _hidden_or_dropped(tag: str, attrs: str, inner: str | None) -> str | None:
    # `inner is None` asks "is this element one to rewrite?"
    return "" if tag in _DROPPED_TAGS or _HIDDEN_ATTRS.search(attrs) else None


def _summary(tag: str, attrs: str, inner: str | None) -> str | None:
    if tag != "summary":
        return None
    return "" if inner is None else f"[collapsed section: {' '.join(inner.split())}]"


def _html_link(tag: str, attrs: str, inner: str | None) -> str | None:
    if tag != "a" or not _attr(_HREF_ATTR, attrs):
        return None
    return "" if inner is None else f"{' '.join(inner.split())} (link: {_attr(_HREF_ATTR, attrs)})"


def sanitize_issue_text(text: str | None) -> str:
    """Return only what a person sees on the issue page, with invisible content removed (see the module doc)."""
    if not text:
        return ""
    text = strip_invisible(text)
    text = _HTML_COMMENT.sub("", text)
    text = _elements(text, _hidden_or_dropped)
    text = _LINK_REF_COMMENT.sub("", text)
    text = _TAGS.sub("", text)
    text = _HTML_IMG.sub(_html_image, text)
    text = _MD_IMAGE.sub(lambda m: _image_label(m.group("alt")), text)
    text = _elements(text, _summary)
    text = _DETAILS_OPEN.sub("[collapsed section]", text)
    text = _DETAILS_CLOSE.sub("[end of collapsed section]", text)
    text = re.sub(r"\[collapsed section\]\s*\[collapsed section: ", "[collapsed section: ", text)
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))  # a regex here is quadratic on long runs
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- sizes ---------------------------------------------------------------------------------------------------------


def truncate_middle(text: str, limit: int) -> str:
    """At most `limit` characters: the head and the tail, with `[… N characters omitted …]` between them."""
    if limit <= 0 or len(text) <= limit:
        return text
    # The note's length depends on N; N is at most len(text), so reserve room for that many digits.
    room = limit - len(f"\n[… {len(text)} characters omitted …]\n")
    if room <= 0:
        return text[:limit]
    head = math.ceil(room * 0.7)
    tail = room - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n[… {omitted} characters omitted …]\n{text[len(text) - tail:] if tail else ''}"


def cap(text: str, limit: int) -> str:
    """At most `limit` characters, ending with `…` when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def estimate_tokens(text: str) -> int:
    """A conservative token estimate without a tokenizer: ~4 ASCII characters per token, 1 token per other character
    (CJK and most non-Latin scripts are about one token per character, emoji more)."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


# --- towards Jules ---------------------------------------------------------------------------------------------------


_DEFANGED_SCHEMES = {"http": "hxxp", "https": "hxxps", "ftp": "fxp", "ws": "wx", "wss": "wxs"}


def defang_urls(text: str) -> str:
    """`https://evil.example/x` -> `hxxps://evil[.]example/x`, `www.evil.example` -> `www[.]evil[.]example`:
    still readable, no longer a URL a fetching agent follows. Markdown links become `text (link: <defanged>)`."""

    def link(match: re.Match[str]) -> str:
        return f"{match.group('text')} (link: {match.group('url')})"

    def url(match: re.Match[str]) -> str:
        scheme = _DEFANGED_SCHEMES[match.group("scheme").lower()]
        host, sep, path = match.group("rest").partition("/")
        return f"{scheme}://{host.replace('.', '[.]')}{sep}{path}"

    text = _elements(text, _html_link)
    text = _MD_LINK.sub(link, text)
    text = _URL.sub(url, text)
    return _WWW.sub(lambda m: "www[.]" + m.group("rest").split("/", 1)[0].replace(".", "[.]")
                    + ("/" + m.group("rest").split("/", 1)[1] if "/" in m.group("rest") else ""), text)


_CLOSING_REF = re.compile(r"\b(?P<verb>close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?P<sep>\s*:?\s+)"
                          r"(?P<repo>[\w.-]+/[\w.-]+)?#(?P<number>\d+)", re.IGNORECASE)


def neutralise_closing_refs(text: str) -> str:
    """`Fixes #99` -> `Fixes (issue 99)`: untrusted text must not make Jules' pull request close other issues (Jules
    repeats closing references it finds in its prompt)."""
    return _CLOSING_REF.sub(lambda m: f"{m.group('verb')}{m.group('sep')}(issue "
                            f"{m.group('repo') + ' ' if m.group('repo') else ''}{m.group('number')})", text)


def for_prompt(text: str | None, limit: int) -> str:
    """Untrusted text on its way into Jules' prompt: sanitized, URLs defanged, closing references broken, capped
    (head + tail)."""
    return truncate_middle(neutralise_closing_refs(defang_urls(sanitize_issue_text(text))), limit)


# --- towards GitHub --------------------------------------------------------------------------------------------------

_GITHUB_PIECE = re.compile(
    r"(?P<mention>@(?P<login>[A-Za-z0-9][A-Za-z0-9-]*)(?P<team>/[A-Za-z0-9][\w.-]*)?)"
    r"|(?P<xref>(?<![\w/.-])[A-Za-z0-9][\w.-]*/[\w.-]+#(?=\d))"
    r"|(?P<lt><)|(?P<gt>>)|(?P<amp>&)"
    r"|(?P<fence>`{3,}|~{3,})"
    r"|(?P<text>[^@<>&`~A-Za-z0-9]+|[A-Za-z0-9]+|.)",
    re.DOTALL,
)
GITHUB_BREAK = "<!-- -->"  # splits a text node: no mention, no reference; renders as nothing


def for_github(text: str | None, limit: int, *, allow_mentions: Iterable[str] = (), multiline: bool = False) -> str:
    """Model or Jules output made safe to post on GitHub, at most `limit` characters (see the module doc).

    `allow_mentions`: logins this text may ping (the flow's own, e.g. the issue author), case-insensitive.
    `multiline=False` folds the text to one line (it is placed after a list marker or a label)."""
    if not text or limit <= 0:
        return ""
    allowed = {login.lower() for login in allow_mentions}
    # The output holds at most `limit` characters: ten times that of input is plenty, and bounds the work.
    text = strip_invisible(text[: max(10 * limit, 10_000)])
    text = _HTML_COMMENT.sub("", text)
    text = _HTML_IMG.sub(_html_image, text)
    text = _MD_IMAGE.sub(lambda m: _image_label(m.group("alt")), text)
    text = _MD_LINK.sub(lambda m: f"{m.group('text')} ({m.group('url')})", text)
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    if not multiline:
        text = " ".join(text.split())
    pieces: list[tuple[str, bool]] = []  # (piece, may be cut)
    size = 0
    for match in _GITHUB_PIECE.finditer(text):
        raw, kind = match.group(0), match.lastgroup
        if kind == "mention":
            live = match.group("login").lower() in allowed and not match.group("team")
            piece = raw if live else "@" + GITHUB_BREAK + raw[1:]
        elif kind == "xref":
            piece = raw + GITHUB_BREAK
        elif kind in _ESCAPES:
            piece = _ESCAPES[kind]
        elif kind == "fence":
            piece = "".join("\\" + ch for ch in raw)
        else:
            piece = raw
        if size + len(piece) > limit:
            return _cut(pieces, size, piece if kind == "text" else "", limit)
        pieces.append((piece, kind == "text"))
        size += len(piece)
    return "".join(piece for piece, _ in pieces)


_ESCAPES = {"lt": "&lt;", "gt": "&gt;", "amp": "&amp;"}


def _cut(pieces: list[tuple[str, bool]], size: int, overflow_text: str, limit: int) -> str:
    """End with `…` within `limit`: plain text may be cut, an escape or a neutralised mention is dropped whole."""
    room = limit - 1 - size
    if room > 0 and overflow_text:
        pieces.append((overflow_text[:room], True))
        room = 0
    while room < 0 and pieces:
        piece, cuttable = pieces.pop()
        size -= len(piece)
        room = limit - 1 - size
        if cuttable and room > 0:
            pieces.append((piece[:room], True))
            room = 0
    return "".join(piece for piece, _ in pieces) + "…"
