"""The jobs API end to end: submit a clip, watch it run, read its loop, download the results, list, dedupe."""

from __future__ import annotations

import io
import json

import av
import pytest
import soundfile as sf

from avagent.agent.report import REPORT_SCHEMA
from tests.service.conftest import CLIP_SECONDS
from tests.service.sse import read_stream

OPTIONS = json.dumps({"max_iterations": 2, "planner": "rules"})


@pytest.fixture(scope="module")
def done_job(api, clips) -> dict:
    """The offset clip (the loop plans at least once), submitted and run to the end."""
    response = api.submit(clips["offset"], options=OPTIONS)
    assert response.status_code == 202, response.text
    return api.wait(response.json()["id"])


def test_submit_returns_202_with_the_job_and_its_urls(api, clips):
    response = api.submit(clips["other"])
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running")
    assert job["source_name"] == "other.mp4"
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert "idempotent-replay" not in response.headers
    assert job["links"]["events"] == f"/v1/jobs/{job['id']}/events"
    assert job["links"]["original_audio"].endswith("/original-audio")
    assert job["options"]["max_iterations"] == 2  # the server default of these tests
    assert api.wait(job["id"])["status"] == "succeeded"


def test_job_runs_to_completion_with_its_loop_timeline(done_job):
    job = done_job
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 1.0 and job["stage"] == "finalize"
    assert job["outcome"] in ("untouched", "repaired", "improved", "unrepaired")
    assert job["captions"]["audio"]["caption"] and job["captions"]["video"]["caption"]
    assert 0.0 <= job["initial"]["alignment"] <= 1.0 and "details" in job["initial"]
    assert len(job["timeline"]) == job["iterations"] >= 1  # a 1 s offset makes the planner try
    first = job["timeline"][0]
    assert first["index"] == 1 and first["plan"]["planner"] == "rules"
    assert first["accepted"] in (True, False) and 0.0 <= first["scores"]["sync"] <= 1.0
    assert job["stop_reason"] and job["attempts"] == 1
    assert set(job["final_scores"]) == {"alignment", "sync"}
    assert job["timings"]["total_s"] > 0


def test_identical_resubmission_returns_the_same_job(api, clips, done_job):
    again = api.submit(clips["offset"], options=OPTIONS, name="renamed.mp4")
    assert again.status_code == 200
    assert again.headers["idempotent-replay"] == "true"
    assert again.json()["id"] == done_job["id"]
    # Equivalent options (an explicit default) are the same job; different ones are a new job.
    same = api.submit(clips["offset"], options=json.dumps({"max_iterations": 2, "threshold": 0.85}))
    assert same.json()["id"] == done_job["id"]
    other = api.submit(clips["offset"], options=json.dumps({"max_iterations": 1}))
    assert other.status_code == 202 and other.json()["id"] != done_job["id"]
    api.wait(other.json()["id"])


