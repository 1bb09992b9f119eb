"""Check real HTTP exchanges against the GitHub OpenAPI subset with openapi-core (a test utility, shipped like
`prefect_test_harness`; needs the `test` extra).

    checker = Conformance(base_url="http://127.0.0.1:3101")
    checker.check(httpx_response)            # raises openapi_core errors on any mismatch

Two GitHub quirks openapi-core does not model: `x-multi-segment` path params (`ref`, `path`, `branch` may hold
slashes) and the legacy `GET /git/refs/{ref}` alias of `GET /git/ref/{ref}`; both are mapped before validating.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cached_property, partial
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx

SPEC_FILE = Path(__file__).with_name("conformance.openapi.json")



def _group(multi: set[str], match: re.Match[str]) -> str:
    """A path template's `{name}` as a named group: one segment, or several for an `x-multi-segment` parameter."""
    return f"(?P<{match[1]}>{'.+' if match[1] in multi else '[^/]+'})"

class _Request:
    def __init__(self, request: httpx.Request, path: str) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        url = urlsplit(str(request.url))
        self.host_url, self.path, self.method = f"{url.scheme}://{url.netloc}", path, request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(query=ImmutableMultiDict(parse_qs(url.query)),
                                            header=Headers(dict(request.headers)), cookie=ImmutableMultiDict({}))


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        from werkzeug.datastructures import Headers

        self.data, self.status_code = response.content, response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(dict(response.headers))


class Conformance:
    def __init__(self, base_url: str, spec: dict | None = None) -> None:
        self.spec = copy.deepcopy(spec or json.loads(SPEC_FILE.read_text()))
        self.spec["servers"] = [{"url": base_url.rstrip("/")}]
        self.checked: list[str] = []  # operationIds validated so far

    @cached_property
    def _api(self):
        from openapi_core import OpenAPI

        return OpenAPI.from_dict(self.spec)

    @cached_property
    def _templates(self) -> list[tuple[re.Pattern, str, set[str], dict]]:
        out = []
        for template, item in self.spec["paths"].items():
            multi = {p["name"] for op in item.values() for p in op.get("parameters", [])
                     if p.get("in") == "path" and p.get("x-multi-segment")}
            pattern = re.sub(r"\{(\w+)\}", partial(_group, multi), template)
            out.append((re.compile(f"^{pattern}$"), template, multi, item))
        # The most literal template wins (`/commits/{ref}/status` before `/commits/{ref}` with ref="x/status").
        return sorted(out, key=lambda t: -len(re.sub(r"\{\w+\}", "", t[1])))

    def operation(self, method: str, path: str) -> tuple[str, str]:
        """(operationId, path with multi-segment values %2F-encoded) for a concrete request path."""
        path = re.sub(r"/git/refs/(?=.)", "/git/ref/", path) if method.upper() == "GET" else path
        for regex, _template, multi, item in self._templates:
            match = regex.match(path)
            if match and method.lower() in item:
                for name in multi:
                    path = path.replace(match[name], quote(match[name], safe=""), 1)
                return item[method.lower()]["operationId"], path
        raise LookupError(f"{method} {path} is not in {SPEC_FILE.name}")

    def check(self, response: httpx.Response, *, request: bool = True) -> str:
        """Validate the response (and, unless `request=False`, the request) against the spec; returns the op id."""
        req = response.request
        op_id, path = self.operation(req.method, urlsplit(str(req.url)).path)
        wrapped = _Request(req, path)
        if request:
            self._api.validate_request(wrapped)
        self._api.validate_response(wrapped, _Response(response))
        self.checked.append(op_id)
        return op_id
