"""A tiny real MCP server (FastMCP) used as a hub upstream in tests and benchmarks.

    python upstream_server.py stdio|http [--port N] [--tools N] [--mode ok|crash|hang|garbage]
"""

from __future__ import annotations

import argparse
import sys
import time


def build(extra_tools: int):
    from fastmcp import FastMCP

    mcp = FastMCP("echo")

    @mcp.tool
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool
    def fail(message: str) -> str:
        """Always raise."""
        raise ValueError(message)

    for i in range(extra_tools):
        def make(i: int):
            def tool(x: int = 0) -> int:
                return x + i
            tool.__name__ = f"tool_{i:02d}"
            tool.__doc__ = f"Generated tool number {i}."
            return tool
        mcp.tool(make(i))
    return mcp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tools", type=int, default=0)
    parser.add_argument("--mode", default="ok", choices=["ok", "crash", "hang", "garbage"])
    args = parser.parse_args()
    if args.mode == "crash":
        print("fatal: missing configuration FOO_API_URL", file=sys.stderr, flush=True)
        sys.exit(3)
    if args.mode == "hang":
        time.sleep(3600)
    if args.mode == "garbage":
        while True:
            print("this is not json-rpc", flush=True)
            sys.stdin.readline()
    mcp = build(args.tools)
    if args.transport == "stdio":
        mcp.run(show_banner=False)
    else:
        mcp.run(transport="http", host="127.0.0.1", port=args.port, show_banner=False, log_level="warning")


if __name__ == "__main__":
    main()
