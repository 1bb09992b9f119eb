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
from urllib.parse import quote, unquote, urljoin, urlsplit

import anyio
import httpx

from agentic.hub.config import SHOW_MAX, expand, kind_of, show
from agentic.hub.egress import EgressPolicy
from agentic.hub.failures import FailureMark, retryable_status
from agentic.hub.limits import Limits, human_bytes
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


class OpenAPIInvalid(ValueError):
    """An OpenAPI document the hub will not publish tools for (-> 400 on POST, else a disconnected server)."""


def _where(path: str, method: str | None = None) -> str:
    shown = path if len(path) <= SHOW_MAX else path[:SHOW_MAX] + "..."
    return f"{method.upper()} {shown}" if method else shown


def _pointer(doc: Any, ref: str) -> Any:
    """Resolve a local `$ref` ('#/components/schemas/X', RFC 6901 with URI-fragment escaping); LookupError if not."""
    if not ref.startswith("#"):
        raise LookupError("external")
    target = doc
    fragment = unquote(ref[1:])
    if not fragment:
        return target
    if not fragment.startswith("/"):
        raise LookupError("not a JSON pointer")
    for token in fragment[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
            target = target[int(token)]
        else:
            raise LookupError("missing")
    return target


def check_refs(doc: dict[str, Any]) -> None:
    """Every `$ref` in the document must resolve inside it (no external files, no dangling pointers), and none
    may lead to itself through aliases alone (`_check_alias_cycles`)."""
    bad: list[str] = []
    refs: set[str] = set()
    count = 0
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(doc, "#")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, (dict, list)):
            if id(value) in seen:   # YAML anchors share objects: visit each once
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                try:
                    _pointer(doc, ref)
                    refs.add(ref)
                except LookupError as exc:
                    count += 1
                    if len(bad) < 3:
                        kind = "external $ref (not supported: inline it)" if str(exc) == "external" \
                            else "unresolvable $ref"
                        bad.append(f"{kind} {show(ref)} at {where[:SHOW_MAX]}")
            stack.extend((v, f"{where}/{str(k).replace('~', '~0').replace('/', '~1')}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}/{i}") for i, v in enumerate(value))
    if bad:
        more = f" (and {count - len(bad)} more)" if count > len(bad) else ""
        raise OpenAPIInvalid("; ".join(bad) + more)
    _check_alias_cycles(doc, refs)


# A `$ref` object with only annotations beside it adds no structure: it is an alias of its target.
_ALIAS_KEYS = frozenset({"$ref", "$comment", "title", "description", "summary", "example", "examples", "default",
                         "deprecated", "readOnly", "writeOnly", "nullable"})


def _check_alias_cycles(doc: dict[str, Any], refs: set[str]) -> None:
    """A `$ref` whose target is only another `$ref`, and so on back to itself (A -> B -> A), names no schema at
    all. Recursion through content (a node whose `children` are nodes) is fine and cut at expansion; an alias
    cycle would be published as a placeholder that accepts anything, so it is refused here."""
    done: set[str] = set()
    for start in sorted(refs):
        chain: list[str] = []
        ref: str | None = start
        while ref is not None and ref not in done:
            if ref in chain:
                cycle = " -> ".join(show(r) for r in (*chain[chain.index(ref):], ref))
                raise OpenAPIInvalid(f"$ref cycle through aliases: {cycle} (each is only a $ref to the next, so "
                                     "no schema is ever reached): make one of them a real schema")
            chain.append(ref)
            target = _pointer(doc, ref)
            alias = isinstance(target, dict) and isinstance(target.get("$ref"), str) and target.keys() <= _ALIAS_KEYS
            ref = target["$ref"] if alias else None
        done.update(chain)


class _Expander:
    """Inline local `$ref`s (as swagger-parser's dereference), breaking cycles safely.

    A reference back to a schema that is already being expanded (a recursive schema: a tree node whose children
    are nodes) becomes `{"type": <its type>, "description": "recursive reference to X (not expanded)"}` — so
    no published tool schema carries a `$ref` that points nowhere. `max_nodes` caps the expanded size (a few
    small schemas referencing each other twice per level grow exponentially)."""

    def __init__(self, doc: dict[str, Any], max_nodes: int) -> None:
        self.doc = doc
        self.left = max_nodes
        self.max_nodes = max_nodes
        self._targets: dict[str, Any] = {}

    def _target(self, ref: str) -> Any:
        if ref not in self._targets:
            self._targets[ref] = _pointer(self.doc, ref)
        return self._targets[ref]

    def _spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise OpenAPIInvalid(f"the tool schemas expand to more than {self.max_nodes} JSON nodes once "
                                 "$refs are inlined: simplify the document or publish fewer operations")

    def expand(self, value: Any, stack: tuple[str, ...] = ()) -> Any:
        self._spend()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                siblings = {k: self.expand(v, stack) for k, v in value.items() if k != "$ref"}
                if ref in stack:
                    target = self._target(ref)
                    name = ref.rsplit("/", 1)[-1]
                    out: dict[str, Any] = {"description": f"recursive reference to {name} (not expanded)"}
                    if isinstance(target, dict) and isinstance(target.get("type"), str):
                        out = {"type": target["type"], **out}
                    return {**out, **siblings}
                try:
                    target = self._target(ref)
                except LookupError:
                    raise OpenAPIInvalid(f"unresolvable $ref {show(ref)}") from None
                resolved = self.expand(target, (*stack, ref))
                if siblings and isinstance(resolved, dict):
                    return {**resolved, **siblings}
                return resolved
            return {k: self.expand(v, stack) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand(v, stack) for v in value]
        return value


