"""A pass-through HTTP proxy in front of the hub's /mcp that gives the conformance suite the names the hub uses there.

The suite calls its fixtures by their own names (`test_simple_text`, `test_simple_prompt`); on /mcp the hub names
tools and prompts `<server><sep><name>`. This proxy rewrites only those names in requests — `tools/call` and
`prompts/get` `params.name`, `completion/complete` `params.ref.name` of a `ref/prompt` — and passes everything
else through unchanged both ways (headers, Host and Origin included, SSE streamed as it comes), so a scenario passes
only where the hub really reached the fixture under its prefixed name.

    python prefix_proxy.py --port PORT --target http://127.0.0.1:HUB/mcp --prefix everything-
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.background import BackgroundTask

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection", "te"}


def prefixed(message: Any, prefix: str) -> Any:
    """The JSON-RPC message (or batch) with the fixture names the suite sends given the hub's prefix."""
    if isinstance(message, list):
        return [prefixed(m, prefix) for m in message]
    if not isinstance(message, dict) or not isinstance(message.get("params"), dict):
        return message
    params = dict(message["params"])
    method = message.get("method")
    if method in ("tools/call", "prompts/get") and isinstance(params.get("name"), str):
        params["name"] = prefix + params["name"]
    elif method == "completion/complete" and isinstance(params.get("ref"), dict) \
            and params["ref"].get("type") == "ref/prompt" and isinstance(params["ref"].get("name"), str):
        params["ref"] = {**params["ref"], "name": prefix + params["ref"]["name"]}
    else:
        return message
    return {**message, "params": params}


def build(target: str, prefix: str) -> Starlette:
    client = httpx.AsyncClient(timeout=httpx.Timeout(None))

    async def forward(request: Request) -> Response:
        body = await request.body()
        if body and request.method == "POST":
            try:
                body = json.dumps(prefixed(json.loads(body), prefix)).encode()
            except ValueError:
                pass  # not JSON: the hub answers it as it would
        headers = [(k, v) for k, v in request.headers.raw if k.decode().lower() not in _HOP]
        upstream = client.build_request(request.method, target, headers=headers, content=body)
        answer = await client.send(upstream, stream=True)
        out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
        return StreamingResponse(answer.aiter_raw(), status_code=answer.status_code, headers=out,
                                 background=BackgroundTask(answer.aclose))

    return Starlette(routes=[Route("/mcp", forward, methods=["GET", "POST", "DELETE"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(build(args.target, args.prefix), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
