"""Resources, prompts, completion and logging: forwarded from the hub's MCP endpoint to the upstreams that have them.

Each is offered in a scope (`/mcp` = every server, `/mcp/<server>` = one) only when some connected, enabled upstream
in it advertised the capability (`resources`, `prompts`, `completions`, `logging`); otherwise the method is -32601.
Lists are fetched from the upstreams on each request (all pages, concurrently); nothing is cached but routing.
Subscriptions (resources/subscribe) go to the server of the URI; its resources/updated go to the subscribed clients.

Names and URIs:
- `/mcp/<server>`: everything as the upstream names it.
- `/mcp`, prompts: `<server><sep><name>`, as tool names (sep = systemConfig.nameSeparator).
- `/mcp`, resources: URIs and URI templates as the upstream wrote them — a URI is an address that content (tool
  results, other resources) links to, and a rewritten one would no longer resolve there. The hub remembers which
  server listed each URI and each template and sends resources/read (and completion/complete for a template) there;
  a URI it has not seen makes it list again; one nobody lists goes to the only resource server if there is one,
  else is -32002 (not found). Two servers listing the same URI: the first one in the settings wins.
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError

from agentic.hub.upstream import Upstream

if TYPE_CHECKING:
    from agentic.hub.registry import Hub

log = logging.getLogger("agentic.hub")

RESOURCE_NOT_FOUND = -32002  # the 2025 specs' code for an unknown resource URI
FEATURES = ("resources", "prompts", "completions", "logging")
_MAX_PAGES = 100      # an upstream whose cursors never end is cut off here
_MAX_ROUTES = 10_000  # remembered URIs; past that the map starts over (relisting fills it again)


@dataclass(frozen=True, slots=True)
class _Template:
    server: str
    pattern: re.Pattern[str]


class Forwarder:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._uris: dict[str, str] = {}               # resource URI -> server that listed it
        self._templates: dict[str, _Template] = {}    # URI template -> server that listed it
        # (server, URI) -> the client connections subscribed to it (weak: a gone client drops out by itself)
        self._watchers: dict[tuple[str, str], weakref.WeakSet[Any]] = {}

    # -- which upstreams ---------------------------------------------------------------------------------------
    def upstreams(self, scope: str | None, feature: str) -> list[Upstream]:
        """Connected, enabled upstreams in `scope` that advertised `feature`, in settings order."""
        return [u for name, u in self.hub.upstreams.items()
                if (scope is None or name == scope) and u.status == "connected" and self.hub.enabled(name)
                and feature in u.capabilities]

    def offers(self, scope: str | None, feature: str) -> bool:
        return bool(self.upstreams(scope, feature))

    def subscribable(self, scope: str | None) -> bool:
        """Some resource server in scope advertised `resources.subscribe`."""
        return any((u.capabilities.get("resources") or {}).get("subscribe") is True
                   for u in self.upstreams(scope, "resources"))

    def _require(self, scope: str | None, feature: str, method: str) -> list[Upstream]:
        upstreams = self.upstreams(scope, feature)
        if not upstreams:
            raise MCPError(types.METHOD_NOT_FOUND, "Method not found", data=method)
        return upstreams

    # -- prompts -----------------------------------------------------------------------------------------------
    async def list_prompts(self, scope: str | None) -> dict[str, Any]:
        listed = await _collect(self._require(scope, "prompts", "prompts/list"), "prompts/list", "prompts")
        sep = self.hub.separator
        return {"prompts": [p if scope is not None else {**p, "name": f"{u.name}{sep}{p['name']}"}
                            for u, items in listed for p in items if isinstance(p.get("name"), str)]}

    async def get_prompt(self, scope: str | None, params: dict[str, Any]) -> dict[str, Any]:
        upstream, name = self._prompt_target(scope, params.get("name"), "prompts", "prompts/get")
        return await upstream.request("prompts/get", {**params, "name": name})

    def _prompt_target(self, scope: str | None, name: Any, feature: str, method: str) -> tuple[Upstream, str]:
        upstreams = self._require(scope, feature, method)
        if scope is not None:
            return upstreams[0], name
        sep = self.hub.separator
        # Longest server name first: `a-b` + `x` must not be read as server `a`, prompt `b-x`.
        for upstream in sorted(upstreams, key=lambda u: len(u.name), reverse=True):
            if isinstance(name, str) and name.startswith(f"{upstream.name}{sep}"):
                return upstream, name[len(upstream.name) + len(sep):]
        raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {str(name)[:200]}", data={"name": name})

    # -- resources ---------------------------------------------------------------------------------------------
    async def list_resources(self, scope: str | None) -> dict[str, Any]:
        listed = await _collect(self._require(scope, "resources", "resources/list"), "resources/list",
                                "resources")
        self._remember_uris(listed)
        return {"resources": [r for _, items in listed for r in items]}

    async def list_resource_templates(self, scope: str | None) -> dict[str, Any]:
        listed = await _collect(self._require(scope, "resources", "resources/templates/list"),
                                "resources/templates/list", "resourceTemplates")
        self._remember_templates(listed)
        return {"resourceTemplates": [t for _, items in listed for t in items]}

    async def read_resource(self, scope: str | None, params: dict[str, Any]) -> dict[str, Any]:
        upstream = await self._resource_target(scope, params.get("uri"), "resources", "resources/read")
        return await upstream.request("resources/read", params)

    async def _resource_target(self, scope: str | None, uri: Any, feature: str, method: str) -> Upstream:
        upstreams = self._require(scope, feature, method)
        if scope is not None:
            return upstreams[0]
        by_name = {u.name: u for u in upstreams}
        if isinstance(uri, str):
            for relisted in (False, True):
                owner = self._owner(uri)
                if owner in by_name:
                    return by_name[owner]
                if not relisted and self.offers(None, "resources"):
                    await self._relist()
        if len(upstreams) == 1:  # a server may serve URIs it does not list
            return upstreams[0]
        raise MCPError(RESOURCE_NOT_FOUND, "Resource not found", data={"uri": uri})

    def _owner(self, uri: str) -> str | None:
        owner = self._uris.get(uri)
        if owner is not None:
            return owner
        template = self._templates.get(uri)  # completion refers to a template by its own text
        if template is not None:
            return template.server
        return next((t.server for t in self._templates.values() if t.pattern.fullmatch(uri)), None)

    async def _relist(self) -> None:
        try:
            await self.list_resources(None)
            await self.list_resource_templates(None)
        except MCPError as exc:  # the read then goes where it can, or is not found
            log.warning("hub: relisting resources failed: %s", exc.message)

    def _remember_uris(self, listed: list[tuple[Upstream, list[dict[str, Any]]]]) -> None:
        seen: dict[str, str] = {}
        for upstream, items in listed:
            for resource in items:
                if isinstance(uri := resource.get("uri"), str):
                    seen.setdefault(uri, upstream.name)
        if len(self._uris) + len(seen) > _MAX_ROUTES:
            self._uris = {}
        self._uris.update(seen)

    def _remember_templates(self, listed: list[tuple[Upstream, list[dict[str, Any]]]]) -> None:
        seen: dict[str, _Template] = {}
        for upstream, items in listed:
            for template in items:
                if isinstance(text := template.get("uriTemplate"), str) and text not in seen:
                    seen[text] = _Template(upstream.name, template_pattern(text))
        if len(self._templates) + len(seen) > _MAX_ROUTES:
            self._templates = {}
        self._templates.update(seen)

    # -- subscriptions: the upstream is subscribed once per URI, its updates go to every subscribed client ------
    async def subscribe(self, scope: str | None, params: dict[str, Any], connection: Any) -> dict[str, Any]:
        uri = params.get("uri")
        upstream = await self._resource_target(scope, uri, "resources", "resources/subscribe")
        await upstream.request("resources/subscribe", params)  # its refusal (-32601, ...) is the client's
        if connection is not None and isinstance(uri, str):
            self._watchers.setdefault((upstream.name, uri), weakref.WeakSet()).add(connection)
        return {}

    async def unsubscribe(self, scope: str | None, params: dict[str, Any], connection: Any) -> dict[str, Any]:
        uri = params.get("uri")
        upstream = await self._resource_target(scope, uri, "resources", "resources/unsubscribe")
        key = (upstream.name, uri if isinstance(uri, str) else "")
        watchers = self._watchers.get(key)
        if watchers is not None and connection is not None:
            watchers.discard(connection)
        if not watchers:  # nobody else follows it: the upstream can stop
            self._watchers.pop(key, None)
            await upstream.request("resources/unsubscribe", params)
        return {}

    def watchers(self, server: str, uri: str) -> list[Any]:
        """The client connections subscribed to `uri` of `server`."""
        return list(self._watchers.get((server, uri), ()))

    # -- completion, logging -----------------------------------------------------------------------------------
    async def complete(self, scope: str | None, params: dict[str, Any]) -> dict[str, Any]:
        ref = params.get("ref") if isinstance(params.get("ref"), dict) else {}
        if ref.get("type") == "ref/prompt":
            upstream, name = self._prompt_target(scope, ref.get("name"), "completions", "completion/complete")
            params = {**params, "ref": {**ref, "name": name}}
        else:
            upstream = await self._resource_target(scope, ref.get("uri"), "completions", "completion/complete")
        return await upstream.request("completion/complete", params)

    async def set_level(self, scope: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """Every logging server in scope gets the level; with one server its error is the client's."""
        upstreams = self._require(scope, "logging", "logging/setLevel")
        if len(upstreams) == 1:
            await upstreams[0].request("logging/setLevel", params)
            return {}

        async def one(upstream: Upstream) -> None:
            try:
                await upstream.request("logging/setLevel", params)
            except MCPError as exc:
                log.warning("hub server %s: logging/setLevel failed: %s", upstream.name, exc.message)

        async with anyio.create_task_group() as tg:
            for upstream in upstreams:
                tg.start_soon(one, upstream)
        return {}


