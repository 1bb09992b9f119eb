"""Resources, prompts, completion and logging through the hub's /mcp and /mcp/<server>, and upstream JSON-RPC errors
reaching the client with their code and data (issue #25).

Real parts: the hub process, the `mcp` SDK's streamable-HTTP client, and three stdio upstreams built on the SDK's
low-level Server (tests/hub/feature_upstream.py): `feat` and `more` with every feature, `bare` with tools only.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agentic.hub.client import HubClient


def _feature_config(hub_tools, name: str, *extra: str) -> dict:
    script = str(Path(hub_tools.upstream).with_name("feature_upstream.py"))
    return {"type": "stdio", "command": hub_tools.python, "args": [script, name, *extra]}


@pytest.fixture(scope="module")
def hub(tmp_path_factory, hub_tools):
    settings = hub_tools.write_settings(tmp_path_factory.mktemp("hub") / "mcp_settings.json", {
        "feat": _feature_config(hub_tools, "feat"),
        "more": _feature_config(hub_tools, "more"),
        "bare": _feature_config(hub_tools, "bare", "--bare"),
    })
    with hub_tools.running_hub(settings) as running:
        client = HubClient(running.url)
        for name in ("feat", "more", "bare"):
            client.wait_connected(name, timeout=30)
        yield running


async def _with_session(url: str, fn, **options):
    async with streamable_http_client(url) as (read, write), ClientSession(read, write, **options) as session:
        init = await session.initialize()
        return await fn(session, init)


def _text(result) -> str:
    parts = getattr(result, "contents", None) or getattr(result, "content", None) or []
    return "".join(getattr(part, "text", "") for part in parts)


async def _error(call) -> MCPError:
    with pytest.raises(MCPError) as caught:
        await call
    return caught.value


async def test_capabilities_are_advertised_only_where_an_upstream_has_them(hub):
    async def capabilities(session, init):
        return init.capabilities

    async def bare_refuses(session, init):
        return [await _error(session.list_resources()), await _error(session.list_prompts())]

    everything = await _with_session(hub.mcp_url, capabilities)
    one = await _with_session(hub.mcp_url + "/feat", capabilities)
    bare = await _with_session(hub.mcp_url + "/bare", capabilities)
    for caps in (everything, one):
        assert caps.resources is not None and caps.prompts is not None
        assert caps.completions is not None and caps.logging is not None and caps.tools is not None
        assert caps.resources.subscribe is True  # the upstreams have it
        assert caps.resources.list_changed and caps.prompts.list_changed
    assert bare.tools is not None
    assert (bare.resources, bare.prompts, bare.completions, bare.logging) == (None, None, None, None)
    refused = await _with_session(hub.mcp_url + "/bare", bare_refuses)
    assert [e.code for e in refused] == [types.METHOD_NOT_FOUND] * 2


async def test_resources_and_templates_through_one_server(hub):
    async def run(session, init):
        listed = await session.list_resources()
        templates = await session.list_resource_templates()
        return (listed, templates, await session.read_resource("memo://feat/greeting"),
                await session.read_resource("note://feat/7"))

    listed, templates, greeting, note = await _with_session(hub.mcp_url + "/feat", run)
    assert [r.uri for r in listed.resources] == ["memo://feat/greeting", "memo://feat/missing"]
    assert [t.uri_template for t in templates.resource_templates] == ["note://feat/{id}"]
    assert _text(greeting) == "hello from feat"
    assert _text(note) == "note 7 of feat"


async def test_resources_through_all_servers_keep_their_uris_and_reach_their_server(hub):
    async def run(session, init):
        listed = await session.list_resources()
        templates = await session.list_resource_templates()
        return (listed, templates, await session.read_resource("memo://more/greeting"),
                await session.read_resource("memo://feat/greeting"), await session.read_resource("note://more/3"))

    listed, templates, more, feat, note = await _with_session(hub.mcp_url, run)
    uris = [r.uri for r in listed.resources]
    assert uris == ["memo://feat/greeting", "memo://feat/missing", "memo://more/greeting", "memo://more/missing"]
    assert {t.uri_template for t in templates.resource_templates} == {"note://feat/{id}", "note://more/{id}"}
    assert (_text(more), _text(feat), _text(note)) == ("hello from more", "hello from feat", "note 3 of more")


async def test_a_template_uri_is_routed_without_listing_first(hub, hub_tools, tmp_path):
    """A fresh hub that has listed nothing: it lists on its own to find the server of the URI."""
    settings = hub_tools.write_settings(tmp_path / "mcp_settings.json", {
        "feat": _feature_config(hub_tools, "feat"), "more": _feature_config(hub_tools, "more")})
    with hub_tools.running_hub(settings) as fresh:
        for name in ("feat", "more"):
            HubClient(fresh.url).wait_connected(name, timeout=30)

        async def run(session, init):
            return await session.read_resource("note://more/9"), await _error(session.read_resource("x://none"))

        note, unknown = await _with_session(fresh.mcp_url, run)
    assert _text(note) == "note 9 of more"
    assert unknown.code == -32002 and unknown.data == {"uri": "x://none"}


async def test_prompts_prefixed_on_all_servers_and_plain_on_one(hub):
    async def everything(session, init):
        return (await session.list_prompts(), await session.get_prompt("more-greet", {"who": "bob"}),
                await _error(session.get_prompt("greet", {"who": "bob"})))

    async def one(session, init):
        return await session.list_prompts(), await session.get_prompt("greet", {"who": "ann"})

    listed, got, unprefixed = await _with_session(hub.mcp_url, everything)
    assert [p.name for p in listed.prompts] == ["feat-greet", "more-greet"]
    assert listed.prompts[0].arguments[0].name == "who"
    assert got.messages[0].content.text == "more greets bob"
    assert unprefixed.code == types.INVALID_PARAMS
    listed, got = await _with_session(hub.mcp_url + "/feat", one)
    assert [p.name for p in listed.prompts] == ["greet"]
    assert got.messages[0].content.text == "feat greets ann"


async def test_completion_reaches_the_server_of_the_prompt_or_template(hub):
    async def everything(session, init):
        prompt = await session.complete(types.PromptReference(type="ref/prompt", name="feat-greet"),
                                        {"name": "who", "value": "b"})
        template = await session.complete(types.ResourceTemplateReference(type="ref/resource",
                                                                          uri="note://more/{id}"),
                                          {"name": "id", "value": "x"})
        return prompt, template

    async def one(session, init):
        return await session.complete(types.PromptReference(type="ref/prompt", name="greet"),
                                      {"name": "who", "value": "c"})

    prompt, template = await _with_session(hub.mcp_url, everything)
    assert prompt.completion.values == ["bob"]
    assert template.completion.values == ["x1", "x2"]
    assert (await _with_session(hub.mcp_url + "/more", one)).completion.values == ["carol"]


async def test_logging_set_level_reaches_the_upstreams(hub):
    def set_level(level: types.LoggingLevel):
        async def run(session, init):
            with warnings.catch_warnings():  # the SDK warns: logging is deprecated as of 2026-07-28
                warnings.simplefilter("ignore")
                await session.set_logging_level(level)
        return run

    async def levels(session, init):  # each upstream's `level` tool tells what it was asked to set
        return [_text(await session.call_tool(f"{name}-level", {})) for name in ("feat", "more")]

    await _with_session(hub.mcp_url + "/feat", set_level("warning"))
    assert await _with_session(hub.mcp_url, levels) == ["warning", "unset"]
    await _with_session(hub.mcp_url, set_level("error"))
    assert await _with_session(hub.mcp_url, levels) == ["error", "error"]


async def test_upstream_json_rpc_errors_reach_the_client_with_code_and_data(hub):
    async def run(session, init):
        return (await _error(session.read_resource("memo://feat/missing")),
                await _error(session.call_tool("feat-strict", {})),
                await session.call_tool("nope-tool", {}))

    for url in (hub.mcp_url, hub.mcp_url + "/feat"):
        missing, strict, unknown = await _with_session(url, run)
        assert (missing.code, missing.message) == (-32002, "Resource not found")
        assert missing.data == {"uri": "memo://feat/missing", "server": "feat"}
        assert (strict.code, strict.data) == (types.INVALID_PARAMS, {"tool": "strict", "server": "feat"})
        assert unknown.is_error  # the hub's own "Unknown tool" stays a tool result, as in mcphub
    # The REST dialect has no JSON-RPC errors: there the refusal is a failed call.
    rest = httpx.post(hub.url + "/api/tools/call/feat", json={"toolName": "strict", "arguments": {}}).json()
    assert rest["data"]["isError"] and "strict wants nothing" in rest["data"]["content"][0]["text"]


async def test_tool_input_schemas_keep_their_dollar_schema(hub):
    async def run(session, init):
        return {t.name: t.input_schema for t in (await session.list_tools()).tools}

    schemas = await _with_session(hub.mcp_url, run)
    assert schemas["feat-shaped"]["$schema"] == "http://json-schema.org/draft-07/schema#"


async def test_the_2026_protocol_era_gets_the_same_forwarding(hub):
    """A client on the handshake-free 2026-07-28 protocol (server/discover, per-request metadata): its results
    carry that era's required envelope (resources/read is cacheable there: ttlMs, cacheScope)."""
    async def run(url: str, fn):
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
            return await fn(session, await session.discover())

    async def everything(session, found):
        return (found.capabilities, await session.read_resource("memo://more/greeting"),
                await session.get_prompt("feat-greet", {"who": "eve"}),
                await _error(session.read_resource("memo://feat/missing")))

    async def bare(session, found):
        return found.capabilities, await _error(session.list_resources())

    caps, greeting, prompt, missing = await run(hub.mcp_url, everything)
    assert caps.resources is not None and caps.prompts is not None and caps.completions is not None
    assert _text(greeting) == "hello from more"
    assert prompt.messages[0].content.text == "feat greets eve"
    assert (missing.code, missing.data) == (-32002, {"uri": "memo://feat/missing", "server": "feat"})
    caps, refused = await run(hub.mcp_url + "/bare", bare)
    assert (caps.resources, caps.prompts, caps.completions) == (None, None, None)
    assert refused.code == types.METHOD_NOT_FOUND


