"""Stored rows to API models: jobs (with their loop timeline), events, batches and manifest lines.

A job's detail comes from its report once it succeeded (the authoritative record) and from its stored events
while it runs, in the same shape, so a dashboard renders both the same way. Events of a node that ran twice
(a resumed or retried job) are read in order, so the latest attempt wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avagent.agent.report import ManifestLine, Report
from avagent.service.schemas import (
    BatchCounts,
    BatchItemPublic,
    BatchLinks,
    BatchPublic,
    EffectiveOptions,
    EventPublic,
    IterationView,
    JobDetail,
    JobError,
    JobLinks,
    JobPublic,
    Scores,
)
from avagent.workers.models import FINAL_STATES, SUCCEEDED, Batch, BatchItem, Event, Job

log = logging.getLogger(__name__)


def job_links(job_id: str, prefix: str = "") -> JobLinks:
    base = f"{prefix}/v1/jobs/{job_id}"
    return JobLinks(
        job=base,
        events=f"{base}/events",
        result=f"{base}/result",
        audio=f"{base}/audio",
        original_audio=f"{base}/original-audio",
        report=f"{base}/report",
        spectrogram_original=f"{base}/spectrogram/original",
        spectrogram_repaired=f"{base}/spectrogram/repaired",
    )


def job_public(job: Job, prefix: str = "") -> JobPublic:
    return JobPublic(**_job_fields(job, prefix))


def _job_fields(job: Job, prefix: str) -> dict[str, Any]:
    error = JobError(code=job.error_code, message=job.error_message or "") if job.error_code else None
    return {
        "id": job.id,
        "status": job.status,
        "outcome": job.outcome,
        "stage": job.stage,
        "progress": min(max(job.progress, 0.0), 1.0),
        "source_name": job.source_name,
        "input_sha256": job.input_sha256,
        "duration_s": job.duration_s,
        "options": EffectiveOptions(**job.options),
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "iterations": job.iterations,
        "initial_scores": Scores(**job.initial_scores) if job.initial_scores else None,
        "final_scores": Scores(**job.final_scores) if job.final_scores else None,
        "error": error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "links": job_links(job.id, prefix),
    }


def job_detail(job: Job, load_events: Callable[[], list[Event]], prefix: str = "") -> JobDetail:
    """From the report once the job succeeded, else (or if the report is gone) from its events."""
    report = read_report(job) if job.status == SUCCEEDED else None
    loop = _from_report(report) if report is not None else _from_events(load_events())
    return JobDetail(**_job_fields(job, prefix), **loop)


def read_report(job: Job) -> Report | None:
    if not job.report_path:
        return None
    try:
        return Report.model_validate_json(Path(job.report_path).read_text())
    except (OSError, ValueError) as e:  # removed or damaged on disk: fall back to the events
        log.warning("job %s: cannot read its report: %s", job.id, e)
        return None


def _from_report(report: Report) -> dict[str, Any]:
    return {
        "captions": report.captions,
        "initial": report.initial_scores.model_dump(),
        "timeline": [
            IterationView(
                index=it.index,
                plan=it.plan.model_dump(),
                actions=[a["name"] for a in it.plan.actions],
                scores=it.scores.model_dump(),
                accepted=it.accepted,
                seconds=it.seconds,
            )
            for it in report.iterations
        ],
        "stop_reason": report.final.stop_reason,
        "best_iteration": report.final.best_iteration,
        "applied_actions": report.final.actions,
        "backends": report.backends,
        "timings": report.timings,
    }


def _from_events(events: list[Event]) -> dict[str, Any]:
    out: dict[str, Any] = {"captions": None, "initial": None, "timeline": []}
    iterations: dict[int, IterationView] = {}
    for ev in events:
        if ev.kind != "agent":
            continue
        p = ev.payload
        if ev.node == "perceive":
            out["captions"] = {
                "audio": {"caption": p.get("audio_caption")},
                "video": {"caption": p.get("video_caption")},
            }
        elif ev.node == "reflect_original":
            out["initial"] = p.get("scores")
        elif ev.node in ("plan", "act", "reflect", "decide"):
            _apply_iteration_event(iterations.setdefault(ev.iteration, IterationView(index=ev.iteration)), ev)
        elif ev.node == "finalize":
            out["stop_reason"] = p.get("stop_reason")
            best = p.get("best") or {}
            out["best_iteration"] = best.get("iteration")
            out["applied_actions"] = best.get("actions")
    out["timeline"] = [iterations[k] for k in sorted(iterations)]
    return out


def _apply_iteration_event(view: IterationView, ev: Event) -> None:
    p = ev.payload
    if ev.node == "plan":
        view.plan = p.get("plan")
        view.actions = [a.get("name") for a in (view.plan or {}).get("actions", [])]
        view.scores, view.accepted = None, None
    elif ev.node == "act":
        view.actions = list(p.get("actions") or view.actions)
    elif ev.node == "reflect":
        view.scores = p.get("scores")
    elif ev.node == "decide":
        view.accepted = bool(p.get("accepted"))
        view.scores = p.get("scores") or view.scores


def event_public(ev: Event) -> EventPublic:
    return EventPublic(
        seq=ev.seq,
        kind=ev.kind,
        node=ev.node,
        iteration=ev.iteration,
        attempt=ev.attempt,
        payload=ev.payload,
        timestamp=ev.timestamp,
        duration_s=ev.duration_s,
    )


def batch_public(batch: Batch, items: list[BatchItem], jobs: dict[str, Job], prefix: str = "") -> BatchPublic:
    counts = BatchCounts()
    views = []
    for item in items:
        job = jobs.get(item.job_id) if item.job_id else None
        status = job.status if job is not None else "rejected"
        setattr(counts, status, getattr(counts, status) + 1)
        if job is not None:
            error = JobError(code=job.error_code, message=job.error_message or "") if job.error_code else None
        else:
            error = JobError(code=item.error_code or "rejected", message=item.error_message or "")
        views.append(
            BatchItemPublic(
                position=item.position,
                source_name=item.source_name,
                job_id=item.job_id,
                status=status,
                outcome=job.outcome if job is not None else None,
                error=error,
            )
        )
    done = all(v.status == "rejected" or v.status in FINAL_STATES for v in views)
    base = f"{prefix}/v1/batches/{batch.id}"
    return BatchPublic(
        id=batch.id,
        name=batch.name,
        source=batch.source,
        total=batch.total,
        counts=counts,
        done=done,
        created_at=batch.created_at,
        items=views,
        links=BatchLinks(batch=base, manifest=f"{base}/manifest", jobs=f"{prefix}/v1/jobs?batch={batch.id}"),
    )


def manifest_line(item: BatchItem, job: Job | None, batch_id: str) -> ManifestLine:
    """The cleaned-pair manifest line of one batch item (schema avagent.pairs/1)."""
    if job is None:
        return ManifestLine(
            id=f"{batch_id}-{item.position}",
            video_path=item.source_path or item.source_name,
            original_audio_path=None,
            repaired_audio_path=None,
            repaired_video_path=None,
            status="failed",
            error=f"{item.error_code}: {item.error_message}",
        )
    ok = job.status == SUCCEEDED
    return ManifestLine(
        id=job.id,
        video_path=item.source_path or job.input_path,
        original_audio_path=job.original_audio_path if ok else None,
        repaired_audio_path=job.audio_path if ok else None,
        repaired_video_path=job.video_path if ok else None,
        applied_actions=job.applied_actions or [],
        initial_scores=job.initial_scores or {},
        final_scores=job.final_scores or {},
        report_path=job.report_path if ok else None,
        status=(job.outcome or "untouched") if ok else "failed",
        error=None if ok else f"{job.error_code}: {job.error_message}",
    )
