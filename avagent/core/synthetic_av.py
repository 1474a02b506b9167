"""Synthetic audio-visual clips assembled from REAL recordings, with visual events that carry the sounds' timing.

What is real and what is not: every sound is a real recording an installed package ships (freedesktop alarms,
bells, phone rings, a camera shutter; Allison Smith's asterisk speech prompts; the alsa-utils voice), placed at
known times on a timeline. The pictures are SYNTHETIC: simple shapes drawn with OpenCV whose appearance is driven
by the timing of the real audio. They are not a substitute for real footage; they exist because the scorer,
the tests and the benchmark need clips whose audio-video timing is known exactly, and no real footage with
such ground truth ships offline. How the pictures follow the sound:

- an *object* source (a coloured shape at its own screen position) rests dim while silent and lights up, grows
  and bounces with its sound's level while it plays;
- a *speech* source is a face-like shape whose mouth (an ellipse) opens with the speech envelope; its eyes blink
  at random times, which is motion without sound, as in real footage;
- a *distractor* blob drifts across the picture all the time and makes no sound;
- the background carries a fixed texture plus a little sensor noise.

Frame i (time t_i = i / fps) shows the scene over [t_i, t_i + 1/fps), the way a camera's exposure starts at t_i:
each source's level is the RMS of its own track over that window. All randomness comes from `seed`.

`make_clip` writes an mp4 (H.264 + AAC) and returns the ground truth (`SyntheticClip`): which source sounded
when, where it sits on the screen, and the clean audio mix as written.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from avagent.core.errors import ParameterError
from avagent.core.samples import alsa_voice, asterisk_speech, freedesktop_sounds

SAMPLE_RATE = 48000  # Hz, the rate of the mix and of the AAC track
DEFAULT_SIZE = (320, 240)  # (width, height) pixels
DEFAULT_FPS = 25
# Short, distinct freedesktop sounds for object sources (longer ones are cut at MAX_OBJECT_S).
OBJECT_SOUNDS = (
    "bell",
    "camera-shutter",
    "complete",
    "dialog-warning",
    "message",
    "phone-incoming-call",
    "trash-empty",
    "device-added",
    "window-attention",
    "suspend-error",
    "message-new-instant",
    "alarm-clock-elapsed",
    "service-login",
    "power-plug",
)
MAX_OBJECT_S = 1.6  # longest object sound, seconds
SPEECH_MIN_S, SPEECH_MAX_S = 1.2, 3.2  # asterisk prompts of this length are used whole
FADE_S = 0.01  # fade at cut ends, seconds
EVENT_RMS_DBFS = (-26.0, -16.0)  # range of each event's RMS over its own duration (seeded)
MIX_PEAK = 0.89  # mix scaled down when its peak exceeds this (-1 dBFS)
ROOM_TONE_DBFS = (-64.0, -56.0)  # range of the room tone's RMS (seeded); real recordings always have a floor
MIN_GAP_S = 0.35  # silence between two events of the same source, seconds
EDGE_S = 0.3  # no event starts before this or ends after duration - this
ON_RANGE_DB = 30.0  # a source shows as sounding while its level is within this many dB of its loudest frame
RELEASE_S = 0.2  # after a source stops sounding its picture settles over this long, s
SENSOR_NOISE = 3  # amplitude of the per-frame sensor noise, 8-bit levels
NOISE_BANK = 6  # distinct noise frames cycled (cheaper than fresh noise per frame)
SHAPES = ("circle", "square", "triangle", "diamond")
COLOURS = ((235, 70, 60), (60, 150, 240), (250, 200, 40), (80, 200, 110), (200, 90, 220), (240, 140, 40))


class SyntheticMediaError(ParameterError):
    code = "synthetic_media_error"


@dataclass(frozen=True)
class Source:
    """One sound source on the screen."""

    name: str  # e.g. "bell", "speech"
    kind: str  # "object" or "speech"
    recordings: tuple[str, ...]  # file names of the real recordings it plays
    centre: tuple[float, float]  # (x, y) as fractions of the frame width and height
    radius: float  # size as a fraction of the frame height


@dataclass(frozen=True)
class SoundEvent:
    """One placement of a real recording on the timeline, in VIDEO time (where the picture shows it)."""

    source: str  # Source.name
    recording: str  # file name of the real recording
    start_s: float
    end_s: float


@dataclass(frozen=True)
class SyntheticClip:
    """Ground truth of a generated clip."""

    path: Path  # the mp4 (H.264 + AAC)
    audio: np.ndarray  # the clean mix as written, shape (1, samples), float32
    sample_rate: int
    fps: float
    size: tuple[int, int]  # (width, height)
    duration_s: float
    audio_offset_s: float  # > 0: the audio track is late relative to the pictures by this much
    seed: int
    sources: tuple[Source, ...]
    events: tuple[SoundEvent, ...]
    visual_events: bool  # False: the sources never move (a clip without sync cues)


# --- recordings ----------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def _read_recording(path: str) -> np.ndarray:
    """A real recording as mono float32 at SAMPLE_RATE (decoded with PyAV, resampled with soxr)."""
    import av
    import soxr

    chunks, rate = [], None
    with av.open(path) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        for frame in container.decode(stream):
            x = frame.to_ndarray()
            planar = frame.format.is_planar
            x = x.mean(axis=0) if planar else x.reshape(-1, frame.layout.nb_channels).mean(axis=1)
            if x.dtype.kind in "iu":
                x = x / float(np.iinfo(x.dtype).max)
            chunks.append(x.astype(np.float32))
    if not chunks:
        raise SyntheticMediaError(f"{path} holds no audio")
    mono = np.concatenate(chunks)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    return mono


def _faded(x: np.ndarray, max_s: float) -> np.ndarray:
    """Cut to `max_s`, trim leading/trailing near-silence, and fade both ends (FADE_S)."""
    level = np.abs(x)
    loud = np.flatnonzero(level > 0.02 * level.max(initial=0.0))
    if loud.size:
        x = x[max(0, loud[0] - int(0.02 * SAMPLE_RATE)) : loud[-1] + int(0.05 * SAMPLE_RATE)]
    x = np.array(x[: int(max_s * SAMPLE_RATE)], dtype=np.float32)
    n = min(int(FADE_S * SAMPLE_RATE), x.size // 2)
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


@functools.lru_cache(maxsize=1)
def _speech_pool() -> tuple[Path, ...]:
    import soundfile as sf

    asterisk = [p for p in asterisk_speech() if SPEECH_MIN_S <= sf.info(str(p)).duration <= SPEECH_MAX_S]
    return tuple(sorted(asterisk + list(alsa_voice())))


def _object_pool() -> dict[str, Path]:
    found = {p.stem: p for p in freedesktop_sounds()}
    pool = {name: found[name] for name in OBJECT_SOUNDS if name in found}
    if len(pool) < 2:
        raise SyntheticMediaError("fewer than 2 freedesktop sounds found: apt-get install sound-theme-freedesktop")
    return pool


# --- scene layout and timeline -------------------------------------------------------------------------------------


def _slots(n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """`n` distinct screen positions from a 3x2 grid (fractions of width and height), jittered."""
    grid = [(x, y) for y in (0.3, 0.72) for x in (0.18, 0.5, 0.82)]
    picks = rng.choice(len(grid), size=n, replace=False)
    return [(grid[i][0] + rng.uniform(-0.04, 0.04), grid[i][1] + rng.uniform(-0.04, 0.04)) for i in picks]


def _choose_sources(rng: np.random.Generator, n_objects: int, speech: bool) -> list[Source]:
    objects = _object_pool()
    names = list(rng.choice(sorted(objects), size=min(n_objects, len(objects)), replace=False))
    centres = _slots(len(names) + int(speech), rng)
    sources = [
        Source(str(name), "object", (objects[str(name)].name,), centres[i], float(rng.uniform(0.09, 0.13)))
        for i, name in enumerate(names)
    ]
    if speech:
        pool = _speech_pool()
        picks = rng.choice(len(pool), size=min(4, len(pool)), replace=False)
        sources.append(Source("speech", "speech", tuple(pool[i].name for i in picks), centres[-1], 0.2))
    return sources


def _recording_path(source: Source, name: str) -> Path:
    if source.kind == "object":
        return _object_pool()[source.name]
    return next(p for p in _speech_pool() if p.name == name)


def _place_events(source: Source, duration_s: float, rng: np.random.Generator) -> list[tuple[SoundEvent, np.ndarray]]:
    """Non-overlapping events of one source at random times; returns (event, waveform) pairs."""
    max_s = MAX_OBJECT_S if source.kind == "object" else SPEECH_MAX_S
    wanted = int(rng.integers(2, 5)) if source.kind == "object" else int(rng.integers(2, 4))
    placed: list[tuple[SoundEvent, np.ndarray]] = []
    for attempt in range(40):
        if len(placed) == wanted:
            break
        name = source.recordings[attempt % len(source.recordings)]
        wave = _faded(_read_recording(str(_recording_path(source, name))), max_s)
        length = wave.size / SAMPLE_RATE
        if length > duration_s - 2 * EDGE_S:
            continue
        start = float(rng.uniform(EDGE_S, duration_s - EDGE_S - length))
        if any(start < e.end_s + MIN_GAP_S and start + length > e.start_s - MIN_GAP_S for e, _ in placed):
            continue
        gain = 10 ** (rng.uniform(*EVENT_RMS_DBFS) / 20) / max(float(np.sqrt(np.mean(wave**2))), 1e-6)
        placed.append((SoundEvent(source.name, name, start, start + length), wave * np.float32(gain)))
    return sorted(placed, key=lambda pair: pair[0].start_s)


def _room_tone(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink-ish noise (1/f power above 50 Hz) at a seeded level in ROOM_TONE_DBFS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 50.0))
    tone = np.fft.irfft(spectrum, n)
    tone *= 10 ** (rng.uniform(*ROOM_TONE_DBFS) / 20) / max(float(np.std(tone)), 1e-12)
    return tone.astype(np.float32)


def _tracks(
    sources: list[Source], placed: dict[str, list[tuple[SoundEvent, np.ndarray]]], n: int, offset_s: float
) -> dict[str, np.ndarray]:
    """Each source's own audio track in AUDIO time (events shifted by `offset_s`), shape (n,)."""
    tracks = {}
    for source in sources:
        track = np.zeros(n, dtype=np.float32)
        for event, wave in placed[source.name]:
            start = round((event.start_s + offset_s) * SAMPLE_RATE)
            lo, hi = max(start, 0), min(start + wave.size, n)
            if hi > lo:
                track[lo:hi] += wave[lo - start : hi - start]
        tracks[source.name] = track
    return tracks


