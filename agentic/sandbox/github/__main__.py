"""python -m agentic.sandbox.github --host 127.0.0.1 --port 3101 [--seed FILE] [--webhook-url URL --webhook-secret S]"""

from __future__ import annotations

import argparse
import os

import uvicorn

from agentic.sandbox.github import SimConfig, create_app, load_seed_file


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agentic.sandbox.github", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3101)
    parser.add_argument("--seed", help="YAML or JSON seed (users, repos, files, issues); default: empty")
    parser.add_argument("--webhook-url", help="POST issues/issue_comment/pull_request events here")
    parser.add_argument("--webhook-secret", default=os.environ.get("GITHUB_WEBHOOK_SECRET"),
                        help="HMAC secret for X-Hub-Signature-256 (default: $GITHUB_WEBHOOK_SECRET)")
    parser.add_argument("--base-url", help="URL clients use to reach this server (default: from each request)")
    args = parser.parse_args(argv)
    config = SimConfig(seed=load_seed_file(args.seed) if args.seed else None, webhook_url=args.webhook_url,
                       webhook_secret=args.webhook_secret, base_url=args.base_url)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
