"""/dashboard: the operators' page. Static HTML, ES modules and CSS shipped in the package (no build step, no CDN).

The page uses the public API (`/v1/session`, `/v1/jobs`, `/v1/jobs/{id}/events`, `/v1/stats`) with the session
cookie, plus two helpers here: `/dashboard/config.json` (the submit form's action names and server defaults) and
`/dashboard/jobs/{id}` (a job's detail with the event seq it reflects, so the page resumes the event stream after
it instead of replaying history over a newer view). None of these routes is part of the API contract, so they
stay out of the OpenAPI schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, Field

from avagent.actions.registry import CANONICAL_ORDER
from avagent.service.deps import JobId, ReadKey, ServiceDep, url_prefix
from avagent.service.errors import NotFoundError
from avagent.service.routes.common import get_job_or_404
from avagent.service.schemas import JobDetail
from avagent.service.views import job_detail

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
INDEX = "index.html"
ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(js|css)$")  # flat names only: nothing can escape STATIC_DIR
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Everything the page loads comes from this origin: the policy makes any external request (fonts, CDNs) fail.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate, so an upgraded server never runs with stale modules
}


class JobSnapshot(BaseModel):
    after: int = Field(description="the job's event seq when it was read: stream its events with ?after= this")
    job: JobDetail


@router.get("")
def dashboard_redirect() -> RedirectResponse:
    """The page lives at /dashboard/ (its assets are relative to it)."""
    return RedirectResponse("dashboard/", status_code=308)


@router.get("/")
def dashboard_page() -> FileResponse:
    """The dashboard's single page."""
    return FileResponse(STATIC_DIR / INDEX, media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/static/{name}")
def dashboard_asset(name: str) -> FileResponse:
    """One of the page's modules or style sheets."""
    path = STATIC_DIR / name
    if not ASSET_NAME.match(name) or not path.is_file():
        raise NotFoundError(f"no dashboard asset {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)


@router.get("/config.json")
def dashboard_config(service: ServiceDep, _: ReadKey) -> dict[str, Any]:
    """What the submit form offers: the action names, the server's default options and the upload limit."""
    agent = service.settings.agent
    return {
        "actions": list(CANONICAL_ORDER),
        "defaults": {
            "planner": agent.planner,
            "threshold": agent.threshold,
            "max_iterations": agent.max_iterations,
            "acceptance": agent.acceptance,
            "seed": agent.seed,
        },
        "max_upload_bytes": service.settings.service.max_upload_bytes,
    }


@router.get("/jobs/{job_id}", response_model=JobSnapshot)
def dashboard_job(request: Request, service: ServiceDep, _: ReadKey, job_id: JobId) -> JobSnapshot:
    """GET /v1/jobs/{id} with the seq of the last event it reflects (its events are read after the job row, so
    it may reflect a few more: the page applies those twice, which leaves the same state)."""
    job = get_job_or_404(service, job_id)
    detail = job_detail(job, lambda: service.store.events_after(job_id, 0, limit=100_000), url_prefix(request))
    return JobSnapshot(after=job.event_seq, job=detail)
