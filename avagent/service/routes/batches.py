"""/v1/batches: many clips at once, as uploads or as a manifest of server-side paths; their pair manifest.

One route takes both: `multipart/form-data` with repeated `files` parts (plus optional `options` JSON and
`name`), or `application/json` (BatchManifestCreate). A path outside the manifest roots (after resolving `..`
and symlinks) rejects the whole batch before anything is queued; a clip that is not usable media is recorded
as a rejected item and the rest of the batch goes on.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from avagent.service.deps import BatchId, CancelKey, ReadKey, ServiceDep, SubmitKey, url_prefix
from avagent.service.errors import ConflictError, InvalidRequestError, NotFoundError, PermissionDeniedError
from avagent.service.routes.common import AUTH_ERRORS, errors
from avagent.service.schemas import BatchManifestCreate, BatchPublic
from avagent.service.submission import batch_from_manifest, batch_from_uploads, parse_options
from avagent.service.views import batch_public, manifest_line

router = APIRouter(prefix="/v1/batches", tags=["batches"])

BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/BatchManifestCreate"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1},
                    "options": {"type": "string", "description": "JSON object of JobOptions"},
                    "name": {"type": "string", "maxLength": 200},
                },
            }
        },
    },
}


class UnsupportedContentTypeError(InvalidRequestError):
    http_status = 415
    code = "unsupported_content_type"


@router.post(
    "",
    status_code=202,
    response_model=BatchPublic,
    openapi_extra={"requestBody": BATCH_BODY},
    responses=errors(400, 403, 413, 415, 422, *AUTH_ERRORS),
)
async def create_batch(request: Request, service: ServiceDep, principal: SubmitKey) -> BatchPublic:
    """Submit a batch of uploads or of server-side paths; returns its status."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        manifest = _parse_manifest(await request.body())
        batch = await run_in_threadpool(batch_from_manifest, service, manifest, principal.key_id)
    elif content_type == "multipart/form-data":
        batch = await _from_form(request, service, principal.key_id)
    else:
        raise UnsupportedContentTypeError("send application/json (a manifest of paths) or multipart/form-data (files)")
    return await run_in_threadpool(_batch_view, service, batch.id, url_prefix(request))


def _parse_manifest(body: bytes) -> BatchManifestCreate:
    try:
        return BatchManifestCreate.model_validate_json(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequestError(f"{where + ': ' if where else ''}{first['msg']}") from e


async def _from_form(request: Request, service, api_key_id: str):
    limit = service.settings.service.max_batch_items
    async with request.form(max_files=limit + 1, max_fields=10) as form:
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if len(files) != len(form.getlist("files")):
            raise InvalidRequestError("files: every 'files' part must be a file upload")
        options = form.get("options")
        name = form.get("name")
        if (options is not None and not isinstance(options, str)) or (name is not None and not isinstance(name, str)):
            raise InvalidRequestError("options and name must be text fields")
        if name is not None and len(name) > 200:
            raise InvalidRequestError("name: at most 200 characters")
        opts = parse_options(options)
        uploads = [(f.filename, f.file) for f in files]
        return await run_in_threadpool(batch_from_uploads, service, uploads, opts, name, api_key_id)


def _batch_view(service, batch_id: str, prefix: str) -> BatchPublic:
    found = service.store.get_batch(batch_id)
    if found is None:
        raise NotFoundError(f"batch {batch_id} does not exist")
    batch, items = found
    jobs = service.store.get_jobs([i.job_id for i in items if i.job_id])
    return batch_public(batch, items, jobs, prefix)


@router.get("/{batch_id}", response_model=BatchPublic, responses=errors(404, 422, *AUTH_ERRORS))
def get_batch(request: Request, service: ServiceDep, _: ReadKey, batch_id: BatchId) -> BatchPublic:
    """A batch: counts by state and every item's job."""
    return _batch_view(service, batch_id, url_prefix(request))


@router.get(
    "/{batch_id}/manifest",
    response_class=Response,
    responses={
        200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}, "description": "JSONL"},
        **errors(404, 409, 422, *AUTH_ERRORS),
    },
)
def get_manifest(service: ServiceDep, _: ReadKey, batch_id: BatchId) -> Response:
    """The batch's cleaned-pair manifest (JSONL, schema avagent.pairs/1), once every item is final."""
    found = service.store.get_batch(batch_id)
    if found is None:
        raise NotFoundError(f"batch {batch_id} does not exist")
    batch, items = found
    jobs = service.store.get_jobs([i.job_id for i in items if i.job_id])
    if not batch_public(batch, items, jobs).done:
        raise ConflictError(f"batch {batch_id} is not finished yet", code="batch_not_finished")
    lines = [manifest_line(i, jobs.get(i.job_id) if i.job_id else None, batch.id) for i in items]
    body = "".join(line.model_dump_json(by_alias=True) + "\n" for line in lines)
    return Response(body, media_type="application/x-ndjson")


@router.delete("/{batch_id}", response_model=BatchPublic, responses=errors(404, 422, *AUTH_ERRORS))
def cancel_batch(request: Request, service: ServiceDep, principal: CancelKey, batch_id: BatchId) -> BatchPublic:
    """Cancel every unfinished job of the batch (queued at once, running at the next node)."""
    found = service.store.get_batch(batch_id)
    if found is None:
        raise NotFoundError(f"batch {batch_id} does not exist")
    batch, items = found
    if not principal.has("admin") and batch.api_key_id != principal.key_id:
        raise PermissionDeniedError("only the key that submitted a batch, or an admin, may cancel it")
    for item in items:
        if item.job_id:
            service.store.request_cancel(item.job_id)
    return _batch_view(service, batch_id, url_prefix(request))
