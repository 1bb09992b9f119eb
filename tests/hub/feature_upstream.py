"""A real MCP upstream (the `mcp` SDK's low-level Server, stdio) with the server features beyond tools that the hub
forwards: resources, a resource template, prompts, completion and logging — and errors carrying a code and data.

    python feature_upstream.py NAME [--bare]

NAME goes into its resource URIs (`memo://NAME/...`) so two instances behind one hub list different resources.
`--bare` serves tools only (no resources, prompts, completion or logging capability).
Tools: `level` (the level last set by logging/setLevel, or "unset"), `strict` (answers -32602 with data),
`shaped` (an input schema with `$schema`), `touch` (sends prompts and resources list_changed notifications),
`bump` (sends notifications/resources/updated for each subscribed URI and answers with them, one a line).
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

NOT_FOUND = -32002  # the code MCP servers use for an unknown resource
NAMES = ["alice", "bob", "carol"]


def build(name: str, bare: bool) -> Server:
    level: list[str] = []  # what logging/setLevel asked for last
    subscribed: set[str] = set()

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name="level", description="The logging level last set.",
                       input_schema={"type": "object", "properties": {}}),
            types.Tool(name="strict", description="Rejects its params.",
                       input_schema={"type": "object", "properties": {}}),
            types.Tool(name="shaped", description="Has a $schema.",
                       input_schema={"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                                     "properties": {"x": {"type": "integer"}}}),
            types.Tool(name="touch", description="Says its prompts and resources changed.",
                       input_schema={"type": "object", "properties": {}}),
            types.Tool(name="bump", description="Says each subscribed resource was updated.",
                       input_schema={"type": "object", "properties": {}}),
        ])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name == "strict":
            raise MCPError(types.INVALID_PARAMS, "strict wants nothing", data={"tool": "strict", "server": name})
        if params.name == "touch":
            await ctx.session.send_prompt_list_changed()
            await ctx.session.send_resource_list_changed()
        if params.name == "bump":
            for uri in sorted(subscribed):
                await ctx.session.send_resource_updated(uri)
            return types.CallToolResult(content=[types.TextContent(type="text", text="\n".join(sorted(subscribed)))])
        text = level[-1] if level else "unset"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    async def list_resources(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[
            types.Resource(uri=f"memo://{name}/greeting", name="greeting", mime_type="text/plain"),
            types.Resource(uri=f"memo://{name}/missing", name="missing", mime_type="text/plain"),
        ])

    async def list_templates(ctx: Any, params: types.PaginatedRequestParams | None
                             ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[
            types.ResourceTemplate(uri_template=f"note://{name}/{{id}}", name="note", mime_type="text/plain")])

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        if uri == f"memo://{name}/greeting":
            text = f"hello from {name}"
        elif uri.startswith(f"note://{name}/"):
            text = f"note {uri.rsplit('/', 1)[1]} of {name}"
        else:
            raise MCPError(NOT_FOUND, "Resource not found", data={"uri": uri, "server": name})
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, text=text,
                                                                             mime_type="text/plain")])

    async def list_prompts(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[types.Prompt(
            name="greet", description="Greet someone.",
            arguments=[types.PromptArgument(name="who", required=True)])])

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        if params.name != "greet":
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}", data={"prompt": params.name})
        who = (params.arguments or {}).get("who", "nobody")
        return types.GetPromptResult(messages=[types.PromptMessage(
            role="user", content=types.TextContent(type="text", text=f"{name} greets {who}"))])

    async def complete(ctx: Any, params: types.CompleteRequestParams) -> types.CompleteResult:
        ref, prefix = params.ref, params.argument.value
        if isinstance(ref, types.PromptReference) and ref.name == "greet":
            values = [n for n in NAMES if n.startswith(prefix)]
        elif isinstance(ref, types.ResourceTemplateReference) and ref.uri == f"note://{name}/{{id}}":
            values = [f"{prefix}1", f"{prefix}2"]
        else:
            values = []
        return types.CompleteResult(completion=types.Completion(values=values, total=len(values)))

    async def subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribed.add(str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscribed.discard(str(params.uri))
        return types.EmptyResult()

    async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        level.append(params.level)
        return types.EmptyResult()

    if bare:
        return Server(name, on_list_tools=list_tools, on_call_tool=call_tool)
    server = Server(name, on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
                    on_list_resource_templates=list_templates, on_read_resource=read_resource,
                    on_subscribe_resource=subscribe, on_unsubscribe_resource=unsubscribe,
                    on_list_prompts=list_prompts, on_get_prompt=get_prompt, on_completion=complete)
    # Registered directly: the constructor's on_set_logging_level warns (logging is deprecated in 2026-07-28).
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    return server


async def serve(name: str, bare: bool) -> None:
    server = build(name, bare)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--bare", action="store_true")
    args = parser.parse_args()
    anyio.run(serve, args.name, args.bare)


if __name__ == "__main__":
    main()
