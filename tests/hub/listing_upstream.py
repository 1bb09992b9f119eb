"""A real MCP server (the `mcp` SDK's low-level Server over stdio) whose tool set can change: an upstream for the
hub's tools/list cache tests and the tools/list benchmark (issue #14).

    python listing_upstream.py [--tools N] [--names-file PATH]

Tool definitions are plain — name, description, inputSchema: what mcphub (ae3fe1c) keeps of a tool — so our hub
and mcphub list the same bytes. Tools: `echo {text}`, `pid` (this process's id), `grow {name}` (adds a tool and
sends notifications/tools/list_changed), `tool_00`.. (`--tools N`), and one tool per line of `--names-file`,
read at start: a restarted process lists what the file says then.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import anyio
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.stdio import stdio_server


def plain_tool(name: str, description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "description": description,
            "inputSchema": {"type": "object", "properties": properties or {}}}


def build(extra: int, names_file: Path | None) -> Server:
    tools = [plain_tool("echo", "Return the text unchanged.", {"text": {"type": "string"}}),
             plain_tool("pid", "This server's process id."),
             plain_tool("grow", "Add a tool named `name` and announce the change.", {"name": {"type": "string"}})]
    tools += [plain_tool(f"tool_{i:02d}", f"Generated tool number {i}.", {"x": {"type": "integer", "default": 0}})
              for i in range(extra)]
    if names_file is not None:
        tools += [plain_tool(line.strip(), "Named in the names file.")
                  for line in names_file.read_text().splitlines() if line.strip()]

    async def list_tools(ctx: Any, params: Any) -> dict[str, Any]:
        return {"tools": tools}

    async def call_tool(ctx: Any, params: Any) -> dict[str, Any]:
        arguments = params.arguments or {}
        if params.name == "echo":
            text = str(arguments.get("text", ""))
        elif params.name == "pid":
            text = str(os.getpid())
        elif params.name == "grow":
            tools.append(plain_tool(str(arguments["name"]), "Added at run time."))
            await ctx.session.send_tool_list_changed()
            text = f"{len(tools)} tools"
        elif any(t["name"] == params.name for t in tools):
            text = params.name
        else:
            return {"content": [{"type": "text", "text": f"Unknown tool: {params.name}"}], "isError": True}
        return {"content": [{"type": "text", "text": text}]}

    return Server("listing-upstream", on_list_tools=list_tools, on_call_tool=call_tool)


async def serve(server: Server) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options(NotificationOptions(tools_changed=True)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=int, default=0)
    parser.add_argument("--names-file", type=Path)
    args = parser.parse_args()
    anyio.run(serve, build(args.tools, args.names_file))


if __name__ == "__main__":
    main()
