"""`python -m agentic.cli` is `ibt` (used to spawn the detached supervisor with the same interpreter)."""

from agentic.cli import app

app(prog_name="ibt")