def count_operations(spec: dict[str, Any]) -> int:
    paths = spec.get("paths")
    if not isinstance(paths, dict):
        return 0
    return sum(1 for item in paths.values() if isinstance(item, dict)
               for method in _METHODS if method in item)


def build_tools(spec: dict[str, Any], limits: Any = None) -> list[OpenAPITool]:
    """Tools of an OpenAPI 3 document, in document order (mcphub's extractTools), after checking it:
    an OpenAPI 3 document with `paths`, 1..max_openapi_operations operations, every `$ref` resolvable,
    operationIds unique; recursive schemas are cut (see `_Expander`). OpenAPIInvalid says what is wrong."""
    limits = limits or Limits()
    if not isinstance(spec, dict):
        raise OpenAPIInvalid(f"the document must be a JSON/YAML object (got {kind_of(spec)})")
    if "swagger" in spec and "openapi" not in spec:
        raise OpenAPIInvalid("Swagger 2.0 documents are not supported: convert it to OpenAPI 3")
    version = spec.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise OpenAPIInvalid(f"not an OpenAPI 3 document: `openapi` must be a version like \"3.1.0\" "
                             f"(got {show(version)})")
    paths = spec.get("paths")
    if not isinstance(paths, dict):
        raise OpenAPIInvalid("not an OpenAPI 3 document: `paths` is missing or not an object")
    total = count_operations(spec)
    if total == 0:
        raise OpenAPIInvalid("the document has no operations (no get/post/put/patch/delete under `paths`): "
                             "it would publish no tools")
    if total > limits.max_openapi_operations:
        raise OpenAPIInvalid(f"the document has {total} operations; the limit is {limits.max_openapi_operations} "
                             "(--max-openapi-operations / MCP_HUB_MAX_OPENAPI_OPERATIONS)")
    check_refs(spec)
    expander = _Expander(spec, limits.max_schema_nodes)
    explicit = [op.get("operationId") for item in paths.values() if isinstance(item, dict)
                for method in _METHODS if isinstance(op := item.get(method), dict)]
    names: set[str] = set()
    tools: list[OpenAPITool] = []
    try:
        for path, item in paths.items():
            if isinstance(item, dict) and isinstance(item.get("$ref"), str):
                item = expander.expand(item)
            if not isinstance(item, dict):
                raise OpenAPIInvalid(f"`paths.{_where(path)}` must be an object (got {kind_of(item)})")
            shared = _parameters(expander.expand(item.get("parameters") or []), _where(path))
            for method in _METHODS:
                if method not in item:
                    continue
                op = item[method]
                where = _where(path, method)
                if not isinstance(op, dict):
                    raise OpenAPIInvalid(f"operation {where} must be an object (got {kind_of(op)})")
                name = op.get("operationId")
                if name is not None and (not isinstance(name, str) or not name):
                    raise OpenAPIInvalid(f"operation {where}: `operationId` must be a non-empty string")
                if name is None:
                    base = name = _generated_name(method, path)
                    counter = 1
                    while name in names or name in explicit:
                        name, counter = f"{base}{counter}", counter + 1
                elif name in names:
                    raise OpenAPIInvalid(f"operationId {show(name)} is used twice (again by {where}): "
                                         "operationIds must be unique")
                names.add(name)
                own = _parameters(expander.expand(op.get("parameters") or []), where)
                own_keys = {(p.get("in"), p.get("name")) for p in own}
                parameters = own + [p for p in shared if (p.get("in"), p.get("name")) not in own_keys]
                body = expander.expand(op.get("requestBody")) if op.get("requestBody") is not None else None
                if body is not None and not isinstance(body, dict):
                    raise OpenAPIInvalid(f"operation {where}: `requestBody` must be an object")
                description = op.get("summary") or op.get("description") or f"{method.upper()} {path}"
                tools.append(OpenAPITool(name, method, path, parameters, body, str(description)))
    except RecursionError:
        raise OpenAPIInvalid("the document nests too deeply once $refs are inlined") from None
    return tools


def _parameters(parameters: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(parameters, list):
        raise OpenAPIInvalid(f"{where}: `parameters` must be a list (got {kind_of(parameters)})")
    for i, param in enumerate(parameters):
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) or param.get("in") not in (
                "path", "query", "header", "cookie"):
            raise OpenAPIInvalid(f"{where}: `parameters[{i}]` needs a string `name` and `in` "
                                 "(path, query, header or cookie)")
    return parameters


