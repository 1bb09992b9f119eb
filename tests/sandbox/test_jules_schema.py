"""agentic/jules.schema.json: a valid OpenAPI 3.1 document, wrapped as the hub server body the seed posts, with the
operations and shapes the rest of the project relies on; and agentic/schemas.py, the one loader."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from agentic.errors import ConfigError
from agentic.schemas import (
    GITHUB_REST_SERVER_NAME,
    JULES_SERVER_NAME,
    load_openapi,
    load_server_definition,
    schema_path,
)

OPERATION_IDS = {"listSources", "getSource", "createSession", "getSession", "listSessions", "deleteSession",
                 "approvePlan", "sendMessage", "archiveSession", "listActivities", "getActivity"}
ERROR_STATUSES = {"400", "401", "403", "404", "429", "500", "503"}


def _operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_file_is_the_hub_post_body_with_a_valid_openapi_31_document():
    body = json.loads(schema_path(JULES_SERVER_NAME).read_text())
    assert body["name"] == "jules"
    assert body["config"]["type"] == "openapi"
    openapi = body["config"]["openapi"]
    assert openapi["version"] == "3.1.0"
    assert openapi["security"] == {"type": "apiKey", "apiKey": {"name": "X-Goog-Api-Key", "in": "header",
                                                                "value": "${JULES_API_KEY}"}}
    validate(openapi["schema"])  # openapi-spec-validator picks the 3.1 validator from the `openapi` field
    assert openapi["schema"]["openapi"] == "3.1.0"
    assert openapi["schema"]["servers"] == [{"url": "https://jules.googleapis.com/v1alpha"}]
    scheme = openapi["schema"]["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-Goog-Api-Key"}


def test_operation_ids_are_exactly_the_tool_names_of_the_architecture():
    doc = load_openapi(JULES_SERVER_NAME)
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert sorted(ids) == sorted(OPERATION_IDS)


@pytest.mark.parametrize("operation_id", sorted(OPERATION_IDS))
def test_every_operation_documents_itself_and_google_errors(operation_id):
    doc = load_openapi(JULES_SERVER_NAME)
    (op,) = [op for _, _, op in _operations(doc) if op["operationId"] == operation_id]
    assert len(op["summary"]) > 20 and len(op["description"]) > 60  # tool descriptions an LLM can act on
    assert ERROR_STATUSES <= set(op["responses"])
    for status in ERROR_STATUSES:
        ref = op["responses"][status]["$ref"]
        response = doc["components"]["responses"][ref.rsplit("/", 1)[-1]]
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_create_session_requires_prompt_and_session_has_the_nine_states():
    doc = load_openapi(JULES_SERVER_NAME)
    create = doc["paths"]["/sessions"]["post"]["requestBody"]
    assert create["required"] is True
    schemas = doc["components"]["schemas"]
    assert schemas["CreateSessionRequest"]["required"] == ["prompt"]
    assert schemas["State"]["enum"] == ["STATE_UNSPECIFIED", "QUEUED", "PLANNING", "AWAITING_PLAN_APPROVAL",
                                        "AWAITING_USER_FEEDBACK", "IN_PROGRESS", "PAUSED", "FAILED", "COMPLETED"]
    # Everything a client may write is also part of the Session it reads back (one message upstream).
    assert set(schemas["CreateSessionRequest"]["properties"]) <= set(schemas["Session"]["properties"])
    activity_kinds = {r["required"][0] for r in schemas["Activity"]["oneOf"]}
    assert activity_kinds == {"agentMessaged", "userMessaged", "planGenerated", "planApproved", "progressUpdated",
                              "sessionCompleted", "sessionFailed"}
    assert {r["required"][0] for r in schemas["Artifact"]["oneOf"]} == {"changeSet", "media", "bashOutput"}
    assert {r["required"][0] for r in schemas["SessionOutput"]["oneOf"]} == {"pullRequest", "changeSet"}


def test_custom_method_paths_use_google_colon_syntax():
    paths = load_openapi(JULES_SERVER_NAME)["paths"]
    assert paths["/sessions/{sessionId}:approvePlan"]["post"]["operationId"] == "approvePlan"
    assert paths["/sessions/{sessionId}:sendMessage"]["post"]["operationId"] == "sendMessage"


def test_loader_returns_independent_copies_of_both_definitions():
    first = load_server_definition(JULES_SERVER_NAME)
    first["config"]["openapi"]["baseUrl"] = "http://127.0.0.1:3102/v1alpha"
    assert "baseUrl" not in load_server_definition(JULES_SERVER_NAME)["config"]["openapi"]
    github = load_server_definition(GITHUB_REST_SERVER_NAME)
    assert github["name"] == "github-rest"
    assert load_openapi(GITHUB_REST_SERVER_NAME) == github["config"]["openapi"]["schema"]


def test_loader_rejects_unknown_names_with_the_known_ones():
    with pytest.raises(ConfigError, match="jules, github-rest"):
        load_server_definition("gitlab")  # type: ignore[arg-type]


def test_fastmcp_generates_one_tool_per_operation():
    # A second consumer of the same document: FastMCP's OpenAPI provider (what the hub builds on).
    import httpx2
    from fastmcp import FastMCP

    mcp = FastMCP.from_openapi(openapi_spec=load_openapi(JULES_SERVER_NAME),
                               client=httpx2.AsyncClient(base_url="http://unused"), name="jules")
    import asyncio

    tools = asyncio.run(mcp.list_tools())
    assert {t.name for t in tools} == OPERATION_IDS
