"""Strip what a reader of the issue on github.com does not see but a model would: the text is data, not orders.

Prompt-injection in issues hides in HTML comments, invisible Unicode (zero-width, bidi controls, the tag block that
spells ASCII invisibly), markdown link-reference "comments" and HTML elements styled or marked hidden.
"""

from __future__ import annotations

import re
import unicodedata

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_HIDDEN_ELEMENT = re.compile(
    r"<(?P<tag>[a-zA-Z][a-zA-Z0-9]*)\b[^>]*(?:\bhidden\b|display\s*:\s*none|visibility\s*:\s*hidden)[^>]*>.*?</(?P=tag)\s*>",
    re.DOTALL | re.IGNORECASE,
)
_LINK_REF_COMMENT = re.compile(r"^\s*\[(?://|comment|_)\]:\s*#.*$", re.MULTILINE | re.IGNORECASE)
_TAGS = re.compile(r"</?(?:script|style|iframe|object|embed)\b[^>]*>", re.IGNORECASE)


def _visible_char(ch: str) -> bool:
    if ch in "\n\t":
        return True
    # Cf = format chars (zero-width, bidi overrides, U+E0000 tag block); Co/Cn = private use / unassigned.
    return unicodedata.category(ch) not in ("Cf", "Co", "Cn", "Cc")


def sanitize_issue_text(text: str | None) -> str:
    """Return only what a person sees on the issue page, with invisible content removed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _HTML_COMMENT.sub("", text)
    text = _HIDDEN_ELEMENT.sub("", text)
    text = _LINK_REF_COMMENT.sub("", text)
    text = _TAGS.sub("", text)
    text = "".join(ch for ch in text if _visible_char(ch))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
