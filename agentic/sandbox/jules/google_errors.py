"""Google API errors (`google.rpc.Status` as JSON): the body every Jules error response carries.

    {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND", "details": [...]}}

Handlers raise `ApiError`; the app turns it into that body. Messages are Google's stock texts where the real API
uses them, so clients that match on them behave as in production.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

NOT_FOUND_MESSAGE = "Requested entity was not found."
INVALID_ARGUMENT_MESSAGE = "Request contains an invalid argument."
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
QUOTA_FAILURE_TYPE = "type.googleapis.com/google.rpc.QuotaFailure"

_HTTP_STATUS = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500, "UNAVAILABLE": 503,
}


class ApiError(Exception):
    """An error answer of the simulated API, in Google's canonical codes."""

    def __init__(self, status: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.code = _HTTP_STATUS[status]
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.code)


def field_violation(field: str, description: str) -> dict[str, Any]:
    return {"@type": BAD_REQUEST_TYPE, "fieldViolations": [{"field": field, "description": description}]}


def invalid_argument(message: str, field: str | None = None) -> ApiError:
    return ApiError("INVALID_ARGUMENT", message, [field_violation(field, message)] if field else None)


def not_found() -> ApiError:
    return ApiError("NOT_FOUND", NOT_FOUND_MESSAGE)


def error_info(reason: str, **metadata: str) -> dict[str, Any]:
    return {"@type": ERROR_INFO_TYPE, "reason": reason, "domain": "googleapis.com",
            "metadata": {"service": "jules.googleapis.com", **metadata}}