def check_document(spec: Any, limits: Any = None) -> list[OpenAPITool]:
    """Validate an OpenAPI document as the hub will use it (OpenAPIInvalid if not); its tools."""
    return build_tools(spec, limits)


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

    def __init__(self, *args: Any, limits: Limits | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or Limits()
        self.transport = transport  # None: the network (see create_app's `openapi_transport`)
        self._tools: dict[str, OpenAPITool] = {}
        self._client: httpx.AsyncClient | None = None
        self._root = ""

    async def _load_spec(self, openapi: dict[str, Any]) -> dict[str, Any]:
        if isinstance(openapi.get("schema"), dict):
            return copy.deepcopy(openapi["schema"])
        url = str(expand(openapi["url"]))
        cap = self.limits.max_openapi_bytes
        egress = EgressPolicy.from_env()

        async def checked(request: httpx.Request) -> None:  # every hop: a redirect is a URL like any other
            await egress.check_resolved(str(request.url))

        async with httpx.AsyncClient(timeout=self.connect_timeout, follow_redirects=True, transport=self.transport,
                                     event_hooks={"request": [checked]}) as client:
            async with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise RuntimeError(f"Failed to load OpenAPI specification: GET {url} -> "
                                       f"{response.status_code} {response.reason_phrase}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():   # capped while it streams: never more than `cap`
                    size += len(chunk)
                    if size > cap:
                        raise RuntimeError(f"Failed to load OpenAPI specification from {url}: larger than "
                                           f"{human_bytes(cap)}")
                    chunks.append(chunk)
                text = b"".join(chunks).decode(response.encoding or "utf-8", "replace")
                content_type = response.headers.get("content-type", "")
        import yaml

        def parse() -> Any:
            if url.endswith((".yaml", ".yml")) or "yaml" in content_type:
                return yaml.safe_load(text)
            return json.loads(text)

        try:
            return await anyio.to_thread.run_sync(parse)   # up to max_openapi_bytes: off the event loop
        except (ValueError, RecursionError, yaml.YAMLError) as exc:
            raise RuntimeError(f"Failed to load OpenAPI specification from {url}: not JSON/YAML ({exc})") from None

    async def _serve_once(self) -> None:
        openapi = self.config["openapi"]
        egress = EgressPolicy.from_env()
        spec = await self._load_spec(openapi)
        try:
            tools = await anyio.to_thread.run_sync(build_tools, spec, self.limits)   # off the event loop
        except OpenAPIInvalid as exc:
            source = f" from {expand(openapi['url'])}" if not isinstance(openapi.get("schema"), dict) else ""
            raise RuntimeError(f"invalid OpenAPI document{source}: {exc}") from None
        root = base_url(spec, openapi)
        if not root.startswith(("http://", "https://")):
            raise RuntimeError("no base URL: set servers[0].url in the document or config.openapi.baseUrl")
        await egress.check_resolved(root)  # the document's own servers[0].url is a URL like any other
        headers, params = security_auth(openapi.get("security"))
        headers = {"Content-Type": "application/json",
                   **{k: str(v) for k, v in expand(self.config.get("headers") or {}).items()}, **headers}
        # Absolute URLs per call (root + path), not httpx's base_url: a path like `/v1:batch` would parse as a scheme.
        async with httpx.AsyncClient(headers=headers, params=params or None, timeout=self.call_timeout,
                                     transport=self.transport) as client:
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
            if client is None:
                return error_result(f"Server '{self.name}' is not connected", FailureMark(retryable=True))
            return error_result(f"Tool '{tool}' not found", FailureMark(retryable=False))
        args = arguments or {}
        path = spec_tool.path
        for name in spec_tool.path_params:
            if args.get(name) is not None:
                path = path.replace("{" + name + "}", quote(str(args[name]), safe="/:@!$&'()*+,;=-._~"))
        query = {n: _query_value(args[n]) for n in spec_tool.query_params if args.get(n) is not None}
        headers = {n: str(args[n]) for n in spec_tool.header_params if args.get(n) is not None}
        body = args.get("body") if spec_tool.method in _BODY_METHODS else None
        # The security block per call: a `${VAR}` renewed meanwhile (the hub's GitHub App token) is sent at once.
        auth_headers, auth_params = security_auth(self.config["openapi"].get("security"))
        headers, query = {**auth_headers, **headers}, {**auth_params, **query}
        try:
            response = await client.request(spec_tool.method.upper(), self._root + path, params=query or None,
                                            headers=headers or None,
                                            content=json.dumps(body).encode() if body is not None else None)
        except httpx.HTTPError as exc:
            # Down, slow or cut off: worth another try; a bad URL scheme or a redirect loop is not.
            lifts = isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)
            return error_result(f"Error calling tool {tool}: {type(exc).__name__}: {exc}", FailureMark(lifts))
        data = _response_data(response)
        if response.status_code >= 400:
            text = json.dumps(data, ensure_ascii=False)
            mark = FailureMark(retryable_status(response.status_code, text), response.status_code)
            return error_result(f"API call failed: {response.status_code} {response.reason_phrase} - {text}", mark)
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
