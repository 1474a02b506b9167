"""Audio-reliance probes on tiny synthetic videos written with PyAV: each variant's audio is checked by
cross-correlation against the originals (removed, noise, swapped, shifted by exactly ±1 s)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from scipy import signal

from avagent.avllm.evaluate.errors import ProbeError
from avagent.avllm.evaluate.probes import (
    Audio,
    ProbeOptions,
    build_probes,
    fit_audio,
    read_audio,
    shift_audio,
    swap_donors,
    white_noise_like,
)
from avagent.core.errors import ParameterError

SR = 16000
SECONDS = 3
FPS = 10
LAG_TOLERANCE = int(0.01 * SR)  # 10 ms


def _write_clip(path: Path, audio: np.ndarray | None) -> None:
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        stream = out.add_stream("aac", rate=SR, layout="mono") if audio is not None else None
        for i in range(SECONDS * FPS):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        if stream is not None:
            for start in range(0, audio.size, 1024):
                chunk = av.AudioFrame.from_ndarray(
                    audio[None, start : start + 1024].copy(), format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts = SR, start
                out.mux(stream.encode(chunk))
            out.mux(stream.encode(None))
        out.mux(video.encode(None))


def _lag_and_peak(probe: np.ndarray, original: np.ndarray) -> tuple[int, float]:
    """Lag (samples, probe later = positive) and normalised peak of the cross-correlation."""
    n = min(probe.size, original.size)
    probe, original = probe[:n], original[:n]
    cc = signal.correlate(probe, original, mode="full", method="fft")
    k = int(np.argmax(np.abs(cc)))
    return k - (n - 1), float(np.abs(cc[k]) / (np.linalg.norm(probe) * np.linalg.norm(original) + 1e-12))


def _video_packets(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.dts is not None)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    audio = {name: (0.2 * rng.standard_normal(SR * SECONDS)).astype(np.float32) for name in ("a", "b", "c")}
    for name, y in audio.items():
        _write_clip(root / f"{name}.mp4", y)
    _write_clip(root / "mute.mp4", None)
    manifest = root / "manifest.jsonl"
    records = [{"id": name, "video": f"{name}.mp4", "question": f"What sounds in {name}?"} for name in audio]
    records.append({"id": "mute", "video": "mute.mp4"})
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    decoded = {name: read_audio(root / f"{name}.mp4").samples[0] for name in audio}  # originals as decoded
    return manifest, decoded


@pytest.fixture(scope="module")
def probes(clips: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    manifest, _ = clips
    out = tmp_path_factory.mktemp("probes")
    options = ProbeOptions(variants=("no_audio", "white_noise", "swapped", "shift_plus", "shift_minus", "silence"))
    report = build_probes(manifest, out, options)
    return out, report


def _manifest(out: Path, variant: str) -> dict[str, dict]:
    lines = (out / variant / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def test_report_and_manifests(probes: tuple[Path, object], clips: tuple[Path, dict]) -> None:
    out, report = probes
    assert report.built == {"no_audio": 4, "white_noise": 3, "swapped": 3, "shift_plus_1s": 3, "shift_minus_1s": 3,
                            "silence": 3}  # fmt: skip
    skipped = {(s["id"], s["variant"]) for s in report.skipped}
    assert ("mute", "white_noise") in skipped and ("mute", "no_audio") not in skipped
    summary = json.loads((out / "probes.json").read_text(encoding="utf-8"))
    assert summary["options"]["shift_s"] == 1.0 and len(summary["skipped"]) == 5
    record = _manifest(out, "shift_plus_1s")["a"]
    assert record["question"] == "What sounds in a?"  # the rest of the record is kept
    assert Path(record["video"]).is_file() and record["probe"]["shift_s"] == 1.0


def test_no_audio_removes_the_stream_and_keeps_video(probes: tuple[Path, object], clips: tuple[Path, dict]) -> None:
    out, _ = probes
    manifest, _ = clips
    probe = Path(_manifest(out, "no_audio")["a"]["video"])
    with av.open(str(probe)) as c:
        assert not c.streams.audio and len(c.streams.video) == 1
    assert _video_packets(probe) == _video_packets(manifest.parent / "a.mp4")


def test_white_noise_replaces_audio_at_the_same_level(probes: tuple[Path, object], clips: tuple[Path, dict]) -> None:
    out, _ = probes
    _, originals = clips
    noise = read_audio(Path(_manifest(out, "white_noise")["a"]["video"])).samples[0]
    _, peak = _lag_and_peak(noise, originals["a"])
    assert peak < 0.1
    rms = float(np.sqrt(np.mean(noise[: SR * SECONDS] ** 2)))
    assert rms == pytest.approx(float(np.sqrt(np.mean(originals["a"] ** 2))), rel=0.3)


def test_swapped_audio_comes_from_another_clip(probes: tuple[Path, object], clips: tuple[Path, dict]) -> None:
    out, _ = probes
    _, originals = clips
    for clip_id, record in _manifest(out, "swapped").items():
        donor = record["probe"]["audio_from"]
        assert donor != clip_id
        swapped = read_audio(Path(record["video"])).samples[0]
        lag, peak = _lag_and_peak(swapped, originals[donor])
        assert abs(lag) <= LAG_TOLERANCE and peak > 0.8
        assert _lag_and_peak(swapped, originals[clip_id])[1] < 0.1


@pytest.mark.parametrize(("variant", "lag_s"), [("shift_plus_1s", 1.0), ("shift_minus_1s", -1.0)])
def test_shift_moves_audio_by_one_second(
    probes: tuple[Path, object], clips: tuple[Path, dict], variant: str, lag_s: float
) -> None:
    out, _ = probes
    _, originals = clips
    shifted = read_audio(Path(_manifest(out, variant)["b"]["video"])).samples[0]
    lag, peak = _lag_and_peak(shifted, originals["b"])
    assert abs(lag - lag_s * SR) <= LAG_TOLERANCE
    assert peak > 0.5  # 2 of the 3 seconds overlap
    gap = shifted[: SR // 2] if lag_s > 0 else shifted[SR * SECONDS - SR + SR // 10 : SR * SECONDS]
    assert np.sqrt(np.mean(gap**2)) < 0.01  # the freed second is silent


def test_silence_variant(probes: tuple[Path, object]) -> None:
    out, _ = probes
    silent = read_audio(Path(_manifest(out, "silence")["c"]["video"])).samples[0]
    assert np.max(np.abs(silent)) < 1e-3


def test_signal_transforms() -> None:
    y = np.arange(10, dtype=np.float32)[None]
    np.testing.assert_array_equal(shift_audio(y, 2, shift_s=1.0), [[0, 0, 0, 1, 2, 3, 4, 5, 6, 7]])
    np.testing.assert_array_equal(shift_audio(y, 2, shift_s=-1.0), [[2, 3, 4, 5, 6, 7, 8, 9, 0, 0]])
    np.testing.assert_array_equal(shift_audio(y, 2, shift_s=9.0), np.zeros_like(y))
    fitted = fit_audio(Audio(np.ones((2, 8), np.float32), 8000, "stereo"), rate=16000, channels=1, n=10)
    assert fitted.shape == (1, 10)
    noise, level = white_noise_like(np.zeros((1, 1000), np.float32), rng=np.random.default_rng(0))
    assert level == pytest.approx(10 ** (-30 / 20)) and noise.std() == pytest.approx(level, rel=0.1)


def test_swap_donors_is_a_seeded_derangement() -> None:
    ids = [str(i) for i in range(7)]
    donors = swap_donors(ids, seed=3)
    assert sorted(donors) == sorted(donors.values()) == sorted(ids)
    assert all(k != v for k, v in donors.items())
    assert donors == swap_donors(ids, seed=3) != swap_donors(ids, seed=4)
    assert swap_donors(["only"], seed=0) == {}


def test_text_manifest_and_errors(clips: tuple[Path, dict], tmp_path: Path) -> None:
    manifest, _ = clips
    listing = tmp_path / "videos.txt"
    listing.write_text(f"# clips\n{manifest.parent / 'a.mp4'}\n{manifest.parent / 'b.mp4'}\n", encoding="utf-8")
    report = build_probes(listing, tmp_path / "out", ProbeOptions(variants=("swapped",)))
    assert report.built == {"swapped": 2}
    missing = tmp_path / "missing.txt"
    missing.write_text("nowhere.mp4\n", encoding="utf-8")
    with pytest.raises(ProbeError, match="not found"):
        build_probes(missing, tmp_path / "out2")
    with pytest.raises(ParameterError, match="unknown probe variants"):
        ProbeOptions(variants=("reverse",))
