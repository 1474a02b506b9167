"""Signal helpers shared by the actions and the audio describer: validation, layout, dB, STFT, noise PSD.

Everything here is pure numpy/scipy and works on `(..., samples)` arrays (time on the last axis). Spectrograms
are `(..., n_bins, n_frames)`, frames on the last axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage, signal

from avagent.core.errors import ParameterError

MIN_SAMPLE_RATE_HZ = 4000  # below this no action's frame sizes make sense (tested range: 8-48 kHz)
MAX_SAMPLE_RATE_HZ = 384000  # highest rate any common container carries
DBFS_FLOOR = -200.0  # what dB helpers report for exact digital silence instead of -inf (JSON-safe)
# Frames whose mean square is below this are digital silence or dropouts; noise estimators ignore them,
# otherwise a clip with dropouts would yield a zero noise estimate. The 16-bit quantisation floor is
# 20*log10(2**-15 / sqrt(12)) = -101.1 dBFS RMS, so any recorded noise floor stays above -100 dBFS.
SILENCE_FLOOR_DBFS = -100.0
QUIETEST_FRACTION = 0.1  # share of valid frames averaged by the quietest-frames noise estimator
QUIETEST_MIN_FRAMES = 3  # ...but at least this many frames when the clip has them
# Minimum statistics (Martin 2001, simplified): first-order smoothing of the periodogram, then a sliding
# minimum over MS_WINDOW_S, times a bias compensation. With alpha = 0.85 a frame-rate of ~60 frames/s averages
# about (1 + alpha) / (1 - alpha) = 12 frames; the minimum of such a smoothed chi-square periodogram over a
# 1.5 s window sits about 2.6x below the mean (measured on white and pink noise with a 32 ms / 8 ms
# STFT).
MS_SMOOTHING = 0.85
MS_WINDOW_S = 1.5
MS_BIAS = 2.6
EPS = 1e-12  # guards divisions by a power (full scale is 1.0, so 1e-12 is -120 dB)
# Noise floor (`noise_psd_floor`): per bin, the iterated mean of the STFT cells below FLOOR_TRUNCATION times the
# current estimate, started from the FLOOR_START_QUANTILE quantile. A stationary Gaussian noise's periodogram
# cells are exponential, so the mean of those kept is FLOOR_KEPT_MEAN times the noise power (the bias undone)
# and only e^-4 = 1.8 % of noise cells lie above the cut; foreground sound far above the floor is left out
# without needing pauses.
FLOOR_TRUNCATION = 4.0
FLOOR_START_QUANTILE = 0.1
FLOOR_ITERATIONS = 12  # at most; it stops once the kept cells no longer change
# Kept-cell mean / noise power, and variance / mean**2 of the kept cells, for an exponential truncated at K:
# (1 - (1 + K) e^-K) / (1 - e^-K) = 0.925 and 0.813 for K = 4.
_TAIL = float(np.exp(-FLOOR_TRUNCATION))
FLOOR_KEPT_MEAN = (1.0 - (1.0 + FLOOR_TRUNCATION) * _TAIL) / (1.0 - _TAIL)
FLOOR_KEPT_CV2 = (2.0 - (FLOOR_TRUNCATION**2 + 2.0 * FLOOR_TRUNCATION + 2.0) * _TAIL) / (
    1.0 - _TAIL
) / FLOOR_KEPT_MEAN**2 - 1.0
# Evidence for a steady component being noise: the clip has pauses (frames at the floor: total power within
# PAUSE_MAX_DB of the floor's, or at most PAUSE_MAX_ACTIVE of the bins above FLOOR_TRUNCATION x floor; noise
# alone has 1.8 %) and content (frames above the floor in at least CONTENT_MIN_ACTIVE of the bins), each in at
# least EVIDENCE_MIN_SHARE of the frames, and the component keeps PERSIST_RATIO of its floor through the pauses.
PAUSE_MAX_DB = 1.0
PAUSE_MAX_ACTIVE = 0.05
CONTENT_MIN_ACTIVE = 0.2
EVIDENCE_MIN_SHARE = 0.05
PERSIST_RATIO = 0.5


# --- validation and layout ----------------------------------------------------------------------------------


def check_sample_rate(sr: Any) -> int:
    """Return `sr` as int, or raise ParameterError unless it is an integer in the supported range (Hz)."""
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer):
        raise ParameterError(f"sr must be an integer sample rate in Hz, got {sr!r}")
    if not MIN_SAMPLE_RATE_HZ <= int(sr) <= MAX_SAMPLE_RATE_HZ:
        raise ParameterError(f"sr must be in the range {MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ} Hz, got {sr}")
    return int(sr)


def check_audio(audio: Any) -> np.ndarray:
    """Validate an audio array and return it as float64 `(channels, samples)`.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Real-valued samples, full scale 1.0.

    Returns
    -------
    np.ndarray, shape (channels, samples), float64
        A copy; mono input becomes one channel.

    Raises
    ------
    ParameterError
        Not an array of real numbers, more than 2 dimensions, no channels or no samples, or NaN/Inf values.
    """
    arr = np.asarray(audio)
    if arr.dtype.kind not in "fiub":
        raise ParameterError(f"audio must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ParameterError(f"audio must have shape (samples,) or (channels, samples), got {arr.shape}")
    if arr.size == 0:
        raise ParameterError(f"audio is empty (shape {arr.shape}); it needs at least one sample")
    x = np.array(np.atleast_2d(arr), dtype=np.float64)
    if not np.isfinite(x).all():
        raise ParameterError("audio contains NaN/Inf")
    return x


def restore_layout(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Return `y` `(channels, samples)` as float32 with the shape layout of `like` (mono stays 1-D)."""
    out = np.asarray(y, dtype=np.float32)
    return out[0] if np.ndim(like) == 1 else out


