"""docs/reliability.md has one section per suite that writes it (the native fault suite, the Docker suite): each
suite rewrites only its own section, between markers, and keeps the others."""

from __future__ import annotations

from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


def write_section(name: str, lines: list[str], report: Path = REPORT) -> None:
    begin, end = f"<!-- section: {name} -->", f"<!-- end: {name} -->"
    text = report.read_text(encoding="utf-8") if report.exists() else ""
    block = "\n".join([begin, *lines, end])
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"
    report.write_text(text, encoding="utf-8")


def table(head: list[str], rows: list[dict]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(str(row[h]) for h in head) + " |" for row in rows]
