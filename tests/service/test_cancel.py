"""Cancel: a queued job at once, a running one at the loop's next node; resubmitting retries from the checkpoint."""

from __future__ import annotations

import json
import time

import pytest

from avagent.workers.executor import EmbeddedExecutor
from avagent.workers.jobs import JobRuntime
from tests.service.conftest import running_api, service_settings
from tests.service.sse import read_stream

SCORE_DELAY_S = 0.6  # each scoring call sleeps this long, so a running job has time to be cancelled


class SlowScorer:
    def __init__(self, scorer) -> None:
        self._scorer = scorer

    def __getattr__(self, name):
        return getattr(self._scorer, name)

    def score(self, *args, **kwargs):
        time.sleep(SCORE_DELAY_S)
        return self._scorer.score(*args, **kwargs)


class SlowRuntime(JobRuntime):
    def toolset(self):
        tools = super().toolset()
        if not isinstance(tools.scorer, SlowScorer):
            tools.scorer = SlowScorer(tools.scorer)
        return tools


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    settings = service_settings(tmp_path_factory.mktemp("slow"))
    from avagent.workers.store import JobStore

    store = JobStore.from_settings(settings)
    executor = EmbeddedExecutor(settings, store, workers=1, runtime_factory=SlowRuntime)
    with running_api(settings, store=store, executor=executor) as a:
        yield a


def _wait_for_event(api, job_id: str, node: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(e.node == node for e in api.service.store.events_after(job_id)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {node} event for {job_id}")


def test_cancel_queued_and_running_jobs(slow, clips):
    h = slow.headers("submit")
    running = slow.submit(clips["offset"], options=json.dumps({"max_iterations": 3})).json()
    queued = slow.submit(clips["clean"]).json()  # one worker, busy: this one waits
    _wait_for_event(slow, running["id"], "perceive")

    # Results of an unfinished job are a 409, not a 404.
    early = slow.client.get(f"/v1/jobs/{queued['id']}/result", headers=h)
    assert early.status_code == 409 and early.json()["error"]["code"] == "job_not_finished"

    now = slow.client.delete(f"/v1/jobs/{queued['id']}", headers=h)
    assert now.status_code == 200 and now.json()["status"] == "cancelled"

    asked = slow.client.delete(f"/v1/jobs/{running['id']}", headers=h)
    assert asked.status_code == 202
    assert asked.json()["status"] == "running" and asked.json()["cancel_requested"] is True
    final = slow.wait(running["id"])
    assert final["status"] == "cancelled" and final["error"]["code"] == "cancelled"
    assert final["stage"] != "finalize"  # it stopped inside the loop

    events = read_stream(slow.client, f"/v1/jobs/{running['id']}/events", h)
    nodes = [e.json()["node"] for e in events if e.event != "end"]
    assert nodes[-2:] == ["cancelling", "cancelled"] or nodes[-1] == "cancelled"
    assert "finalize" not in nodes
    assert events[-1].json() == {"status": "cancelled"}

    again = slow.client.delete(f"/v1/jobs/{running['id']}", headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_finished"
    gone = slow.client.get(f"/v1/jobs/{running['id']}/audio", headers=h)
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "job_not_succeeded"


def test_resubmitting_a_cancelled_job_resumes_it(slow, clips):
    h = slow.headers("submit")
    job = slow.submit(clips["other"]).json()
    _wait_for_event(slow, job["id"], "perceive")
    slow.client.delete(f"/v1/jobs/{job['id']}", headers=h)
    assert slow.wait(job["id"])["status"] == "cancelled"
    retry = slow.submit(clips["other"])
    assert retry.status_code == 202 and retry.headers["idempotent-replay"] == "true"
    assert retry.json()["id"] == job["id"]
    done = slow.wait(job["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 2
    perceived = [e.attempt for e in slow.service.store.events_after(job["id"]) if e.node == "perceive"]
    assert perceived == [1]  # the retry resumed from the checkpoint instead of perceiving again


def test_only_the_owner_or_an_admin_may_cancel(slow, clips):
    from avagent.service.security import create_key

    _, stranger = create_key(slow.service.store, "stranger", "submit")
    job = slow.submit(clips["third"]).json()
    denied = slow.client.delete(f"/v1/jobs/{job['id']}", headers={"X-API-Key": stranger})
    assert denied.status_code == 403
    assert slow.client.delete(f"/v1/jobs/{job['id']}", headers=slow.headers("admin")).status_code in (200, 202)
    assert slow.wait(job["id"])["status"] == "cancelled"
