"""Fixtures of the service tests: tiny synthetic clips, bad inputs, settings in tmp_path, a running app, keys.

The app is the real one (`create_app`) with the real embedded executor and SQLite in a temporary directory;
clips are 4 s at 160x120 so a job finishes in about two seconds on the offline toolset.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from avagent.core.config import Settings
from avagent.core.synthetic_av import make_clip
from avagent.service import create_app
from avagent.service.security import create_key, list_keys

CLIP_SECONDS = 4.0
CLIP_SIZE = (160, 120)
JOB_TIMEOUT_S = 90.0
FINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good clips (clean; 1 s audio offset, which makes the loop plan) and every kind of bad input."""
    d = tmp_path_factory.mktemp("clips")
    out: dict[str, Path] = {}
    for name, seed, offset in [("clean", 1, 0.0), ("offset", 2, 1.0), ("other", 3, 0.0), ("third", 4, 0.0)]:
        make_clip(d / f"{name}.mp4", seed=seed, duration_s=CLIP_SECONDS, size=CLIP_SIZE, audio_offset_s=offset)
        out[name] = d / f"{name}.mp4"
    data = out["clean"].read_bytes()
    out["truncated"] = _write(d / "truncated.mp4", data[: len(data) // 2])  # an mp4 cut before its moov atom
    corrupt = bytearray(data)
    corrupt[16:] = np.random.default_rng(0).integers(0, 256, len(data) - 16, dtype=np.uint8).tobytes()
    out["corrupt"] = _write(d / "corrupt.mp4", bytes(corrupt))  # a valid ftyp box, then noise
    out["not_media"] = _write(d / "notes.txt", b"these are not the frames you are looking for\n" * 40)
    out["zero"] = _write(d / "zero.mp4", b"")
    sf.write(d / "audio_only.wav", 0.1 * np.sin(np.linspace(0, 2000, 48_000 * 2)), 48_000)
    out["audio_only"] = d / "audio_only.wav"
    out["video_only"] = _video_only(d / "video_only.mp4")
    # A 100-byte file whose header claims 10000x8000 frames (above the 8K pixel limit).
    out["huge_dims"] = _write(d / "huge.y4m", b"YUV4MPEG2 W10000 H8000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\x10" * 64)
    return out


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _video_only(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        stream = c.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)
    return path


def service_settings(root: Path, *, media: dict[str, Any] | None = None, **service: Any) -> Settings:
    """Settings with all state under `root`, fast heartbeats, and two plans at most per job."""
    values = {"data_dir": root / "data", "heartbeat_s": 0.5, "sse_poll_s": 0.1, **service}
    return Settings(service=values, agent={"max_iterations": 2}, media=media or {}, cache_dir=root / "cache")


class Api:
    """A started app, its client and one key per role."""

    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client, self.keys = client, keys

    @property
    def service(self):
        return self.client.app.state.service

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def submit(self, path: Path, *, role: str = "submit", options: str | None = None, name: str | None = None):
        files = {"file": (name or path.name, path.read_bytes(), "video/mp4")}
        data = {"options": options} if options is not None else None
        return self.client.post("/v1/jobs", files=files, data=data, headers=self.headers(role))

    def wait(self, job_id: str, timeout_s: float = JOB_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}", headers=self.headers("read")).json()
            if job["status"] in FINAL:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


@contextmanager
def running_api(settings: Settings, **app_kwargs: Any) -> Iterator[Api]:
    app = create_app(settings, **app_kwargs)
    with TestClient(app) as client:
        store = app.state.service.store
        names = {
            role: f"test-{role}" if _free(store, f"test-{role}") else f"test-{role}-{uuid.uuid4().hex[:6]}"
            for role in ("read", "submit", "admin")
        }
        keys = {role: create_key(store, name, role)[1] for role, name in names.items()}
        yield Api(client, keys)


def _free(store, name: str) -> bool:
    return all(k.name != name for k in list_keys(store))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(service_settings(tmp_path_factory.mktemp("service"))) as a:
        yield a
