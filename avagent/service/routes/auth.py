"""/v1/whoami, /v1/session (the dashboard's login cookie) and /v1/keys (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from avagent.service.deps import SESSION_COOKIE, AdminKey, ReadKey, ServiceDep, check_access
from avagent.service.errors import NotFoundError
from avagent.service.routes.common import AUTH_ERRORS, errors
from avagent.service.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, SessionCreate, WhoAmI
from avagent.service.security import Principal, create_key, list_keys, revoke_key
from avagent.workers.models import ROLES, ApiKey

router = APIRouter(prefix="/v1", tags=["auth"])

SESSION_MAX_AGE_S = 12 * 3600


def _whoami(p: Principal) -> WhoAmI:
    return WhoAmI(key_id=p.key_id, name=p.name, role=p.role, roles=[r for r in ROLES if p.has(r)])


def _key_public(row: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=row.id, name=row.name, role=row.role, created_at=row.created_at, revoked=bool(row.revoked_at)
    )


@router.get("/whoami", response_model=WhoAmI, responses=errors(*AUTH_ERRORS))
def whoami(principal: ReadKey) -> WhoAmI:
    """The caller's key: name and roles."""
    return _whoami(principal)


@router.post("/session", response_model=WhoAmI, responses=errors(401, 422, 429))
def login(body: SessionCreate, response: Response, service: ServiceDep) -> WhoAmI:
    """Check a key and set it as an HttpOnly, SameSite=Strict cookie (the dashboard's login form)."""
    principal = check_access(service, body.key, "read", "read")
    response.set_cookie(
        SESSION_COOKIE,
        body.key,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=service.settings.service.cookie_secure,
    )
    return _whoami(principal)


@router.delete("/session", status_code=204, response_class=Response)
def logout(response: Response) -> Response:
    """Forget the session cookie."""
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    response.status_code = 204
    return response


@router.post("/keys", status_code=201, response_model=ApiKeyCreated, responses=errors(422, *AUTH_ERRORS))
def add_key(body: ApiKeyCreate, service: ServiceDep, _: AdminKey) -> ApiKeyCreated:
    """Create an API key; the key itself is in this response only."""
    row, key = create_key(service.store, body.name, body.role)
    return ApiKeyCreated(**_key_public(row).model_dump(), key=key)


@router.get("/keys", response_model=list[ApiKeyPublic], responses=errors(*AUTH_ERRORS))
def get_keys(service: ServiceDep, _: AdminKey) -> list[ApiKeyPublic]:
    """All API keys (never the secrets)."""
    return [_key_public(row) for row in list_keys(service.store)]


@router.delete("/keys/{key_id}", response_model=ApiKeyPublic, responses=errors(404, 422, *AUTH_ERRORS))
def delete_key(
    service: ServiceDep, _: AdminKey, key_id: Annotated[str, Path(pattern=r"^[a-z0-9]{1,32}$")]
) -> ApiKeyPublic:
    """Revoke an API key (it stops working at once)."""
    row = revoke_key(service.store, key_id)
    if row is None:
        raise NotFoundError(f"API key {key_id} does not exist")
    return _key_public(row)
