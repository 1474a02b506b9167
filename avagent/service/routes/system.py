"""/healthz, /readyz, /metrics and /v1/stats (the dashboard's fleet view)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from avagent.service.deps import ReadKey, ServiceDep, check_access, key_from_parts
from avagent.service.metrics import CONTENT_TYPE
from avagent.service.routes.common import AUTH_ERRORS, errors
from avagent.service.schemas import ActionStats, Check, FleetStats, Health, Readiness
from avagent.workers.models import utcnow

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (no dependency is checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
def readyz(service: ServiceDep) -> JSONResponse:
    """Ready to take jobs: the database answers and, when configured, the broker is reachable."""
    checks = {"database": _check(service.store.ping)}
    if service.executor.kind != "embedded":
        checks["broker"] = _check(service.executor.ping)
    ready = all(c.ok for c in checks.values())
    body = Readiness(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _check(probe) -> Check:
    try:
        probe()
    except Exception as e:
        return Check(ok=False, detail=f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
    return Check(ok=True)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"},
        **errors(*AUTH_ERRORS),
    },
)
def metrics(request: Request, service: ServiceDep) -> Response:
    """Prometheus metrics (public unless service.metrics_public is off; then a read key is needed)."""
    if not service.settings.service.metrics_public:
        key = key_from_parts(request.method, request.headers, request.query_params, request.cookies)
        check_access(service, key, "read", "read")
    return Response(service.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/v1/stats", response_model=FleetStats, responses=errors(*AUTH_ERRORS))
def stats(service: ServiceDep, _: ReadKey) -> FleetStats:
    """Fleet view: jobs by state, queue depth, workers, throughput, iterations and action accept rates."""
    store, now = service.store, utcnow()
    counts = store.counts_by_status()
    actions = [
        ActionStats(
            action=a,
            accepted=by[True],
            rejected=by[False],
            accept_rate=by[True] / (by[True] + by[False]) if by[True] + by[False] else None,
        )
        for a, by in sorted(store.action_outcomes().items())
    ]
    return FleetStats(
        jobs=counts,
        queue_depth=counts.get("queued", 0),
        executor=service.executor.describe(),
        workers=store.active_workers(stale_after_s=service.settings.service.stale_after_s),
        finished_last_5m=store.finished_since(now - timedelta(minutes=5)),
        finished_last_1h=store.finished_since(now - timedelta(hours=1)),
        iterations={str(k): n for k, n in sorted(store.iterations_histogram().items())},
        actions=actions,
    )
