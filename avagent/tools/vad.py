"""Speech activity with Silero VAD (MIT), run through onnxruntime without torch.

The `silero-vad` wheel ships `silero_vad_16k_sequence.onnx`, which scores a whole block of 32 ms frames in one
call (bit-exact with the streaming model, silero-vad PR #784). The file is read from the package data directly:
`import silero_vad` would import torch and set its thread count to 1 (STACK.md pitfall 4). Probabilities become
segments with the hysteresis of `silero_vad.get_speech_timestamps`: enter at `threshold`, leave below
`threshold - 0.15` after `min_silence_ms`, drop segments shorter than `min_speech_ms`, pad by `pad_ms`.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avagent.core.errors import BackendUnavailableError, ParameterError
from avagent.tools.yamnet import to_mono_16k

SAMPLE_RATE = 16000
FRAME_SAMPLES = 512  # 32 ms at 16 kHz, the model's frame
CONTEXT_SAMPLES = 64  # trailing samples of the previous frame prepended to each frame
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE  # 0.032
MAX_FRAMES_PER_CALL = 512  # 16.4 s of audio per ONNX call
STATE_SHAPE = (1, 1, 128)  # LSTM h and c
MODEL_FILE = "silero_vad_16k_sequence.onnx"
MODEL_VERSION = "silero-vad 6 (16k sequence ONNX)"


@dataclass(frozen=True)
class SpeechActivity:
    """Speech probabilities per 32 ms frame and the speech segments derived from them."""

    probabilities: np.ndarray  # shape = (frames,), frame i covers [0.032 i, 0.032 (i + 1)] s
    segments: tuple[tuple[float, float], ...]  # (start s, end s)
    duration_s: float

    @property
    def speech_ratio(self) -> float:
        """Fraction of the clip inside speech segments."""
        if self.duration_s <= 0:
            return 0.0
        return min(1.0, sum(end - start for start, end in self.segments) / self.duration_s)


class SileroVad:
    """The sequence ONNX model; one instance per process through `load_vad()`."""

    def __init__(self, onnx_file: Path | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(onnx_file) if onnx_file else _model_file()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # the export carries unused initialisers that ORT warns about
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def probabilities(self, audio16k: np.ndarray) -> np.ndarray:
        """Speech probability per 32 ms frame of a 16 kHz mono waveform (last frame zero-padded).

        Returns
        -------
        np.ndarray, shape = (ceil(samples / 512),), float32 in [0, 1]
        """
        n_frames = -(-audio16k.shape[0] // FRAME_SAMPLES)
        if n_frames == 0:
            return np.zeros(0, dtype=np.float32)
        frames = np.zeros((n_frames, FRAME_SAMPLES), dtype=np.float32)
        frames.reshape(-1)[: audio16k.shape[0]] = audio16k
        context = np.zeros((n_frames, CONTEXT_SAMPLES), dtype=np.float32)
        context[1:] = frames[:-1, -CONTEXT_SAMPLES:]
        blocks = np.concatenate([context, frames], axis=1)
        h = np.zeros(STATE_SHAPE, dtype=np.float32)
        c = np.zeros(STATE_SHAPE, dtype=np.float32)
        out = []
        with self._lock:
            for start in range(0, n_frames, MAX_FRAMES_PER_CALL):
                block = blocks[start : start + MAX_FRAMES_PER_CALL]
                probs, h, c = self._session.run(["speech_probs", "hn", "cn"], {"input": block, "h": h, "c": c})
                out.append(probs.reshape(-1))
        return np.concatenate(out).astype(np.float32)


def _model_file() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("speech activity needs the silero-vad package: pip install silero-vad")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_FILE
    if not path.is_file():
        raise BackendUnavailableError(f"{path} is missing from the silero-vad installation (need >= 6.2)")
    return path


_LOAD_LOCK = threading.Lock()


@functools.cache
def _cached_vad() -> SileroVad:
    return SileroVad()


def load_vad() -> SileroVad:
    """The process-wide Silero VAD session."""
    with _LOAD_LOCK:
        return _cached_vad()


def segments_from_probabilities(
    probabilities: np.ndarray,
    *,
    duration_s: float,
    threshold: float = 0.5,
    min_speech_ms: float = 250.0,
    min_silence_ms: float = 100.0,
    pad_ms: float = 30.0,
) -> list[tuple[float, float]]:
    """Speech segments from per-frame probabilities (Silero's hysteresis).

    Parameters
    ----------
    probabilities : np.ndarray, shape = (frames,), one per 32 ms
    duration_s : float, clip length (segments are clipped to it)
    threshold : float in (0, 1), enter speech above it; leave below `threshold - 0.15`

    Returns
    -------
    list of (start_s, end_s), sorted, non-overlapping
    """
    if not 0.0 < threshold < 1.0:
        raise ParameterError("threshold must be in (0, 1)")
    leave = max(threshold - 0.15, 0.01)
    raw: list[list[int]] = []
    start: int | None = None
    silent_since: int | None = None
    for i, p in enumerate(probabilities):
        if start is None:
            if p >= threshold:
                start, silent_since = i, None
            continue
        if p >= threshold:
            silent_since = None
        elif p < leave:
            silent_since = i if silent_since is None else silent_since
            if (i - silent_since) * FRAME_S * 1000 >= min_silence_ms:
                raw.append([start, silent_since])
                start, silent_since = None, None
    if start is not None:
        raw.append([start, len(probabilities) if silent_since is None else silent_since])
    return _pad_and_merge(raw, duration_s=duration_s, min_speech_ms=min_speech_ms, pad_ms=pad_ms)


def _pad_and_merge(
    raw: list[list[int]], *, duration_s: float, min_speech_ms: float, pad_ms: float
) -> list[tuple[float, float]]:
    pad = pad_ms / 1000
    segments: list[tuple[float, float]] = []
    for first, stop in raw:
        if (stop - first) * FRAME_S < min_speech_ms / 1000:
            continue
        begin, end = max(0.0, first * FRAME_S - pad), min(duration_s, stop * FRAME_S + pad)
        if segments and begin <= segments[-1][1]:
            segments[-1] = (segments[-1][0], end)
        else:
            segments.append((begin, end))
    return [(round(a, 3), round(b, 3)) for a, b in segments]


def detect_speech(
    audio: np.ndarray, sr: int, *, threshold: float = 0.5, vad: SileroVad | None = None
) -> SpeechActivity:
    """Speech activity of a clip.

    Parameters
    ----------
    audio : np.ndarray, shape = (samples,) or (channels, samples); channels are averaged
    sr : int, sample rate in Hz (resampled to 16 kHz)
    threshold : float in (0, 1), speech probability that opens a segment
    """
    x = to_mono_16k(audio, sr)
    duration_s = x.shape[0] / SAMPLE_RATE
    probs = (vad or load_vad()).probabilities(x)
    segments = segments_from_probabilities(probs, duration_s=duration_s, threshold=threshold)
    return SpeechActivity(probabilities=probs, segments=tuple(segments), duration_s=duration_s)
