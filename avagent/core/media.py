"""Media I/O with PyAV: probe, decode audio, lazy video frames, write audio, remux video with new audio.

Reading
    Any container PyAV opens (mp4, mov, mkv, webm, avi, ...) and audio files (wav, flac, ogg, mp3, ...).
    Audio is decoded to float32 ``(channels, samples)`` at its native rate and channel layout. Video frames
    are never decoded up front: `Clip.frames` opens the file, seeks and yields RGB frames one at a time, with
    their presentation times. AVI stores no presentation times (and FFmpeg's guesses are permuted for DivX/Xvid
    packed B-frames): there a frame's time is its slot in the index, from the dts (`_FrameClock`).

Limits (`MediaLimits`)
    The file size is checked with ``os.stat`` before the file is opened; duration and frame size are checked
    from the header before anything is decoded; the decoded audio is bounded by ``max_duration_s`` even when
    the header lies; each open/read is interrupted after ``decode_timeout_s`` (PyAV's interrupt callback)
    and the decode loops check their elapsed time, so a malformed or truncated file ends in a typed error
    instead of a hang.

Errors
    Every failure is a subclass of `avagent.core.errors.MediaError` (reading) or `MediaWriteError` (writing)
    with a one-line message; PyAV errors are wrapped with ``from e``. A file FFmpeg cannot open is a
    `CorruptMediaError` when its first bytes carry a known container signature (e.g. an mp4 cut before its
    ``moov`` atom) and a `NotMediaError` otherwise. Audio that decodes to much less than its stream header
    declares is a truncated file (`CorruptMediaError`), except for formats whose header duration is only a
    bitrate estimate. A few damaged audio packets (at most MAX_BAD_PACKETS, or BAD_PACKET_FRACTION of them)
    decode to silence of their duration; more make the file corrupt. FFmpeg's own log lines are silenced
    (`FFMPEG_LOG_LEVEL`).

Writing
    `write_audio`: ``.wav`` as 32-bit float (the exact float32 samples, overs above 0 dBFS survive) and
    ``.flac`` as 24-bit PCM (FLAC has no float; samples are clipped to [-1, 1]).
    `write_video_with_audio`: the source's video packets are copied unchanged (no re-encode) next to one
    newly encoded audio track: AAC in mp4/m4v/mov, Opus in mkv/webm, 16-bit PCM in avi (which cannot signal
    an encoder delay). The new audio starts where the source audio started and is trimmed/padded with
    silence to the source audio's duration, so output durations and start times match the input; the
    encoder delay (AAC priming, Opus pre-skip) is signalled by the muxer (mp4 edit list, Matroska
    CodecDelay), so decoders drop it. Other source streams (old audio, subtitles, data) are not copied.
    Packets without timestamps (e.g. avi/mpeg4) get generated pts (``fflags=+genpts``); if a container
    still refuses the stream (for instance h264 into webm), a `MediaWriteError` names the pair and suggests
    ``.mkv``.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.error
import av.logging
import numpy as np
import soundfile as sf
import soxr

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

__all__ = [
    "AudioInfo",
    "Clip",
    "MediaInfo",
    "VideoInfo",
    "load_audio",
    "load_clip",
    "probe",
    "write_audio",
    "write_video_with_audio",
]

_DEFAULT_LIMITS = MediaLimits()

# FFmpeg's own log lines ("moov atom not found", "Header missing") stay off stderr: the user-facing message is
# our typed one-line error. None installs PyAV's C no-op log callback (PyAV's default, re-asserted at import in
# case another module changed it). Not ERROR or PANIC: any level installs PyAV's Python log callback, which
# takes the GIL from FFmpeg's decoder threads and can deadlock frame-threaded decoding (PyAV #751, #2276; seen
# here as a hang in `Clip.frames` on h264), and at ERROR Python logging's last-resort handler prints the lines.
# Process-wide; `av.logging.restore_default_callback()` shows FFmpeg's logs again for debugging.
FFMPEG_LOG_LEVEL = None
av.logging.set_level(FFMPEG_LOG_LEVEL)
FFMPEG_LOG_CHARS = 120  # longest FFmpeg log line quoted in an error message

# Audio codec of the new track for each output container (encoder names as FFmpeg spells them).
AUDIO_CODEC_BY_SUFFIX = {
    ".mp4": "aac",
    ".m4v": "aac",
    ".mov": "aac",
    ".mkv": "libopus",
    ".webm": "libopus",
    ".avi": "pcm_s16le",  # AVI cannot signal an encoder delay (a lossy codec's priming would shift the video)
}
_CODEC_ALIASES = {"opus": "libopus", "mp3": "libmp3lame"}
OPUS_RATE = 48_000  # Opus always runs at 48 kHz; other rates are resampled with soxr first
FALLBACK_RATE = 48_000  # used when an encoder does not support the input rate
AUDIO_CHUNK_S = 0.5  # audio handed to the encoder (and interleaved with video packets) in 0.5 s frames
MAX_CHANNELS = 64  # more "channels" than this means the array is (samples, channels)
# soundfile (format, subtype) per suffix: float WAV keeps float32 exactly; FLAC has no float, 24 bits suffice.
AUDIO_FILE_FORMATS = {".wav": ("WAV", "FLOAT"), ".flac": ("FLAC", "PCM_24")}
# FFmpeg channel layout for each channel count (the Vorbis/Opus orders, which AAC and MP3 accept too).
_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}

# Truncation check: decoded audio shorter than the stream header declares by both margins means a cut file.
TRUNCATED_FRACTION = 0.9
TRUNCATED_MIN_S = 0.5
# Demuxers whose header duration is a bitrate estimate, not a count: no truncation check for them.
_ESTIMATED_DURATION_FORMATS = frozenset({"mp3", "aac", "ac3", "eac3", "mpeg", "mpegts", "h264", "hevc", "m4v"})
# Demuxers that store no presentation times, only the order of an index: frame times come from the dts there.
_DTS_TIMELINE_FORMATS = frozenset({"avi"})
# There a seek goes this many frames before start_s: the B-frames that follow a keyframe in the file but precede
# it on screen (open GOP) are lost when decoding starts at that keyframe, and may lie at or after start_s.
SEEK_PREROLL_FRAMES = 8
# Slack on the decoded-audio bound (1 s beyond max_duration_s) for encoder padding.
DURATION_SLACK_S = 1.0
# Room beyond the declared length in the first allocation of decoded audio (a few codec frames).
FRAME_SLACK_SAMPLES = 8192
# Damaged packets tolerated before a file counts as corrupt: at most this many, or this fraction of all packets.
MAX_BAD_PACKETS = 3
BAD_PACKET_FRACTION = 0.02
DEFAULT_PACKET_SAMPLES = 1536  # one AC3 frame; used when a damaged packet carries no duration

# (offset, signature, name): first bytes of containers FFmpeg reads; tells corrupt files from non-media.
_SIGNATURES = (
    (4, b"ftyp", "MP4/MOV"),
    (4, b"moov", "MOV"),
    (4, b"mdat", "MOV"),
    (4, b"wide", "MOV"),
    (4, b"free", "MOV"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"RIFF", "RIFF (WAV/AVI)"),
    (0, b"OggS", "Ogg"),
    (0, b"fLaC", "FLAC"),
    (0, b"ID3", "MP3"),
    (0, b"FLV", "FLV"),
    (0, b"\x30\x26\xb2\x75", "ASF/WMV"),
    (0, b"FORM", "AIFF"),
    (0, b"caff", "CAF"),
    (0, b"\x00\x00\x01\xba", "MPEG-PS"),
)


# --- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    fps: float  # average frame rate, frames/s
    width: int  # pixels
    height: int  # pixels
    duration_s: float  # stream duration (container duration if the stream has none; 0.0 if unknown)
    frame_count: int  # from the stream header, else round(duration_s * fps)
    codec: str  # FFmpeg codec (not decoder) name, e.g. "h264", "vp9"
    start_time_s: float  # pts of the first frame on the file's timeline


@dataclass(frozen=True)
class AudioInfo:
    codec: str  # FFmpeg codec (not decoder) name, e.g. "aac", "mp3", "opus"
    channels: int
    sample_rate: int  # Hz
    duration_s: float  # stream duration (container duration if the stream has none; 0.0 if unknown)
    start_time_s: float  # pts of the first sample on the file's timeline


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    format_name: str  # FFmpeg demuxer, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    file_bytes: int
    duration_s: float  # container duration (0.0 if unknown)
    start_time_s: float  # container start time
    bit_rate: int  # bits/s (0 if unknown)
    audio: AudioInfo | None  # the best audio stream, None if there is none
    video: VideoInfo | None  # the best video stream (cover art excluded), None if there is none


@dataclass(frozen=True, eq=False)
class Clip:
    """Decoded audio plus video metadata; video frames are read lazily with `frames`."""

    path: Path
    audio: np.ndarray | None  # float32 (channels, samples) at the native rate; None without an audio stream
    sample_rate: int  # Hz; 0 without audio
    audio_info: AudioInfo | None
    video: VideoInfo | None
    info: MediaInfo | None = field(default=None, repr=False)  # the probe this clip was loaded with
    limits: MediaLimits = field(default_factory=MediaLimits, repr=False)  # applied again by `frames`

    @property
    def duration_s(self) -> float:
        """Container duration, or the longest stream when the container has none."""
        if self.info is not None and self.info.duration_s > 0:
            return self.info.duration_s
        audio_s = self.audio.shape[-1] / self.sample_rate if self.audio is not None and self.sample_rate else 0.0
        return max(audio_s, self.video.duration_s if self.video else 0.0)

    def frames(
        self,
        fps: float | None = None,
        size: tuple[int, int] | None = None,
        start_s: float = 0.0,
        end_s: float | None = None,
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(timestamp_s, rgb)`` lazily: uint8 arrays of shape (height, width, 3).

        Parameters
        ----------
        fps : float > 0 or None
            Target rate. Each target time ``start_s + k / fps`` takes the nearest decoded frame (a frame is
            yielded at most once, so asking for more than the source rate yields every frame). None: every
            frame.
        size : (width, height) or None
            Scale in the decoder's converter (swscale; area averaging when shrinking). None: native size.
        start_s, end_s : float
            Window on the file's timeline (the same timeline as the timestamps): frames with
            ``start_s <= t < end_s``. The reader seeks to the keyframe before ``start_s`` (on AVI, before
            ``start_s`` minus SEEK_PREROLL_FRAMES frames).

        Timestamps are presentation times in seconds and increase; on AVI, which stores none, they are the
        frames' slots in the index, ``start + slot / fps`` (see `_FrameClock`).

        Only the frames of the window are decoded, and only the yielded ones are converted to RGB. The
        wall-clock time spent decoding (not the time the caller holds a frame) is bounded by
        ``limits.decode_timeout_s``.
        """
        _check_frames_args(fps, size, start_s, end_s)
        if self.video is None:
            raise NoVideoStreamError(f"{self.path}: no video stream")
        return _iter_frames(self.path, self.video, self.limits, fps, size, start_s, end_s)


