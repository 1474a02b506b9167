"""Shared pieces of the routers: documented error responses and lookups that 404."""

from __future__ import annotations

from typing import Any

from avagent.service.context import Service
from avagent.service.errors import NotFoundError
from avagent.service.schemas import ErrorBody
from avagent.workers.models import Job

_DESCRIPTIONS = {
    400: "malformed request body",
    401: "missing, invalid or revoked API key",
    403: "the key's role does not allow this, or a path outside the manifest roots",
    404: "no such resource",
    409: "the resource is not in a state that allows this",
    413: "upload or media above a size, duration or frame-size limit",
    415: "not a media file, or an unsupported request content type",
    422: "invalid parameters, options or media",
    429: "rate limit reached (see Retry-After)",
    503: "a dependency (database, broker, model backend) is unavailable",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses, all with the ErrorBody shape."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


AUTH_ERRORS = (401, 403, 429)


def get_job_or_404(service: Service, job_id: str) -> Job:
    job = service.store.get_job(job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return job
