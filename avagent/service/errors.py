"""Service errors and the handlers that turn every error into one JSON shape.

Every 4xx/5xx body is `{"error": {"code": "...", "message": "...", "details": [...]?}}` (`ErrorBody`): typed
`AvagentError`s (media, parameters, auth, limits) keep their code and HTTP status, FastAPI's validation errors
become 422 `invalid_request`, Starlette's HTTP errors (404 route, 405) keep their status, and anything
unexpected is a 500 `internal_error` without internals in the body.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from avagent.core.errors import AvagentError

log = logging.getLogger(__name__)

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "upload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


class ServiceError(AvagentError):
    """An error of the HTTP layer; `headers` go into the response (Retry-After, WWW-Authenticate)."""

    headers: ClassVar[dict[str, str] | None] = None

    def response_headers(self) -> dict[str, str] | None:
        return self.headers


class AuthenticationError(ServiceError):
    http_status = 401
    code = "unauthenticated"
    headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": "Bearer"}


class PermissionDeniedError(ServiceError):
    http_status = 403
    code = "forbidden"


class NotFoundError(ServiceError):
    http_status = 404
    code = "not_found"


class ConflictError(ServiceError):
    """The resource is not in a state that allows this (e.g. results of a job still running)."""

    http_status = 409
    code = "conflict"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class UploadTooLargeError(ServiceError):
    http_status = 413
    code = "upload_too_large"


class RateLimitedError(ServiceError):
    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, round(self.retry_after_s + 0.5)))}


class PathOutsideRootsError(ServiceError):
    http_status = 403
    code = "path_outside_roots"


class DatabaseUnavailableError(ServiceError):
    http_status = 503
    code = "database_unavailable"
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "5"}


class InvalidRequestError(ServiceError):
    http_status = 422
    code = "invalid_request"


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AvagentError, _avagent_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(InterfaceError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _avagent_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AvagentError)
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    if status >= 500:
        log.error("%s %s: %s: %s", request.method, request.url.path, exc.code, exc.message)
    headers = exc.response_headers() if isinstance(exc, ServiceError) else None
    return JSONResponse(error_body(exc.code, exc.message), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first['msg']}" if where else str(first["msg"])
    return JSONResponse(error_body("invalid_request", message, jsonable_encoder(errors)), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _CODES_BY_STATUS.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else "HTTP error"
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


def database_unavailable(exc: Exception) -> DatabaseUnavailableError:
    """The 503 for a database that cannot be reached (connection refused, dropped, locked past the timeout)."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200] if str(exc) else type(exc).__name__
    return DatabaseUnavailableError(f"the job database is unavailable, retry shortly ({reason})")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return await _avagent_error(request, database_unavailable(exc))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal error; the server log has the details"), 500)
