"""The job store's tables (SQLAlchemy 2.x): jobs, their events, batches, API keys and per-action outcomes.

The same tables run on SQLite (the embedded default) and PostgreSQL. Times are stored as naive UTC and read back
as aware UTC (`UTCDateTime`), so both databases compare them the same way.

    jobs 1──* events           every agent node and every status change, numbered 1, 2, 3 ... per job (`seq`)
    jobs 1──* action_outcomes  one row per (iteration, action) of a finished job: the accept rates in /metrics
    batches 1──* batch_items *──1 jobs   a job may belong to several batches (idempotent resubmission)
    api_keys                   salted sha256 of the secret, never the key itself
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Job states. A job is final in the last three; `running` jobs carry a heartbeat.
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
JOB_STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})

ROLES = ("read", "submit", "admin")  # each role includes the ones before it

# An autoincrement 64-bit key on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out; stored naive (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public part of the key: avk_<id>_<secret>
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))  # hex; "" only for the bootstrap key (its hash comes from config)
    secret_sha256: Mapped[str] = mapped_column(String(64))  # sha256(salt bytes + secret), hex
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"), Index("ix_jobs_created", "created_at"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # also the agent's run id (checkpoint key)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    outcome: Mapped[str | None] = mapped_column(String(16))  # untouched | repaired | improved | unrepaired
    stage: Mapped[str | None] = mapped_column(String(32))  # the last agent node that finished
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1, an estimate from the events
    options: Mapped[dict[str, Any]] = mapped_column(JSON)  # the effective RepairOptions, as JSON
    input_sha256: Mapped[str] = mapped_column(String(64), index=True)
    input_path: Mapped[str] = mapped_column(Text)  # the content-addressed copy the job reads
    source_name: Mapped[str] = mapped_column(String(255))  # sanitised upload name or manifest path (display only)
    source_path: Mapped[str | None] = mapped_column(Text)  # the server-side path of a manifest item
    duration_s: Mapped[float | None] = mapped_column(Float)
    job_dir: Mapped[str] = mapped_column(Text)  # outputs and work files of this job
    video_path: Mapped[str | None] = mapped_column(Text)
    audio_path: Mapped[str | None] = mapped_column(Text)
    original_audio_path: Mapped[str | None] = mapped_column(Text)
    report_path: Mapped[str | None] = mapped_column(Text)
    iterations: Mapped[int | None] = mapped_column(Integer)  # plans tried (set when finished)
    initial_scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"alignment", "sync"}
    final_scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    applied_actions: Mapped[list[Any] | None] = mapped_column(JSON)  # the kept plan: [{name, params}]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    event_seq: Mapped[int] = mapped_column(Integer, default=0)  # seq of the job's last event
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Event(Base):
    """One agent node (kind "agent") or one status change (kind "status") of a job."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_events_job_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 ... per job, gap-free, in commit order (the SSE id)
    kind: Mapped[str] = mapped_column(String(16))  # agent | status
    node: Mapped[str] = mapped_column(String(32))  # agent node, or the new status for kind "status"
    iteration: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    timestamp: Mapped[float] = mapped_column(Float)  # epoch seconds
    duration_s: Mapped[float | None] = mapped_column(Float)  # agent events: time since the previous node ended


class ActionOutcome(Base):
    __tablename__ = "action_outcomes"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    iteration: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(64), primary_key=True)
    accepted: Mapped[bool] = mapped_column(Boolean)


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # upload | manifest
    total: Mapped[int] = mapped_column(Integer)
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BatchItem(Base):
    """One clip of a batch: its job, or the reason it was rejected before a job was made."""

    __tablename__ = "batch_items"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    source_name: Mapped[str] = mapped_column(String(255))
    source_path: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
