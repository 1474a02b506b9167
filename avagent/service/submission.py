"""Turning validated inputs into jobs and batches: effective options, idempotency, batch assembly.

Idempotency key = sha256 over (input sha256, effective options, configured backends and model ids, avagent
version), canonical JSON. The same clip submitted again with the same effective options on the same
deployment returns the existing job: 200 with `Idempotent-Replay: true` while it is queued, running or
succeeded; a failed or cancelled one is requeued instead (202, same header), so resubmitting is how a client
retries, and the retry resumes from the job's checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, replace
from typing import Any, BinaryIO, Literal

from pydantic import ValidationError

from avagent.actions.registry import CANONICAL_ORDER
from avagent.agent.run import options_from_settings
from avagent.core.errors import MediaError
from avagent.service.context import Service
from avagent.service.errors import InvalidRequestError, UploadTooLargeError
from avagent.service.schemas import BatchManifestCreate, JobOptions
from avagent.service.storage import StoredInput, resolve_under_roots, sanitize_filename
from avagent.workers.models import Batch, BatchItem, Job

SubmitState = Literal["created", "existing", "requeued"]
# Errors that reject one batch item (recorded on the item) rather than the whole batch.
ITEM_ERRORS = (MediaError, UploadTooLargeError)


def parse_options(raw: str | None) -> JobOptions:
    """The `options` form field: JSON text of a JobOptions object (empty or absent: the defaults)."""
    if raw is None or not raw.strip():
        return JobOptions()
    try:
        return JobOptions.model_validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequestError(f"options{'.' + where if where else ''}: {first['msg']}") from e


def effective_options(service: Service, options: JobOptions) -> dict[str, Any]:
    """The request's options over the configured defaults, validated, as canonical JSON-able data."""
    given = options.model_dump(exclude_none=True)
    if "allowed_actions" in given:
        wanted = set(given["allowed_actions"])
        given["allowed_actions"] = tuple(a for a in CANONICAL_ORDER if a in wanted)
    merged = replace(options_from_settings(service.settings), **given)  # RepairOptions validates
    out = asdict(merged)
    out["allowed_actions"] = list(out["allowed_actions"]) if out["allowed_actions"] is not None else None
    return out


def idempotency_key(input_sha256: str, options: dict[str, Any], fingerprint: dict[str, Any]) -> str:
    blob = json.dumps({"input": input_sha256, "options": options, **fingerprint}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def submit(
    service: Service,
    stored: StoredInput,
    options: dict[str, Any],
    *,
    source_path: str | None,
    api_key_id: str | None,
) -> tuple[Job, SubmitState]:
    """Create the job for a stored input (or find its twin) and hand it to the executor."""
    job_id = uuid.uuid4().hex
    job = Job(
        id=job_id,
        idempotency_key=idempotency_key(stored.sha256, options, service.fingerprint()),
        options=options,
        input_sha256=stored.sha256,
        input_path=str(stored.path),
        source_name=stored.display_name,
        source_path=source_path,
        duration_s=stored.info.duration_s or None,
        job_dir=str(service.artifacts.job_dir(stored.sha256, job_id)),
        api_key_id=api_key_id,
    )
    found, state = service.store.create_job(job)
    if state != "existing":
        service.executor.submit(found.id)
    return found, state  # type: ignore[return-value]


def batch_from_uploads(
    service: Service, uploads: list[tuple[str | None, BinaryIO]], options: JobOptions, name: str | None, api_key_id: str
) -> Batch:
    s = service.settings.service
    _check_count(len(uploads), s.max_batch_items)
    opts = effective_options(service, options)

    def ingest(entry: tuple[str | None, BinaryIO]) -> StoredInput:
        filename, stream = entry
        return service.artifacts.ingest(
            stream,
            display_name=sanitize_filename(filename),
            max_bytes=s.max_upload_bytes,
            limits=service.settings.media,
        )

    items = [
        (sanitize_filename(filename), None, lambda e=(filename, stream): ingest(e)) for filename, stream in uploads
    ]
    return _make_batch(service, "upload", items, opts, name, api_key_id)


def batch_from_manifest(service: Service, manifest: BatchManifestCreate, api_key_id: str) -> Batch:
    """Every path is checked against the roots first (one bad path rejects the whole batch, nothing queued)."""
    s = service.settings.service
    _check_count(len(manifest.paths), s.max_batch_items)
    opts = effective_options(service, manifest.options or JobOptions())
    resolved = [resolve_under_roots(p, s.manifest_roots) for p in manifest.paths]

    def ingest(path) -> StoredInput:
        return service.artifacts.ingest_path(path, max_bytes=s.max_upload_bytes, limits=service.settings.media)

    items = [(str(path), str(path), lambda p=path: ingest(p)) for path in resolved]
    return _make_batch(service, "manifest", items, opts, manifest.name, api_key_id)


def _make_batch(service: Service, source: str, items, options, name, api_key_id) -> Batch:
    rows = []
    for position, (display, source_path, ingest) in enumerate(items):
        item = BatchItem(position=position, source_name=display[:255], source_path=source_path)
        try:
            job, _ = submit(service, ingest(), options, source_path=source_path, api_key_id=api_key_id)
            item.job_id = job.id
        except ITEM_ERRORS as e:
            item.error_code, item.error_message = e.code, e.message
        rows.append(item)
    batch = Batch(id=uuid.uuid4().hex, name=name, source=source, total=len(rows), api_key_id=api_key_id)
    for row in rows:
        row.batch_id = batch.id
    return service.store.create_batch(batch, rows)


def _check_count(n: int, limit: int) -> None:
    if n == 0:
        raise InvalidRequestError("the batch has no clips")
    if n > limit:
        raise InvalidRequestError(f"the batch has {n} clips, above the limit of {limit}")
