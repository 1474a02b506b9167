"""Batches: server-side manifests inside the roots (no escape, symlinks included), uploads, the pair manifest."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from avagent.agent.report import MANIFEST_SCHEMA, ManifestLine
from tests.service.conftest import running_api, service_settings


@pytest.fixture(scope="module")
def roots(tmp_path_factory, clips):
    """A manifest root with two clips, a text file and a symlink that points outside; a file outside it."""
    base = tmp_path_factory.mktemp("roots")
    root, outside = base / "data", base / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(clips["clean"], root / "a.mp4")
    shutil.copy(clips["offset"], root / "sub" / "b.mp4")
    shutil.copy(clips["not_media"], root / "notes.txt")
    shutil.copy(clips["other"], outside / "secret.mp4")
    (root / "link.mp4").symlink_to(outside / "secret.mp4")
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    assert (root / "link.mp4").resolve() == outside / "secret.mp4"  # the escape really is a symlink out
    return root, outside


@pytest.fixture(scope="module")
def bapi(tmp_path_factory, roots):
    settings = service_settings(tmp_path_factory.mktemp("batches"), manifest_roots=[roots[0]])
    with running_api(settings) as a:
        yield a


def _wait_batch(api, batch_id: str, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = api.client.get(f"/v1/batches/{batch_id}", headers=api.headers("read")).json()
        if batch["done"]:
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish")


def test_manifest_batch_runs_and_yields_the_pair_manifest(bapi, roots):
    root, _ = roots
    body = {
        "paths": [str(root / "a.mp4"), "sub/b.mp4", "notes.txt"],
        "name": "nightly",
        "options": {"max_iterations": 1},
    }
    response = bapi.client.post("/v1/batches", json=body, headers=bapi.headers("submit"))
    assert response.status_code == 202, response.text
    batch = response.json()
    assert batch["total"] == 3 and batch["counts"]["rejected"] == 1 and batch["name"] == "nightly"
    rejected = batch["items"][2]
    assert rejected["status"] == "rejected" and rejected["error"]["code"] == "not_media"
    early = bapi.client.get(f"/v1/batches/{batch['id']}/manifest", headers=bapi.headers("read"))
    assert early.status_code == 409 and early.json()["error"]["code"] == "batch_not_finished"

    done = _wait_batch(bapi, batch["id"])
    assert done["counts"] == {"queued": 0, "running": 0, "succeeded": 2, "failed": 0, "cancelled": 0, "rejected": 1}
    manifest = bapi.client.get(done["links"]["manifest"], headers=bapi.headers("read"))
    assert manifest.status_code == 200 and manifest.headers["content-type"].startswith("application/x-ndjson")
    lines = [ManifestLine.model_validate_json(line) for line in manifest.text.splitlines()]
    assert [json.loads(x)["schema"] for x in manifest.text.splitlines()] == [MANIFEST_SCHEMA] * 3
    assert [line.video_path for line in lines] == [
        str(root / "a.mp4"),
        str(root / "sub" / "b.mp4"),
        str(root / "notes.txt"),
    ]
    for line in lines[:2]:
        assert line.status in ("untouched", "repaired", "improved", "unrepaired")
        for path in (line.original_audio_path, line.repaired_audio_path, line.repaired_video_path, line.report_path):
            assert path and bapi.service.artifacts.root in Path(path).parents
        assert set(line.initial_scores) == {"alignment", "sync"}
    assert lines[2].status == "failed" and lines[2].error.startswith("not_media")

    jobs = bapi.client.get("/v1/jobs", params={"batch": batch["id"]}, headers=bapi.headers("read")).json()["data"]
    assert {j["id"] for j in jobs} == {i["job_id"] for i in done["items"] if i["job_id"]}


@pytest.mark.parametrize(
    "path",
    [
        "../outside/secret.mp4",
        "/etc/passwd",
        "link.mp4",
        "dirlink/secret.mp4",
        "sub/../../outside/secret.mp4",
        "a\x00.mp4",
    ],
)
def test_paths_outside_the_roots_reject_the_whole_batch(bapi, path):
    before = _count(bapi)
    body = {"paths": ["a.mp4", path]}
    response = bapi.client.post("/v1/batches", json=body, headers=bapi.headers("submit"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "path_outside_roots"
    assert _count(bapi) == before  # nothing queued, not even the good path


def test_upload_batch(bapi, clips):
    files = [
        ("files", ("x.mp4", clips["third"].read_bytes(), "video/mp4")),
        ("files", ("y.txt", b"hello", "text/plain")),
    ]
    response = bapi.client.post(
        "/v1/batches", files=files, data={"options": json.dumps({"max_iterations": 1})}, headers=bapi.headers("submit")
    )
    assert response.status_code == 202, response.text
    batch = response.json()
    assert batch["source"] == "upload" and [i["status"] for i in batch["items"]][1] == "rejected"
    done = _wait_batch(bapi, batch["id"])
    assert done["counts"]["succeeded"] == 1 and done["counts"]["rejected"] == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"paths": []}}, 422, "invalid_request"),
        ({"json": {"paths": ["a.mp4"], "extra": 1}}, 422, "invalid_request"),
        ({"content": b"paths=a.mp4", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_content_type"),
        ({"json": {"paths": ["a.mp4"], "options": {"threshold": 5}}}, 422, "invalid_request"),
        (
            {"content": b'{"paths": ["' + b"a" * (2 << 20) + b'"]}', "headers": {"Content-Type": "application/json"}},
            413,
            "upload_too_large",
        ),  # JSON is read into memory, so it gets the small JSON limit
    ],
)
def test_malformed_batches_are_4xx(bapi, kwargs, status, code):
    headers = {**bapi.headers("submit"), **kwargs.pop("headers", {})}
    response = bapi.client.post("/v1/batches", headers=headers, **kwargs)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_manifests_are_disabled_without_roots(api):
    response = api.client.post("/v1/batches", json={"paths": ["/tmp/a.mp4"]}, headers=api.headers("submit"))
    assert response.status_code == 403 and "no manifest roots" in response.json()["error"]["message"]


def test_unknown_batch_is_404(bapi):
    response = bapi.client.get(f"/v1/batches/{'f' * 32}", headers=bapi.headers("read"))
    assert response.status_code == 404


def _count(api) -> int:
    return len(api.client.get("/v1/jobs", params={"limit": 200}, headers=api.headers("read")).json()["data"])