def frame_levels(track: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """RMS level (dBFS) of `track` (VIDEO time, SAMPLE_RATE) over each frame's window [i/fps, (i+1)/fps).

    Returns
    -------
    np.ndarray, shape (n_frames,), dB (-120 for silence)
    """
    edges = np.round(np.arange(n_frames + 1) * SAMPLE_RATE / fps).astype(np.int64)
    edges = np.minimum(edges, track.size)
    energy = np.concatenate([[0.0], np.cumsum(track.astype(np.float64) ** 2)])
    power = (energy[edges[1:]] - energy[edges[:-1]]) / np.maximum(edges[1:] - edges[:-1], 1)
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def _activation(levels_db: np.ndarray, fps: float) -> np.ndarray:
    """A source's per-frame visual drive in [0, 1].

    0.75 x where its level sits within ON_RANGE_DB of its loudest frame (in dB: loudness is heard on a log
    scale), plus 0.25 x a gate that opens at once when the source starts sounding and closes over RELEASE_S
    after it stops: onsets show at once, as a struck or switched-on object does, and ends fade as sounds do.
    """
    top = float(levels_db.max(initial=-120.0))
    position = np.clip((levels_db - (top - ON_RANGE_DB)) / ON_RANGE_DB, 0.0, 1.0)
    gate = np.zeros_like(position)
    step = 1.0 / max(1.0, RELEASE_S * fps)
    for i in range(position.size):
        gate[i] = 1.0 if position[i] > 0 else max(0.0, (gate[i - 1] if i else 0.0) - step)
    return 0.75 * position + 0.25 * gate


# --- pictures ------------------------------------------------------------------------------------------------------

_SHIFT = 4  # OpenCV fixed-point bits: coordinates in 1/16 pixel, so sizes change smoothly
_ONE = 1 << _SHIFT


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x * _ONE), round(y * _ONE)


