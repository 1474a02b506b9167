"""/v1/jobs: submit, list, inspect, download results, cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from avagent.agent.report import Report
from avagent.service.deps import CancelKey, JobId, ReadKey, ServiceDep, SubmitKey, url_prefix
from avagent.service.errors import ConflictError, NotFoundError, PermissionDeniedError
from avagent.service.routes.common import AUTH_ERRORS, errors, get_job_or_404
from avagent.service.schemas import ID_PATTERN, JobDetail, JobPublic, JobsPublic, JobStatus
from avagent.service.spectrogram import spectrogram_png
from avagent.service.storage import sanitize_filename
from avagent.service.submission import effective_options, parse_options, submit
from avagent.service.views import job_detail, job_public, read_report
from avagent.workers.models import CANCELLED, FINAL_STATES, SUCCEEDED, Job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

VIDEO_TYPES = {".mp4": "video/mp4", ".mkv": "video/x-matroska", ".webm": "video/webm", ".avi": "video/x-msvideo"}
OPTIONS_HELP = (
    'JSON object of JobOptions, e.g. {"planner": "rules", "threshold": 0.85, "max_iterations": 4, '
    '"allowed_actions": ["wiener", "speed"]}; unset fields take the server defaults'
)
DUPLICATE_HEADER = "Idempotent-Replay"


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    responses={
        200: {"model": JobPublic, "description": f"an identical job exists (header {DUPLICATE_HEADER}: true)"},
        202: {"description": "queued (new, or a failed/cancelled twin requeued: then with the header)"},
        **errors(400, 413, 415, 422, *AUTH_ERRORS),
    },
)
def submit_job(
    request: Request,
    response: Response,
    service: ServiceDep,
    principal: SubmitKey,
    file: Annotated[UploadFile, File(description="the video, with its sound")],
    options: Annotated[str | None, Form(description=OPTIONS_HELP)] = None,
) -> JobPublic:
    """Submit a video for repair; an identical submission returns the existing job."""
    opts = effective_options(service, parse_options(options))
    stored = service.artifacts.ingest(
        file.file,
        display_name=sanitize_filename(file.filename),
        max_bytes=service.settings.service.max_upload_bytes,
        limits=service.settings.media,
    )
    job, state = submit(service, stored, opts, source_path=None, api_key_id=principal.key_id)
    if state == "existing":
        response.status_code = 200
    if state != "created":
        response.headers[DUPLICATE_HEADER] = "true"
    response.headers["Location"] = f"{url_prefix(request)}/v1/jobs/{job.id}"
    return job_public(job, url_prefix(request))


@router.get("", response_model=JobsPublic, responses=errors(422, *AUTH_ERRORS))
def list_jobs(
    request: Request,
    service: ServiceDep,
    _: ReadKey,
    status: Annotated[JobStatus | None, Query(description="only jobs in this state")] = None,
    batch: Annotated[str | None, Query(pattern=ID_PATTERN, description="only jobs of this batch")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")] = None,
) -> JobsPublic:
    """Jobs, newest first, a page at a time."""
    jobs, next_cursor = service.store.list_jobs(status=status, batch_id=batch, limit=limit, cursor=cursor)
    prefix = url_prefix(request)
    return JobsPublic(data=[job_public(j, prefix) for j in jobs], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobDetail, responses=errors(404, 422, *AUTH_ERRORS))
def get_job(request: Request, service: ServiceDep, _: ReadKey, job_id: JobId) -> JobDetail:
    """A job with its loop: captions, initial scores, every iteration's plan, actions and scores."""
    job = get_job_or_404(service, job_id)
    return job_detail(job, lambda: service.store.events_after(job_id, 0, limit=100_000), url_prefix(request))


