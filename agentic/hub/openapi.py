"""`openapi` servers: tools generated from an OpenAPI 3 document, called over one pooled httpx client.

Follows mcphub's src/clients/openapi.ts exactly where clients can see it:
- one tool per path+method, named operationId (else `<method>_<path segments>`); description = summary ||
  description || "GET /path";
- inputSchema: path params `{type: string}`, query params their schema, JSON request body as ONE property `body`;
- call: `{param}` filled into the path (so Google custom methods `/sessions/{id}:approvePlan` work), query from
  args, `args.body` as JSON for post/put/patch, header params if given, security header/query on every request;
- result: one text content `JSON.stringify(data)`; HTTP error -> isError "API call failed: <status> <reason> - <body>".
Extension: `openapi.baseUrl` overrides `servers[0].url` (the sandbox points Jules at its simulator with it).
Why not FastMCP's OpenAPI provider: it flattens body fields into top-level args, which breaks mcphub's `body` arg.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
import jsonref

from agentic.hub.config import expand
from agentic.hub.upstream import Upstream, error_result

_METHODS = ("get", "post", "put", "delete", "patch", "head", "options", "trace")
_BODY_METHODS = ("post", "put", "patch")


class OpenAPITool:
    __slots__ = ("name", "method", "path", "path_params", "query_params", "header_params", "definition")

    def __init__(self, name: str, method: str, path: str, parameters: list[dict[str, Any]],
                 request_body: dict[str, Any] | None, description: str) -> None:
        self.name, self.method, self.path = name, method, path
        by_place: dict[str, list[dict[str, Any]]] = {"path": [], "query": [], "header": []}
        for param in parameters:
            if isinstance(param, dict) and param.get("in") in by_place and param.get("name"):
                by_place[param["in"]].append(param)
        self.path_params = [p["name"] for p in by_place["path"]]
        self.query_params = [p["name"] for p in by_place["query"]]
        self.header_params = [p["name"] for p in by_place["header"]]
        properties: dict[str, Any] = {}
        required: list[str] = []
        for param in by_place["path"]:
            properties[param["name"]] = {"type": "string",
                                         "description": param.get("description") or f"Path parameter: {param['name']}"}
            if param.get("required"):
                required.append(param["name"])
        for param in by_place["query"]:
            schema = copy.deepcopy(param.get("schema")) or {"type": "string"}
            if param.get("description") and isinstance(schema, dict):
                schema.setdefault("description", param["description"])
            properties[param["name"]] = schema
            if param.get("required"):
                required.append(param["name"])
        content = (request_body or {}).get("content") or {}
        json_content = content.get("application/json")
        if isinstance(json_content, dict) and json_content.get("schema"):
            properties["body"] = copy.deepcopy(json_content["schema"])
            if (request_body or {}).get("required"):
                required.append("body")
        self.definition = {"name": name, "description": description,
                           "inputSchema": {"type": "object", "properties": properties, "required": required}}


def _generated_name(method: str, path: str) -> str:
    clean = re.sub(r"\{[^}]+\}", "", path)
    clean = re.sub(r"[^\w/]", "", clean)
    segments = [s.lower() for s in clean.split("/") if s]
    return f"{method}_{'_'.join(segments) or 'root'}"


def build_tools(spec: dict[str, Any]) -> list[OpenAPITool]:
    """Tools of a dereferenced OpenAPI document, in document order (mcphub's extractTools)."""
    tools: list[OpenAPITool] = []
    names: set[str] = set()
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        shared = [p for p in item.get("parameters") or [] if isinstance(p, dict)]
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            name = op.get("operationId")
            if not name:
                base = name = _generated_name(method, path)
                counter = 1
                while name in names:
                    name, counter = f"{base}{counter}", counter + 1
            names.add(name)
            own = [p for p in op.get("parameters") or [] if isinstance(p, dict)]
            own_keys = {(p.get("in"), p.get("name")) for p in own}
            parameters = own + [p for p in shared if (p.get("in"), p.get("name")) not in own_keys]
            description = op.get("summary") or op.get("description") or f"{method.upper()} {path}"
            tools.append(OpenAPITool(name, method, path, parameters, op.get("requestBody"), description))
    return tools


def dereference(spec: dict[str, Any]) -> dict[str, Any]:
    """Inline every local `$ref` (as swagger-parser's dereference). Recursive schemas keep their `$ref`."""
    try:
        resolved = jsonref.replace_refs(spec, proxies=False, lazy_load=False, merge_props=True)
        json.dumps(resolved)  # raises on a reference cycle
        return resolved
    except (ValueError, RecursionError, jsonref.JsonRefError):
        return spec


def base_url(spec: dict[str, Any], openapi: dict[str, Any]) -> str:
    """`openapi.baseUrl` (our extension), else servers[0].url resolved against the spec URL, else its origin."""
    if openapi.get("baseUrl"):
        return str(expand(openapi["baseUrl"])).rstrip("/")
    spec_url = openapi.get("url") or ""
    servers = spec.get("servers") or []
    server = servers[0].get("url", "") if servers and isinstance(servers[0], dict) else ""
    for var, info in ((servers[0].get("variables") or {}).items() if server else []):
        server = server.replace("{" + var + "}", str((info or {}).get("default", "")))
    if server.startswith(("http://", "https://")):
        return server.rstrip("/")
    if spec_url:
        parts = urlsplit(spec_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return urljoin(origin + "/", server.lstrip("/")).rstrip("/") if server else origin
    return server.rstrip("/")


def security_auth(security: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query params) for mcphub's `openapi.security` block, after `${VAR}` expansion."""
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if not isinstance(security, dict):
        return headers, params
    security = expand(security)
    kind = security.get("type")
    if kind == "apiKey" and isinstance(security.get("apiKey"), dict):
        key = security["apiKey"]
        if key.get("in") == "query":
            params[str(key.get("name"))] = str(key.get("value", ""))
        elif key.get("in") == "cookie":
            headers["Cookie"] = f"{key.get('name')}={key.get('value', '')}"
        else:
            headers[str(key.get("name"))] = str(key.get("value", ""))
    elif kind == "http" and isinstance(security.get("http"), dict):
        scheme, credentials = security["http"].get("scheme"), security["http"].get("credentials")
        if credentials and scheme in ("bearer", "basic"):
            headers["Authorization"] = f"{scheme.capitalize()} {credentials}"
    elif kind in ("oauth2", "openIdConnect"):
        token = (security.get(kind) or {}).get("token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
    return headers, params


class OpenAPIUpstream(Upstream):
    """An `openapi` server: no session to keep, but one keep-alive httpx client per server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tools: dict[str, OpenAPITool] = {}
        self._client: httpx.AsyncClient | None = None
        self._root = ""

    async def _load_spec(self, openapi: dict[str, Any]) -> dict[str, Any]:
        if isinstance(openapi.get("schema"), dict):
            return copy.deepcopy(openapi["schema"])
        url = str(expand(openapi["url"]))
        async with httpx.AsyncClient(timeout=self.connect_timeout, follow_redirects=True) as client:
            response = await client.get(url)
        if response.status_code >= 400:
            raise RuntimeError(f"Failed to load OpenAPI specification: GET {url} -> {response.status_code} "
                               f"{response.reason_phrase}")
        try:
            if url.endswith((".yaml", ".yml")) or "yaml" in response.headers.get("content-type", ""):
                import yaml

                return yaml.safe_load(response.text)
            return response.json()
        except ValueError as exc:
            raise RuntimeError(f"Failed to load OpenAPI specification from {url}: not JSON/YAML ({exc})") from None

    async def _serve_once(self) -> None:
        import anyio

        openapi = self.config["openapi"]
        spec = dereference(await self._load_spec(openapi))
        if not isinstance(spec.get("paths"), dict):
            raise RuntimeError("Failed to load OpenAPI specification: no `paths` object")
        tools = build_tools(spec)
        root = base_url(spec, openapi)
        if not root.startswith(("http://", "https://")):
            raise RuntimeError("no base URL: set servers[0].url in the document or config.openapi.baseUrl")
        headers, params = security_auth(openapi.get("security"))
        headers = {"Content-Type": "application/json",
                   **{k: str(v) for k, v in expand(self.config.get("headers") or {}).items()}, **headers}
        # Absolute URLs per call (root + path), not httpx's base_url: a path like `/v1:batch` would parse as a scheme.
        async with httpx.AsyncClient(headers=headers, params=params or None, timeout=self.call_timeout) as client:
            self._root = root
            self._client = client
            self._tools = {t.name: t for t in tools}
            self.tools = [t.definition for t in tools]
            self._set("connected", None)
            try:
                await self._wake.wait()  # lives until reload/stop
            finally:
                self._client = None
                await anyio.lowlevel.checkpoint()

    async def call(self, tool: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        spec_tool = self._tools.get(tool)
        client = self._client
        if spec_tool is None or client is None:
            return error_result(f"Tool '{tool}' not found" if client else f"Server '{self.name}' is not connected")
        args = arguments or {}
        path = spec_tool.path
        for name in spec_tool.path_params:
            if args.get(name) is not None:
                path = path.replace("{" + name + "}", quote(str(args[name]), safe="/:@!$&'()*+,;=-._~"))
        query = {n: _query_value(args[n]) for n in spec_tool.query_params if args.get(n) is not None}
        headers = {n: str(args[n]) for n in spec_tool.header_params if args.get(n) is not None}
        body = args.get("body") if spec_tool.method in _BODY_METHODS else None
        try:
            response = await client.request(spec_tool.method.upper(), self._root + path, params=query or None,
                                            headers=headers or None,
                                            content=json.dumps(body).encode() if body is not None else None)
        except httpx.HTTPError as exc:
            return error_result(f"Error calling tool {tool}: {type(exc).__name__}: {exc}")
        data = _response_data(response)
        if response.status_code >= 400:
            return error_result(f"API call failed: {response.status_code} {response.reason_phrase} - "
                                f"{json.dumps(data, ensure_ascii=False)}")
        return {"content": [{"type": "text", "text": json.dumps(data, ensure_ascii=False)}], "isError": False}


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)) and not (isinstance(value, list) and all(
            isinstance(v, (str, int, float)) for v in value)):
        return json.dumps(value)
    return value


def _response_data(response: httpx.Response) -> Any:
    """axios's `response.data`: parsed JSON when it parses, else the text ('' for an empty body)."""
    if not response.content:
        return ""
    try:
        return response.json()
    except ValueError:
        return response.text
