"""Prometheus metrics, one registry per app.

Job metrics are read from the database at scrape time (`StoreCollector`), so they describe the whole fleet
whichever process ran the jobs (embedded threads or Celery workers), and survive restarts:

    avagent_jobs{state}                       jobs by state
    avagent_queue_depth                       queued jobs
    avagent_job_iterations                    histogram: plans tried per finished job
    avagent_stage_duration_seconds{node}      histogram: time each agent node took
    avagent_action_outcomes_total{action,accepted}, avagent_action_accept_ratio{action}
    avagent_executor_busy_workers, avagent_executor_workers   this process's executor
    avagent_database_up                       0 when the scrape could not read the database

HTTP metrics are this process's: avagent_http_requests_total{method,route,status} and
avagent_http_request_duration_seconds{method,route} (route is the path template, e.g. /v1/jobs/{job_id}).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avagent.workers.store import JobStore

log = logging.getLogger(__name__)

ITERATION_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 20, 50)
STAGE_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServiceMetrics:
    def __init__(self, store: JobStore, describe_executor: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.http_requests = Counter(
            "avagent_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.http_latency = Histogram(
            "avagent_http_request_duration_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        self.registry.register(StoreCollector(store, describe_executor))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector:
    def __init__(self, store: JobStore, describe_executor: Callable[[], dict[str, Any]]) -> None:
        self.store, self.describe_executor = store, describe_executor

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("avagent_database_up", "1 if the job database answered this scrape")
        try:
            families = list(self._from_store())
        except Exception as e:
            log.warning("metrics: database unavailable: %s", e)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            yield from families
        yield from self._executor()

    def _from_store(self) -> Iterator[Metric]:
        counts = self.store.counts_by_status()
        jobs = GaugeMetricFamily("avagent_jobs", "Jobs by state", labels=["state"])
        for state, n in counts.items():
            jobs.add_metric([state], n)
        yield jobs
        yield GaugeMetricFamily("avagent_queue_depth", "Queued jobs", value=counts.get("queued", 0))
        yield _iterations_histogram(self.store.iterations_histogram())
        stages = HistogramMetricFamily("avagent_stage_duration_seconds", "Time each agent node took", labels=["node"])
        for node, (cumulative, count, total) in sorted(self.store.stage_latencies(STAGE_BUCKETS_S).items()):
            buckets = [(_le(b), c) for b, c in zip(STAGE_BUCKETS_S, cumulative, strict=True)] + [("+Inf", count)]
            stages.add_metric([node], buckets, total)
        yield stages
        outcomes = CounterMetricFamily(
            "avagent_action_outcomes",
            "Iterations that used an action, by whether the candidate was kept",
            labels=["action", "accepted"],
        )
        ratio = GaugeMetricFamily(
            "avagent_action_accept_ratio", "Share of kept candidates per action", labels=["action"]
        )
        for action, by in sorted(self.store.action_outcomes().items()):
            outcomes.add_metric([action, "true"], by[True])
            outcomes.add_metric([action, "false"], by[False])
            ratio.add_metric([action], by[True] / max(by[True] + by[False], 1))
        yield outcomes
        yield ratio

    def _executor(self) -> Iterator[Metric]:
        info = self.describe_executor()
        if info.get("workers") is not None:
            yield GaugeMetricFamily("avagent_executor_workers", "Worker threads of this process", value=info["workers"])
            yield GaugeMetricFamily("avagent_executor_busy_workers", "Workers running a job", value=info["busy"])


def _iterations_histogram(by_count: dict[int, int]) -> HistogramMetricFamily:
    family = HistogramMetricFamily("avagent_job_iterations", "Plans tried per finished job")
    total = sum(by_count.values())
    buckets = [(_le(b), sum(n for k, n in by_count.items() if k <= b)) for b in ITERATION_BUCKETS]
    family.add_metric([], [*buckets, ("+Inf", total)], float(sum(k * n for k, n in by_count.items())))
    return family


def _le(bound: float) -> str:
    return str(float(bound))


class HttpMetrics:
    """ASGI middleware counting requests by method, route template and status, with their latency."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], ServiceMetrics | None]) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics = self.metrics()
            if metrics is not None:
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                method = scope["method"]
                metrics.http_requests.labels(method, route, str(status)).inc()
                metrics.http_latency.labels(method, route).observe(time.perf_counter() - started)
