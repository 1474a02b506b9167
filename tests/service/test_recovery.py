"""Durability: stale running jobs are recovered on start-up, a stopped worker's job resumes from its checkpoint,
and the whole API runs on PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from sqlalchemy import update

from avagent.workers.jobs import JobRuntime, run_job
from avagent.workers.models import Job, utcnow
from avagent.workers.store import JobStore
from tests.service.conftest import running_api, service_settings
from tests.service.test_store import pg_schema_store


class IdleExecutor:
    """Takes jobs and runs none (a process that stores jobs but whose worker is gone)."""

    kind = "embedded"

    def start(self):
        pass

    def submit(self, job_id):
        pass

    def cancel(self, job_id):
        pass

    def shutdown(self, *, timeout_s=10.0):
        pass

    def ping(self):
        pass

    def describe(self):
        return {"kind": self.kind, "workers": 0, "busy": 0, "pending": 0, "broker": None}


def test_stale_running_job_is_recovered_on_start_up(tmp_path, clips):
    settings = service_settings(tmp_path, stale_after_s=30)
    with running_api(settings, executor=IdleExecutor()) as first:
        job = first.submit(clips["clean"]).json()
        store = first.service.store
        store.claim(job["id"], "dead-host:1:worker", stale_after_s=30)  # a worker took it ... and died
        with store.write() as s:
            s.execute(update(Job).where(Job.id == job["id"]).values(heartbeat_at=utcnow() - timedelta(minutes=5)))
        assert store.get_job(job["id"]).status == "running"
        leftover = first.service.artifacts.tmp / "upload-dead"  # an upload cut off when the process died
        leftover.write_bytes(b"partial")
        os.utime(leftover, (0, 0))

    with running_api(settings) as second:  # a new process with the embedded executor
        assert not leftover.exists()
        done = second.wait(job["id"])
        assert done["status"] == "succeeded" and done["attempts"] == 2
        statuses = [(e.node, e.payload.get("reason")) for e in second.service.store.events_after(job["id"])]
        assert ("queued", "recovered: stale heartbeat") in statuses


def test_stopped_worker_releases_its_job_and_the_next_run_resumes(tmp_path, clips):
    settings = service_settings(tmp_path)
    with running_api(settings, executor=IdleExecutor()) as a:
        job_id = a.submit(clips["offset"], options=json.dumps({"max_iterations": 2})).json()["id"]
        store, runtime = a.service.store, JobRuntime(settings)
        seen = []

        def stop_after_first_plan() -> bool:
            seen[:] = [e.node for e in store.events_after(job_id) if e.kind == "agent"]
            return "plan" in seen

        assert run_job(job_id, settings, store=store, runtime=runtime, should_stop=stop_after_first_plan) == "queued"
        assert store.get_job(job_id).status == "queued"
        assert run_job(job_id, settings, store=store, runtime=runtime) == "succeeded"
        events = store.events_after(job_id)
        by_attempt = {n: sorted({e.attempt for e in events if e.node == n}) for n in ("perceive", "finalize")}
        assert by_attempt == {"perceive": [1], "finalize": [2]}  # attempt 2 started where attempt 1 stopped
        report = a.client.get(f"/v1/jobs/{job_id}/report", headers=a.headers("read")).json()
        assert report["run_id"] == job_id and len(report["iterations"]) >= 1


@pytest.mark.services
def test_api_on_postgresql(tmp_path, clips):
    pg = pg_schema_store()
    settings = service_settings(
        tmp_path, database_url=str(pg.url.render_as_string(hide_password=False)), database_schema=pg.schema
    )
    try:
        with running_api(settings) as a:
            assert a.client.get("/readyz").status_code == 200
            response = a.submit(clips["clean"])
            assert response.status_code == 202
            done = a.wait(response.json()["id"])
            assert done["status"] == "succeeded"
            assert a.submit(clips["clean"]).headers["idempotent-replay"] == "true"
            nodes = [e.node for e in a.service.store.events_after(done["id"])]
            assert nodes[0] == "queued" and nodes[-1] == "succeeded" and "perceive" in nodes
            assert isinstance(a.service.store, JobStore) and not a.service.store.is_sqlite
    finally:
        pg.drop_all()
        pg.dispose()


def test_broker_mode_only_queues_and_readiness_checks_the_broker(tmp_path, clips):
    """With a broker URL the API stores jobs as queued for Celery workers; /readyz is 503 while it is down."""
    with running_api(service_settings(tmp_path, broker_url="redis://:secret@127.0.0.1:1/0")) as a:
        ready = a.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["ok"] is True
        assert (
            ready.json()["checks"]["broker"]["ok"] is False
            and "unreachable" in ready.json()["checks"]["broker"]["detail"]
        )
        job = a.submit(clips["clean"]).json()
        assert a.client.get(f"/v1/jobs/{job['id']}", headers=a.headers("read")).json()["status"] == "queued"
        executor = a.client.get("/v1/stats", headers=a.headers("read")).json()["executor"]
        assert executor["kind"] == "celery" and executor["broker"] == "redis://:***@127.0.0.1:1/0"
