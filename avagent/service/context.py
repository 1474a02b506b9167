"""The service's per-process context: settings, job store, artifacts, executor, limiter and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import avagent
from avagent.core.config import Settings
from avagent.service.limits import RateLimiter
from avagent.service.metrics import ServiceMetrics
from avagent.service.storage import ArtifactStore
from avagent.workers.executor import Executor, make_executor
from avagent.workers.store import JobStore


@dataclass
class Service:
    settings: Settings
    store: JobStore
    artifacts: ArtifactStore
    executor: Executor
    limiter: RateLimiter
    metrics: ServiceMetrics

    @classmethod
    def build(cls, settings: Settings, *, store: JobStore | None = None, executor: Executor | None = None) -> Service:
        """Wire the parts from the settings (no I/O beyond creating the artifacts directory)."""
        s = settings.service
        store = store or JobStore.from_settings(settings)
        executor = executor or make_executor(settings, store)
        limiter = RateLimiter(
            {"submit": (s.submit_rate_per_minute, s.submit_burst), "read": (s.read_rate_per_minute, s.read_burst)}
        )
        return cls(
            settings,
            store,
            ArtifactStore(artifacts_root(settings)),
            executor,
            limiter,
            ServiceMetrics(store, executor.describe),
        )

    def fingerprint(self) -> dict[str, Any]:
        """What besides content and options decides a result: the configured backends and our version."""
        return {"backends": self.settings.backends.model_dump(mode="json"), "avagent": avagent.__version__}


def artifacts_root(settings: Settings) -> Path:
    s = settings.service
    return Path(s.artifacts_dir or Path(s.data_dir) / "artifacts").expanduser()
