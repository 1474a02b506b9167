"""Audio-reliance probes: copies of an evaluation set with the audio removed, replaced or misaligned.

Dolphin's introduction shows AV-LLMs answer the same when the soundtrack is replaced by white noise
(../shared/notes/dolphin.md §6). Running a model on these variants and scoring each with `avagent eval
--variant NAME` measures how much it uses the audio: the drop from the original must be positive.

Variants (``--variants``; the default set is the issue's):

- ``no_audio``: the audio stream is removed.
- ``white_noise``: Gaussian white noise at the original's RMS level (-30 dBFS for a silent original), seeded.
- ``swapped``: the audio of another clip of the set (a seeded derangement), cut or zero-padded to this clip's
  audio length and converted to its rate and channel count.
- ``shift_plus`` / ``shift_minus``: the audio delayed / advanced by ``shift_s`` (default 1 s), keeping its
  length: zeros fill the gap, the overhanging end is dropped. Named ``shift_plus_1s`` / ``shift_minus_1s``.
- ``silence`` (extra): the audio replaced by digital silence of the same length.

Video packets are copied untouched; the new audio is encoded with the container's usual codec (AAC for MP4 /
MOV, PCM for MKV / AVI, Opus for WebM). The input manifest is a text file of video paths (one per line) or a
JSONL / JSON list of records with a media key (``video``, ``video_path``, ``path``, ``media`` or ``file``) and
an optional ``id``; each variant gets ``<out>/<variant>/manifest.jsonl`` with the same records, the media path
replaced and a ``probe`` entry describing the change. Clips without an audio stream get only ``no_audio``;
everything skipped is listed with its reason in ``<out>/probes.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from avagent.avllm.evaluate.errors import ProbeError
from avagent.core.errors import ParameterError

DEFAULT_VARIANTS = ("no_audio", "white_noise", "swapped", "shift_plus", "shift_minus")
ALL_VARIANTS = (*DEFAULT_VARIANTS, "silence")
SILENT_RMS = 1e-4  # below this RMS an original counts as silent
SILENT_NOISE_RMS = 10 ** (-30 / 20)  # white noise level for silent originals: -30 dBFS
AUDIO_CHUNK = 1024  # samples per encoded audio frame (AAC frame size)
INTERLEAVE_LEAD_S = 0.5  # audio is muxed up to this far ahead of the current video packet
MEDIA_KEYS = ("video", "video_path", "path", "media", "file")
NOISE_SALT = 0x6E6F697365  # "noise": keeps the noise streams apart from plain default_rng(seed) streams
OPUS_RATE = 48000  # Opus encodes 48 kHz
_CODECS = {
    ".mp4": "aac",
    ".m4v": "aac",
    ".mov": "aac",
    ".m4a": "aac",
    ".mkv": "pcm_s16le",
    ".avi": "pcm_s16le",
    ".webm": "libopus",
    ".wav": "pcm_s16le",
}


@dataclass(frozen=True)
class Clip:
    """One manifest entry."""

    id: str
    path: Path
    record: dict[str, Any]  # the manifest record, written back with the media path replaced
    media_key: str


@dataclass(frozen=True)
class Audio:
    """Decoded audio: samples (channels, n) float32 in [-1, 1], rate and channel layout name."""

    samples: np.ndarray
    rate: int
    layout: str


@dataclass(frozen=True)
class ProbeReport:
    """What `build_probes` wrote."""

    out_dir: Path
    manifests: dict[str, str]  # variant label -> manifest path
    built: dict[str, int]  # variant label -> clips written
    skipped: list[dict[str, str]] = field(default_factory=list)  # {id, variant, reason}
    options: dict[str, Any] = field(default_factory=dict)


def variant_label(name: str, shift_s: float) -> str:
    """Folder and results name of a variant ("shift_plus" -> "shift_plus_1s")."""
    return f"{name}_{abs(shift_s):g}s" if name.startswith("shift_") else name


# --- signal transforms (time on the last axis) --------------------------------------------------------------


def white_noise_like(y: np.ndarray, *, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Gaussian white noise with `y`'s shape and RMS (or -30 dBFS if `y` is silent); returns (noise, rms)."""
    rms = float(np.sqrt(np.mean(np.square(y)))) if y.size else 0.0
    level = rms if rms >= SILENT_RMS else SILENT_NOISE_RMS
    noise = rng.standard_normal(y.shape).astype(np.float32) * level
    return np.clip(noise, -1.0, 1.0), level


def shift_audio(y: np.ndarray, sr: int, *, shift_s: float) -> np.ndarray:
    """`y` delayed (shift_s > 0) or advanced (< 0) by `shift_s` seconds, same length, zeros in the gap."""
    k = min(round(abs(shift_s) * sr), y.shape[-1])
    out = np.zeros_like(y)
    if shift_s > 0:
        out[..., k:] = y[..., : y.shape[-1] - k]
    else:
        out[..., : y.shape[-1] - k] = y[..., k:]
    return out