def finish(y: np.ndarray, x: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Make an action's output safe: finite, no new clipping, float32 in the input's layout.

    Parameters
    ----------
    y : np.ndarray, shape (channels, samples)
        The processed signal.
    x : np.ndarray, shape (channels, samples)
        The action's input (sets the allowed peak: max(1, input peak), so input that already clips is not made
        worse and input within full scale stays within it).
    like : np.ndarray
        The caller's original array, whose layout (1-D or 2-D) the result takes.

    Returns
    -------
    np.ndarray, float32
        `y` scaled down as a whole (no waveform clipping) when its peak exceeds the allowed peak.
    """
    y = np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    limit = max(1.0, float(np.max(np.abs(x), initial=0.0)))
    peak = float(np.max(np.abs(y), initial=0.0))
    if peak > limit:
        # float32 rounding can lift a sample by half an ulp, so aim just below the limit.
        y = y * (limit / peak * (1.0 - 1e-6))
    return restore_layout(y, like)


def expect_params(params: Any, model: type) -> None:
    """Raise ParameterError unless `params` is a `model` instance (raw dicts go through the registry)."""
    if not isinstance(params, model):
        raise ParameterError(
            f"expected {model.__name__}, got {type(params).__name__}; validate raw parameters with "
            "avagent.actions.registry.apply_action"
        )


# --- levels -------------------------------------------------------------------------------------------------


def amplitude_to_db(amplitude: Any) -> Any:
    """20*log10(amplitude), with DBFS_FLOOR for zero amplitude (elementwise, float or array)."""
    a = np.asarray(amplitude, dtype=np.float64)
    with np.errstate(divide="ignore"):
        db = np.maximum(20.0 * np.log10(np.abs(a)), DBFS_FLOOR)
    return float(db) if db.ndim == 0 else db


def db_to_amplitude(db: Any) -> Any:
    """10**(db/20) (elementwise, float or array)."""
    a = np.power(10.0, np.asarray(db, dtype=np.float64) / 20.0)
    return float(a) if a.ndim == 0 else a


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level of all samples (all channels) in dBFS, full scale 1.0; DBFS_FLOOR for silence."""
    x = np.asarray(audio, dtype=np.float64)
    return amplitude_to_db(np.sqrt(np.mean(x * x))) if x.size else DBFS_FLOOR


def peak_dbfs(audio: np.ndarray) -> float:
    """Sample peak of all channels in dBFS; DBFS_FLOOR for silence."""
    return amplitude_to_db(np.max(np.abs(np.asarray(audio, dtype=np.float64)), initial=0.0))


# --- STFT ---------------------------------------------------------------------------------------------------


def frame_size(sr: int, frame_ms: float) -> tuple[int, int]:
    """STFT length and hop in samples for a window of about `frame_ms` at `sr` Hz (75% overlap).

    The length is the next FFT-friendly size that is a multiple of 4 (so the hop divides it exactly).
    """
    n = max(16, round(sr * frame_ms / 1000.0))
    n = sp_fft.next_fast_len(n, real=True)
    while n % 4:
        n = sp_fft.next_fast_len(n + 1, real=True)
    return n, n // 4


