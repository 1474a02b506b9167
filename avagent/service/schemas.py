"""The API contract: request and response models. Input, storage (workers.models) and output never share a class."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from avagent.actions.registry import CANONICAL_ORDER

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Outcome = Literal["untouched", "repaired", "improved", "unrepaired"]
Role = Literal["read", "submit", "admin"]
ActionName = Literal[tuple(CANONICAL_ORDER)]  # type: ignore[valid-type]
ID_PATTERN = r"^[0-9a-f]{32}$"


# --- errors --------------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_media, upload_too_large, rate_limited")
    message: str = Field(description="one line for people")
    details: list[dict[str, Any]] | None = Field(None, description="validation errors, when there are several")


class ErrorBody(BaseModel):
    error: ErrorDetail


# --- jobs ----------------------------------------------------------------------------------------------------


class JobOptions(BaseModel):
    """Options of one repair; unset fields take the server's configured defaults."""

    model_config = ConfigDict(extra="forbid")

    planner: Literal["rules", "llm", "random"] | None = Field(None, description="who plans the edits")
    threshold: float | None = Field(None, gt=0.0, le=1.0, description="both scores must reach it")
    max_iterations: int | None = Field(None, ge=1, le=50, description="plans tried at most")
    allowed_actions: list[ActionName] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="actions the planner may use (default: all eight)"
    )
    acceptance: Literal["pareto", "strict"] | None = Field(None, description="when a candidate is kept")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="seed of the random planner and fills")


class EffectiveOptions(BaseModel):
    """The options a job runs with (request merged over the server defaults); part of its idempotency key."""

    planner: str
    threshold: float
    max_iterations: int
    patience: int
    acceptance: str
    min_gain: float
    fall_tolerance: float
    allowed_actions: list[str] | None
    seed: int


class Scores(BaseModel):
    alignment: float
    sync: float


class JobError(BaseModel):
    code: str
    message: str


class JobLinks(BaseModel):
    job: str
    events: str = Field(description="Server-Sent Events")
    result: str = Field(description="repaired video (409 until the job succeeded)")
    audio: str = Field(description="repaired audio, WAV")
    original_audio: str = Field(description="original audio, WAV")
    report: str = Field(description="report.json")
    spectrogram_original: str
    spectrogram_repaired: str


class JobPublic(BaseModel):
    id: str
    status: JobStatus
    outcome: Outcome | None = Field(None, description="set when succeeded")
    stage: str | None = Field(None, description="the last agent node that finished")
    progress: float = Field(ge=0.0, le=1.0)
    source_name: str = Field(description="sanitised upload name or manifest path (display only)")
    input_sha256: str
    duration_s: float | None
    options: EffectiveOptions
    attempts: int = Field(description="times a worker claimed the job")
    cancel_requested: bool
    iterations: int | None = Field(None, description="plans tried (when finished)")
    initial_scores: Scores | None
    final_scores: Scores | None
    error: JobError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: JobLinks


class IterationView(BaseModel):
    """One plan of the loop, as far as it got: planned, applied, scored, decided."""

    index: int
    plan: dict[str, Any] | None = Field(None, description="{actions: [{name, params}], reasoning, planner}")
    actions: list[str] = Field(default_factory=list)
    scores: dict[str, Any] | None = Field(None, description="{alignment, sync, backend, details}")
    accepted: bool | None = None
    seconds: float | None = None


class JobDetail(JobPublic):
    captions: dict[str, Any] | None = Field(None, description="{audio: {caption, ...}, video: {caption, ...}}")
    initial: dict[str, Any] | None = Field(None, description="scores of the original pair, with diagnostics")
    timeline: list[IterationView] = Field(default_factory=list)
    stop_reason: str | None = None
    best_iteration: int | None = None
    applied_actions: list[dict[str, Any]] | None = None
    backends: dict[str, str] | None = None
    timings: dict[str, float] | None = None


class JobsPublic(BaseModel):
    data: list[JobPublic]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null on the last")


class EventPublic(BaseModel):
    """The `data` of each SSE message; its SSE `id` is `seq`."""

    seq: int = Field(description="1, 2, 3 ... per job, gap-free; the SSE id and Last-Event-ID")
    kind: Literal["agent", "status"]
    node: str = Field(description="agent node, or for status events the new status (or 'cancelling')")
    iteration: int
    attempt: int
    payload: dict[str, Any]
    timestamp: float = Field(description="epoch seconds")
    duration_s: float | None = Field(None, description="agent events: seconds the node took")


# --- batches -------------------------------------------------------------------------------------------------


class BatchManifestCreate(BaseModel):
    """A batch of server-side files; each path must lie inside a configured manifest root."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1, description="absolute, or relative to the first root")
    options: JobOptions | None = None
    name: str | None = Field(None, max_length=200)


class BatchCounts(BaseModel):
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    rejected: int = Field(0, description="items refused before a job was made (e.g. not media)")


class BatchItemPublic(BaseModel):
    position: int
    source_name: str
    job_id: str | None
    status: JobStatus | Literal["rejected"]
    outcome: Outcome | None = None
    error: JobError | None = None


class BatchLinks(BaseModel):
    batch: str
    manifest: str = Field(description="cleaned-pair manifest, JSONL (409 until done)")
    jobs: str


class BatchPublic(BaseModel):
    id: str
    name: str | None
    source: Literal["upload", "manifest"]
    total: int
    counts: BatchCounts
    done: bool = Field(description="every item is final (succeeded, failed, cancelled or rejected)")
    created_at: datetime
    items: list[BatchItemPublic]
    links: BatchLinks


# --- keys and sessions ---------------------------------------------------------------------------------------


class WhoAmI(BaseModel):
    key_id: str
    name: str
    role: Role
    roles: list[Role] = Field(description="every role this key has (roles nest: read < submit < admin)")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@\-]+$")
    role: Role


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    role: Role
    created_at: datetime
    revoked: bool


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the key itself: shown once, stored only as a salted hash")


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=300)


# --- health and fleet ----------------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    ok: bool
    detail: str | None = None


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Check]


class ActionStats(BaseModel):
    action: str
    accepted: int
    rejected: int
    accept_rate: float | None


class FleetStats(BaseModel):
    jobs: dict[str, int] = Field(description="jobs by status")
    queue_depth: int = Field(description="queued jobs")
    executor: dict[str, Any] = Field(description="kind, workers, busy, pending, broker")
    workers: dict[str, int] = Field(description="workers with a fresh heartbeat -> jobs they run")
    finished_last_5m: dict[str, int]
    finished_last_1h: dict[str, int]
    iterations: dict[str, int] = Field(description="finished jobs by plans tried")
    actions: list[ActionStats]