def test_results_are_downloadable(api, done_job):
    base, h = f"/v1/jobs/{done_job['id']}", api.headers("read")
    video = api.client.get(f"{base}/result", headers=h)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert 'filename="offset.repaired.mp4"' in video.headers["content-disposition"]
    with av.open(io.BytesIO(video.content)) as container:
        assert container.streams.video and container.streams.audio
    for route in ("audio", "original-audio"):
        wav = api.client.get(f"{base}/{route}", headers=h)
        assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
        audio, sr = sf.read(io.BytesIO(wav.content))
        assert abs(len(audio) / sr - CLIP_SECONDS) < 0.2
    report = api.client.get(f"{base}/report", headers=h).json()
    assert report["schema"] == REPORT_SCHEMA and report["run_id"] == done_job["id"]
    assert len(report["iterations"]) == done_job["iterations"]
    ranged = api.client.get(f"{base}/audio", headers={**h, "Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100  # seekable in an <audio> player
    png = api.client.get(f"{base}/spectrogram/repaired", headers=h)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_artifacts_are_content_addressed(api, done_job):
    root = api.service.artifacts.root
    sha = done_job["input_sha256"]
    job_dir = root / sha[:2] / sha / "jobs" / done_job["id"]
    assert (root / sha[:2] / sha / "input.mp4").is_file()
    assert {p.name for p in job_dir.iterdir()} >= {"report.json", "repaired.mp4", "repaired.wav", "original.wav"}
    assert not (job_dir / "work").exists()  # candidates and checkpoint removed once the job succeeded
    assert not list(api.service.artifacts.tmp.iterdir())


def test_event_stream_delivers_every_event_and_resumes(api, done_job):
    url, h = f"/v1/jobs/{done_job['id']}/events", api.headers("read")
    messages = read_stream(api.client, url, h)
    data = [m for m in messages if m.event != "end"]
    ids = [int(m.id) for m in data]
    assert ids == list(range(1, len(ids) + 1))  # per-job seq, gap-free
    nodes = [m.json()["node"] for m in data]
    assert nodes[:2] == ["queued", "running"] and nodes[-1] == "succeeded"
    assert {"perceive", "reflect_original", "plan", "decide", "finalize"} <= set(nodes)
    assert messages[-1].event == "end" and messages[-1].json() == {"status": "succeeded"}
    # Resume after event 4: the stream starts at 5 and ends the same way.
    resumed = read_stream(api.client, url, {**h, "Last-Event-ID": "4"})
    assert [int(m.id) for m in resumed if m.id] == ids[4:]
    assert resumed[-1].event == "end"
    # Resuming after the last event gives just the end.
    tail = read_stream(api.client, url, {**h, "Last-Event-ID": str(ids[-1])})
    assert [m.event for m in tail] == ["end"]


def test_event_stream_is_live(api, clips):
    job = api.submit(clips["third"]).json()
    messages = read_stream(api.client, f"/v1/jobs/{job['id']}/events", api.headers("read"))
    finished = api.wait(job["id"])
    from datetime import datetime

    finished_at = datetime.fromisoformat(finished["finished_at"]).timestamp()
    perceive = next(m for m in messages if m.event == "agent" and m.json()["node"] == "perceive")
    assert perceive.received_at < finished_at  # seen while the job was still running
    assert messages[-1].event == "end"


def test_list_paginates_and_filters(api, done_job):
    h = api.headers("read")
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/jobs", params=params, headers=h).json()
        seen += [j["id"] for j in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = api.client.get("/v1/jobs", params={"limit": 200}, headers=h).json()["data"]
    assert seen == [j["id"] for j in everything] and len(set(seen)) == len(seen) >= 2
    succeeded = api.client.get("/v1/jobs", params={"status": "succeeded"}, headers=h).json()["data"]
    assert done_job["id"] in {j["id"] for j in succeeded} and all(j["status"] == "succeeded" for j in succeeded)
    bad = api.client.get("/v1/jobs", params={"cursor": "not-a-cursor"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_parameter"


def test_unknown_job_is_404_with_a_json_error(api):
    response = api.client.get(f"/v1/jobs/{'0' * 32}", headers=api.headers("read"))
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": f"job {'0' * 32} does not exist"}
    assert api.client.get("/v1/jobs/nope", headers=api.headers("read")).status_code == 422


def test_stats_and_metrics_describe_the_fleet(api, done_job):
    stats = api.client.get("/v1/stats", headers=api.headers("read")).json()
    assert stats["jobs"]["succeeded"] >= 1 and stats["executor"]["kind"] == "embedded"
    assert sum(stats["iterations"].values()) == stats["jobs"]["succeeded"]
    assert stats["actions"] and all(0 <= (a["accept_rate"] or 0) <= 1 for a in stats["actions"])
    text = api.client.get("/metrics").text
    assert 'avagent_jobs{state="succeeded"}' in text
    assert "avagent_queue_depth" in text and "avagent_database_up 1.0" in text
    assert 'avagent_stage_duration_seconds_count{node="perceive"}' in text
    assert "avagent_job_iterations_bucket" in text and "avagent_action_accept_ratio" in text
    assert 'avagent_http_requests_total{method="GET",route="/v1/jobs/{job_id}",status="200"}' in text


def test_health_and_readiness(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"]["ok"] is True