def _padded(x: np.ndarray, n_fft: int, hop: int) -> tuple[np.ndarray, int]:
    """Zero-pad `x` (..., samples) so every sample lies in n_fft/hop frames; return it and the left pad."""
    pad = n_fft - hop
    n = x.shape[-1]
    n_frames = -(-(n + pad) // hop)  # ceil: the last frame reaches past the last sample
    total = (n_frames - 1) * hop + n_fft
    widths = [(0, 0)] * (x.ndim - 1) + [(pad, total - n - pad)]
    return np.pad(x, widths), pad


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Short-time Fourier transform with a periodic Hann window, perfect reconstruction through `istft`.

    Parameters
    ----------
    x : np.ndarray, shape (..., samples)
    n_fft, hop : int
        Window length and hop in samples; hop must divide n_fft.

    Returns
    -------
    np.ndarray, shape (..., n_fft // 2 + 1, n_frames), complex
    """
    xp, _ = _padded(x, n_fft, hop)
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft, axis=-1)[..., ::hop, :]
    spec = sp_fft.rfft(frames * signal.get_window("hann", n_fft), axis=-1)
    return np.swapaxes(spec, -1, -2)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Inverse of `stft`: weighted overlap-add with the same Hann window, normalised by the window power sum.

    Parameters
    ----------
    spec : np.ndarray, shape (..., n_fft // 2 + 1, n_frames), complex
    length : int
        Samples of the original signal.

    Returns
    -------
    np.ndarray, shape (..., length), float64
    """
    window = signal.get_window("hann", n_fft)
    frames = sp_fft.irfft(np.swapaxes(spec, -1, -2), n=n_fft, axis=-1) * window
    k, n_frames = n_fft // hop, frames.shape[-2]
    parts = frames.reshape(*frames.shape[:-1], k, hop)
    out = np.zeros((*frames.shape[:-2], n_frames + k - 1, hop))
    norm = np.zeros((n_frames + k - 1, hop))
    w2 = (window * window).reshape(k, hop)
    for j in range(k):
        out[..., j : j + n_frames, :] += parts[..., :, j, :]
        norm[j : j + n_frames, :] += w2[j]
    out = out.reshape(*out.shape[:-2], -1) / np.maximum(norm.reshape(-1), EPS)
    pad = n_fft - hop
    return out[..., pad : pad + length]


def valid_frames(x: np.ndarray, n_fft: int, hop: int, floor_dbfs: float = SILENCE_FLOOR_DBFS) -> np.ndarray:
    """Which STFT frames hold no digital silence or dropout (every hop-long block above `floor_dbfs`).

    Parameters
    ----------
    x : np.ndarray, shape (..., samples)

    Returns
    -------
    np.ndarray, shape (..., n_frames), bool
        Aligned with the frames of `stft(x, n_fft, hop)`. Frames reaching into the zero padding at the clip's
        edges count as valid when their real samples are.
    """
    xp, pad = _padded(x, n_fft, hop)
    k = n_fft // hop
    power = np.mean(xp.reshape(*xp.shape[:-1], -1, hop) ** 2, axis=-1)  # (..., n_frames + k - 1) blocks
    real = np.zeros(power.shape[-1], dtype=bool)
    real[pad // hop : pad // hop + -(-x.shape[-1] // hop)] = True
    # Padding blocks count as loud, so they do not invalidate the edge frames; frame f spans blocks f..f+k-1.
    loud = (power > db_to_amplitude(floor_dbfs) ** 2) | ~real
    return np.lib.stride_tricks.sliding_window_view(loud, k, axis=-1).all(axis=-1)


# --- noise PSD ----------------------------------------------------------------------------------------------


def noise_psd_quietest(power: np.ndarray, valid: np.ndarray, fraction: float = QUIETEST_FRACTION) -> np.ndarray:
    """Noise power spectrum as the mean of the quietest valid frames.

    Parameters
    ----------
    power : np.ndarray, shape (..., n_bins, n_frames)
        Power spectrogram |STFT|^2.
    valid : np.ndarray, shape (..., n_frames), bool
        Frames to consider (see `valid_frames`); digital silence must be excluded.
    fraction : float
        Share of the valid frames, the quietest by total power, to average.

    Returns
    -------
    np.ndarray, shape (..., n_bins, 1)
        Zero where a channel has no valid frame (nothing to remove).
    """
    # Rank by mean log power, not total power: every bin gets the same say, so strong low-frequency noise that
    # drifts slowly (pink, brown) does not make the ranking pick the frames where that drift happens to be
    # low.
    energy = np.where(valid, np.mean(np.log(power + EPS), axis=-2), np.inf)
    n_valid = valid.sum(axis=-1, keepdims=True)
    count = np.minimum(np.maximum(np.ceil(fraction * n_valid), QUIETEST_MIN_FRAMES), n_valid)
    rank = np.argsort(np.argsort(energy, axis=-1, kind="stable"), axis=-1, kind="stable")
    chosen = (rank < count) & valid
    total = np.sum(power * chosen[..., None, :], axis=-1, keepdims=True)
    return total / np.maximum(chosen.sum(axis=-1), 1)[..., None, None]


def noise_psd_floor(power: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Noise power spectrum as the stationary noise floor of each bin, discounting steady content.

    Two steps, both per bin over the valid frames:

    1. The floor: the iterated truncated mean of the STFT cells (`noise_floor`). Speech, music and other
       foreground sound rise far above a noise floor in the cells they occupy and drop out of the mean, so the
       floor needs no noise-only frames and is not biased up by low-level speech in the quietest frames.
    2. The evidence that the floor is noise (`noise_share`): stationary noise fluctuates from frame to frame
       like Gaussian noise (exponential cells). A steady deterministic component (a tone, a sustained partial)
       does not, and the Rician moments of the kept cells give the share of the floor that is noise; the
       steady rest is kept as content. A steady component counts as noise after all (mains hum) when the clip
       has pauses and content, and the component stays at its floor through the pauses
       (`persists_through_pauses`).

    Limits: a steady noise-like sound (rain, applause, a noise test signal) is indistinguishable from noise and
    is removed with it; hum under content that never pauses is kept as content; a short clip whose only
    sound is one event (a click) has no floor to tell apart from it. The agent applies these actions only when
    the audio describer finds noise.

    Parameters
    ----------
    power : np.ndarray, shape (..., n_bins, n_frames)
        Power spectrogram |STFT|^2.
    valid : np.ndarray, shape (..., n_frames), bool
        Frames to consider (see `valid_frames`); digital silence must be excluded.

    Returns
    -------
    np.ndarray, shape (..., n_bins, 1)
        Zero where a channel has no valid frame (nothing to remove).
    """
    valid = np.broadcast_to(valid, (*power.shape[:-2], power.shape[-1]))
    floor = noise_floor(power, valid)
    share = noise_share(power, valid, floor)
    return floor * np.where(persists_through_pauses(power, valid, floor), 1.0, share)


def noise_floor(power: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-bin noise floor (..., n_bins, 1): iterated truncated mean of the valid cells (see FLOOR_TRUNCATION)."""
    ranked = np.sort(power if valid.all() else np.where(valid[..., None, :], power, np.inf), axis=-1)
    prefix = np.cumsum(ranked, axis=-1)  # sums of the k quietest cells (inf past the valid ones: never read)
    n_valid = valid.sum(axis=-1)[..., None, None]
    at = np.clip(np.floor(FLOOR_START_QUANTILE * (n_valid - 1)), 0, power.shape[-1] - 1).astype(np.intp)
    start = np.take_along_axis(ranked, at, axis=-1)
    floor = np.where(n_valid > 0, start, 0.0) / -np.log1p(-FLOOR_START_QUANTILE)  # exponential quantile
    previous = None
    for _ in range(FLOOR_ITERATIONS):
        count = np.sum(ranked < FLOOR_TRUNCATION * floor, axis=-1, keepdims=True)
        if previous is not None and np.array_equal(count, previous):
            break  # the same cells kept: a fixed point
        total = np.take_along_axis(prefix, np.maximum(count - 1, 0), axis=-1)
        floor = np.where(count > 0, total / np.maximum(count, 1) / FLOOR_KEPT_MEAN, floor)
        previous = count
    return floor


def noise_share(power: np.ndarray, valid: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Share of each bin's floor that fluctuates like noise, in [0, 1], shape (..., n_bins, 1).

    A steady component of power A in noise of power N gives Rician cells with mean E = A + N and variance
    N**2 + 2 A N, so N / E = 1 - sqrt(1 - var / E**2); the variance ratio is measured on the kept cells and
    divided by its value for noise alone (FLOOR_KEPT_CV2). Bins with fewer than two kept cells count as noise.
    """
    kept = valid[..., None, :] & (power < FLOOR_TRUNCATION * floor)
    count = kept.sum(axis=-1, keepdims=True)
    mean = np.sum(power * kept, axis=-1, keepdims=True) / np.maximum(count, 1)
    var = np.sum((power - mean) ** 2 * kept, axis=-1, keepdims=True) / np.maximum(count, 1)
    ratio = np.minimum(var / np.maximum(mean * mean, EPS * EPS) / FLOOR_KEPT_CV2, 1.0)
    return np.where(count >= 2, 1.0 - np.sqrt(1.0 - ratio), 1.0)


def persists_through_pauses(power: np.ndarray, valid: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Bins (..., n_bins, 1) whose floor stays through the clip's pauses while content comes and goes.

    Pauses are frames at the floor (PAUSE_MAX_DB, PAUSE_MAX_ACTIVE), content frames rise above it in many bins
    (CONTENT_MIN_ACTIVE); both must make up EVIDENCE_MIN_SHARE of the valid frames. Without such contrast
    (a steady sound alone, noise alone) no bin qualifies.
    """
    present = floor > 0.0
    active = np.sum((power > FLOOR_TRUNCATION * floor) & present, axis=-2) / np.maximum(present.sum(axis=-2), 1)
    level_db = 10.0 * np.log10(np.maximum(power.sum(axis=-2), EPS * EPS) / np.maximum(floor.sum(axis=-2), EPS * EPS))
    pause = valid & ((level_db <= PAUSE_MAX_DB) | (active <= PAUSE_MAX_ACTIVE))
    content = valid & (level_db > PAUSE_MAX_DB) & (active >= CONTENT_MIN_ACTIVE)
    needed = EVIDENCE_MIN_SHARE * valid.sum(axis=-1, keepdims=True)
    contrast = (pause.sum(axis=-1, keepdims=True) >= needed) & (content.sum(axis=-1, keepdims=True) >= needed)
    in_pauses = np.sum(power * pause[..., None, :], axis=-1, keepdims=True) / np.maximum(
        pause.sum(axis=-1)[..., None, None], 1
    )
    return contrast[..., None] & (in_pauses >= PERSIST_RATIO * floor) & present


def noise_psd_segment(
    power: np.ndarray, valid: np.ndarray, frame_times_s: np.ndarray, start_s: float, end_s: float
) -> np.ndarray:
    """Noise power spectrum as the mean of the valid frames centred inside [start_s, end_s].

    Parameters
    ----------
    power : np.ndarray, shape (..., n_bins, n_frames)
    valid : np.ndarray, shape (..., n_frames), bool
    frame_times_s : np.ndarray, shape (n_frames,)
        Centre time of each frame, seconds.

    Returns
    -------
    np.ndarray, shape (..., n_bins, 1)

    Raises
    ------
    ParameterError
        The segment does not overlap the audio, or holds only digital silence in every channel. A segment
        shorter than a frame uses the nearest frame.
    """
    duration_s = float(frame_times_s[-1]) if frame_times_s.size else 0.0
    if start_s >= duration_s:
        raise ParameterError(f"noise segment {start_s:g}-{end_s:g} s starts after the audio ends ({duration_s:.3f} s)")
    inside = (frame_times_s >= start_s) & (frame_times_s <= end_s)
    if not inside.any():
        inside[np.argmin(np.abs(frame_times_s - 0.5 * (start_s + end_s)))] = True
    chosen = valid & inside
    if not chosen.any():
        raise ParameterError(
            f"noise segment {start_s:g}-{end_s:g} s holds only digital silence; choose another or omit it"
        )
    total = np.sum(power * chosen[..., None, :], axis=-1, keepdims=True)
    return total / np.maximum(chosen.sum(axis=-1), 1)[..., None, None]


def noise_psd_minimum_statistics(power: np.ndarray, valid: np.ndarray, frames_per_s: float) -> np.ndarray:
    """Time-varying noise power spectrum by minimum statistics (Martin 2001, simplified, non-causal).

    The periodogram is smoothed over time (first order, MS_SMOOTHING), its minimum is tracked over a centred
    window of MS_WINDOW_S and multiplied by MS_BIAS. Invalid frames (dropouts) are skipped and take the
    estimate of the nearest valid frame.

    Parameters
    ----------
    power : np.ndarray, shape (..., n_bins, n_frames)
    valid : np.ndarray, shape (..., n_frames), bool
    frames_per_s : float
        STFT frame rate, frames per second.

    Returns
    -------
    np.ndarray, shape (..., n_bins, n_frames)
    """
    lead = power.shape[:-2]
    p2 = power.reshape(-1, *power.shape[-2:])
    v2 = np.broadcast_to(valid, (*lead, power.shape[-1])).reshape(-1, power.shape[-1])
    window = max(3, round(MS_WINDOW_S * frames_per_s))
    out = np.zeros_like(p2)
    for c in range(p2.shape[0]):  # channels: a handful at most
        idx = np.flatnonzero(v2[c])
        if idx.size == 0:
            continue
        smooth = signal.lfilter([1.0 - MS_SMOOTHING], [1.0, -MS_SMOOTHING], p2[c][:, idx], axis=-1)
        smooth[:, : min(idx.size, 8)] = np.mean(p2[c][:, idx[:8]], axis=-1, keepdims=True)  # no start-up dip
        tracked = ndimage.minimum_filter1d(smooth, size=min(window, idx.size), axis=-1, mode="nearest")
        nearest = np.clip(np.searchsorted(idx, np.arange(p2.shape[-1])), 0, idx.size - 1)
        out[c] = MS_BIAS * tracked[:, nearest]
    return out.reshape(power.shape)


def quietest_excerpt(x: np.ndarray, block: int, fraction: float = QUIETEST_FRACTION) -> np.ndarray:
    """The quietest non-silent stretches of a signal, concatenated: a noise sample for tools that want one.

    The signal is cut into non-overlapping blocks of `block` samples, ranked by mean log power spectrum (as in
    `noise_psd_quietest`); the quietest `fraction` (at least QUIETEST_MIN_FRAMES) of the blocks above
    SILENCE_FLOOR_DBFS are joined in time order.

    Parameters
    ----------
    x : np.ndarray, shape (samples,)
    block : int
        Block length in samples.

    Returns
    -------
    np.ndarray, shape (n_blocks * block,)
        Empty when no block is above the silence floor; the whole (zero-padded) signal when it is shorter than
        QUIETEST_MIN_FRAMES blocks.
    """
    n_blocks = max(1, -(-x.shape[-1] // block))
    blocks = np.pad(x, (0, n_blocks * block - x.shape[-1])).reshape(n_blocks, block)
    if n_blocks <= QUIETEST_MIN_FRAMES:
        return blocks.reshape(-1)
    loud = np.mean(blocks * blocks, axis=-1) > db_to_amplitude(SILENCE_FLOOR_DBFS) ** 2
    if not loud.any():
        return np.zeros(0)
    level = np.mean(np.log(np.abs(sp_fft.rfft(blocks, axis=-1)) ** 2 + EPS), axis=-1)
    level[~loud] = np.inf
    count = int(min(max(np.ceil(fraction * loud.sum()), QUIETEST_MIN_FRAMES), loud.sum()))
    chosen = np.sort(np.argsort(level, kind="stable")[:count])
    return blocks[chosen].reshape(-1)


def estimate_snr_db(audio: np.ndarray, sr: int, frame_ms: float = 32.0) -> float:
    """Rough SNR of a recording in dB: total power against the quietest-frames noise estimate.

    Digital silence is ignored. Works without a clean reference, so it assumes the clip has pauses (speech,
    most real recordings); on noise alone it returns about 0 dB or less, on clean audio with silent pauses it
    returns a large value, capped at 100 dB.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
    sr : int
        Sample rate, Hz.

    Returns
    -------
    float
        SNR in dB, in [-100, 100].
    """
    x = check_audio(audio).mean(axis=0)
    n_fft, hop = frame_size(check_sample_rate(sr), frame_ms)
    power = np.abs(stft(x, n_fft, hop)) ** 2
    valid = valid_frames(x, n_fft, hop)
    if not valid.any():
        return -100.0
    noise = float(noise_psd_quietest(power, valid).sum())
    total = float(power[:, valid].sum(axis=0).mean())
    snr = 10.0 * np.log10(max(total - noise, EPS) / max(noise, EPS))
    return float(np.clip(snr, -100.0, 100.0))