class _Told:
    """The list_changed notifications a client session received."""

    def __init__(self) -> None:
        self.prompts, self.resources = anyio.Event(), anyio.Event()

    async def __call__(self, message) -> None:
        if isinstance(message, types.PromptListChangedNotification):
            self.prompts.set()
        elif isinstance(message, types.ResourceListChangedNotification):
            self.resources.set()

    async def both(self) -> None:
        with anyio.fail_after(30):
            await self.prompts.wait()
            await self.resources.wait()


async def test_an_upstreams_list_changes_reach_the_client(hub):
    """The upstream's own notifications/{prompts,resources}/list_changed, passed on (no server changed)."""
    told = _Told()

    async def run(session, init):
        await session.call_tool("feat-touch", {})
        await told.both()

    await _with_session(hub.mcp_url + "/feat", run, message_handler=told)


async def test_a_server_added_changes_the_prompt_and_resource_lists(hub_tools, tmp_path):
    settings = hub_tools.write_settings(tmp_path / "mcp_settings.json", {"feat": _feature_config(hub_tools, "feat")})
    with hub_tools.running_hub(settings) as fresh:
        client = HubClient(fresh.url)
        client.wait_connected("feat", timeout=30)
        told = _Told()

        async def run(session, init):
            before = [p.name for p in (await session.list_prompts()).prompts]
            await anyio.to_thread.run_sync(lambda: (client.upsert_server("extra", _feature_config(hub_tools, "x")),
                                                    client.wait_connected("extra", timeout=30)))
            await told.both()
            return before, [p.name for p in (await session.list_prompts()).prompts]

        before, after = await _with_session(fresh.mcp_url, run, message_handler=told)
    assert before == ["feat-greet"] and after == ["feat-greet", "extra-greet"]


async def test_resource_subscriptions_reach_the_upstream_and_its_updates_the_client(hub):
    updated: list[str] = []
    arrived = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            arrived.set()

    async def run(session, init):
        with warnings.catch_warnings():  # the SDK warns: resources/subscribe is gone in 2026-07-28
            warnings.simplefilter("ignore")
            await session.subscribe_resource("memo://more/greeting")
            following = _text(await session.call_tool("more-bump", {}))  # the upstream sends its update
            with anyio.fail_after(30):
                await arrived.wait()
            await session.unsubscribe_resource("memo://more/greeting")
        return following, _text(await session.call_tool("more-bump", {}))

    following, after = await _with_session(hub.mcp_url, run, message_handler=on_message)
    assert following == "memo://more/greeting" and after == ""
    assert updated == ["memo://more/greeting"]