async def _collect(upstreams: list[Upstream], method: str, key: str
                   ) -> list[tuple[Upstream, list[dict[str, Any]]]]:
    """Every page of a list from each upstream, in the upstreams' order. With one upstream its error is the
    client's; with several, a failing one is left out (logged), as a disconnected one is."""
    if len(upstreams) == 1:
        return [(upstreams[0], await _all_pages(upstreams[0], method, key))]
    found: dict[str, list[dict[str, Any]]] = {}

    async def one(upstream: Upstream) -> None:
        try:
            found[upstream.name] = await _all_pages(upstream, method, key)
        except MCPError as exc:
            log.warning("hub server %s: %s failed: %s", upstream.name, method, exc.message)

    async with anyio.create_task_group() as tg:
        for upstream in upstreams:
            tg.start_soon(one, upstream)
    return [(u, found[u.name]) for u in upstreams if u.name in found]


async def _all_pages(upstream: Upstream, method: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        result = await upstream.request(method, {"cursor": cursor} if cursor else {})
        page = result.get(key)
        items.extend(i for i in (page if isinstance(page, list) else []) if isinstance(i, dict))
        cursor = result.get("nextCursor")
        if not isinstance(cursor, str) or not cursor:
            break
    return items


_EXPRESSION = re.compile(r"\{([^}]*)\}")


def template_pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching the URIs an RFC 6570 template expands to: `{var}` one path segment,
    the other operators (`{+var}`, `{/var}`, `{?var}`, ...) anything."""
    parts: list[str] = []
    pos = 0
    for match in _EXPRESSION.finditer(template):
        parts.append(re.escape(template[pos:match.start()]))
        operator = match.group(1)[:1]
        parts.append("[^/?#]*" if operator.isalnum() or operator in "_%" else ".*")
        pos = match.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts), re.DOTALL)
