"""Job execution: the SQL job store, `run_job`, and the executors that feed it (embedded threads; Celery next).

Library code never imports this package; the service and the CLI do. Names are imported lazily, so the store
(SQLAlchemy only) loads without the agent's model stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BrokerExecutor": "avagent.workers.executor",
    "EmbeddedExecutor": "avagent.workers.executor",
    "Executor": "avagent.workers.executor",
    "make_executor": "avagent.workers.executor",
    "JobCancelled": "avagent.workers.jobs",
    "JobRuntime": "avagent.workers.jobs",
    "WorkerStopping": "avagent.workers.jobs",
    "run_job": "avagent.workers.jobs",
    "JobStore": "avagent.workers.store",
    "database_url": "avagent.workers.store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
