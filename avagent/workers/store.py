"""The job store: every state change of a job, and every event, goes through here (SQLite or PostgreSQL).

Concurrency rules, the same on both databases:

- a write transaction locks the job row first (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite every write
  transaction is `BEGIN IMMEDIATE`, which takes the database write lock up front, so a read-then-write never
  fails with SQLITE_BUSY halfway);
- an event's `seq` is `jobs.event_seq + 1`, assigned under that lock, so per-job sequence numbers are gap-free
  and appear in commit order: a reader that has seen seq n has seen every event up to n (the SSE resume point);
- SQLite runs in WAL mode with a busy timeout, so readers never block the writer and writers wait, not fail.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, case, create_engine, event, func, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateSchema, DropSchema

from avagent.core.config import Settings
from avagent.core.errors import ConfigError, ParameterError
from avagent.workers.models import (
    CANCELLED,
    FAILED,
    FINAL_STATES,
    JOB_STATES,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    ActionOutcome,
    Base,
    Batch,
    BatchItem,
    Event,
    Job,
    utcnow,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for the lock before failing
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def database_url(settings: Settings) -> str:
    """The configured URL, or SQLite in the data directory."""
    s = settings.service
    if s.database_url:
        return s.database_url
    return f"sqlite:///{Path(s.data_dir).expanduser() / 'avagent.sqlite'}"


@dataclass(frozen=True)
class EventRecord:
    """What a job's event writer gets back: the stored event and the job's cancel flag at that moment."""

    seq: int
    cancel_requested: bool


class JobStore:
    """Sessions and the job operations of the service and the workers; one instance per process."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = make_url(url)
        self.schema = schema
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if schema is not None and (self.is_sqlite or not _SCHEMA_NAME.match(schema)):
            raise ConfigError(f"database schema {schema!r}: needs PostgreSQL and a plain identifier")
        self.engine = self._make_engine(write=True)
        self.read_engine = self._make_engine(write=False) if self.is_sqlite and not self._memory else self.engine

    @classmethod
    def from_settings(cls, settings: Settings) -> JobStore:
        return cls(database_url(settings), schema=settings.service.database_schema)

    @property
    def _memory(self) -> bool:
        return self.is_sqlite and self.url.database in (None, "", ":memory:")

    def _make_engine(self, *, write: bool) -> Engine:
        if not self.is_sqlite:
            engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        else:
            if not self._memory:
                Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            pool = {"poolclass": StaticPool} if self._memory else {}
            engine = create_engine(self.url, connect_args={"check_same_thread": False}, **pool)
            _configure_sqlite(engine, begin="BEGIN IMMEDIATE" if write else "BEGIN")
        if self.schema:
            engine = engine.execution_options(schema_translate_map={None: self.schema})
        return engine

    # --- lifecycle -------------------------------------------------------------------------------------------

    def create_all(self) -> None:
        with self.engine.begin() as conn:
            if self.schema:
                conn.execute(CreateSchema(self.schema, if_not_exists=True))
            Base.metadata.create_all(conn)

    def drop_all(self) -> None:
        """Drop every table (and the schema, if one was given). Tests use it to clean up."""
        with self.engine.begin() as conn:
            if self.schema:
                conn.execute(DropSchema(self.schema, cascade=True, if_exists=True))
            else:
                Base.metadata.drop_all(conn)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on exit, rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as session, session.begin():
            yield session

    # --- jobs ------------------------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        with self.read() as s:
            return s.get(Job, job_id)

    def get_jobs(self, job_ids: Sequence[str]) -> dict[str, Job]:
        if not job_ids:
            return {}
        with self.read() as s:
            return {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(set(job_ids))))}

    def create_job(self, job: Job) -> tuple[Job, str]:
        """Insert `job` (status queued), or return the job that already has its idempotency key.

        Returns (job, state) with state "created", "existing", or "requeued": a failed or cancelled job with the
        same key is put back in the queue (its checkpoint makes the retry resume), so resubmitting retries.
        """
        existing = self.find_by_key(job.idempotency_key)
        if existing is None:
            try:
                with self.write() as s:
                    s.add(job)
                    s.flush()
                    _add_event(s, job, "status", QUEUED, {"status": QUEUED})
                return job, "created"
            except IntegrityError:  # the same content was submitted concurrently: use the winner's job
                existing = self.find_by_key(job.idempotency_key)
                if existing is None:
                    raise
        if existing.status in (FAILED, CANCELLED):
            requeued = self.requeue(existing.id, reason="resubmitted")
            if requeued is not None and requeued.status == QUEUED:
                return requeued, "requeued"
        return existing, "existing"

    def find_by_key(self, idempotency_key: str) -> Job | None:
        with self.read() as s:
            return s.scalars(select(Job).where(Job.idempotency_key == idempotency_key)).first()

    def requeue(self, job_id: str, *, reason: str) -> Job | None:
        """Put a failed, cancelled or stale running job back in the queue (keeping its attempts count)."""
        with self.write() as s:
            job = _locked(s, job_id)
            if job is None or job.status == QUEUED:
                return job
            previous = job.status
            job.status, job.worker_id, job.heartbeat_at = QUEUED, None, None
            job.cancel_requested, job.error_code, job.error_message = False, None, None
            job.finished_at, job.progress, job.stage = None, 0.0, None
            _add_event(s, job, "status", QUEUED, {"status": QUEUED, "reason": reason, "previous": previous})
            return job

    def list_jobs(
        self,
        *,
        status: str | None = None,
        batch_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Job], str | None]:
        """Newest first; `cursor` is the opaque `next_cursor` of the previous page."""
        query = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
        if status is not None:
            query = query.where(Job.status == status)
        if batch_id is not None:
            items = select(BatchItem.job_id).where(BatchItem.batch_id == batch_id)
            query = query.where(Job.id.in_(items))
        if cursor:
            created, job_id = decode_cursor(cursor)
            query = query.where(or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id)))
        with self.read() as s:
            jobs = list(s.scalars(query))
        more = len(jobs) > limit
        jobs = jobs[:limit]
        return jobs, encode_cursor(jobs[-1]) if more else None

    def queued_job_ids(self) -> list[str]:
        with self.read() as s:
            return list(s.scalars(select(Job.id).where(Job.status == QUEUED).order_by(Job.created_at, Job.id)))

    def claim(self, job_id: str, worker_id: str, *, stale_after_s: float) -> Job | None:
        """Mark the job running for `worker_id` (attempts + 1); None if someone else has it or it is final.

        A queued job can be claimed; so can a running one whose heartbeat is older than `stale_after_s` (its
        worker died; a redelivered task takes it over). A queued job with a cancel request becomes cancelled.
        """
        now = utcnow()
        with self.write() as s:
            job = _locked(s, job_id)
            if job is None or job.status in FINAL_STATES:
                return None
            if job.status == RUNNING and not _stale(job, now, stale_after_s):
                return None
            if job.cancel_requested:
                _finish(s, job, CANCELLED, {"reason": "cancelled before it started"})
                return None
            job.status, job.worker_id, job.heartbeat_at = RUNNING, worker_id, now
            job.attempts += 1
            job.started_at = job.started_at or now
            _add_event(s, job, "status", RUNNING, {"status": RUNNING, "worker": worker_id, "attempt": job.attempts})
            return job

    def heartbeat(self, job_id: str, worker_id: str) -> bool:
        """Refresh the heartbeat of a job this worker runs; returns its cancel flag."""
        with self.write() as s:
            job = _locked(s, job_id)
            if job is None:
                return True
            if job.worker_id == worker_id and job.status == RUNNING:
                job.heartbeat_at = utcnow()
            return job.cancel_requested

    def append_event(
        self,
        job_id: str,
        *,
        node: str,
        iteration: int,
        payload: dict[str, Any],
        timestamp: float,
        duration_s: float | None,
        progress: float,
    ) -> EventRecord:
        """Store one agent event, advance the job's stage/progress/heartbeat, and report the cancel flag."""
        with self.write() as s:
            job = _locked(s, job_id)
            if job is None:
                raise ParameterError(f"job {job_id} does not exist")
            ev = _add_event(s, job, "agent", node, payload, iteration=iteration, timestamp=timestamp)
            ev.duration_s = duration_s
            job.stage, job.progress = node, max(job.progress, progress)
            job.heartbeat_at = utcnow()
            return EventRecord(ev.seq, job.cancel_requested)

    def finish(self, job_id: str, status: str, *, worker_id: str | None = None, **fields: Any) -> Job | None:
        """Set a final state (with result or error fields) and write the terminal status event.

        With `worker_id`, only that worker's claim is finished (a worker that lost its claim to a redelivery
        must not overwrite the new owner's state); returns None then. A job whose cancel was requested ends
        `cancelled` even if it got as far as succeeding (the check is under the row lock, so no request is lost).
        """
        with self.write() as s:
            job = _locked(s, job_id)
            if job is None or job.status in FINAL_STATES:
                return job
            if worker_id is not None and job.worker_id != worker_id:
                return None
            if status == SUCCEEDED and job.cancel_requested:
                _finish(s, job, CANCELLED, {"reason": "cancelled by request as the job finished"})
                return job
            for key, value in fields.items():
                setattr(job, key, value)
            payload = {"reason": fields["error_message"]} if fields.get("error_message") else {}
            if fields.get("error_code"):
                payload["code"] = fields["error_code"]
            _finish(s, job, status, payload)
            return job

    def release(self, job_id: str, worker_id: str, *, reason: str) -> None:
        """Give a running job back to the queue (the worker is shutting down); it resumes from its checkpoint."""
        with self.write() as s:
            job = _locked(s, job_id)
            if job is None or job.status != RUNNING or job.worker_id != worker_id:
                return
            job.status, job.worker_id, job.heartbeat_at = QUEUED, None, None
            _add_event(s, job, "status", QUEUED, {"status": QUEUED, "reason": reason})

    def request_cancel(self, job_id: str) -> Job | None:
        """Queued: cancelled now. Running: flag set (the worker stops at its next node). Final: unchanged."""
        with self.write() as s:
            job = _locked(s, job_id)
            if job is None or job.status in FINAL_STATES:
                return job
            if job.status == QUEUED:
                _finish(s, job, CANCELLED, {"reason": "cancelled by request"})
            elif not job.cancel_requested:
                job.cancel_requested = True
                _add_event(s, job, "status", "cancelling", {"status": RUNNING, "cancel_requested": True})
            return job

    def record_outcomes(self, job_id: str, outcomes: list[tuple[int, str, bool]]) -> None:
        """Replace the job's (iteration, action, accepted) rows; idempotent on a re-run."""
        with self.write() as s:
            s.query(ActionOutcome).filter(ActionOutcome.job_id == job_id).delete()
            for iteration, action, accepted in dict.fromkeys(outcomes):
                s.add(ActionOutcome(job_id=job_id, iteration=iteration, action=action, accepted=accepted))

    def recover_stale(self, *, stale_after_s: float, max_attempts: int) -> list[str]:
        """Jobs left running by a dead process (heartbeat older than `stale_after_s`) go back to the queue;
        those already claimed `max_attempts` times fail instead (a clip that kills its worker is not retried
        forever). Returns the requeued ids."""
        cutoff = utcnow() - timedelta(seconds=stale_after_s)
        with self.read() as s:
            stale = list(
                s.scalars(
                    select(Job.id).where(
                        Job.status == RUNNING, or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < cutoff)
                    )
                )
            )
        requeued = []
        for job_id in stale:
            with self.write() as s:
                job = _locked(s, job_id)
                if job is None or job.status != RUNNING or not _stale(job, utcnow(), stale_after_s):
                    continue
                if job.attempts >= max_attempts:
                    message = f"the job's worker stopped {job.attempts} times (limit {max_attempts})"
                    job.error_code, job.error_message = "too_many_attempts", message
                    _finish(s, job, FAILED, {"code": "too_many_attempts", "reason": message})
                    continue
                job.status, job.worker_id, job.heartbeat_at = QUEUED, None, None
                _add_event(s, job, "status", QUEUED, {"status": QUEUED, "reason": "recovered: stale heartbeat"})
                requeued.append(job_id)
        return requeued

    # --- events ----------------------------------------------------------------------------------------------

    def events_after(self, job_id: str, after_seq: int = 0, limit: int = 1000) -> list[Event]:
        query = select(Event).where(Event.job_id == job_id, Event.seq > after_seq).order_by(Event.seq).limit(limit)
        with self.read() as s:
            return list(s.scalars(query))

    # --- batches ---------------------------------------------------------------------------------------------

    def create_batch(self, batch: Batch, items: list[BatchItem]) -> Batch:
        with self.write() as s:
            s.add(batch)
            s.flush()
            s.add_all(items)
        return batch

    def get_batch(self, batch_id: str) -> tuple[Batch, list[BatchItem]] | None:
        with self.read() as s:
            batch = s.get(Batch, batch_id)
            if batch is None:
                return None
            items = s.scalars(select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(BatchItem.position))
            return batch, list(items)

    # --- statistics (metrics, fleet view) --------------------------------------------------------------------

    def counts_by_status(self) -> dict[str, int]:
        with self.read() as s:
            rows = s.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        counts = dict.fromkeys(JOB_STATES, 0)
        counts.update({status: n for status, n in rows})
        return counts

    def iterations_histogram(self) -> dict[int, int]:
        """Finished jobs by number of plans tried."""
        with self.read() as s:
            rows = s.execute(
                select(Job.iterations, func.count()).where(Job.iterations.is_not(None)).group_by(Job.iterations)
            ).all()
        return {int(k): n for k, n in rows}

    def stage_latencies(self, buckets: Sequence[float]) -> dict[str, tuple[list[int], int, float]]:
        """Per agent node: (cumulative counts per bucket upper bound, count, sum of seconds)."""
        columns = [func.sum(case((Event.duration_s <= b, 1), else_=0)) for b in buckets]
        query = (
            select(Event.node, func.count(), func.sum(Event.duration_s), *columns)
            .where(Event.kind == "agent", Event.duration_s.is_not(None))
            .group_by(Event.node)
        )
        with self.read() as s:
            rows = s.execute(query).all()
        return {row[0]: ([int(c or 0) for c in row[3:]], int(row[1]), float(row[2] or 0.0)) for row in rows}

    def action_outcomes(self) -> dict[str, dict[bool, int]]:
        with self.read() as s:
            rows = s.execute(
                select(ActionOutcome.action, ActionOutcome.accepted, func.count()).group_by(
                    ActionOutcome.action, ActionOutcome.accepted
                )
            ).all()
        out: dict[str, dict[bool, int]] = {}
        for action, accepted, n in rows:
            out.setdefault(action, {True: 0, False: 0})[bool(accepted)] = n
        return out

    def finished_since(self, since: datetime) -> dict[str, int]:
        with self.read() as s:
            rows = s.execute(
                select(Job.status, func.count()).where(Job.finished_at >= since).group_by(Job.status)
            ).all()
        return {status: n for status, n in rows}

    def active_workers(self, *, stale_after_s: float) -> dict[str, int]:
        """Workers with a fresh heartbeat on a running job, and how many jobs each runs."""
        cutoff = utcnow() - timedelta(seconds=stale_after_s)
        with self.read() as s:
            rows = s.execute(
                select(Job.worker_id, func.count())
                .where(Job.status == RUNNING, Job.heartbeat_at >= cutoff)
                .group_by(Job.worker_id)
            ).all()
        return {worker: n for worker, n in rows if worker}