# --- opening and errors -------------------------------------------------------------------------------------


def _check_path(path: str | os.PathLike[str], limits: MediaLimits) -> tuple[Path, int]:
    """Stat the path before opening: missing, unreadable, not a file, empty or too large."""
    p = Path(path)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise MediaNotFoundError(f"{p}: no such file") from e
    except PermissionError as e:
        raise MediaPermissionError(f"{p}: permission denied") from e
    except OSError as e:
        raise MediaError(f"{p}: cannot access the file ({e.strerror})") from e
    if stat.S_ISDIR(st.st_mode):
        raise NotMediaError(f"{p} is a directory, not a media file")
    if not stat.S_ISREG(st.st_mode):
        raise NotMediaError(f"{p} is not a regular file")
    if st.st_size == 0:
        raise EmptyMediaError(f"{p} is empty (0 bytes)")
    if st.st_size > limits.max_file_bytes:
        raise MediaTooLargeError(f"{p} is {st.st_size} bytes, above the {limits.max_file_bytes}-byte limit")
    if not os.access(p, os.R_OK):
        raise MediaPermissionError(f"{p}: permission denied")
    return p, st.st_size


def _signature(path: Path) -> str | None:
    """Name of the container whose signature the file starts with, None if none matches."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    for offset, magic, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "MPEG audio"
    return None


def _reason(e: Exception) -> str:
    """One-line cause: the error's text, plus FFmpeg's last error line (PyAV's ``e.log``) when logging is on."""
    reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
    log = getattr(e, "log", None)  # PyAV: (level, component, message), or None
    detail = " ".join(str(log[2]).split())[:FFMPEG_LOG_CHARS] if log and len(log) > 2 else ""
    return f"{reason}: {detail}" if detail and detail not in reason else reason


def _open_error(path: Path, e: av.error.FFmpegError, timed_out: bool) -> MediaError:
    """Map an error raised while opening `path` to the matching typed error.

    An interrupted read often surfaces as InvalidDataError rather than ExitError, hence `timed_out`.
    """
    if timed_out or isinstance(e, av.error.ExitError):
        return DecodeTimeoutError(f"{path}: opening timed out")
    if isinstance(e, FileNotFoundError):
        return MediaNotFoundError(f"{path}: no such file")
    if isinstance(e, PermissionError):
        return MediaPermissionError(f"{path}: permission denied")
    kind = _signature(path)
    if kind is not None:
        return CorruptMediaError(f"{path}: looks like {kind} but cannot be read, corrupt or truncated ({_reason(e)})")
    return NotMediaError(f"{path} is not a media file PyAV can read ({_reason(e)})")


def _decode_error(path: Path, e: Exception, timed_out: bool = False) -> MediaError:
    """Map an error raised while demuxing or decoding `path` (`timed_out`: the time budget is spent)."""
    if timed_out or isinstance(e, av.error.ExitError):
        return DecodeTimeoutError(f"{path}: reading timed out")
    return CorruptMediaError(f"{path}: corrupt or truncated media ({_reason(e)})")


@contextmanager
def _open(path: Path, limits: MediaLimits, *, genpts: bool = False) -> Iterator[av.container.InputContainer]:
    """Open for reading with PyAV's per-operation timeout; `genpts` fills missing packet pts (avi)."""
    options = {"fflags": "+genpts"} if genpts else {}
    began = time.monotonic()
    try:
        container = av.open(str(path), "r", container_options=options, timeout=limits.decode_timeout_s)
    except av.error.FFmpegError as e:
        raise _open_error(path, e, time.monotonic() - began >= limits.decode_timeout_s) from e
    try:
        yield container
    finally:
        container.close()


class _Deadline:
    """Wall-clock budget for one decode; `check` raises DecodeTimeoutError once it is spent."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        self.end = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() > self.end

    def check(self) -> None:
        if self.expired():
            raise DecodeTimeoutError(f"{self.path}: decoding took longer than {self.seconds:g} s")


# --- probing ------------------------------------------------------------------------------------------------


def _best_stream(container: av.container.InputContainer, kind: str) -> av.stream.Stream | None:
    """FFmpeg's choice of the best stream of `kind`; attached pictures (cover art) are not video."""
    streams = [s for s in getattr(container.streams, kind) if not _is_cover_art(s)]
    if not streams:
        return None
    try:
        best = container.streams.best(kind)
    except (av.error.FFmpegError, ValueError):
        best = None
    return best if best in streams else streams[0]


def _is_cover_art(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _declared_duration_s(stream: av.stream.Stream) -> float | None:
    """Duration the stream header declares (Matroska keeps it in a DURATION tag), None if it has none."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            h, m, s = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(s)
        except ValueError:
            return None
    return None


def _start_s(stream: av.stream.Stream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _container_duration_s(container: av.container.InputContainer) -> float:
    return container.duration / av.time_base if container.duration and container.duration > 0 else 0.0


def _video_info(stream: av.video.stream.VideoStream, container_s: float) -> VideoInfo:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    duration_s = _declared_duration_s(stream) or container_s
    frame_count = stream.frames or round(duration_s * fps)
    ctx = stream.codec_context
    codec = ctx.codec.canonical_name
    return VideoInfo(fps, ctx.width, ctx.height, duration_s, frame_count, codec, _start_s(stream))


def _audio_info(stream: av.audio.stream.AudioStream, container_s: float) -> AudioInfo:
    ctx = stream.codec_context
    duration_s = _declared_duration_s(stream) or container_s
    return AudioInfo(ctx.codec.canonical_name, ctx.channels, ctx.sample_rate, duration_s, _start_s(stream))


def _media_info(path: Path, size: int, container: av.container.InputContainer) -> MediaInfo:
    audio, video = _best_stream(container, "audio"), _best_stream(container, "video")
    if audio is None and video is None:
        raise NotMediaError(f"{path} has no audio or video stream")
    container_s = _container_duration_s(container)
    start = container.start_time / av.time_base if container.start_time is not None else 0.0
    return MediaInfo(
        path=path,
        format_name=container.format.name,
        file_bytes=size,
        duration_s=container_s,
        start_time_s=start,
        bit_rate=container.bit_rate or 0,
        audio=_audio_info(audio, container_s) if audio is not None else None,
        video=_video_info(video, container_s) if video is not None else None,
    )


def _check_limits(info: MediaInfo, limits: MediaLimits) -> None:
    """Header checks, before anything is decoded: duration, frame size and zero length."""
    longest = max(info.duration_s, *(s.duration_s for s in (info.audio, info.video) if s is not None))
    if longest > limits.max_duration_s:
        raise MediaTooLongError(f"{info.path} lasts {longest:.1f} s, above the {limits.max_duration_s:g} s limit")
    if info.video is not None and info.video.width * info.video.height > limits.max_pixels:
        v = info.video
        raise MediaTooLargeError(f"{info.path}: {v.width}x{v.height} frames exceed the {limits.max_pixels}-pixel limit")
    if info.video is not None and info.video.width * info.video.height == 0 and info.audio is None:
        raise CorruptMediaError(f"{info.path}: the video stream has no frame size")
    durations = [info.duration_s] + [s.duration_s for s in (info.audio, info.video) if s is not None]
    frames = info.video.frame_count if info.video is not None else 0
    if frames == 0 and not any(durations):
        raise EmptyMediaError(f"{info.path} has zero duration")


def probe(path: str | os.PathLike[str], *, limits: MediaLimits = _DEFAULT_LIMITS) -> MediaInfo:
    """Read the header only: streams, durations, frame size, checked against `limits`.

    Raises a `MediaError` subclass: `MediaNotFoundError`, `MediaPermissionError`, `NotMediaError`,
    `EmptyMediaError`, `CorruptMediaError`, `MediaTooLargeError`, `MediaTooLongError` or `DecodeTimeoutError`.
    """
    p, size = _check_path(path, limits)
    with _open(p, limits) as container:
        info = _media_info(p, size, container)
    _check_limits(info, limits)
    return info


# --- audio decoding -----------------------------------------------------------------------------------------


class _SampleBuffer:
    """Float32 (channels, samples) audio filled block by block in one allocation sized from the header.

    It grows (x1.5, never past `limit` samples) when the header under-states the length, and shrinks in
    place at the end, so the peak memory is about one copy of the audio, not two (list + concatenate).
    """

    def __init__(self, expected: int, limit: int) -> None:
        self.capacity, self.limit = max(1, min(expected, limit)), limit
        self.channels = self.size = 0
        self.flat = np.empty(0, np.float32)  # channel-major: channel c at [c * capacity, c * capacity + size)

    def append(self, block: np.ndarray) -> None:
        if not self.channels:
            self.channels = block.shape[0]
            self.flat = np.empty(self.channels * self.capacity, np.float32)
        if block.shape[0] != self.channels:
            raise ValueError(f"the channel count changes mid-stream ({self.channels} -> {block.shape[0]})")
        end = self.size + block.shape[1]
        if end > self.limit:
            raise OverflowError("more samples than the duration limit allows")
        if end > self.capacity:
            self._reshape(min(self.limit, max(end, self.capacity * 3 // 2)))
        self.flat.reshape(self.channels, self.capacity)[:, self.size : end] = block
        self.size = end

    def _reshape(self, capacity: int) -> None:
        grown = np.empty(self.channels * capacity, np.float32)
        grown.reshape(self.channels, capacity)[:, : self.size] = self.view()
        self.flat, self.capacity = grown, capacity

    def view(self) -> np.ndarray:
        return self.flat.reshape(self.channels, self.capacity)[:, : self.size]

    def result(self) -> np.ndarray:
        """The samples as a C-contiguous (channels, samples) array, compacted and shrunk in place."""
        for c in range(1, self.channels):  # destination before source: safe for numpy's overlapping copy
            start = c * self.capacity
            self.flat[c * self.size : (c + 1) * self.size] = self.flat[start : start + self.size]
        self.flat.resize(self.channels * self.size, refcheck=False)  # no views of `flat` exist here
        self.capacity = self.size
        return self.flat.reshape(self.channels, self.size)


def _decode_audio(
    container: av.container.InputContainer, info: MediaInfo, limits: MediaLimits, deadline: _Deadline
) -> np.ndarray:
    """Decode the best audio stream to float32 (channels, samples), keeping rate and layout."""
    stream = _best_stream(container, "audio")
    assert stream is not None and info.audio is not None
    rate = info.audio.sample_rate
    expected = round(info.audio.duration_s * rate) + FRAME_SLACK_SAMPLES
    buffer = _SampleBuffer(expected, int((limits.max_duration_s + DURATION_SLACK_S) * rate))
    resampler = av.AudioResampler(format="fltp")  # layout and rate: the decoded frames' own
    packets = bad_packets = 0
    try:
        for packet in container.demux(stream):
            packets += 1
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                # Real files carry the odd damaged packet (ffmpeg skips them too). Keep the timeline: a damaged
                # packet becomes silence of its duration (a dropout fill_blanks can repair), not a shift.
                bad_packets += 1
                if bad_packets > max(MAX_BAD_PACKETS, BAD_PACKET_FRACTION * packets):
                    raise
                buffer.append(np.zeros((info.audio.channels, _packet_samples(packet, rate)), np.float32))
                continue
            for frame in frames:
                for out in resampler.resample(frame):
                    buffer.append(out.to_ndarray())
            deadline.check()
        for out in resampler.resample(None):
            buffer.append(out.to_ndarray())
    except OverflowError as e:
        raise MediaTooLongError(f"{info.path}: audio runs past the {limits.max_duration_s:g} s limit") from e
    except (av.error.FFmpegError, ValueError) as e:
        raise _decode_error(info.path, e, deadline.expired()) from e
    if buffer.size == 0:
        raise EmptyMediaError(f"{info.path}: the audio stream holds no samples")
    _check_truncation(info, stream, buffer.size / rate)
    return buffer.result()


def _packet_samples(packet: av.Packet, rate: int) -> int:
    """Samples a packet covers, from its duration; AC3's 1536 when the container does not say."""
    if packet.duration and packet.time_base:
        return max(0, round(float(packet.duration * packet.time_base) * rate))
    return DEFAULT_PACKET_SAMPLES


def _check_truncation(info: MediaInfo, stream: av.stream.Stream, decoded_s: float) -> None:
    declared = _declared_duration_s(stream)
    if declared is None or not set(info.format_name.split(",")).isdisjoint(_ESTIMATED_DURATION_FORMATS):
        return
    if decoded_s < TRUNCATED_FRACTION * declared and declared - decoded_s > TRUNCATED_MIN_S:
        raise CorruptMediaError(
            f"{info.path} is truncated: {decoded_s:.2f} s of audio decoded, the header declares {declared:.2f} s"
        )


def load_clip(
    path: str | os.PathLike[str],
    *,
    limits: MediaLimits = _DEFAULT_LIMITS,
    require_audio: bool = True,
    require_video: bool = False,
) -> Clip:
    """Probe `path`, check `limits`, decode its audio (if any); video frames stay on disk (`Clip.frames`).

    Raises `NoAudioStreamError` / `NoVideoStreamError` when a required stream is missing, and the errors of
    `probe`; audio that decodes to much less than its header declares raises `CorruptMediaError`.
    """
    deadline = _Deadline(Path(path), limits.decode_timeout_s)
    p, size = _check_path(path, limits)
    with _open(p, limits) as container:
        info = _media_info(p, size, container)
        _check_limits(info, limits)
        if require_audio and info.audio is None:
            raise NoAudioStreamError(f"{p} has no audio stream")
        if require_video and info.video is None:
            raise NoVideoStreamError(f"{p} has no video stream")
        audio = _decode_audio(container, info, limits, deadline) if info.audio is not None else None
    rate = info.audio.sample_rate if info.audio is not None else 0
    return Clip(p, audio, rate, info.audio, info.video, info=info, limits=limits)


def _resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """soxr HQ resampling of (channels, samples) float32."""
    y = soxr.resample(np.ascontiguousarray(audio.T), rate_in, rate_out, quality="HQ")
    return np.ascontiguousarray(y.reshape(y.shape[0], -1).T, dtype=np.float32)


def load_audio(
    path: str | os.PathLike[str],
    *,
    limits: MediaLimits = _DEFAULT_LIMITS,
    sample_rate: int | None = None,
    mono: bool = False,
) -> tuple[np.ndarray, int]:
    """Decode the audio of any media file.

    Parameters
    ----------
    sample_rate : int > 0 or None
        Resample (soxr, HQ) to this rate; None keeps the native rate.
    mono : bool
        Average the channels; the result keeps two dimensions, shape (1, samples).

    Returns
    -------
    audio : np.ndarray, float32, shape = (channels, samples)
    sample_rate : int
    """
    if sample_rate is not None and sample_rate <= 0:
        raise ParameterError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    clip = load_clip(path, limits=limits, require_audio=True)
    assert clip.audio is not None
    audio, rate = clip.audio, clip.sample_rate
    if mono:
        audio = audio.mean(axis=0, keepdims=True, dtype=np.float32)
    if sample_rate is not None and sample_rate != rate:
        audio, rate = _resample(audio, rate, sample_rate), sample_rate
    return audio, rate


# --- lazy video frames --------------------------------------------------------------------------------------


def _check_frames_args(fps: float | None, size: tuple[int, int] | None, start_s: float, end_s: float | None) -> None:
    if fps is not None and not fps > 0:
        raise ParameterError(f"fps must be a positive number, got {fps}")
    if size is not None and (len(size) != 2 or any(int(v) != v or v <= 0 for v in size)):
        raise ParameterError(f"size must be (width, height) in positive whole pixels, got {size}")
    if not start_s >= 0:
        raise ParameterError(f"start_s must be >= 0, got {start_s}")
    if end_s is not None and not end_s > start_s:
        raise ParameterError(f"end_s must be greater than start_s ({start_s}), got {end_s}")


class _FrameSampler:
    """Picks frames for a target rate: each target time takes its nearest frame, each frame at most once."""

    def __init__(self, fps: float | None, source_fps: float, start_s: float) -> None:
        self.step = 1.0 / fps if fps else None
        # Half a source period, a hair less so that a tie goes to the later frame.
        self.half = 0.4999 / source_fps if source_fps > 0 else 0.0
        self.start_s = start_s
        self.index = 0  # next target: start_s + index * step

    def take(self, t: float) -> bool:
        if t < self.start_s - 1e-9:
            return False
        if self.step is None:
            return True
        if t < self.start_s + self.index * self.step - self.half:
            return False
        while self.start_s + self.index * self.step <= t + self.half:
            self.index += 1
        return True


def _decode_video(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[av.VideoFrame]:
    """Decoded frames of `stream` from the container's current position (a seam for tests)."""
    yield from container.decode(stream)


def _iter_frames(
    path: Path,
    video: VideoInfo,
    limits: MediaLimits,
    fps: float | None,
    size: tuple[int, int] | None,
    start_s: float,
    end_s: float | None,
) -> Iterator[tuple[float, np.ndarray]]:
    width, height = (int(size[0]), int(size[1])) if size else (video.width, video.height)
    shrink = width * height < video.width * video.height
    convert = {
        "format": "rgb24",
        "width": width,
        "height": height,
        "interpolation": "AREA" if shrink else None,
    }
    sampler = _FrameSampler(fps, video.fps, start_s)
    budget = limits.decode_timeout_s
    with _open(path, limits, genpts=True) as container:
        stream = _best_stream(container, "video")
        if stream is None:
            raise NoVideoStreamError(f"{path}: no video stream")
        from_dts = not set(container.format.name.split(",")).isdisjoint(_DTS_TIMELINE_FORMATS)
        # pkt_dts means "the packet that returned this frame" only without frame threading (see _FrameClock)
        stream.thread_type = "SLICE" if from_dts else "AUTO"
        clock = _FrameClock(stream, video.fps, from_dts)
        preroll_s = SEEK_PREROLL_FRAMES / video.fps if from_dts and video.fps > 0 else 0.0
        _seek(container, stream, max(0.0, start_s - preroll_s), video)
        frames = _decode_video(container, stream)
        while True:
            began = time.monotonic()
            try:
                frame = next(frames, None)
            except (av.error.FFmpegError, ValueError) as e:
                raise _decode_error(path, e, budget - (time.monotonic() - began) < 0) from e
            if frame is None:
                return
            t = clock.time(frame)
            if end_s is not None and t >= end_s:
                return
            rgb = frame.to_ndarray(**convert) if sampler.take(t) else None
            budget -= time.monotonic() - began
            if budget < 0:
                raise DecodeTimeoutError(f"{path}: decoding frames took longer than {limits.decode_timeout_s:g} s")
            if rgb is not None:
                yield t, rgb


def _seek(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    start_s: float,
    video: VideoInfo,
) -> None:
    """Seek to the keyframe at or before `start_s`; from the start, no seek is needed."""
    if start_s <= video.start_time_s or stream.time_base is None:
        return
    try:
        container.seek(int(start_s / stream.time_base), stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:
        container.seek(0, stream=stream)  # unseekable stream: decode from the start and skip


class _FrameClock:
    """Presentation times of decoded frames (which a decoder returns in display order), in seconds.

    Containers that store a pts per frame: ``frame.time``. AVI stores none: chunk k of its index is shown at
    slot k, and FFmpeg guesses each packet's pts from its dts and the decoder's reorder delay. DivX/Xvid
    "packed B-frames" (a P- and a B-VOP in one chunk, a 7-byte N-VOP placeholder chunk later) defeat that
    guess: the pictures still come out in display order, but carry permuted pts (Megamind.avi: 1, 2, 3, 5, 4,
    6, 8, 7, ... frame periods), so a third of them seem to go back in time.

    On AVI the time comes from the dts instead. A decoded frame's ``dts`` is that of the packet whose decoding
    returned it (FFmpeg's ``pkt_dts``: "the presentation time calculated from only AVPacket.dts values",
    exact without frame threading), i.e. the frame's display slot plus the decoder's reorder delay
    (``reorder_depth`` frames, 1 for MPEG-4 ASP with B-frames). Hence ``t = (dts - reorder_depth) *
    time_base``: strictly increasing, chunk 0 at the stream start like the audio (FFmpeg's own guess is one
    frame late). Unlike numbering the frames (start + k / fps), this keeps the gap left by a dropped (empty)
    chunk and stays right after a seek into an open GOP, where the decoder discards the B-frames that precede
    the keyframe.

    Frames without a time (the decoder's flush at the end of the stream) follow the previous one by a frame
    period; on the dts timeline a time never repeats or goes back (e.g. a reorder depth that grows mid-stream).
    """

    def __init__(self, stream: av.video.stream.VideoStream, fps: float, from_dts: bool) -> None:
        self.stream, self.from_dts = stream, from_dts
        self.period = 1.0 / fps if fps > 0 else 0.0
        self.previous: float | None = None

    def time(self, frame: av.VideoFrame) -> float:
        t = self._dts_time(frame) if self.from_dts else frame.time
        if t is None:
            t = 0.0 if self.previous is None else self.previous + self.period
        elif self.from_dts and self.previous is not None and t <= self.previous:
            t = self.previous + self.period
        self.previous = float(t)
        return self.previous

    def _dts_time(self, frame: av.VideoFrame) -> float | None:
        if frame.dts is None or self.stream.time_base is None:
            return None
        return float((frame.dts - self.stream.codec_context.reorder_depth) * self.stream.time_base)


# --- writing ------------------------------------------------------------------------------------------------


def _as_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Validate and return float32 (channels, samples); a 1-D array is mono."""
    if not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
        raise ParameterError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    x = np.asarray(audio)
    if x.ndim == 1:
        x = x[np.newaxis]
    if x.ndim != 2 or x.shape[1] == 0:
        raise ParameterError(f"audio must be a non-empty (channels, samples) array, got shape {x.shape}")
    if x.shape[0] > MAX_CHANNELS:
        raise ParameterError(f"audio must be (channels, samples) with at most {MAX_CHANNELS} channels, got {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise ParameterError("audio must hold finite numbers (no NaN or Inf)")
    return np.ascontiguousarray(x, dtype=np.float32)


def _temporary_path(out: Path) -> Path:
    """A sibling of `out` with the same suffix (the muxer and soundfile choose the format by suffix)."""
    return out.with_name(f".{out.stem}.{os.getpid()}.partial{out.suffix}")


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> Path:
    """Write (channels, samples) audio to ``.wav`` (32-bit float) or ``.flac`` (24-bit, clipped to [-1, 1]).

    The file appears atomically (written beside it, then renamed); parent directories are created.
    """
    out = Path(path)
    fmt = AUDIO_FILE_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise MediaWriteError(f"cannot write audio to {out}: use one of {', '.join(AUDIO_FILE_FORMATS)}")
    x = _as_audio(audio, sample_rate)
    if fmt[1] != "FLOAT":
        x = np.clip(x, -1.0, 1.0)
    tmp = _temporary_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp, x.T, int(sample_rate), format=fmt[0], subtype=fmt[1])
        os.replace(tmp, out)
    except (OSError, sf.LibsndfileError, RuntimeError) as e:
        tmp.unlink(missing_ok=True)
        raise MediaWriteError(f"cannot write {out}: {_reason(e)}") from e
    return out


def _encoder(codec: str) -> av.codec.Codec:
    name = _CODEC_ALIASES.get(codec, codec)
    try:
        encoder = av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError) as e:  # UnknownCodecError is a ValueError
        raise MediaWriteError(f"no {codec!r} audio encoder in this FFmpeg build") from e
    if encoder.type != "audio":
        raise MediaWriteError(f"{codec!r} is not an audio encoder")
    return encoder


def _encoder_rate(encoder: av.codec.Codec, rate: int) -> int:
    """The rate to encode at: Opus always 48 kHz; otherwise the input rate when supported, else 48 kHz."""
    if encoder.name == "libopus":
        return OPUS_RATE
    rates = encoder.audio_rates
    if not rates or rate in rates:
        return rate
    return FALLBACK_RATE if FALLBACK_RATE in rates else max(rates)


def _fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Trim, or pad with silence at the end, to `samples`."""
    if audio.shape[1] >= samples:
        return audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))


@dataclass(frozen=True)
class _AudioPlan:
    """What the new audio track is: encoder, rate, samples and where it starts."""

    encoder: av.codec.Codec
    rate: int  # Hz
    audio: np.ndarray  # float32 (channels, samples) at `rate`, already fitted to the source duration
    start_pts: int  # first sample on the output timeline, in 1/rate units
    bit_rate: int  # bits/s


def _plan_audio(info: MediaInfo, audio: np.ndarray, sample_rate: int, codec: str, bit_rate: int) -> _AudioPlan:
    encoder = _encoder(codec)
    x = _as_audio(audio, sample_rate)
    if x.shape[0] not in _LAYOUTS:
        raise MediaWriteError(f"cannot encode {x.shape[0]} channels: 1 to {max(_LAYOUTS)} are supported")
    rate = _encoder_rate(encoder, int(sample_rate))
    if rate != sample_rate:
        x = _resample(x, int(sample_rate), rate)
    # The new track replaces the old one: same start and duration (the video's if the source had no audio).
    reference = info.audio if info.audio is not None else info.video
    assert reference is not None
    if reference.duration_s > 0:
        x = _fit_length(x, round(reference.duration_s * rate))
    return _AudioPlan(encoder, rate, x, round(reference.start_time_s * rate), bit_rate)


def _add_audio_stream(output: av.container.OutputContainer, plan: _AudioPlan) -> av.audio.stream.AudioStream:
    stream = output.add_stream(plan.encoder.name, rate=plan.rate, layout=_LAYOUTS[plan.audio.shape[0]])
    formats = [f.name for f in plan.encoder.audio_formats or ()]
    for preferred in ("fltp", "flt"):
        if preferred in formats:
            stream.codec_context.format = preferred
            break
    if plan.bit_rate:
        stream.bit_rate = plan.bit_rate
    stream.time_base = Fraction(1, plan.rate)
    return stream


def _audio_packets(stream: av.audio.stream.AudioStream, plan: _AudioPlan) -> Iterator[av.Packet]:
    """Encode the planned audio in AUDIO_CHUNK_S frames, then flush the encoder."""
    layout = _LAYOUTS[plan.audio.shape[0]]
    chunk = max(1, int(AUDIO_CHUNK_S * plan.rate))
    for pos in range(0, plan.audio.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(plan.audio[:, pos : pos + chunk]), format="fltp", layout=layout
        )
        frame.sample_rate = plan.rate
        frame.time_base = Fraction(1, plan.rate)
        frame.pts = plan.start_pts + pos
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _packet_time(packet: av.Packet) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base) if ts is not None and packet.time_base is not None else 0.0


def _copy_metadata(source: dict[str, str], target: dict[str, str]) -> None:
    """Copy descriptive tags; the muxer writes its own encoder and brand tags."""
    skip = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration"}
    target.update({k: v for k, v in source.items() if k.lower() not in skip})


def _remux(src: Path, tmp: Path, plan: _AudioPlan, limits: MediaLimits) -> None:
    """Copy the source's video packets unchanged and interleave the newly encoded audio by time."""
    deadline = _Deadline(src, limits.decode_timeout_s)
    with _open(src, limits, genpts=True) as source, av.open(str(tmp), "w") as output:
        video_in = _best_stream(source, "video")
        assert video_in is not None
        video_out = output.add_stream_from_template(video_in)
        video_out.time_base = video_in.time_base
        _copy_metadata(dict(video_in.metadata), video_out.metadata)
        _copy_metadata(dict(source.metadata), output.metadata)
        audio_out = _add_audio_stream(output, plan)
        audio_packets = _audio_packets(audio_out, plan)
        pending = next(audio_packets, None)
        for packet in source.demux(video_in):
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's end-of-stream flush packet
            while pending is not None and _packet_time(pending) <= _packet_time(packet):
                output.mux(pending)
                pending = next(audio_packets, None)
            packet.stream = video_out
            output.mux(packet)
            deadline.check()
        while pending is not None:
            output.mux(pending)
            pending = next(audio_packets, None)


def write_video_with_audio(
    video_src: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike[str],
    *,
    audio_codec: str | None = None,
    audio_bitrate: int = 192_000,
    limits: MediaLimits = _DEFAULT_LIMITS,
) -> Path:
    """Remux the video stream of `video_src` unchanged with `audio` as its only audio track.

    Parameters
    ----------
    audio : np.ndarray, shape = (channels, samples)
        The new track (1 to 8 channels). Resampled with soxr when the encoder needs it (Opus: 48 kHz;
        AAC/MP3: 48 kHz when the rate is not one they support), then trimmed or padded with silence to the
        duration of the source's audio stream (of its video stream if it had no audio), starting at the same
        time.
    out_path : path
        Container chosen by suffix (``.mp4``/``.m4v``/``.mov``: AAC, ``.mkv``/``.webm``: Opus, ``.avi``: PCM);
        without a suffix, the source's suffix is used. Written atomically.
    audio_codec : str or None
        FFmpeg encoder name overriding the default for the suffix (e.g. "aac", "libopus", "flac").
    audio_bitrate : int
        Bits/s for lossy encoders.

    Raises `MediaWriteError` when the container refuses the stream/codec pair or writing fails, and the
    errors of `probe` for the source (which must have a video stream).
    """
    info = probe(video_src, limits=limits)
    if info.video is None:
        raise NoVideoStreamError(f"{info.path} has no video stream to remux")
    out = Path(out_path)
    if not out.suffix:
        out = out.with_suffix(info.path.suffix)
    codec = audio_codec or AUDIO_CODEC_BY_SUFFIX.get(out.suffix.lower())
    if codec is None:
        raise MediaWriteError(
            f"no default audio codec for {out.suffix!r}; use one of {', '.join(AUDIO_CODEC_BY_SUFFIX)}"
        )
    plan = _plan_audio(info, audio, sample_rate, codec, audio_bitrate)
    tmp = _temporary_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remux(info.path, tmp, plan, limits)
        os.replace(tmp, out)
    except (av.error.FFmpegError, ValueError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise MediaWriteError(
            f"cannot write {info.video.codec} video with {plan.encoder.name} audio into {out.name}:"
            f" {_reason(e)} (an .mkv output accepts most codecs)"
        ) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