def fit_audio(donor: Audio, *, rate: int, channels: int, n: int) -> np.ndarray:
    """`donor` resampled to `rate`, mixed / repeated to `channels`, cut or zero-padded to `n` samples."""
    y = donor.samples
    if donor.rate != rate:
        from scipy.signal import resample_poly

        g = gcd(donor.rate, rate)
        y = resample_poly(y, rate // g, donor.rate // g, axis=-1).astype(np.float32)
    if y.shape[0] != channels:
        y = np.repeat(y.mean(axis=0, keepdims=True), channels, axis=0)
    out = np.zeros((channels, n), dtype=np.float32)
    m = min(n, y.shape[-1])
    out[:, :m] = y[:, :m]
    return out


# --- media I/O ----------------------------------------------------------------------------------------------


def read_audio(path: Path) -> Audio | None:
    """First audio stream of a media file, decoded to float32 planar; None when there is none."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            layout, rate = stream.layout.name, stream.rate
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            chunks = [f.to_ndarray() for frame in container.decode(stream) for f in resampler.resample(frame)]
            chunks += [f.to_ndarray() for f in resampler.resample(None)]
    except av.FFmpegError as e:
        raise ProbeError(f"cannot decode audio of {path}: {e}") from e
    channels = stream.layout.nb_channels
    samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), dtype=np.float32)
    return Audio(samples.astype(np.float32), int(rate), layout)


def _audio_frames(audio: Audio) -> Iterator[Any]:
    import av

    y = np.ascontiguousarray(audio.samples, dtype=np.float32)
    for start in range(0, y.shape[-1], AUDIO_CHUNK):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(y[:, start : start + AUDIO_CHUNK]), format="fltp", layout=audio.layout
        )
        frame.sample_rate, frame.pts, frame.time_base = audio.rate, start, Fraction(1, audio.rate)
        yield frame


def _packet_time(packet: Any) -> float:
    ts = packet.pts if packet.pts is not None else packet.dts
    return float(ts * packet.time_base) if ts is not None and packet.time_base else 0.0


def write_with_audio(src: Path, dst: Path, audio: Audio | None) -> None:
    """Copy `src`'s first video stream into `dst` with `audio` as its only audio track (None: no audio)."""
    import av

    codec = _CODECS.get(dst.suffix.lower(), "aac")
    if audio is not None and codec == "libopus" and audio.rate != OPUS_RATE:
        channels = audio.samples.shape[0]
        samples = fit_audio(
            audio, rate=OPUS_RATE, channels=channels, n=audio.samples.shape[-1] * OPUS_RATE // audio.rate
        )
        audio = Audio(samples, OPUS_RATE, audio.layout)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
            vin = inp.streams.video[0] if inp.streams.video else None
            vout = out.add_stream_from_template(vin) if vin is not None else None
            aout = None if audio is None else out.add_stream(codec, rate=audio.rate, layout=audio.layout)
            frames = _audio_frames(audio) if audio is not None else iter(())
            pending = next(frames, None)
            for packet in inp.demux(vin) if vin is not None else ():
                if packet.dts is None:
                    continue
                while pending is not None and pending.pts / audio.rate < _packet_time(packet) + INTERLEAVE_LEAD_S:
                    out.mux(aout.encode(pending))
                    pending = next(frames, None)
                packet.stream = vout
                out.mux(packet)
            while pending is not None:
                out.mux(aout.encode(pending))
                pending = next(frames, None)
            if aout is not None:
                out.mux(aout.encode(None))
    except av.FFmpegError as e:
        dst.unlink(missing_ok=True)
        raise ProbeError(f"cannot write probe {dst}: {e}") from e


# --- manifests ----------------------------------------------------------------------------------------------


def _manifest_records(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ProbeError(f"cannot read manifest {path}: {e}") from e
    try:
        if path.suffix.lower() == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            return data if isinstance(data, list) else data.get("samples", [])
    except (json.JSONDecodeError, AttributeError) as e:
        raise ProbeError(f"manifest {path} is not a JSON list / JSONL of records: {e}") from e
    lines = [line.strip() for line in text.splitlines()]
    return [{"video": line} for line in lines if line and not line.startswith("#")]


def read_manifest(path: Path) -> list[Clip]:
    """Clips of a manifest (formats in the module docstring); ids must be unique and media must exist."""
    clips, seen = [], set()
    for number, record in enumerate(_manifest_records(path), 1):
        key = next((k for k in MEDIA_KEYS if isinstance(record, dict) and record.get(k)), None)
        if key is None:
            raise ProbeError(f"{path}: entry {number} has no media path ({', '.join(MEDIA_KEYS)})")
        media = Path(str(record[key])).expanduser()
        media = media if media.is_absolute() else path.parent / media
        if not media.is_file():
            raise ProbeError(f"{path}: entry {number}: media file not found: {media}")
        clip_id = str(record.get("id") or media.stem)
        if clip_id in seen:
            raise ProbeError(f"{path}: duplicate clip id {clip_id!r}")
        seen.add(clip_id)
        clips.append(Clip(clip_id, media, dict(record), key))
    if not clips:
        raise ProbeError(f"manifest {path} lists no media")
    return clips


# --- building -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeOptions:
    """How probes are built."""

    variants: tuple[str, ...] = field(default=DEFAULT_VARIANTS, metadata={"help": "variants to build"})
    shift_s: float = field(default=1.0, metadata={"help": "audio shift of the shift variants, seconds"})
    seed: int = field(default=0, metadata={"help": "seed of the noise and of the swap derangement"})

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in ALL_VARIANTS]
        if unknown or not self.variants:
            raise ParameterError(f"unknown probe variants {unknown}; choose from {', '.join(ALL_VARIANTS)}")
        if not 0 < self.shift_s <= 60:
            raise ParameterError("shift_s must be in (0, 60] seconds")


def _safe_name(clip_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", clip_id).strip("._") or "clip"


def swap_donors(ids: list[str], seed: int) -> dict[str, str]:
    """Each id -> the id whose audio it receives: a seeded cyclic derangement (nobody keeps their own)."""
    order = list(ids)
    np.random.default_rng(seed).shuffle(order)
    return {order[i]: order[(i + 1) % len(order)] for i in range(len(order))} if len(order) > 1 else {}


def _variant_audio(name: str, clip: Clip, audio: Audio, ctx: _BuildContext) -> tuple[Audio | None, dict]:
    y = audio.samples
    if name == "silence":
        return Audio(np.zeros_like(y), audio.rate, audio.layout), {}
    if name == "white_noise":
        rng = np.random.default_rng([ctx.options.seed, ctx.index[clip.id], NOISE_SALT])
        noise, level = white_noise_like(y, rng=rng)
        return Audio(noise, audio.rate, audio.layout), {"noise_rms": level, "seed": ctx.options.seed}
    if name.startswith("shift_"):
        shift = ctx.options.shift_s if name == "shift_plus" else -ctx.options.shift_s
        return Audio(shift_audio(y, audio.rate, shift_s=shift), audio.rate, audio.layout), {"shift_s": shift}
    donor_id = ctx.donors[clip.id]
    donor = ctx.audio[donor_id]
    fitted = fit_audio(donor, rate=audio.rate, channels=y.shape[0], n=y.shape[-1])
    return Audio(fitted, audio.rate, audio.layout), {"audio_from": donor_id}


@dataclass
class _BuildContext:
    options: ProbeOptions
    audio: dict[str, Audio | None]
    donors: dict[str, str]
    index: dict[str, int]


def _build_one(name: str, clip: Clip, ctx: _BuildContext, dst: Path) -> dict[str, Any]:
    audio = ctx.audio[clip.id]
    if name == "no_audio":
        write_with_audio(clip.path, dst, None)
        return {}
    if audio is None:
        raise _Skip("no audio stream")
    if name == "swapped" and clip.id not in ctx.donors:
        raise _Skip("swapping needs at least two clips with audio")
    new_audio, details = _variant_audio(name, clip, audio, ctx)
    write_with_audio(clip.path, dst, new_audio)
    return details


class _Skip(Exception):
    pass


def _build_variant(name: str, clips: list[Clip], ctx: _BuildContext, out_dir: Path, report: ProbeReport) -> None:
    label = variant_label(name, ctx.options.shift_s)
    records = []
    for clip in clips:
        dst = out_dir / label / f"{_safe_name(clip.id)}{clip.path.suffix.lower() or '.mp4'}"
        try:
            details = _build_one(name, clip, ctx, dst)
        except _Skip as e:
            report.skipped.append({"id": clip.id, "variant": label, "reason": str(e)})
            continue
        probe = {"variant": label, "source": str(clip.path), **details}
        records.append({**clip.record, clip.media_key: str(dst.resolve()), "id": clip.id, "probe": probe})
    manifest_path = out_dir / label / "manifest.jsonl"
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    report.manifests[label] = str(manifest_path)
    report.built[label] = len(records)


def build_probes(manifest: Path, out_dir: Path, options: ProbeOptions | None = None) -> ProbeReport:
    """Write every probe variant of the clips in `manifest` under `out_dir` (layout in the module docstring).

    Parameters
    ----------
    manifest : Path
        Text list of media paths, or JSONL / JSON records with a media key.
    out_dir : Path
        Output root; ``<out_dir>/<variant>/`` gets the media and ``manifest.jsonl``.
    options : ProbeOptions, optional
        Variants, shift and seed.

    Returns
    -------
    ProbeReport
        Manifests written, clips per variant and skipped clips (also saved as ``<out_dir>/probes.json``).
    """
    options = options or ProbeOptions()
    clips = read_manifest(manifest)
    decoded = {c.id: read_audio(c.path) for c in clips}
    donors = swap_donors([c.id for c in clips if decoded[c.id] is not None], options.seed)
    ctx = _BuildContext(options, decoded, donors, {c.id: i for i, c in enumerate(clips)})
    report = ProbeReport(out_dir, {}, {}, [], asdict(options))
    for name in options.variants:
        _build_variant(name, clips, ctx, out_dir, report)
    summary = {**asdict(report), "out_dir": str(out_dir)}
    (out_dir / "probes.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return report
