"""One error body for every failure, and the handlers that produce it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """Where a request is wrong and why."""

    loc: list[str | int] = Field(examples=[["query", "limit"]])
    msg: str = Field(examples=["Input should be less than or equal to 500"])
    type: str = Field(examples=["less_than_equal"])


class ErrorBody(BaseModel):
    """Every 4xx and 5xx response has this shape."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["community 'xueyuan' not found"])
    details: list[ErrorDetail] = Field(default_factory=list)


class ApiError(Exception):
    """A failure the caller can act on; subclasses fix the status and code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class BadRequest(ApiError):
    """Malformed input that validation could not express (a bad cursor, a range too long)."""


class Invalid(ApiError):
    status, code = 422, "validation_error"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class TooLarge(ApiError):
    status, code = 413, "payload_too_large"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """The JSON response of an error."""
    headers = extra.pop("headers", None)
    body = ErrorBody(code=code, message=message, **extra)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _http_code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
        status, "http_error"
    )


def _allowed(request: Request) -> list[str]:
    methods = {
        method
        for route in request.app.routes
        if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
        for method in route.methods or ()
    }
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = error.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        details = [
            ErrorDetail(loc=list(e.get("loc", ())), msg=str(e.get("msg", "")), type=str(e.get("type", "")))
            for e in errors
        ]
        return error_response(422, "validation_error", "the request is not valid", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = error.headers
        if error.status_code == 405:
            # Starlette names only the methods of the first route matching the path; list them all.
            headers = {"Allow": ", ".join(_allowed(request))}
        return error_response(
            error.status_code, _http_code(error.status_code), str(error.detail), headers=headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return error_response(500, "internal_error", "internal error; it has been logged")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request (bad JSON, bad cursor)"),
        (401, "Missing, unknown, expired or revoked API key"),
        (403, "The key's role or scopes do not allow this"),
        (404, "Not found, or not visible to this key's company"),
        (409, "Conflicts with the current state (exists already, still in use, wrong alarm status)"),
        (413, "Request body too large"),
        (422, "Validation failed; `details` says where"),
        (429, "Rate limit exceeded; see Retry-After"),
    )
}
"""Documented on every /v1 route."""
