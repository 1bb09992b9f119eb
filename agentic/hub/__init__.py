"""The embedded MCP hub: mcphub's REST dialect + streamable-HTTP MCP over pooled upstream sessions (issue #4).

    python -m agentic.hub --host 127.0.0.1 --port 3000 --settings .ibt/mcp-hub/mcp_settings.json [--token T]

`create_app(settings_path, token=None)` returns the ASGI app; `client.HubClient` talks to this hub or a real mcphub.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(settings_path, token=None, log_dir=None):  # type: ignore[no-untyped-def]
    """See `agentic.hub.app.create_app` (imported lazily: the client does not need the server stack)."""
    from agentic.hub.app import create_app as _create_app

    return _create_app(settings_path, token=token, log_dir=log_dir)
