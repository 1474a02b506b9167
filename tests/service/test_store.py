"""The job store on SQLite and PostgreSQL: idempotent insert, claims, gap-free event numbers, cancel, recovery.

PostgreSQL must be running on 127.0.0.1:5432 (trust auth, database `test`; override with AVAGENT_TEST_PG_URL).
If it is not reachable the PostgreSQL tests FAIL, with the command that starts it. Each run works in its own
schema, dropped afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from avagent.workers.models import Job, utcnow
from avagent.workers.store import JobStore

PG_URL = os.environ.get("AVAGENT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def pg_schema_store() -> JobStore:
    store = JobStore(PG_URL, schema=f"avagent_test_{uuid.uuid4().hex[:12]}")
    try:
        store.ping()
    except Exception as e:
        store.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({type(e).__name__}); start it with: {PG_START}", pytrace=False
        )
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store(request, tmp_path):
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}") if request.param == "sqlite" else pg_schema_store()
    s.create_all()
    yield s
    s.drop_all()
    s.dispose()


def _job(key: str = "k", **fields) -> Job:
    values = {
        "id": uuid.uuid4().hex,
        "idempotency_key": key,
        "options": {"max_iterations": 2},
        "input_sha256": "0" * 64,
        "input_path": "/nowhere/input.mp4",
        "source_name": "clip.mp4",
        "job_dir": "/nowhere/job",
        **fields,
    }
    return Job(**values)


def test_idempotent_insert_returns_the_first_job(store):
    first, state = store.create_job(_job("same"))
    assert state == "created"
    twin, state = store.create_job(_job("same"))
    assert state == "existing" and twin.id == first.id
    store.finish(first.id, "failed", error_code="x", error_message="boom")
    retried, state = store.create_job(_job("same"))
    assert state == "requeued" and retried.id == first.id and retried.status == "queued"
    assert retried.error_code is None


def test_concurrent_identical_inserts_make_one_job(store):
    results = []

    def insert():
        results.append(store.create_job(_job("race")))

    threads = [threading.Thread(target=insert) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({job.id for job, _ in results}) == 1
    assert sorted(state for _, state in results).count("created") == 1


def test_claims_heartbeats_and_stale_takeover(store):
    job, _ = store.create_job(_job())
    claimed = store.claim(job.id, "w1", stale_after_s=60)
    assert claimed.status == "running" and claimed.attempts == 1 and claimed.worker_id == "w1"
    assert store.claim(job.id, "w2", stale_after_s=60) is None  # w1's heartbeat is fresh
    _age_heartbeat(store, job.id, seconds=120)
    taken = store.claim(job.id, "w2", stale_after_s=60)
    assert taken.worker_id == "w2" and taken.attempts == 2
    # The old owner can no longer finish it.
    assert store.finish(job.id, "succeeded", worker_id="w1") is None
    assert store.finish(job.id, "succeeded", worker_id="w2").status == "succeeded"
    assert store.claim(job.id, "w3", stale_after_s=60) is None  # final


def test_events_are_numbered_gap_free_per_job_under_concurrency(store):
    job, _ = store.create_job(_job())
    other, _ = store.create_job(_job("other"))

    def write(job_id: str, n: int):
        for i in range(n):
            store.append_event(
                job_id, node="plan", iteration=i, payload={"i": i}, timestamp=0.0, duration_s=0.1, progress=0.5
            )

    threads = [threading.Thread(target=write, args=(j, 10)) for j in (job.id, job.id, other.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [e.seq for e in store.events_after(job.id)]
    assert seqs == list(range(1, 22))  # the "queued" event plus 20
    assert [e.seq for e in store.events_after(job.id, 15)] == list(range(16, 22))
    assert [e.seq for e in store.events_after(other.id)] == list(range(1, 12))
    assert store.get_job(job.id).event_seq == 21


def test_cancel_semantics(store):
    queued, _ = store.create_job(_job("q"))
    assert store.request_cancel(queued.id).status == "cancelled"
    running, _ = store.create_job(_job("r"))
    store.claim(running.id, "w", stale_after_s=60)
    asked = store.request_cancel(running.id)
    assert asked.status == "running" and asked.cancel_requested
    record = store.append_event(
        running.id, node="plan", iteration=1, payload={}, timestamp=0.0, duration_s=None, progress=0.3
    )
    assert record.cancel_requested is True  # what the worker's event callback sees
    assert store.heartbeat(running.id, "w") is True
    # A worker that finishes without having seen the flag still ends the job cancelled: no request is lost.
    assert store.finish(running.id, "succeeded", worker_id="w", outcome="repaired").status == "cancelled"
    assert store.get_job(running.id).outcome is None


def test_recover_stale_requeues_or_fails_after_max_attempts(store):
    a, _ = store.create_job(_job("a"))
    b, _ = store.create_job(_job("b"))
    fresh, _ = store.create_job(_job("fresh"))
    for job in (a, b, fresh):
        store.claim(job.id, "dead", stale_after_s=60)
    _age_heartbeat(store, a.id, seconds=300)
    _age_heartbeat(store, b.id, seconds=300)
    with store.write() as s:
        s.execute(update(Job).where(Job.id == b.id).values(attempts=3))
    requeued = store.recover_stale(stale_after_s=60, max_attempts=3)
    assert requeued == [a.id]
    assert store.get_job(a.id).status == "queued" and store.get_job(a.id).worker_id is None
    assert store.get_job(b.id).status == "failed" and store.get_job(b.id).error_code == "too_many_attempts"
    assert store.get_job(fresh.id).status == "running"
    reasons = [e.payload.get("reason") for e in store.events_after(a.id) if e.kind == "status"]
    assert "recovered: stale heartbeat" in reasons


def test_list_pagination_is_stable(store):
    ids = [store.create_job(_job(f"p{i}"))[0].id for i in range(5)]
    seen, cursor = [], None
    while True:
        page, cursor = store.list_jobs(limit=2, cursor=cursor)
        seen += [j.id for j in page]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert seen == [j.id for j in store.list_jobs(limit=10)[0]]


def test_statistics(store):
    job, _ = store.create_job(_job())
    store.claim(job.id, "w", stale_after_s=60)
    store.append_event(job.id, node="perceive", iteration=0, payload={}, timestamp=0.0, duration_s=0.3, progress=0.1)
    store.record_outcomes(job.id, [(1, "wiener", True), (1, "speed", True), (2, "wiener", False)])
    store.record_outcomes(job.id, [(1, "wiener", True), (1, "speed", True), (2, "wiener", False)])  # idempotent
    store.finish(job.id, "succeeded", iterations=2)
    assert store.counts_by_status()["succeeded"] == 1
    assert store.iterations_histogram() == {2: 1}
    assert store.action_outcomes() == {"wiener": {True: 1, False: 1}, "speed": {True: 1, False: 0}}
    cumulative, count, total = store.stage_latencies((0.1, 0.5))["perceive"]
    assert cumulative == [0, 1] and count == 1 and total == pytest.approx(0.3)


def _age_heartbeat(store: JobStore, job_id: str, *, seconds: float) -> None:
    with store.write() as s:
        s.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(seconds=seconds)))
