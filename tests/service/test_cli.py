"""`avagent serve` and `avagent batch` (locally, and through a server)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest
import typer
from typer.testing import CliRunner

from avagent.agent.report import ManifestLine
from avagent.service.batch import collect_inputs, run_remote
from avagent.service.cli import register

runner = CliRunner()


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture()
def folder(tmp_path, clips):
    d = tmp_path / "in"
    (d / "nested").mkdir(parents=True)
    shutil.copy(clips["clean"], d / "a.mp4")
    shutil.copy(clips["offset"], d / "nested" / "b.mp4")
    shutil.copy(clips["not_media"], d / "broken.mp4")
    (d / "readme.txt").write_text("not a clip")
    return d


def _manifest(out) -> list[ManifestLine]:
    return [ManifestLine.model_validate_json(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def test_local_batch_writes_outputs_and_manifest(cli, folder, tmp_path):
    out = tmp_path / "out"
    env = {"AVAGENT_AGENT__MAX_ITERATIONS": "1"}
    result = runner.invoke(cli, ["batch", str(folder), "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    lines = _manifest(out)
    assert [line.video_path for line in lines] == [str(folder / p) for p in ("a.mp4", "broken.mp4", "nested/b.mp4")]
    assert lines[1].status == "failed" and lines[1].error.startswith("not_media")
    for line in (lines[0], lines[2]):
        assert line.status in ("untouched", "repaired", "improved", "unrepaired")
        for path in (line.original_audio_path, line.repaired_audio_path, line.repaired_video_path, line.report_path):
            assert path.startswith(str(out)) and os.path.isfile(path)
    assert "manifest:" in result.output and "failed" in result.output
    # A second run reuses the finished clips (their reports are not rewritten).
    report = lines[0].report_path
    before = os.stat(report).st_mtime_ns
    assert runner.invoke(cli, ["batch", str(folder), "--out", str(out)], env=env).exit_code == 0
    assert os.stat(report).st_mtime_ns == before
    assert [line.id for line in _manifest(out)] == [line.id for line in lines]


def test_manifest_inputs(tmp_path, folder):
    (tmp_path / "list.txt").write_text(f"# clips\n{folder / 'a.mp4'}\nin/nested/b.mp4\n")
    assert collect_inputs(tmp_path / "list.txt") == [folder / "a.mp4", tmp_path / "in/nested/b.mp4"]
    (tmp_path / "list.jsonl").write_text(json.dumps({"video_path": "in/a.mp4"}) + "\n")
    assert collect_inputs(tmp_path / "list.jsonl") == [tmp_path / "in/a.mp4"]
    (tmp_path / "empty").mkdir()
    result = runner.invoke(typer_app_with_batch(), ["batch", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "no video files" in str(result.exception)


def typer_app_with_batch() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_remote_batch_through_the_api(api, clips, tmp_path):
    inputs = [clips["clean"], clips["not_media"]]
    seen = []
    lines = run_remote(
        inputs,
        tmp_path / "out",
        server="http://testserver",
        key=api.keys["submit"],
        options={"max_iterations": 1},
        server_paths=False,
        progress=lambda done, total, what: seen.append((done, total)),
        poll_s=0.2,
        client=api.client,
    )
    assert [line.status for line in lines][1] == "failed" and lines[0].status != "failed"
    assert lines[0].video_path == str(clips["clean"])
    assert os.path.isfile(lines[0].repaired_video_path) and os.path.isfile(lines[0].original_audio_path)
    assert lines[0].repaired_video_path.startswith(str(tmp_path / "out"))
    assert _manifest(tmp_path / "out") == lines
    assert seen[-1] == (2, 2)


@pytest.mark.slow
def test_serve_creates_keys_and_serves_http(tmp_path):
    env = {**os.environ, "AVAGENT_SERVICE__DATA_DIR": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path)}
    launcher = "from avagent.cli import main; main()"  # the `avagent` console script
    created = subprocess.run(
        [sys.executable, "-c", launcher, "serve", "--create-key", "ops", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("avk_")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", launcher, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        who = httpx.get(f"{base}/v1/whoami", headers={"X-API-Key": key}, timeout=5)
        assert who.status_code == 200 and who.json()["role"] == "admin"
        assert httpx.get(f"{base}/v1/whoami", timeout=5).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode in (0, -15)  # uvicorn shuts down, then re-raises SIGTERM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
