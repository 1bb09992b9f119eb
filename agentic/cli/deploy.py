"""`ibt deploy`: `agentic/deployment/deploy.py` as an `ibt` command — same flags, output and exit codes.

    ibt deploy [--skip-mcp-preload] [--mcp-hub-url URL] [--prefect-api-url URL] [--deploy-only] [--work-pool NAME]
               [--store-secrets]

`cd agentic && python deployment/deploy.py ...` keeps working: both run `deploy.main`.
"""

from __future__ import annotations

from agentic.deployment.deploy import main as deploy

__all__ = ["deploy"]
