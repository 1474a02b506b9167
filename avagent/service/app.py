"""The FastAPI app: `create_app(settings)` wires the store, the executor, limits, metrics and the routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

import avagent
from avagent.core.config import Settings, load_settings
from avagent.core.errors import AvagentError
from avagent.service.context import Service
from avagent.service.deps import PRINCIPAL_STATE, check_access, key_from_parts
from avagent.service.errors import ServiceError, database_unavailable, error_body, install_error_handlers
from avagent.service.limits import BodySizeLimit
from avagent.service.metrics import HttpMetrics
from avagent.service.routes import auth, batches, dashboard, events, jobs, system
from avagent.service.schemas import BatchManifestCreate, EventPublic, JobOptions
from avagent.service.security import ensure_bootstrap_key
from avagent.workers.executor import Executor
from avagent.workers.store import JobStore

log = logging.getLogger(__name__)

# Models that only hand-written parts of the schema refer to (the batch body, the SSE data): added to components.
EXTRA_SCHEMAS = (BatchManifestCreate, JobOptions, EventPublic)

DESCRIPTION = """
Agentic audio repair as a service: submit a video, the agent describes its audio and picture, plans edits,
applies them and scores the result until sound and picture agree.

* **Auth**: an API key in `Authorization: Bearer <key>` or `X-API-Key` (GET requests also accept `?api_key=`
  and the `avagent_key` cookie set by `POST /v1/session`). Roles nest: read < submit < admin.
* **Idempotency**: a job is identified by sha256(content, effective options, configured backends, avagent
  version). Submitting a twin returns the existing job with `200` and `Idempotent-Replay: true`; a failed or
  cancelled twin is requeued (`202`, same header) and resumes from its checkpoint.
* **Events**: `GET /v1/jobs/{id}/events` is an SSE stream; the SSE id is the event's per-job `seq` (gap-free,
  in commit order); resume with `Last-Event-ID`; it ends with `event: end` after the job's final state.
* **Cancel**: `DELETE /v1/jobs/{id}` cancels a queued job at once (`200`) and asks a running one to stop at its
  next loop node (`202`, then status `cancelled`).
* **Limits**: request bodies are counted while they stream (`413` past the limit); media is probed before a
  job is queued (duration, frame size, streams); per-key token buckets per process (`429` + `Retry-After`).
* **Errors**: every error body is `{"error": {"code", "message"}}`.
"""


def create_app(
    settings: Settings | None = None, *, store: JobStore | None = None, executor: Executor | None = None
) -> FastAPI:
    """The API with its executor (embedded threads unless `settings.service.broker_url` is set)."""
    settings = settings or load_settings()
    service = Service.build(settings, store=store, executor=executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_start, service)
        try:
            yield
        finally:
            await run_in_threadpool(service.executor.shutdown)

    app = FastAPI(title="avagent", version=avagent.__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.service = service
    install_error_handlers(app)
    for module in (jobs, events, batches, auth, system, dashboard):
        app.include_router(module.router)
    app.add_middleware(UploadGate, service=service)
    app.add_middleware(BodySizeLimit, limit_for=_body_limits(settings))
    app.add_middleware(HttpMetrics, metrics=lambda: service.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _start(service: Service) -> None:
    service.store.create_all()
    service.artifacts.clean_tmp()
    if service.settings.service.bootstrap_admin_key_sha256:
        ensure_bootstrap_key(service.store, service.settings.service.bootstrap_admin_key_sha256)
    service.executor.start()


def _body_limits(settings: Settings):
    """Uploads may be large (multipart: files spool to disk); everything else, JSON included, is small."""
    s = settings.service

    def limit_for(method: str, path: str, content_type: str) -> int:
        multipart = content_type.lower().startswith("multipart/form-data")
        if method == "POST" and multipart and path.rstrip("/").endswith("/v1/jobs"):
            return s.max_upload_bytes
        if method == "POST" and multipart and path.rstrip("/").endswith("/v1/batches"):
            return s.max_batch_upload_bytes
        return s.max_json_bytes

    return limit_for


class UploadGate:
    """Authenticate, authorise and rate-limit uploads BEFORE their body is read.

    FastAPI parses a request body before it runs dependencies, so without this an anonymous client could
    make the server spool a body of up to the upload limit. The checked caller is handed to the route's
    dependency through `request.state`, so the rate token is taken once.
    """

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").rstrip("/")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.endswith(("/v1/jobs", "/v1/batches")):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        key = key_from_parts("POST", request.headers, request.query_params, request.cookies)
        try:
            try:
                principal = await run_in_threadpool(check_access, self.service, key, "submit", "submit")
            except (OperationalError, InterfaceError) as e:
                raise database_unavailable(e) from e
        except AvagentError as e:
            headers = dict((e.response_headers() if isinstance(e, ServiceError) else None) or {}, connection="close")
            response = JSONResponse(error_body(e.code, e.message), status_code=e.http_status, headers=headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        await self.app(scope, receive, send)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema plus the models only the batch route's hand-written request body refers to."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in EXTRA_SCHEMAS:
            extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in extra.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault(model.__name__, extra)
        app.openapi_schema = schema
    return app.openapi_schema
