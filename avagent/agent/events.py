"""The agent's event stream: one structured event per node, consumed by the CLI, the service and the dashboard.

Producers call `EventBus.emit`; consumers `subscribe` a callback. Events carry a per-run sequence number so
consumers can resume (the service maps it to SSE `Last-Event-ID`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

EventHandler = Callable[["AgentEvent"], None]


@dataclass(frozen=True)
class AgentEvent:
    run_id: str
    seq: int  # 1, 2, 3 ... within a run; a resumed run continues from its last persisted number
    node: str  # perceive | reflect_original | plan | act | reflect | decide | finalize | error
    iteration: int  # 0 for the original clip, k for the k-th plan
    payload: dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EventBus:
    """Thread-safe fan-out of events to subscribers. A failing subscriber never breaks the run."""

    def __init__(self, run_id: str, start_seq: int = 0) -> None:
        self.run_id = run_id
        self._seq = start_seq
        self._handlers: list[EventHandler] = []
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        with self._lock:
            self._handlers.append(handler)
        return lambda: self._unsubscribe(handler)

    def _unsubscribe(self, handler: EventHandler) -> None:
        with self._lock:
            if handler in self._handlers:
                self._handlers.remove(handler)

    def emit(self, node: str, iteration: int, **payload: Any) -> AgentEvent:
        with self._lock:
            self._seq += 1
            event = AgentEvent(self.run_id, self._seq, node, iteration, payload)
            handlers = list(self._handlers)
        for handler in handlers:
            try:
                handler(event)
            except Exception as e:  # a broken consumer (closed socket, full queue) must not stop the repair
                self.errors.append(f"{type(e).__name__}: {e}")
        return event