@router.delete(
    "/{job_id}",
    response_model=JobPublic,
    responses={
        200: {"description": "cancelled (it was queued)"},
        202: {"model": JobPublic, "description": "cancel requested: the running loop stops at its next node"},
        **errors(404, 409, 422, *AUTH_ERRORS),
    },
)
def cancel_job(request: Request, response: Response, service: ServiceDep, principal: CancelKey, job_id: JobId):
    """Cancel a job: queued ones at once, running ones at the loop's next node boundary."""
    job = get_job_or_404(service, job_id)
    if not principal.has("admin") and job.api_key_id != principal.key_id:
        raise PermissionDeniedError("only the key that submitted a job, or an admin, may cancel it")
    if job.status in FINAL_STATES:
        raise ConflictError(f"job {job_id} already {job.status}", code="job_finished")
    job = service.store.request_cancel(job_id) or job
    service.executor.cancel(job_id)
    response.status_code = 200 if job.status == CANCELLED else 202
    return job_public(job, url_prefix(request))


def _finished(service, job_id: str) -> Job:
    job = get_job_or_404(service, job_id)
    if job.status not in FINAL_STATES:
        raise ConflictError(
            f"job {job_id} is {job.status}; its results exist once it succeeded", code="job_not_finished"
        )
    if job.status != SUCCEEDED:
        detail = f" ({job.error_code}: {job.error_message})" if job.error_code else ""
        raise ConflictError(f"job {job_id} {job.status}{detail}: it has no results", code="job_not_succeeded")
    return job


def _file(path: str | None, what: str) -> Path:
    if not path or not Path(path).is_file():
        raise NotFoundError(f"the {what} is no longer in the artifacts store")
    return Path(path)


def _download_name(job: Job, suffix: str, kind: str) -> str:
    stem = Path(job.source_name).stem or "clip"
    return f"{stem}.{kind}{suffix}"


FILE_ERRORS = errors(404, 409, 422, *AUTH_ERRORS)


@router.get(
    "/{job_id}/result",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in VIDEO_TYPES.values()}, "description": "video"}, **FILE_ERRORS},
)
def get_result(service: ServiceDep, _: ReadKey, job_id: JobId) -> FileResponse:
    """The repaired video (the original video stream with the repaired audio)."""
    job = _finished(service, job_id)
    path = _file(job.video_path, "repaired video")
    media_type = VIDEO_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=_download_name(job, path.suffix, "repaired"))


@router.get(
    "/{job_id}/audio",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}, "description": "WAV (32-bit float)"}, **FILE_ERRORS},
)
def get_audio(service: ServiceDep, _: ReadKey, job_id: JobId) -> FileResponse:
    """The repaired audio."""
    job = _finished(service, job_id)
    path = _file(job.audio_path, "repaired audio")
    return FileResponse(path, media_type="audio/wav", filename=_download_name(job, ".wav", "repaired"))


@router.get(
    "/{job_id}/original-audio",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}, "description": "WAV (32-bit float)"}, **FILE_ERRORS},
)
def get_original_audio(service: ServiceDep, _: ReadKey, job_id: JobId) -> FileResponse:
    """The original audio, decoded (for side-by-side listening)."""
    job = _finished(service, job_id)
    path = _file(job.original_audio_path, "original audio")
    return FileResponse(path, media_type="audio/wav", filename=_download_name(job, ".wav", "original"))


@router.get("/{job_id}/report", response_model=Report, responses=FILE_ERRORS)
def get_report(service: ServiceDep, _: ReadKey, job_id: JobId) -> Report:
    """The repair report (schema avagent.report/1)."""
    job = _finished(service, job_id)
    report = read_report(job)
    if report is None:
        raise NotFoundError("the report is no longer in the artifacts store")
    return report


@router.get(
    "/{job_id}/spectrogram/{which}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}, "description": "PNG, 800x300"}, **FILE_ERRORS},
)
def get_spectrogram(
    service: ServiceDep, _: ReadKey, job_id: JobId, which: Literal["original", "repaired"]
) -> FileResponse:
    """The spectrogram of the original or the repaired audio."""
    job = _finished(service, job_id)
    audio = _file(job.original_audio_path if which == "original" else job.audio_path, f"{which} audio")
    png = spectrogram_png(audio, Path(job.job_dir) / f"spectrogram-{which}.png", title=f"{which} audio")
    return FileResponse(png, media_type="image/png")
