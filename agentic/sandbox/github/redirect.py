"""Environment for running @modelcontextprotocol/server-github against the simulator (see node/github-redirect.mjs)."""

from __future__ import annotations

import os
from pathlib import Path

PRELOAD = Path(__file__).resolve().parents[1] / "node" / "github-redirect.mjs"


def node_env(github_api_url: str, *, existing_node_options: str | None = None) -> dict[str, str]:
    """Env vars to add to the stdio server's env: the fetch preload and where to send api.github.com traffic.

    Keeps any NODE_OPTIONS already set (from `existing_node_options`, else this process's environment).
    """
    current = os.environ.get("NODE_OPTIONS", "") if existing_node_options is None else existing_node_options
    flag = f"--import {PRELOAD.as_uri()}"  # a file: URI needs no quoting (spaces are %20)
    options = current if flag in current else f"{current} {flag}".strip()
    return {"NODE_OPTIONS": options, "GITHUB_API_URL": github_api_url.rstrip("/")}


def local_preload(node_options: str) -> str:
    """`node_options` with a redirect preload that another machine's install named (deploy.py on the host, the hub
    in a container) pointed at this install's copy; anything else is left as it is."""
    words = node_options.split()
    for i, word in enumerate(words):
        if word.startswith("file:") and word.endswith("/agentic/sandbox/node/github-redirect.mjs"):
            path = Path(word.removeprefix("file://").removeprefix("file:"))
            if not path.exists():
                words[i] = PRELOAD.as_uri()
    return " ".join(words)
