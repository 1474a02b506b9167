"""Request limits: body size (checked while the body streams in) and per-key request rates.

Body size: `BodySizeLimit` wraps the ASGI `receive` channel. A request whose Content-Length is over the route's
limit is answered 413 before a byte of the body is read; a chunked body is counted as it arrives and the
request fails with 413 the moment the count passes the limit. Multipart parsing spools file parts to disk past
1 MiB (Starlette), so an upload is never held in memory whole.

Rate: a token bucket per (API key, class) in this process's memory: `submit` (POST /v1/jobs, /v1/batches) and
`read` (everything else that needs a key). Each class has a rate per minute and a burst. With several API
processes each enforces its own buckets, so the cluster-wide rate is at most the per-process rate times the
process count; a shared limiter (Redis) is the upgrade path if that matters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avagent.service.errors import error_body


class BodyTooLarge(HTTPException):
    """Raised from `receive` (FastAPI re-raises HTTPExceptions from body parsing unchanged)."""

    code = "upload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the {limit}-byte limit of this route")


class BodySizeLimit:
    """ASGI middleware; `limit_for(method, path, content_type)` gives the byte limit of a request."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str, str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"], _header(scope, b"content-type") or "")
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject(scope, send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _reject(scope: Scope, send: Send, limit: int) -> None:
    import json

    body = json.dumps(error_body("upload_too_large", BodyTooLarge(limit).detail)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.append((b"connection", b"close"))  # the unread body makes the connection unusable
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Token buckets per (key, class): `rates[class] = (requests per minute, burst)`."""

    def __init__(self, rates: dict[str, tuple[float, int]], clock: Callable[[], float] = time.monotonic) -> None:
        self.rates, self.clock = rates, clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # (tokens, last refill time)
        self._lock = threading.Lock()

    def acquire(self, key_id: str, klass: str) -> float | None:
        """Take one token; None if granted, else the seconds until one is available."""
        per_minute, burst = self.rates[klass]
        rate_per_s = per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get((key_id, klass), (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate_per_s)
            if tokens >= 1.0:
                self._buckets[(key_id, klass)] = (tokens - 1.0, now)
                return None
            self._buckets[(key_id, klass)] = (tokens, now)
            return (1.0 - tokens) / rate_per_s
