"""The HTTP service: jobs API, batches, events (SSE), auth and limits, /metrics. See `create_app`.

`create_app` is imported lazily, so light modules (security, the CLI's key creation) load without the model stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from avagent.service.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
