"""Executors: how a queued job gets to `run_job`. The API only talks to the `Executor` interface.

- `EmbeddedExecutor` (the default, no broker): a few worker threads in the API process, each with its own
  resident `JobRuntime` (one Toolset per thread: the LiteRT interpreters are not thread-safe). A monitor thread
  requeues stale jobs and picks up queued jobs nobody submitted (e.g. submitted while the process was down).
- `BrokerExecutor` (`--broker redis://...`): the seam for Celery. Jobs are stored as queued and handed to the
  broker; workers started with `avagent worker` run them. Sending the task is a TODO for the Celery part.

The job row in the database is the truth; an executor only moves job ids. Submitting the same id twice is
harmless (`JobStore.claim` lets one worker have it).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from avagent.core.config import Settings
from avagent.core.errors import AvagentError
from avagent.workers.jobs import JobRuntime, default_worker_id, run_job
from avagent.workers.store import JobStore

log = logging.getLogger(__name__)

BROKER_CONNECT_TIMEOUT_S = 2.0


class BrokerUnavailableError(AvagentError):
    http_status = 503
    code = "broker_unavailable"


class Executor(Protocol):
    kind: str  # "embedded" | "celery"

    def start(self) -> None:
        """Begin work: recover stale jobs and pick up queued ones."""

    def submit(self, job_id: str) -> None:
        """Hand a queued job over (idempotent)."""

    def cancel(self, job_id: str) -> None:
        """A hint that the job's cancel flag was set (the flag in the database is what workers obey)."""

    def shutdown(self, *, timeout_s: float = 10.0) -> None:
        """Stop; running jobs go back to the queue at their next node and resume from their checkpoint."""

    def ping(self) -> None:
        """Raise BrokerUnavailableError if the broker (if any) cannot be reached; /readyz uses it."""

    def describe(self) -> dict[str, Any]:
        """Kind, worker count, busy workers and queue depth for the fleet view and /metrics."""


class EmbeddedExecutor:
    """In-process worker threads fed from a queue of job ids."""

    kind = "embedded"

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        *,
        workers: int | None = None,
        runtime_factory: Callable[[Settings], JobRuntime] = JobRuntime,
    ) -> None:
        self.settings, self.store = settings, store
        self.workers = workers or settings.service.workers
        self.runtime_factory = runtime_factory
        self._queue: queue.Queue[str] = queue.Queue()
        self._pending: set[str] = set()
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        self.sweep()
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"avagent-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        monitor = threading.Thread(target=self._monitor, name="avagent-monitor", daemon=True)
        monitor.start()
        self._threads.append(monitor)

    def submit(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._pending:
                return
            self._pending.add(job_id)
        self._queue.put(job_id)

    def cancel(self, job_id: str) -> None:
        """Nothing to do: a queued job is cancelled in the database, a running one sees its flag."""

    def shutdown(self, *, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._threads.clear()

    def ping(self) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            busy, pending = len(self._busy), len(self._pending)
        return {"kind": self.kind, "workers": self.workers, "busy": busy, "pending": pending, "broker": None}

    def sweep(self) -> list[str]:
        """Requeue stale running jobs and submit every queued job; returns the ids requeued."""
        s = self.settings.service
        requeued = self.store.recover_stale(stale_after_s=s.stale_after_s, max_attempts=s.max_attempts)
        for job_id in self.store.queued_job_ids():
            self.submit(job_id)
        return requeued

    def _work(self) -> None:
        runtime = self.runtime_factory(self.settings)
        worker_id = default_worker_id()
        while not self._stopping.is_set():
            try:
                job_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if self._stopping.is_set():  # still queued in the database: the next start picks it up
                break
            with self._lock:
                self._pending.discard(job_id)
                self._busy.add(job_id)
            try:
                run_job(
                    job_id,
                    self.settings,
                    store=self.store,
                    runtime=runtime,
                    worker_id=worker_id,
                    should_stop=self._stopping.is_set,
                )
            except Exception:  # the job stays running; its heartbeat goes stale and the monitor requeues it
                log.exception("job %s: the worker could not record its outcome", job_id)
            finally:
                with self._lock:
                    self._busy.discard(job_id)

    def _monitor(self) -> None:
        interval = max(self.settings.service.stale_after_s / 2, 0.5)
        while not self._stopping.wait(interval):
            try:
                self.sweep()
            except Exception as e:  # database briefly away: try again next round
                log.warning("job monitor: %s", e)


class BrokerExecutor:
    """Jobs go to Celery workers through the broker (`--broker redis://...`).

    TODO(celery): `submit` must send the task, e.g.
        celery_app.send_task("avagent.run_job", args=[job_id], queue="gpu", task_id=job_id)
    with the task calling `avagent.workers.jobs.run_job(job_id, settings)` (it claims, heartbeats, resumes from
    the checkpoint and records the final state itself). `start` should resubmit `store.queued_job_ids()` and
    requeue stale jobs (`store.recover_stale`) as `EmbeddedExecutor.sweep` does; `ping` should PING Redis;
    `describe` should report the broker's queue lengths and the workers seen by `celery inspect`.
    Until then jobs submitted here stay queued in the database.
    """

    kind = "celery"

    def __init__(self, settings: Settings, store: JobStore) -> None:
        if not settings.service.broker_url:
            raise ValueError("BrokerExecutor needs settings.service.broker_url")
        self.settings, self.store = settings, store
        self.broker_url = settings.service.broker_url

    def start(self) -> None:
        s = self.settings.service
        self.store.recover_stale(stale_after_s=s.stale_after_s, max_attempts=s.max_attempts)

    def submit(self, job_id: str) -> None:
        log.info("job %s queued for the broker (TODO(celery): send the task)", job_id)

    def cancel(self, job_id: str) -> None:
        return None

    def shutdown(self, *, timeout_s: float = 10.0) -> None:
        return None

    def ping(self) -> None:
        """A TCP connect to the broker's host and port (TODO(celery): a real PING)."""
        parts = urlsplit(self.broker_url)
        host, port = parts.hostname or "localhost", parts.port or 6379
        try:
            socket.create_connection((host, port), timeout=BROKER_CONNECT_TIMEOUT_S).close()
        except OSError as e:
            raise BrokerUnavailableError(f"broker {host}:{port} is unreachable ({e.strerror or e})") from e

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": None, "busy": None, "pending": None, "broker": _redact(self.broker_url)}


def make_executor(settings: Settings, store: JobStore) -> Executor:
    """The executor the configuration asks for: a broker URL means Celery, none means embedded threads."""
    if settings.service.broker_url:
        return BrokerExecutor(settings, store)
    return EmbeddedExecutor(settings, store)


def _redact(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
