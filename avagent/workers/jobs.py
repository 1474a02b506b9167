"""`run_job`: run one queued job to a final state. The embedded executor calls it now; a Celery task will too.

A job is claimed (status running, attempts + 1, worker id, heartbeat), repaired with run id = job id and its
checkpoint in the job's work directory (so a redelivered job resumes from its last finished node), and every
agent event is stored as it happens. The outputs go to fixed paths in the job's directory and are replaced
atomically, so a re-run never leaves a second copy. Every way out of `run_job` leaves the job in a known state:

    succeeded   outputs, report, scores and per-action outcomes stored
    failed      a typed error's code and message (MediaError, ParameterError, ...) or "internal_error"
    cancelled   a cancel request seen at a node boundary (`JobCancelled`)
    queued      the worker is shutting down (`WorkerStopping`): the next worker resumes from the checkpoint
    running     only if the process dies or the database is unreachable at the end: the heartbeat goes stale
                and `JobStore.recover_stale` requeues it
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from avagent.agent.events import AgentEvent
from avagent.agent.report import Report
from avagent.agent.state import RepairOptions
from avagent.core.config import Settings
from avagent.core.errors import AvagentError
from avagent.workers.models import CANCELLED, FAILED, QUEUED, SUCCEEDED
from avagent.workers.store import JobStore

log = logging.getLogger(__name__)

EVENT_WRITE_RETRIES = 3  # an event write that fails this many times is dropped (the run goes on)
EVENT_RETRY_BASE_S = 0.2  # backoff between those attempts: 0.2, 0.4 s
# Progress shown for each node: perception and the first score take a quarter, the plans the rest.
_FIXED_PROGRESS = {"perceive": 0.15, "reflect_original": 0.25, "finalize": 0.97}
_STEP_PROGRESS = {"plan": 0.25, "act": 0.5, "reflect": 0.75, "decide": 1.0}


class JobCancelled(BaseException):
    """A cancel was requested: raised from the event callback at the next node boundary.

    A BaseException on purpose: the agent's EventBus swallows `Exception` from subscribers (a broken consumer
    must not stop a run), and LangGraph aborts the node on it. The node's update is not checkpointed.
    """


class WorkerStopping(BaseException):
    """The executor is shutting down: the job goes back to the queue and resumes from its checkpoint later."""


@dataclass
class JobRuntime:
    """What one worker keeps resident between jobs: one Toolset (its models) and planners by name.

    Not thread-safe (the offline video describer's LiteRT interpreters are not): one runtime per worker thread.
    """

    settings: Settings
    _tools: Any = None
    _planners: dict[str, Any] = field(default_factory=dict)

    def toolset(self) -> Any:
        if self._tools is None:
            from avagent.agent.run import toolset_from_settings

            self._tools = toolset_from_settings(self.settings)
        return self._tools

    def planner(self, name: str) -> Any:
        if name not in self._planners:
            from avagent.agent.run import planner_from_settings

            agent = self.settings.agent.model_copy(update={"planner": name})
            self._planners[name] = planner_from_settings(self.settings.model_copy(update={"agent": agent}))
        return self._planners[name]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def repair_options(options: dict[str, Any]) -> RepairOptions:
    """The stored JSON options of a job back as RepairOptions (unknown keys are ignored)."""
    known = {f.name for f in fields(RepairOptions)}
    values = {k: v for k, v in options.items() if k in known}
    if values.get("allowed_actions") is not None:
        values["allowed_actions"] = tuple(values["allowed_actions"])
    return RepairOptions(**values)


def progress_of(node: str, iteration: int, max_iterations: int) -> float:
    """A monotone estimate in [0, 0.97] of how far the loop is (1.0 is set when the job succeeds)."""
    if node in _FIXED_PROGRESS:
        return _FIXED_PROGRESS[node]
    step = _STEP_PROGRESS.get(node, 0.0)
    done = (max(iteration, 1) - 1 + step) / max(max_iterations, 1)
    return min(0.25 + 0.7 * done, 0.97)


def run_job(
    job_id: str,
    settings: Settings,
    *,
    store: JobStore | None = None,
    runtime: JobRuntime | None = None,
    worker_id: str | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> str | None:
    """Claim and run the job; return its new status, or None if it was not claimable (taken or final).

    Pass a long-lived `store` and `runtime` (a worker keeps both for its lifetime); without them this call
    opens its own database connection and loads the models, and closes the connection at the end.
    `should_stop` is polled at every node boundary: when it turns true the job goes back to the queue.
    """
    if store is None:
        owned = JobStore.from_settings(settings)
        try:
            return run_job(job_id, settings, store=owned, runtime=runtime, worker_id=worker_id, should_stop=should_stop)
        finally:
            owned.dispose()
    runtime = runtime or JobRuntime(settings)
    worker_id = worker_id or default_worker_id()
    job = store.claim(job_id, worker_id, stale_after_s=settings.service.stale_after_s)
    if job is None:
        return None
    try:
        options = repair_options(job.options)
    except AvagentError as e:
        return _fail(store, job_id, worker_id, e.code, e.message)
    recorder = EventRecorder(store, job_id, options.max_iterations, should_stop)
    with Heartbeat(store, job_id, worker_id, settings.service.heartbeat_s, recorder):
        try:
            result = _repair(job, Path(job.job_dir), options, settings, runtime, recorder)
        except JobCancelled:
            store.finish(job_id, CANCELLED, worker_id=worker_id)
            return CANCELLED
        except WorkerStopping:
            store.release(job_id, worker_id, reason="worker shutting down; resumes from its checkpoint")
            return QUEUED
        except AvagentError as e:
            return _fail(store, job_id, worker_id, e.code, e.message)
        except Exception as e:
            log.exception("job %s failed", job_id)
            return _fail(store, job_id, worker_id, "internal_error", f"{type(e).__name__}: {e}")
    if recorder.cancel_requested:  # asked while the outputs were written: the request wins
        store.finish(job_id, CANCELLED, worker_id=worker_id)
        return CANCELLED
    final = _store_result(store, job_id, worker_id, result)  # cancelled if a request came in meanwhile
    if final is not None and final.status == SUCCEEDED and not settings.service.keep_work_files:
        shutil.rmtree(Path(job.job_dir) / "work", ignore_errors=True)
    return final.status if final is not None else None


@dataclass(frozen=True)
class _Outputs:
    report: Report
    report_path: Path
    video_path: Path
    audio_path: Path
    original_audio_path: Path


def _repair(job, job_dir: Path, options: RepairOptions, settings: Settings, runtime: JobRuntime, recorder) -> _Outputs:
    from avagent.agent.run import repair
    from avagent.core.media import load_clip, write_audio

    work = job_dir / "work"
    suffix = Path(job.input_path).suffix
    result = repair(
        job.input_path,
        job_dir / f"repaired{suffix}",
        options=options,
        tools=runtime.toolset(),
        planner=runtime.planner(options.planner),
        run_id=job.id,
        checkpoint_db=work / "checkpoints.sqlite",
        work_dir=work,
        report_path=job_dir / "report.json",
        limits=settings.media,
        on_event=recorder,
    )
    original = job_dir / "original.wav"
    if not original.exists():
        clip = load_clip(job.input_path, limits=settings.media, require_audio=True)
        write_audio(original, clip.audio, clip.sample_rate)
    return _Outputs(result.report, result.report_path, result.video_path, result.audio_path, original)


def _store_result(store: JobStore, job_id: str, worker_id: str, out: _Outputs) -> Any:
    report = out.report
    outcomes = [(it.index, a["name"], it.accepted) for it in report.iterations for a in it.plan.actions]
    store.record_outcomes(job_id, outcomes)
    return store.finish(
        job_id,
        SUCCEEDED,
        worker_id=worker_id,
        outcome=report.final.status,
        stage="finalize",
        progress=1.0,
        video_path=str(out.video_path),
        audio_path=str(out.audio_path),
        original_audio_path=str(out.original_audio_path),
        report_path=str(out.report_path),
        iterations=len(report.iterations),
        duration_s=report.input.duration_s,
        initial_scores=_two_scores(report.initial_scores),
        final_scores=_two_scores(report.final.scores),
        applied_actions=json_safe(report.final.actions),
    )


def _two_scores(scores: Any) -> dict[str, float]:
    return {"alignment": float(scores.alignment), "sync": float(scores.sync)}


def _fail(store: JobStore, job_id: str, worker_id: str, code: str, message: str) -> str:
    store.finish(job_id, FAILED, worker_id=worker_id, error_code=code, error_message=message)
    return FAILED


class EventRecorder:
    """The `on_event` callback of a job: store each event, then stop the run if a cancel or shutdown is due."""

    def __init__(
        self, store: JobStore, job_id: str, max_iterations: int, should_stop: Callable[[], bool] | None
    ) -> None:
        self.store, self.job_id, self.max_iterations = store, job_id, max_iterations
        self.should_stop = should_stop
        self.cancel_requested = False  # also set by the heartbeat thread
        self._last = time.time()

    def __call__(self, event: AgentEvent) -> None:
        duration_s, self._last = max(event.timestamp - self._last, 0.0), event.timestamp
        record = self._append(event, duration_s)
        if record is not None and record.cancel_requested:
            self.cancel_requested = True
        if self.cancel_requested:
            raise JobCancelled(self.job_id)
        if self.should_stop is not None and self.should_stop():
            raise WorkerStopping(self.job_id)

    def _append(self, event: AgentEvent, duration_s: float):
        payload = json_safe(event.payload)
        progress = progress_of(event.node, event.iteration, self.max_iterations)
        for attempt in range(EVENT_WRITE_RETRIES):
            try:
                return self.store.append_event(
                    self.job_id,
                    node=event.node,
                    iteration=event.iteration,
                    payload=payload,
                    timestamp=event.timestamp,
                    duration_s=round(duration_s, 6),
                    progress=progress,
                )
            except Exception:
                if attempt == EVENT_WRITE_RETRIES - 1:
                    log.exception("job %s: event %s could not be stored", self.job_id, event.node)
                    return None
                time.sleep(EVENT_RETRY_BASE_S * 2**attempt)
        return None


class Heartbeat:
    """Refresh the job's heartbeat every `interval_s` in a thread, and pass its cancel flag to the recorder."""

    def __init__(self, store: JobStore, job_id: str, worker_id: str, interval_s: float, recorder: EventRecorder):
        self.store, self.job_id, self.worker_id = store, job_id, worker_id
        self.interval_s, self.recorder = interval_s, recorder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if self.store.heartbeat(self.job_id, self.worker_id):
                    self.recorder.cancel_requested = True
            except Exception as e:  # the database is briefly away: the next beat tries again
                log.warning("job %s: heartbeat failed: %s", self.job_id, e)


def json_safe(value: Any) -> Any:
    """Plain JSON types only, for the JSON columns: numpy values become Python ones, non-finite floats None
    (PostgreSQL's JSON rejects NaN), paths and other objects their text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [json_safe(v) for v in items]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return json_safe(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
