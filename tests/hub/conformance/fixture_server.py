"""Our own server for the official MCP conformance suite (`@modelcontextprotocol/conformance` 0.1.16): the tools,
resources, prompts and behaviours its server scenarios call, written from the scenarios' stated expectations on the
`mcp` SDK's low-level Server (the suite's reference server is TypeScript and not used here).

    python fixture_server.py --port PORT        # streamable HTTP on http://127.0.0.1:PORT/mcp (SSE answers)
    python fixture_server.py --stdio             # the same server on stdio
    --test-tools adds `test_exit_mid_call` (the process exits while answering) and `test_progress_stamps` (timed
    progress): for the hub's own tests and bench, not the suite

Direct runs of the suite against it are the baseline that the hub's /mcp/<server> and /mcp must match.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata

# A 1x1 red PNG and a 44-byte silent WAV: the smallest valid payloads of each kind.
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
WAV = base64.b64encode(b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00D\xac\x00\x00\x88X\x01\x00"
                       b"\x02\x00\x10\x00data\x00\x00\x00\x00").decode()
STATIC_TEXT = "This is the content of the static text resource."
NOT_FOUND = -32002

EMPTY_INPUT: dict[str, Any] = {"type": "object", "properties": {}}


def _tool(name: str, description: str, schema: dict[str, Any] | None = None) -> types.Tool:
    return types.Tool(name=name, description=description, input_schema=schema or EMPTY_INPUT)


TOOLS = [
    _tool("test_simple_text", "Returns simple text content"),
    _tool("test_image_content", "Returns a PNG image"),
    _tool("test_audio_content", "Returns a WAV audio clip"),
    _tool("test_embedded_resource", "Returns an embedded text resource"),
    _tool("test_multiple_content_types", "Returns text, image and resource content"),
    _tool("test_tool_with_logging", "Sends three info log notifications while it runs"),
    _tool("test_tool_with_progress", "Reports progress 0, 50, 100 of 100 when given a progress token"),
    _tool("test_error_handling", "Always fails (isError)"),
    _tool("test_sampling", "Asks the client's model (sampling/createMessage) and returns its answer",
          {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}),
    _tool("test_elicitation", "Asks the user (elicitation/create) for a username and an email",
          {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}),
    _tool("test_elicitation_sep1034_defaults", "Elicitation whose fields carry defaults (SEP-1034)"),
    _tool("test_elicitation_sep1330_enums", "Elicitation with every enum form (SEP-1330)"),
    _tool("json_schema_2020_12_tool", "Input schema in JSON Schema 2020-12 with $defs", {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"},
                                                                "city": {"type": "string"}}}},
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
        "additionalProperties": False}),
]

SEP1034_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string", "default": "John Doe"},
    "age": {"type": "integer", "default": 30},
    "score": {"type": "number", "default": 95.5},
    "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
    "verified": {"type": "boolean", "default": True}}}

SEP1330_SCHEMA = {"type": "object", "properties": {
    "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
    "titledSingle": {"type": "string", "oneOf": [{"const": "value1", "title": "First"},
                                                 {"const": "value2", "title": "Second"}]},
    "legacyEnum": {"type": "string", "enum": ["opt1", "opt2"], "enumNames": ["Option 1", "Option 2"]},
    "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
    "titledMulti": {"type": "array", "items": {"anyOf": [{"const": "value1", "title": "First"},
                                                         {"const": "value2", "title": "Second"}]}}}}


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _result(*content: dict[str, Any], is_error: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"content": list(content)}
    if is_error:
        out["isError"] = True
    return out


EXIT_TOOL = _tool("test_exit_mid_call", "Logs once, then the server process exits before it answers")
STAMPS_TOOL = _tool("test_progress_stamps", "Sends `count` progress notifications, each message the wall clock "
                    "time it was sent (bench/hub_latency.py)", {"type": "object", "properties": {
                        "count": {"type": "integer"}}})


def _reached(kind: str, name: str) -> None:
    """One stderr line per tool call and prompt get: the runner checks that a pass really reached the fixture."""
    print(f"reached {kind} {name}", file=sys.stderr, flush=True)


def _progress_token(ctx: Any) -> Any:
    meta = ctx.meta  # the SDK's RequestParamsMeta: a TypedDict of the validated `_meta`
    return meta.get("progress_token", meta.get("progressToken")) if isinstance(meta, dict) else None


def build(test_tools: bool = False) -> Server:
    tools = [*TOOLS, EXIT_TOOL, STAMPS_TOOL] if test_tools else TOOLS

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> dict[str, Any]:
        related = ServerMessageMetadata(related_request_id=ctx.request_id)
        name, arguments = params.name, params.arguments or {}
        _reached("tool", name)
        if name == "test_simple_text":
            return _result(_text("This is a simple text response for testing."))
        if name == "test_image_content":
            return _result({"type": "image", "data": PNG, "mimeType": "image/png"})
        if name == "test_audio_content":
            return _result({"type": "audio", "data": WAV, "mimeType": "audio/wav"})
        if name == "test_embedded_resource":
            return _result({"type": "resource", "resource": {
                "uri": "test://embedded-resource", "mimeType": "text/plain", "text": "This is an embedded resource."}})
        if name == "test_multiple_content_types":
            return _result(_text("Multiple content types test:"), {"type": "image", "data": PNG, "mimeType": "image/png"},
                           {"type": "resource", "resource": {"uri": "test://mixed-content-resource",
                                                             "mimeType": "application/json",
                                                             "text": '{"test":"data","value":123}'}})
        if name == "test_tool_with_logging":
            for i, message in enumerate(("Tool execution started", "Tool processing data", "Tool execution completed")):
                if i:
                    await anyio.sleep(0.05)
                await ctx.session.send_log_message("info", message, logger="conformance",
                                                   related_request_id=ctx.request_id)
            return _result(_text("Tool with logging executed successfully"))
        if name == "test_tool_with_progress":
            token = _progress_token(ctx)
            for i, progress in enumerate((0, 50, 100)):
                if i:
                    await anyio.sleep(0.05)
                if token is not None:
                    await ctx.session.send_progress_notification(token, progress, 100,
                                                                 related_request_id=ctx.request_id)
            return _result(_text("Tool with progress executed successfully"))
        if name == "test_error_handling":
            return _result(_text("This tool intentionally returns an error for testing"), is_error=True)
        if name == "test_sampling":
            answer = await ctx.session.send_request(
                types.CreateMessageRequest(params=types.CreateMessageRequestParams(
                    messages=[types.SamplingMessage(role="user", content=types.TextContent(
                        type="text", text=str(arguments.get("prompt", ""))))], max_tokens=100)),
                types.CreateMessageResult, metadata=related)
            content = answer.content
            text = getattr(content, "text", None) or str(content)
            return _result(_text(f"LLM response: {text}"))
        if name in ("test_elicitation", "test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums"):
            schema = {"test_elicitation": {"type": "object", "properties": {
                          "username": {"type": "string", "description": "Your username"},
                          "email": {"type": "string", "description": "Your email address"}},
                          "required": ["username", "email"]},
                      "test_elicitation_sep1034_defaults": SEP1034_SCHEMA,
                      "test_elicitation_sep1330_enums": SEP1330_SCHEMA}[name]
            message = str(arguments.get("message") or "Please fill in the form")
            answer = await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)
            return _result(_text(f"User response: action={answer.action}, content={answer.content}"))
        if name == "test_exit_mid_call" and test_tools:
            await ctx.session.send_log_message("info", "about to exit", related_request_id=ctx.request_id)
            await anyio.sleep(0.2)
            os._exit(3)
        if name == "test_progress_stamps" and test_tools:
            token = _progress_token(ctx)
            count = int(arguments.get("count", 5))
            for i in range(count):
                if token is not None:
                    await ctx.session.send_progress_notification(token, i + 1, count, repr(time.time()),
                                                                 related_request_id=ctx.request_id)
            return _result(_text(f"{count} progress notifications"))
        if name == "json_schema_2020_12_tool":
            return _result(_text(f"Received: {arguments}"))
        return _result(_text(f"Unknown tool: {name}"), is_error=True)

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[
            types.Resource(uri="test://static-text", name="static-text", mime_type="text/plain",
                           description="A static text resource"),
            types.Resource(uri="test://static-binary", name="static-binary", mime_type="image/png",
                           description="A static binary resource"),
            types.Resource(uri="test://watched-resource", name="watched-resource", mime_type="text/plain",
                           description="A resource to subscribe to"),
        ])

    async def list_templates(ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[types.ResourceTemplate(
            uri_template="test://template/{id}/data", name="template", mime_type="application/json",
            description="Data of the item with that id")])

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> dict[str, Any]:
        uri = str(params.uri)
        if uri == "test://static-text":
            return {"contents": [{"uri": uri, "mimeType": "text/plain", "text": STATIC_TEXT}]}
        if uri == "test://static-binary":
            return {"contents": [{"uri": uri, "mimeType": "image/png", "blob": PNG}]}
        if uri in ("test://watched-resource", "test://example-resource"):
            return {"contents": [{"uri": uri, "mimeType": "text/plain", "text": f"The content of {uri}"}]}
        if uri.startswith("test://template/") and uri.endswith("/data"):
            item = uri[len("test://template/"):-len("/data")]
            return {"contents": [{"uri": uri, "mimeType": "application/json",
                                  "text": f'{{"id":"{item}","templateTest":true,"data":"Data for ID: {item}"}}'}]}
        raise MCPError(NOT_FOUND, "Resource not found", data={"uri": uri})

    async def subscribe(ctx: Any, params: Any) -> types.EmptyResult:
        return types.EmptyResult()

    async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[
            types.Prompt(name="test_simple_prompt", description="A simple prompt without arguments"),
            types.Prompt(name="test_prompt_with_arguments", description="A prompt with two arguments",
                         arguments=[types.PromptArgument(name="arg1", description="First", required=True),
                                    types.PromptArgument(name="arg2", description="Second", required=True)]),
            types.Prompt(name="test_prompt_with_embedded_resource", description="A prompt embedding a resource",
                         arguments=[types.PromptArgument(name="resourceUri", description="The resource",
                                                         required=True)]),
            types.Prompt(name="test_prompt_with_image", description="A prompt with an image"),
        ])

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> dict[str, Any]:
        args = params.arguments or {}
        _reached("prompt", params.name)
        if params.name == "test_simple_prompt":
            messages = [{"role": "user", "content": _text("This is a simple prompt for testing.")}]
        elif params.name == "test_prompt_with_arguments":
            messages = [{"role": "user", "content": _text(
                f"Prompt with arguments: arg1='{args.get('arg1', '')}', arg2='{args.get('arg2', '')}'")}]
        elif params.name == "test_prompt_with_embedded_resource":
            uri = args.get("resourceUri", "test://example-resource")
            messages = [{"role": "user", "content": {"type": "resource", "resource": {
                            "uri": uri, "mimeType": "text/plain", "text": "Embedded resource content for testing."}}},
                        {"role": "user", "content": _text("Please process the embedded resource above.")}]
        elif params.name == "test_prompt_with_image":
            messages = [{"role": "user", "content": {"type": "image", "data": PNG, "mimeType": "image/png"}},
                        {"role": "user", "content": _text("Please analyze the image above.")}]
        else:
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")
        return {"messages": messages}

    async def complete(ctx: Any, params: types.CompleteRequestParams) -> types.CompleteResult:
        prefix = params.argument.value
        values = [v for v in ("paris", "park", "party") if v.startswith(prefix)] if prefix else ["paris"]
        return types.CompleteResult(completion=types.Completion(values=values, total=len(values), has_more=False))

    async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        return types.EmptyResult()

    server = _Fixture("conformance-fixture", on_list_tools=list_tools, on_call_tool=call_tool,
                      on_list_resources=list_resources, on_list_resource_templates=list_templates,
                      on_read_resource=read_resource, on_subscribe_resource=subscribe,
                      on_unsubscribe_resource=subscribe, on_list_prompts=list_prompts, on_get_prompt=get_prompt,
                      on_completion=complete)
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    return server


class _Fixture(Server):
    def create_initialization_options(self, notification_options: NotificationOptions | None = None,
                                      *args: Any, **kwargs: Any) -> Any:
        options = NotificationOptions(tools_changed=True, prompts_changed=True, resources_changed=True)
        return super().create_initialization_options(options, *args, **kwargs)


def http_app(server: Server) -> Any:
    """Streamable HTTP at /mcp, SSE answers, the SDK's own DNS-rebinding check (loopback names only)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    security = TransportSecuritySettings(
        allowed_hosts=["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"],
        allowed_origins=["http://127.0.0.1", "http://127.0.0.1:*", "http://localhost", "http://localhost:*",
                         "http://[::1]", "http://[::1]:*"])
    manager = StreamableHTTPSessionManager(app=server, security_settings=security)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    return Starlette(routes=[Route("/mcp", StreamableHTTPASGIApp(manager), methods=["GET", "POST", "DELETE"])],
                     lifespan=lifespan)


async def _stdio(test_tools: bool) -> None:
    from mcp.server.stdio import stdio_server

    server = build(test_tools)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--port", type=int)
    group.add_argument("--stdio", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--test-tools", action="store_true")
    args = parser.parse_args()
    if args.stdio:
        anyio.run(_stdio, args.test_tools)
        return
    import uvicorn

    uvicorn.run(http_app(build(args.test_tools)), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
