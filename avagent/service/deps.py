"""Route dependencies as `Annotated` aliases: the service context, the caller's key and role, path parameters.

Where a key may come from, in this order: `X-API-Key`, `Authorization: Bearer`, the `api_key` query parameter
(GET/HEAD only: for EventSource and <audio src>, which cannot send headers), the `avagent_key` cookie (set by
POST /v1/session for the dashboard; SameSite=Strict).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from avagent.service.context import Service
from avagent.service.errors import AuthenticationError, PermissionDeniedError, RateLimitedError
from avagent.service.schemas import ID_PATTERN
from avagent.service.security import Principal, authenticate

SESSION_COOKIE = "avagent_key"
PRINCIPAL_STATE = "avagent_principal"  # request.state key of a caller already checked by the upload gate

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKeyHeader")
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")
api_key_query = APIKeyQuery(
    name="api_key", auto_error=False, scheme_name="ApiKeyQuery", description="GET/HEAD only (EventSource, media tags)"
)
api_key_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="SessionCookie")


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def key_from_parts(method: str, headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]):
    """The presented key, from the first source that has one (see the module docstring)."""
    if headers.get("x-api-key"):
        return headers["x-api-key"]
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if method in ("GET", "HEAD") and query.get("api_key"):
        return query["api_key"]
    return cookies.get(SESSION_COOKIE) or None


def check_access(service: Service, key: str | None, role: str, klass: str) -> Principal:
    """Authenticate, check the role, take a rate token; raise the matching 401/403/429 error."""
    if not key:
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    principal = authenticate(service.store, key)
    if principal is None:
        raise AuthenticationError("invalid or revoked API key")
    if not principal.has(role):
        raise PermissionDeniedError(f"this needs the {role!r} role; the key {principal.name!r} has {principal.role!r}")
    retry_after_s = service.limiter.acquire(principal.key_id, klass)
    if retry_after_s is not None:
        raise RateLimitedError(
            f"rate limit of the key {principal.name!r} reached for {klass} requests; retry in {retry_after_s:.1f} s",
            retry_after_s=retry_after_s,
        )
    return principal


def requires(role: str, klass: str) -> Callable[..., Principal]:
    def dependency(
        request: Request,
        service: ServiceDep,
        _header: Annotated[str | None, Security(api_key_header)],
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        _query: Annotated[str | None, Security(api_key_query)],
        _cookie: Annotated[str | None, Security(api_key_cookie)],
    ) -> Principal:
        checked = getattr(request.state, PRINCIPAL_STATE, None)
        if checked is not None:  # the upload gate authenticated and rate-limited it before the body was read
            return checked
        key = key_from_parts(request.method, request.headers, request.query_params, request.cookies)
        return check_access(service, key, role, klass)

    return dependency


ReadKey = Annotated[Principal, Depends(requires("read", "read"))]
SubmitKey = Annotated[Principal, Depends(requires("submit", "submit"))]
CancelKey = Annotated[Principal, Depends(requires("submit", "read"))]
AdminKey = Annotated[Principal, Depends(requires("admin", "read"))]

JobId = Annotated[str, Path(pattern=ID_PATTERN, description="32 hex digits")]
BatchId = Annotated[str, Path(pattern=ID_PATTERN, description="32 hex digits")]


def url_prefix(request: Request) -> str:
    """The app's mount point, for the relative links in responses."""
    return request.scope.get("root_path", "").rstrip("/")
