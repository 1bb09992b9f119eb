"""The simulator's routes and request validation, derived from `agentic/jules.schema.json` at start-up.

Each OpenAPI path+method becomes one `Operation` (matched by regex, dispatched by operationId); request bodies are
validated with jsonschema against the operation's `requestBody` schema and query parameters are coerced from the
parameter schemas. A field or operation added to the spec therefore shows up here without code changes, and
errors come back with the texts Google's JSON transcoding produces (`Unknown name "x" at 'session': Cannot find
field.`, `Invalid value at 'session.automation_mode' (...AutomationMode), "MANUAL"`).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agentic.sandbox.jules.google_errors import INVALID_ARGUMENT_MESSAGE, ApiError, field_violation, invalid_argument

_SPEC_URI = "urn:agentic:jules-openapi"
_PROTO_PACKAGE = "type.googleapis.com/google.labs.jules.v1alpha."
# The HTTP body of these operations is one field of the request message (`body: "session"` in the proto's
# http rule): Google names body fields after it in error messages.
_BODY_FIELD = {"createSession": "session"}
# Google system parameters accepted on every call (https://cloud.google.com/apis/docs/system-parameters).
_SYSTEM_QUERY = {"key", "alt", "fields", "prettyPrint", "quotaUser", "$.xgafv", "$alt", "$fields"}
_PROTO_TYPES = {"boolean": "TYPE_BOOL", "integer": "TYPE_INT32", "number": "TYPE_DOUBLE", "string": "TYPE_STRING"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", str(name)).lower()


def camel_type(name: str) -> str:
    return "".join(part.capitalize() for part in snake(name).split("_"))


@dataclass
class Operation:
    """One API operation of the spec."""

    operation_id: str
    method: str
    path: str
    regex: re.Pattern[str]
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    body_validator: Draft202012Validator | None = None
    body_required: bool = False

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


class JulesSpec:
    """Routes and validators built from the OpenAPI document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        registry = Registry().with_resource(
            _SPEC_URI, Resource.from_contents(_strict(doc), default_specification=DRAFT202012))
        self.operations: list[Operation] = []
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if method not in {"get", "post", "put", "patch", "delete"}:
                    continue
                self.operations.append(self._operation(path, method.upper(), op, registry))
        # Custom methods (`/sessions/{id}:approvePlan`) and longer paths first, so no template shadows another.
        self.operations.sort(key=lambda o: (-o.path.count("/"), -len(o.path)))
        self.by_id = {o.operation_id: o for o in self.operations}

    @staticmethod
    def _operation(path: str, method: str, op: dict[str, Any], registry: Registry) -> Operation:
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/:]+)" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", path)
        )
        query = {p["name"]: p.get("schema", {}) for p in op.get("parameters", []) if p["in"] == "query"}
        operation = Operation(op["operationId"], method, path, re.compile(f"^{pattern}$"), query)
        body = op.get("requestBody")
        if body:
            schema = body["content"]["application/json"]["schema"]
            ref = schema.get("$ref", "")
            operation.body_validator = Draft202012Validator(
                {"$ref": f"{_SPEC_URI}{ref}"} if ref else schema, registry=registry)
            operation.body_required = bool(body.get("required"))
        return operation

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.operations:
            if operation.method == method and (m := operation.regex.match(path)):
                return operation, m.groupdict()
        return None

    def parse_query(self, operation: Operation, params: list[tuple[str, str]]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for name, raw in params:
            if name in _SYSTEM_QUERY:
                continue
            schema = operation.query.get(name)
            if schema is None:
                raise invalid_argument(
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                    f"Field '{name}' could not be found in request message.", name)
            if schema.get("type") == "integer":
                try:
                    parsed[name] = int(raw)
                except ValueError:
                    raise invalid_argument(f"Invalid value at '{snake(name)}' (TYPE_INT32), \"{raw}\"",
                                           snake(name)) from None
            else:
                parsed[name] = raw
        return parsed

    def parse_body(self, operation: Operation, raw: bytes) -> dict[str, Any] | None:
        if operation.body_validator is None:
            return None
        if not raw.strip():
            body: Any = {}
        else:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ApiError("INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.",
                               [field_violation("", "Invalid JSON payload received. Unexpected token.")]) from None
            if not isinstance(body, dict):
                raise invalid_argument("Invalid JSON payload received. Expected an object.", "")
        error = next(iter(sorted(operation.body_validator.iter_errors(body), key=_error_rank)), None)
        if error is not None:
            raise _google_error(error, _BODY_FIELD.get(operation.operation_id, ""))
        return body


def _strict(doc: dict[str, Any]) -> dict[str, Any]:
    """Copy of the spec where request objects reject unknown names, as proto JSON parsing does.

    The published spec stays open (clients must tolerate new response fields); only the simulator's request
    validation is closed. createSession's body is a whole `Session` message upstream, so its output-only fields
    are known names there (ignored, not rejected)."""
    strict = copy.deepcopy(doc)
    schemas = strict["components"]["schemas"]
    create = schemas.get("CreateSessionRequest", {}).get("properties")
    if create is not None:
        for name, schema in schemas.get("Session", {}).get("properties", {}).items():
            create.setdefault(name, schema)
    for schema in schemas.values():
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
    return strict


def _error_rank(error: ValidationError) -> tuple[int, int]:
    # Report unknown names first (Google's parser fails on them before checking anything else), then shallow errors.
    return (0 if error.validator == "additionalProperties" else 1, len(error.absolute_path))


def _google_error(error: ValidationError, body_field: str) -> ApiError:
    parts = [body_field] if body_field else []
    parts += [snake(p) for p in error.absolute_path if isinstance(p, str)]
    where = ".".join(parts)
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown = next((k for k in error.instance if k not in known), "?")
        at = f" at '{where}'" if where else ""
        message = f'Invalid JSON payload received. Unknown name "{unknown}"{at}: Cannot find field.'
        return ApiError("INVALID_ARGUMENT", message, [field_violation(where, message)])
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        name = ".".join([*parts, snake(missing.group(1))]) if missing else where
        return ApiError("INVALID_ARGUMENT", INVALID_ARGUMENT_MESSAGE,
                        [field_violation(name, f"Field '{name}' is required.")])
    value = json.dumps(error.instance) if not isinstance(error.instance, str) else f'"{error.instance}"'
    if error.validator == "enum":
        leaf = next((p for p in reversed(error.absolute_path) if isinstance(p, str)), "value")
        message = f"Invalid value at '{where}' ({_PROTO_PACKAGE}{camel_type(leaf)}), {value}"
        return ApiError("INVALID_ARGUMENT", message, [field_violation(where, message)])
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, str) else error.validator_value[0]
        leaf = next((p for p in reversed(error.absolute_path) if isinstance(p, str)), "value")
        proto = f"{_PROTO_PACKAGE}{camel_type(leaf)}" if expected == "object" else _PROTO_TYPES.get(expected, expected)
        message = f"Invalid value at '{where}' ({proto}), {value}"
        return ApiError("INVALID_ARGUMENT", message, [field_violation(where, message)])
    return ApiError("INVALID_ARGUMENT", INVALID_ARGUMENT_MESSAGE, [field_violation(where, error.message)])