class _Painter:
    """Draws the frames of one clip: a fixed background, the sources, the blinking face, the drifting blob."""

    def __init__(self, size: tuple[int, int], sources: list[Source], rng: np.random.Generator) -> None:
        import cv2

        self.cv2 = cv2
        self.w, self.h = size
        top, bottom = rng.uniform(60, 200, 3), rng.uniform(30, 140, 3)
        ramp = np.linspace(0.0, 1.0, self.h)[:, None, None]
        gradient = (top * (1 - ramp) + bottom * ramp) * np.ones((1, self.w, 1))
        coarse = rng.uniform(-18, 18, (max(2, self.h // 24), max(2, self.w // 24), 3))
        texture = cv2.resize(coarse, (self.w, self.h), interpolation=cv2.INTER_CUBIC)
        self.background = np.clip(gradient + texture, 0, 255).astype(np.uint8)
        noise = rng.integers(0, SENSOR_NOISE + 1, (NOISE_BANK, self.h, self.w, 1), dtype=np.uint8)
        self.noise = np.repeat(noise, 3, axis=3)
        self.sources = sources
        self.colours = {s.name: COLOURS[i % len(COLOURS)] for i, s in enumerate(sources)}
        self.shapes = {s.name: SHAPES[i % len(SHAPES)] for i, s in enumerate(sources)}
        self.drift = (rng.uniform(6, 11), rng.uniform(5, 9), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi))

    def frame(self, index: int, t: float, activation: dict[str, float], blink: bool, moving: bool) -> np.ndarray:
        img = self.cv2.add(self.background, self.noise[index % NOISE_BANK])
        self._blob(img, t if moving else 0.0)
        for source in self.sources:
            a = activation[source.name] if moving else 0.0
            if source.kind == "speech":
                self._face(img, source, a, blink and moving)
            else:
                self._object(img, source, a)
        return img

    def _blob(self, img: np.ndarray, t: float) -> None:
        t1, t2, p1, p2 = self.drift
        x = self.w * (0.5 + 0.42 * np.sin(2 * np.pi * t / t1 + p1))
        y = self.h * (0.5 + 0.38 * np.sin(2 * np.pi * t / t2 + p2))
        self.cv2.circle(img, _pt(x, y), round(0.07 * self.h * _ONE), (170, 170, 185), -1, self.cv2.LINE_AA, _SHIFT)

    def _object(self, img: np.ndarray, source: Source, a: float) -> None:
        cv2 = self.cv2
        full = np.array(self.colours[source.name], dtype=np.float64)
        colour = tuple(float(c) for c in full * (0.3 + 0.7 * a))
        r = source.radius * self.h * (1.0 + 0.4 * a)
        x, y = source.centre[0] * self.w, source.centre[1] * self.h - 0.3 * a * source.radius * self.h
        shape = self.shapes[source.name]
        if shape == "circle":
            cv2.circle(img, _pt(x, y), round(r * _ONE), colour, -1, cv2.LINE_AA, _SHIFT)
            return
        corners = {
            "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
            "triangle": [(0, -1.2), (1.1, 0.9), (-1.1, 0.9)],
            "diamond": [(0, -1.3), (1, 0), (0, 1.3), (-1, 0)],
        }[shape]
        pts = np.array([_pt(x + cx * r, y + cy * r) for cx, cy in corners], dtype=np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA, _SHIFT)

    def _face(self, img: np.ndarray, source: Source, a: float, blink: bool) -> None:
        cv2 = self.cv2
        r = source.radius * self.h
        x, y = source.centre[0] * self.w, source.centre[1] * self.h
        cv2.ellipse(img, _pt(x, y), _pt(0.78 * r, r), 0, 0, 360, (228, 186, 150), -1, cv2.LINE_AA, _SHIFT)
        for side in (-1, 1):
            eye = _pt(x + side * 0.33 * r, y - 0.25 * r)
            if blink:
                cv2.ellipse(img, eye, _pt(0.12 * r, 0.015 * r), 0, 0, 360, (60, 40, 30), -1, cv2.LINE_AA, _SHIFT)
            else:
                cv2.circle(img, eye, round(0.1 * r * _ONE), (40, 30, 25), -1, cv2.LINE_AA, _SHIFT)
        mouth = _pt(0.34 * r, 0.025 * r + 0.3 * r * a)
        cv2.ellipse(img, _pt(x, y + 0.45 * r), mouth, 0, 0, 360, (120, 30, 40), -1, cv2.LINE_AA, _SHIFT)


def _blinks(n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Frames with the eyes shut: a 0.12 s blink every 1.5-4.5 s."""
    shut = np.zeros(n_frames, dtype=bool)
    t = rng.uniform(0.5, 2.5)
    while t < n_frames / fps:
        i = round(t * fps)
        shut[i : i + max(1, round(0.12 * fps))] = True
        t += rng.uniform(1.5, 4.5)
    return shut


# --- encoding ------------------------------------------------------------------------------------------------------


def _write_mp4(path: Path, frames, n_frames: int, fps: float, size: tuple[int, int], audio: np.ndarray) -> None:
    """Mux H.264 video (x264 ultrafast, yuv420p) and mono AAC audio, interleaved per video frame."""
    import av

    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "20", "tune": "zerolatency"}
        sound = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        block, written = 1024, 0
        for i, img in enumerate(frames):
            out.mux(video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            due = min(audio.size, round((i + 1) * SAMPLE_RATE / fps))
            while written < due:
                chunk = audio[written : written + block]
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                frame.sample_rate, frame.pts = SAMPLE_RATE, written
                out.mux(sound.encode(frame))
                written += chunk.size
        out.mux(video.encode(None))
        out.mux(sound.encode(None))


# --- entry point ---------------------------------------------------------------------------------------------------


def make_clip(
    out_path: str | Path,
    *,
    seed: int = 0,
    duration_s: float = 10.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    fps: float = DEFAULT_FPS,
    n_objects: int = 2,
    speech: bool = True,
    visual_events: bool = True,
    audio_offset_s: float = 0.0,
) -> SyntheticClip:
    """Generate one clip: real recordings on a timeline, shapes on screen that show when each one sounds.

    Parameters
    ----------
    out_path : path
        Where to write the mp4 (H.264 + AAC, mono 48 kHz).
    seed : int
        Everything random (sources, positions, times, levels, colours, blinks) follows from it.
    duration_s : float in [2, 120]
    size : (width, height), both even and in [64, 3840]
    fps : float in [5, 60]
    n_objects : int in [0, 6]
        Object sources (freedesktop sounds); `speech` adds a talking face (asterisk / alsa speech).
    visual_events : bool
        False renders a still picture (nothing moves: no blob, no blinks, no sources reacting): a clip with no
        visual sync cue, for testing the scorer's `no_sync_cue` path.
    audio_offset_s : float in [-3, 3]
        Delay of the audio track relative to the pictures (> 0: sounds come after their pictures). Event times
        in the ground truth are in video time.

    Returns
    -------
    SyntheticClip
    """
    _check(duration_s, size, fps, n_objects, audio_offset_s, speech)
    rng = np.random.default_rng(seed)
    sources = _choose_sources(rng, n_objects, speech)
    placed = {s.name: _place_events(s, duration_s, rng) for s in sources}
    n_samples, n_frames = round(duration_s * SAMPLE_RATE), round(duration_s * fps)
    seen = _tracks(sources, placed, n_samples, 0.0)
    heard = _tracks(sources, placed, n_samples, audio_offset_s)
    mix = np.sum(list(heard.values()), axis=0) + _room_tone(n_samples, rng)
    peak = float(np.max(np.abs(mix)))
    if peak > MIX_PEAK:
        mix *= MIX_PEAK / peak
    activation = {name: _activation(frame_levels(track, n_frames, fps), fps) for name, track in seen.items()}
    painter, blinks = _Painter(size, sources, rng), _blinks(n_frames, fps, rng)
    frames = (
        painter.frame(i, i / fps, {k: float(v[i]) for k, v in activation.items()}, bool(blinks[i]), visual_events)
        for i in range(n_frames)
    )
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_mp4(path, frames, n_frames, fps, size, mix.astype(np.float32))
    events = tuple(sorted((e for pairs in placed.values() for e, _ in pairs), key=lambda e: e.start_s))
    return SyntheticClip(
        path,
        mix.astype(np.float32)[None, :],
        SAMPLE_RATE,
        float(fps),
        tuple(size),
        float(duration_s),
        float(audio_offset_s),
        seed,
        tuple(sources),
        events,
        visual_events,
    )


def _check(duration_s: float, size: tuple[int, int], fps: float, n_objects: int, offset_s: float, speech: bool) -> None:
    if not 2.0 <= duration_s <= 120.0:
        raise SyntheticMediaError(f"duration_s must be in [2, 120], got {duration_s}")
    if len(size) != 2 or any(v % 2 or not 64 <= v <= 3840 for v in size):
        raise SyntheticMediaError(f"size must be (width, height), even, each in [64, 3840], got {size}")
    if not 5.0 <= fps <= 60.0:
        raise SyntheticMediaError(f"fps must be in [5, 60], got {fps}")
    if not 0 <= n_objects <= 6 or (n_objects == 0 and not speech):
        raise SyntheticMediaError(f"n_objects must be in [0, 6] with at least one source, got {n_objects}")
    if not -3.0 <= offset_s <= 3.0:
        raise SyntheticMediaError(f"audio_offset_s must be in [-3, 3], got {offset_s}")
