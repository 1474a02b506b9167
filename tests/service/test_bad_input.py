"""Bad input: each gets a 4xx with a clear JSON message before anything is queued, and nothing else breaks."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from sqlalchemy.exc import OperationalError

from tests.service.conftest import running_api, service_settings

# (input, upload name, status, error code, words the message must contain); good cases sit in the same table.
CASES = [
    ("truncated", "cut.mp4", 422, "corrupt_media", "corrupt or truncated"),
    ("corrupt", "noise.mp4", 422, "corrupt_media", "corrupt or truncated"),
    ("not_media", "notes.txt", 415, "not_media", "not a media file"),
    ("zero", "empty.mp4", 422, "empty_media", "empty (0 bytes)"),
    ("audio_only", "tone.wav", 422, "no_video_stream", "has no video stream"),
    ("video_only", "silent.mp4", 422, "no_audio_stream", "has no audio stream"),
    ("huge_dims", "huge.y4m", 413, "media_too_large", "10000x8000"),
    ("not_media", "../../etc/passwd", 415, "not_media", "passwd is not a media file"),
    ("clean", "../../etc/passwd", 202, None, None),
    ("clean", "..\\..\\windows\\evil\x00.mp4", 202, None, None),
]


@pytest.mark.parametrize(("clip", "name", "status", "code", "words"), CASES)
def test_bad_uploads_get_a_clear_4xx(api, clips, clip, name, status, code, words):
    before = _job_count(api)
    response = api.submit(clips[clip], name=name)
    assert response.status_code in (status, 200 if status == 202 else status), response.text
    if code is None:
        job = response.json()
        assert "/" not in job["source_name"] and "\\" not in job["source_name"] and "\x00" not in job["source_name"]
        assert job["source_name"] in ("passwd", "evil.mp4")
        stored = api.service.store.get_job(job["id"]).input_path
        assert stored.startswith(str(api.service.artifacts.root))
        return
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert str(api.service.artifacts.root) not in error["message"]  # no server path in the message
    assert _job_count(api) == before  # nothing queued
    assert not list(api.service.artifacts.tmp.iterdir())  # the upload's temporary file is gone


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ("{not json", "options: Invalid JSON"),
        (json.dumps({"threshold": 2}), "options.threshold: Input should be less than or equal to 1"),
        (json.dumps({"max_iterations": 0}), "options.max_iterations"),
        (json.dumps({"allowed_actions": ["shout"]}), "options.allowed_actions.0"),
        (json.dumps({"temperature": 1}), "options.temperature: Extra inputs are not permitted"),
        (json.dumps([1, 2]), "options: Input should be an object"),
    ],
)
def test_bad_options_are_422(api, clips, options, words):
    response = api.submit(clips["clean"], options=options)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and words in error["message"]


def test_missing_file_field_is_422(api):
    response = api.client.post("/v1/jobs", data={"options": "{}"}, headers=api.headers("submit"))
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("body.file")


def test_not_multipart_is_a_4xx(api):
    response = api.client.post("/v1/jobs", json={"file": "x"}, headers=api.headers("submit"))
    assert response.status_code == 422 and "error" in response.json()


def test_nothing_else_broke(api, clips):
    """After all of the above the service is ready and still repairs a good clip."""
    assert api.client.get("/readyz").status_code == 200
    response = api.submit(clips["clean"], options=json.dumps({"max_iterations": 1}))
    assert response.status_code == 202
    assert api.wait(response.json()["id"])["status"] == "succeeded"


def test_too_long_media_is_413(tmp_path, clips):
    with running_api(service_settings(tmp_path, media={"max_duration_s": 2.0})) as short:
        response = short.submit(clips["clean"])
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "media_too_long" and "above the 2 s limit" in error["message"]


def test_database_outage_is_a_clear_503_and_recovers(api, monkeypatch):
    store = api.service.store

    @contextmanager
    def unreachable():
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        yield

    monkeypatch.setattr(store, "read", unreachable)
    monkeypatch.setattr(store, "ping", lambda: unreachable().__enter__())
    down = api.client.get("/v1/whoami", headers=api.headers("read"))
    assert down.status_code == 503 and down.headers["retry-after"] == "5"
    assert (
        down.json()["error"]["code"] == "database_unavailable"
        and "connection refused" in down.json()["error"]["message"]
    )
    ready = api.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
    assert "avagent_database_up 0.0" in api.client.get("/metrics").text
    monkeypatch.undo()
    assert api.client.get("/v1/whoami", headers=api.headers("read")).status_code == 200
    assert api.client.get("/readyz").status_code == 200


def _job_count(api) -> int:
    return len(api.client.get("/v1/jobs", params={"limit": 200}, headers=api.headers("read")).json()["data"])