# --- helpers -------------------------------------------------------------------------------------------------


def _configure_sqlite(engine: Engine, *, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite must not emit its own BEGIN: ours follows
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def _locked(s: Session, job_id: str) -> Job | None:
    return s.get(Job, job_id, with_for_update=True, populate_existing=True)


def _stale(job: Job, now: datetime, stale_after_s: float) -> bool:
    return job.heartbeat_at is None or (now - job.heartbeat_at).total_seconds() > stale_after_s


def _add_event(
    s: Session,
    job: Job,
    kind: str,
    node: str,
    payload: dict[str, Any],
    *,
    iteration: int = 0,
    timestamp: float | None = None,
) -> Event:
    """Append an event with the job's next seq (the job row is locked by the caller)."""
    job.event_seq += 1
    ev = Event(
        job_id=job.id,
        seq=job.event_seq,
        kind=kind,
        node=node,
        iteration=iteration,
        attempt=job.attempts,
        payload=payload,
        timestamp=timestamp if timestamp is not None else utcnow().timestamp(),
    )
    s.add(ev)
    s.flush()
    return ev


def _finish(s: Session, job: Job, status: str, payload: dict[str, Any]) -> None:
    job.status, job.finished_at, job.heartbeat_at = status, utcnow(), None
    if status == CANCELLED:
        job.error_code, job.error_message = "cancelled", payload.get("reason", "cancelled")
    elif status != FAILED:
        job.error_code, job.error_message = None, None
    _add_event(s, job, "status", status, {"status": status, "final": True, **payload})


def encode_cursor(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, job_id = json.loads(raw)
        return datetime.fromisoformat(created), str(job_id)
    except (ValueError, TypeError) as e:
        raise ParameterError(f"invalid cursor {cursor[:40]!r}: use the next_cursor of a previous page") from e
