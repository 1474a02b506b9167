"""/v1/jobs/{id}/events: the job's event stream as Server-Sent Events.

Each message: `id` = the event's per-job `seq` (1, 2, 3 ..., gap-free, in commit order), `event` = "agent"
(a loop node finished) or "status" (the job changed state), `data` = EventPublic JSON. After the event of a
final state (succeeded, failed, cancelled) one `event: end` message follows and the stream closes. Resume with
the `Last-Event-ID` header (EventSource sends it by itself on reconnect) or `?after=<seq>`: the stream starts
with the first event after it. Events live in the database, so any API process can serve any job's stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from avagent.service.context import Service
from avagent.service.deps import JobId, ReadKey, ServiceDep
from avagent.service.errors import InvalidRequestError
from avagent.service.routes.common import AUTH_ERRORS, errors, get_job_or_404
from avagent.service.views import event_public
from avagent.workers.models import FINAL_STATES

router = APIRouter(prefix="/v1/jobs", tags=["events"])

RETRY_MS = 2000  # the client's reconnect delay, sent with the first message
BATCH = 500  # events read per query

SSE_DOC = {
    200: {
        "description": "id = seq, event = agent | status | end, data = EventPublic JSON "
        "(#/components/schemas/EventPublic); the end event's data is {status}",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **errors(404, 422, *AUTH_ERRORS),
}


@router.get("/{job_id}/events", response_class=EventSourceResponse, responses=SSE_DOC)
async def job_events(
    request: Request,
    service: ServiceDep,
    _: ReadKey,
    job_id: JobId,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**31, description="start after this seq")] = None,
) -> EventSourceResponse:
    """The job's events, live; resumable with Last-Event-ID; ends after the job's final state."""
    await run_in_threadpool(get_job_or_404, service, job_id)
    start = _resume_point(last_event_id, after)
    s = service.settings.service
    return EventSourceResponse(
        _stream(service, request, job_id, start),
        ping=s.sse_ping_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _resume_point(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        try:
            value = int(last_event_id)
        except ValueError as e:
            raise InvalidRequestError(f"Last-Event-ID must be an event seq (an integer), got {last_event_id!r}") from e
        if value < 0:
            raise InvalidRequestError("Last-Event-ID must not be negative")
        return value
    return after or 0


async def _stream(service: Service, request: Request, job_id: str, seq: int) -> AsyncIterator[ServerSentEvent]:
    poll_s = service.settings.service.sse_poll_s
    yield ServerSentEvent(comment="avagent events", retry=RETRY_MS)
    while True:
        events = await run_in_threadpool(service.store.events_after, job_id, seq, BATCH)
        for ev in events:
            seq = ev.seq
            yield ServerSentEvent(data=event_public(ev).model_dump_json(), event=ev.kind, id=str(ev.seq))
            if ev.kind == "status" and ev.node in FINAL_STATES:
                yield _end(ev.node)
                return
        if len(events) == BATCH:
            continue
        job = await run_in_threadpool(service.store.get_job, job_id)
        if job is None or (job.status in FINAL_STATES and seq >= job.event_seq):  # resumed after the end
            yield _end(job.status if job is not None else "deleted")
            return
        if await request.is_disconnected():
            return
        await anyio.sleep(poll_s)


def _end(status: str) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps({"status": status}), event="end")
