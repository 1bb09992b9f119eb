"""A small HTTP API with an OpenAPI 3 document: the `openapi` upstream of the hub tests (Jules-like shapes).

    python sample_api.py --port N      (serves the document at /openapi.json)
Requires header X-Api-Key: sekret-api-key-123 on every API route.
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "sekret-api-key-123"

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Sample", "version": "1"},
    "servers": [{"url": "https://sample.invalid/v1"}],
    "components": {"schemas": {"NewItem": {"type": "object", "required": ["title"],
                                           "properties": {"title": {"type": "string"}}}}},
    "paths": {
        "/items": {
            "get": {"operationId": "listItems", "summary": "List items",
                    "parameters": [{"name": "pageSize", "in": "query", "schema": {"type": "integer"}}]},
            "post": {"operationId": "createItem", "summary": "Create an item",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/NewItem"}}}}},
        },
        "/items/{itemId}": {"get": {"operationId": "getItem", "summary": "Get one item",
                                    "parameters": [{"name": "itemId", "in": "path", "required": True,
                                                    "schema": {"type": "string"}}]}},
        "/items/{itemId}:approve": {"post": {
            "operationId": "approveItem",
            "parameters": [{"name": "itemId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}},
        "/ping": {"get": {"summary": "no operationId"}},
    },
}


def _auth(request: Request) -> Response | None:
    if request.headers.get("x-api-key") != API_KEY:
        return JSONResponse({"error": {"code": 401, "message": "bad key", "status": "UNAUTHENTICATED"}}, 401)
    return None


async def items(request: Request) -> Response:
    if (denied := _auth(request)) is not None:
        return denied
    if request.method == "POST":
        body = await request.json()
        return JSONResponse({"name": "items/1", "title": body.get("title"), "echo": body})
    return JSONResponse({"items": [{"name": "items/1"}], "pageSize": request.query_params.get("pageSize")})


async def item(request: Request) -> Response:
    if (denied := _auth(request)) is not None:
        return denied
    raw = request.path_params["rest"]
    if raw.endswith(":approve") and request.method == "POST":
        return JSONResponse({"approved": raw.removesuffix(":approve"), "body": await request.json()})
    if raw == "missing":
        return JSONResponse({"error": {"code": 404, "message": "item missing not found", "status": "NOT_FOUND"}}, 404)
    if raw == "busy":  # words that read as final; the status says it lifts
        return JSONResponse({"error": {"code": 503, "message": "invalid item", "status": "UNAVAILABLE"}}, 503)
    if raw == "limited":  # GitHub's primary rate limit comes as 403
        return JSONResponse({"message": "API rate limit exceeded for user ID 1."}, 403)
    if raw == "forbidden":
        return JSONResponse({"message": "Resource not accessible by integration"}, 403)
    return JSONResponse({"name": f"items/{raw}"})


async def ping(request: Request) -> Response:
    return Response("pong", media_type="text/plain")


async def spec(request: Request) -> Response:
    document = dict(SPEC)
    document["servers"] = [{"url": str(request.base_url).rstrip("/") + "/v1"}]
    return JSONResponse(document)


app = Starlette(routes=[
    Route("/openapi.json", spec),
    Route("/v1/items", items, methods=["GET", "POST"]),
    Route("/v1/items/{rest:path}", item, methods=["GET", "POST"]),
    Route("/v1/ping", ping),
])

if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
