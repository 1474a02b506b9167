"""Quality metrics: SI-SDR, SNR, segmental SNR, loudness (LUFS), offset estimation, and optional PESQ / STOI.

Every function takes audio as `(samples,)` or `(channels, samples)` (time on the last axis). All metrics
except `loudness_lufs` downmix to mono first (mean over channels); loudness follows ITU-R BS.1770 and sums the
weighted channel powers instead. Argument order is always `(reference, estimate)`: the clean signal first.

Ratios in dB are capped at `RATIO_CEILING_DB` so that a perfect estimate gives a large finite number rather
than `inf` (which would poison means over a benchmark); an estimate with no target energy at all gives `-inf`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avagent.core.errors import BackendUnavailableError, ParameterError

RATIO_CEILING_DB = 150.0  # ratios are capped here: the error power is floored at 1e-15 of the target power
_RATIO_FLOOR = 10.0 ** (-RATIO_CEILING_DB / 10.0)  # 1e-15
SEGSNR_FLOOR_DB = -10.0  # per-frame clamp of segmental SNR (Quackenbush et al. 1988; Loizou 2013)
SEGSNR_CEILING_DB = 35.0
LOUDNESS_BLOCK_S = 0.4  # BS.1770 gating block, seconds; shorter clips are measured as one block
LOUDNESS_BLOCK_OVERLAP = 0.75  # BS.1770: blocks start every 100 ms
LOUDNESS_OFFSET_DB = -0.691  # BS.1770: makes a 997 Hz full-scale sine in one channel read -3.01 LUFS
ABSOLUTE_GATE_LUFS = -70.0  # BS.1770 absolute gate
RELATIVE_GATE_LU = -10.0  # BS.1770 relative gate, below the absolutely gated loudness
# K-weighting as pyloudnorm designs it (Meter(filter_class="K-weighting")): (gain dB, Q, Hz, type).
K_WEIGHTING = ((4.0, 1 / np.sqrt(2), 1500.0, "high_shelf"), (0.0, 0.5, 38.0, "high_pass"))
SURROUND_WEIGHT = 1.41  # BS.1770 channel weight (+1.5 dB) of the surround channels Ls, Rs
# Channel weights G_c by channel count. Up to 5 channels: pyloudnorm's order L, R, C, Ls, Rs (FFmpeg's mono,
# stereo, 3.0 and 5.0 layouts too; 4 channels read as L, R, C, Ls). 6 channels: 5.1 in SMPTE/FFmpeg order
# L, R, C, LFE, Ls, Rs, the LFE left out. Other counts above 5 have no single layout: equal weights.
LOUDNESS_WEIGHTS = {
    **{n: (1.0, 1.0, 1.0, SURROUND_WEIGHT, SURROUND_WEIGHT)[:n] for n in range(1, 6)},
    6: (1.0, 1.0, 1.0, 0.0, SURROUND_WEIGHT, SURROUND_WEIGHT),
}
MAX_LOUDNESS_CHANNELS = 64  # more "channels" than this means the array is (samples, channels)
OFFSET_EXCLUSION_S = (
    0.0025  # half-width around the GCC peak ignored when looking for the runner-up (confidence)
)
_PHAT_EPS = 1e-6  # PHAT regularisation, relative to the largest cross-spectrum magnitude
_NEWTON_STEPS = 6  # refinement steps of the sub-sample peak (each a single pass over the spectrum)


class MetricUnavailableError(BackendUnavailableError, ImportError):
    """An optional metric whose package (pesq, pystoi) is not installed; also an ImportError."""

    code = "metric_unavailable"


@dataclass(frozen=True)
class OffsetEstimate:
    """Result of `estimate_offset`."""

    seconds: (
        float  # delay of `delayed` relative to `reference`: positive = `delayed` lags (its sound comes later)
    )
    confidence: float  # in [0, 1]: 1 - runner-up / main GCC-PHAT peak; ~0 for unrelated or periodic signals
    samples: float  # the same delay in samples at the given rate (sub-sample)


# --- helpers ------------------------------------------------------------------------------------------------


def _mono(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """Downmix `(samples,)` or `(channels, samples)` to float64 `(samples,)` (mean over channels)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    elif x.ndim != 1:
        raise ParameterError(f"{name} must have shape (samples,) or (channels, samples), got {x.shape}")
    if x.size == 0:
        raise ParameterError(f"{name} is empty")
    if not np.all(np.isfinite(x)):
        raise ParameterError(f"{name} contains NaN or Inf")
    return x


def _pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, est = _mono(reference, "reference"), _mono(estimate, "estimate")
    if ref.shape != est.shape:
        raise ParameterError(
            f"reference and estimate must have the same length, got {ref.size} and {est.size}"
        )
    return ref, est


def _ratio_db(target_power: float, error_power: float) -> float:
    """10 log10(target / error), capped at RATIO_CEILING_DB; -inf when there is no target energy."""
    if target_power <= 0.0:
        return float("-inf")
    return float(10.0 * np.log10(target_power / max(error_power, target_power * _RATIO_FLOOR)))


# --- signal-to-distortion ratios ----------------------------------------------------------------------------


def si_sdr(reference: np.ndarray, estimate: np.ndarray, *, zero_mean: bool = True) -> float:
    """Scale-invariant signal-to-distortion ratio (Le Roux et al., 2019), in dB.

    With reference s and estimate ŝ (both made zero-mean first when `zero_mean`)::

        α = <ŝ, s> / ||s||²,   e = ŝ − α s,   SI-SDR = 10 log10(||α s||² / ||e||²)

    Parameters
    ----------
    reference : np.ndarray, shape (samples,) or (channels, samples)
        Clean signal s; must not be all zeros.
    estimate : np.ndarray, same number of samples
        Signal ŝ to score; any non-zero scaling of it gives the same value.
    zero_mean : bool
        Remove the mean of both signals first, as the definition prescribes.

    Returns
    -------
    float
        dB; capped at `RATIO_CEILING_DB` (150 dB) for a perfect estimate, `-inf` when ŝ is orthogonal to s.
    """
    ref, est = _pair(reference, estimate)
    if zero_mean:
        ref, est = ref - ref.mean(), est - est.mean()
    ref_power = float(np.dot(ref, ref))
    if ref_power == 0.0:
        raise ParameterError("reference is silent (all zeros after mean removal); SI-SDR is undefined")
    target = (np.dot(est, ref) / ref_power) * ref
    error = est - target
    return _ratio_db(float(np.dot(target, target)), float(np.dot(error, error)))


def snr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-noise ratio of an estimate, in dB: 10 log10(Σ s² / Σ (ŝ − s)²).

    Not scale-invariant: a gain error counts as noise. Capped at `RATIO_CEILING_DB` when ŝ = s;
    `-inf` when the reference is silent.

    Parameters
    ----------
    reference : np.ndarray, shape (samples,) or (channels, samples)
        Clean signal s.
    estimate : np.ndarray, same number of samples
        Noisy or processed signal ŝ.
    """
    ref, est = _pair(reference, estimate)
    error = est - ref
    return _ratio_db(float(np.dot(ref, ref)), float(np.dot(error, error)))


def segmental_snr(
    reference: np.ndarray,
    estimate: np.ndarray,
    sr: int,
    *,
    frame_ms: float = 30.0,
    hop_ms: float | None = None,
    window: str | None = "hann",
) -> float:
    """Segmental SNR (Quackenbush et al. 1988; Loizou's `comp_snr`), in dB.

    The mean over frames m of the clamped frame SNR::

        SNRseg = (1/M) Σ_m clamp(10 log10(Σ_n (w s)² / Σ_n (w (s − ŝ))²), −10, 35)

    Only whole frames are used (a signal shorter than one frame is one frame). A frame where both the
    reference and the error are exactly zero counts as +35 dB (a perfect silent frame; Loizou's code would
    give −10 dB).

    Parameters
    ----------
    reference, estimate : np.ndarray, shape (samples,) or (channels, samples)
        Clean and processed signals, the same length.
    sr : int
        Sample rate, Hz.
    frame_ms : float > 0
        Frame length, milliseconds (30 ms as in Loizou).
    hop_ms : float > 0 or None
        Frame step, milliseconds; None: a quarter of the frame (75 % overlap, as in Loizou).
    window : "hann" or None
        Frame window w: Loizou's Hann, or None for rectangular frames.

    Returns
    -------
    float
        dB, in [SEGSNR_FLOOR_DB, SEGSNR_CEILING_DB] = [−10, 35].
    """
    ref, est = _pair(reference, estimate)
    if sr <= 0 or frame_ms <= 0 or (hop_ms is not None and hop_ms <= 0):
        raise ParameterError("sr, frame_ms and hop_ms must be positive")
    if window not in ("hann", None):
        raise ParameterError(f"window must be 'hann' or None, got {window!r}")
    frame = min(max(1, round(frame_ms * sr / 1000.0)), ref.size)
    hop = max(1, round(hop_ms * sr / 1000.0)) if hop_ms is not None else max(1, frame // 4)
    starts = np.arange(0, ref.size - frame + 1, hop)
    idx = starts[:, None] + np.arange(frame)[None, :]
    w = 0.5 * (1.0 - np.cos(2 * np.pi * np.arange(1, frame + 1) / (frame + 1))) if window else np.ones(frame)
    signal_energy = np.sum((ref[idx] * w) ** 2, axis=1)
    error_energy = np.sum(((ref - est)[idx] * w) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame_db = 10.0 * np.log10(signal_energy / error_energy)
    frame_db[(signal_energy == 0) & (error_energy == 0)] = SEGSNR_CEILING_DB
    return float(np.mean(np.clip(frame_db, SEGSNR_FLOOR_DB, SEGSNR_CEILING_DB)))


# --- loudness -----------------------------------------------------------------------------------------------


def loudness_lufs(audio: np.ndarray, sr: int) -> float:
    """Integrated loudness per ITU-R BS.1770-4, in LUFS.

    K-weighted mean square with the −70 LUFS absolute and −10 LU relative gates over 400 ms blocks
    (75 % overlap): L = −0.691 + 10 log10(Σ_c G_c · mean z_c). A full-scale 997 Hz sine in mono measures
    −3.01 LUFS (pyloudnorm's filters give −3.05). Clips shorter than 400 ms are measured as a single block
    spanning the whole clip (still gated at −70 LUFS). Up to 5 channels this is pyloudnorm's measurement;
    the gating is done here so that any channel count works.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Channels are weighted, not downmixed (`LOUDNESS_WEIGHTS`): up to 5 channels in the order L, R, C,
        Ls, Rs; 6 channels are 5.1 in FFmpeg's order L, R, C, LFE, Ls, Rs (LFE excluded, surrounds 1.41);
        7 to `MAX_LOUDNESS_CHANNELS` channels weigh the same.
    sr : int
        Sample rate, Hz.

    Returns
    -------
    float
        LUFS; `-inf` for silence (or anything below the −70 LUFS absolute gate).
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ParameterError(f"audio must be non-empty (samples,) or (channels, samples), got {x.shape}")
    if x.ndim == 2 and x.shape[0] > MAX_LOUDNESS_CHANNELS:
        raise ParameterError(
            f"loudness_lufs takes (channels, samples) with at most {MAX_LOUDNESS_CHANNELS} channels, got {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ParameterError("audio contains NaN or Inf")
    x = x.reshape(-1, x.shape[-1])
    weights = np.asarray(LOUDNESS_WEIGHTS.get(x.shape[0], (1.0,) * x.shape[0]))
    used = weights > 0
    return _gated_lufs(weights[used] @ _block_mean_squares(_k_weighted(x[used], sr), sr))


def _k_weighted(x: np.ndarray, sr: int) -> np.ndarray:
    """K-weighting filter (pre-filter shelf, then RLB high-pass) along the last axis."""
    from pyloudnorm.iirfilter import IIRfilter

    for gain_db, q, freq_hz, kind in K_WEIGHTING:
        x = IIRfilter(gain_db, q, freq_hz, sr, kind).apply_filter(x)
    return x


def _block_mean_squares(y: np.ndarray, sr: int) -> np.ndarray:
    """Mean square z_c,j of each channel in each gating block, shape (channels, blocks); bounds as pyloudnorm."""
    block_s = min(LOUDNESS_BLOCK_S, y.shape[-1] / sr)
    step = 1.0 - LOUDNESS_BLOCK_OVERLAP
    n_blocks = int(np.round((y.shape[-1] / sr - block_s) / (block_s * step))) + 1
    j = np.arange(n_blocks)
    lower = (block_s * (j * step) * sr).astype(np.int64)
    upper = np.minimum((block_s * (j * step + 1) * sr).astype(np.int64), y.shape[-1])
    energy = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(np.square(y), axis=-1)], axis=-1)
    return (energy[:, upper] - energy[:, lower]) / (block_s * sr)


def _gated_lufs(power: np.ndarray) -> float:
    """Integrated loudness from the weighted block powers Σ_c G_c z_c,j: absolute, then relative gate."""
    with np.errstate(divide="ignore"):
        block_lufs = LOUDNESS_OFFSET_DB + 10.0 * np.log10(power)
    above = block_lufs >= ABSOLUTE_GATE_LUFS
    if not above.any():
        return float("-inf")
    relative_gate = LOUDNESS_OFFSET_DB + 10.0 * np.log10(power[above].mean()) + RELATIVE_GATE_LU
    gated = (block_lufs > relative_gate) & (block_lufs > ABSOLUTE_GATE_LUFS)
    if not gated.any():
        return float("-inf")
    return float(LOUDNESS_OFFSET_DB + 10.0 * np.log10(power[gated].mean()))


# --- offset -------------------------------------------------------------------------------------------------


def estimate_offset(
    reference: np.ndarray, delayed: np.ndarray, sr: int, *, max_lag_s: float = 5.0
) -> OffsetEstimate:
    """Delay of `delayed` relative to `reference` by GCC-PHAT, with sub-sample precision.

    Sign: if ``delayed(t) = reference(t − τ)`` the result is ``τ`` seconds, positive when `delayed` lags (its
    sound comes later). To undo it, shift `delayed` by −τ (the speed action with ``offset_s = −τ``).

    The linear cross-correlation is computed in the frequency domain (zero-padded to avoid wrap-around) with
    PHAT weighting, W_k = X_d,k X_r,k* / |X_d,k X_r,k*|, so that the peak is sharp for any spectrum. The
    integer peak is refined by parabolic interpolation and then by Newton steps on the band-limited
    correlation g(τ) = (1/N) Σ_k c_k Re(W_k e^{i 2π k τ / N}), which removes the bias of a parabola fitted to
    a sinc-shaped peak (about 0.1 sample at a 0.4-sample offset).

    Parameters
    ----------
    reference, delayed : np.ndarray, shape (samples,) or (channels, samples)
        The two signals (downmixed to mono); lengths may differ.
    sr : int
        Sample rate of both, Hz.
    max_lag_s : float > 0
        Largest delay searched, in either direction, seconds.

    Returns
    -------
    OffsetEstimate
        `seconds` (positive = `delayed` lags), `samples`, and `confidence` in [0, 1].
    """
    ref, dly = _mono(reference, "reference"), _mono(delayed, "delayed")
    if sr <= 0 or max_lag_s <= 0:
        raise ParameterError("sr and max_lag_s must be positive")
    n_fft = _next_fast_len(ref.size + dly.size)
    cross = np.fft.rfft(dly, n_fft) * np.conj(np.fft.rfft(ref, n_fft))
    magnitude = np.abs(cross)
    weights = cross / np.maximum(magnitude, _PHAT_EPS * max(float(magnitude.max()), np.finfo(float).tiny))
    gcc = np.fft.irfft(weights, n_fft)
    max_lag = int(min(round(max_lag_s * sr), dly.size - 1 + ref.size - 1, n_fft // 2 - 1))
    lags = np.arange(-max_lag, max_lag + 1)
    values = gcc[lags % n_fft]
    best = int(np.argmax(values))
    lag = float(lags[best])
    if 0 < best < values.size - 1:
        lag += _parabolic(values[best - 1], values[best], values[best + 1])
        lag = _newton_refine(weights, n_fft, lag, int(lags[best]))
    confidence = _peak_confidence(values, best, max(1, round(OFFSET_EXCLUSION_S * sr)))
    return OffsetEstimate(seconds=lag / sr, confidence=confidence, samples=lag)


def _next_fast_len(n: int) -> int:
    from scipy.fft import next_fast_len

    return int(next_fast_len(n, real=True))


def _parabolic(left: float, centre: float, right: float) -> float:
    """Vertex of the parabola through (−1, left), (0, centre), (1, right), relative to 0."""
    denominator = left - 2.0 * centre + right
    return 0.0 if denominator >= 0 else float(np.clip(0.5 * (left - right) / denominator, -0.5, 0.5))


def _newton_refine(weights: np.ndarray, n_fft: int, start: float, peak: int) -> float:
    """Maximise the band-limited GCC g(τ) near `peak` by Newton steps from `start` (see estimate_offset)."""
    omega = 2.0 * np.pi * np.arange(weights.size) / n_fft
    c = np.full(weights.size, 2.0)
    c[0] = 1.0
    if n_fft % 2 == 0:
        c[-1] = 1.0
    cw = c * weights
    tau = start
    for _ in range(_NEWTON_STEPS):
        phased = cw * np.exp(1j * omega * tau)
        d1 = -float(np.dot(omega, phased.imag))  # n_fft · g'(τ)
        d2 = -float(np.dot(omega**2, phased.real))  # n_fft · g''(τ)
        if d2 >= 0:  # not at a maximum: keep the parabolic estimate
            return start
        step = d1 / d2
        tau -= step
        if abs(tau - peak) > 1.0:
            return start
        if abs(step) < 1e-6:
            break
    return tau


def _peak_confidence(values: np.ndarray, best: int, exclusion: int) -> float:
    """1 − (largest correlation outside ±exclusion of the peak) / peak, clipped to [0, 1]."""
    peak = float(values[best])
    if peak <= 0:
        return 0.0
    outside = np.concatenate([values[: max(0, best - exclusion)], values[best + exclusion + 1 :]])
    if outside.size == 0:
        return 1.0
    return float(np.clip(1.0 - max(float(outside.max()), 0.0) / peak, 0.0, 1.0))


# --- optional perceptual metrics ----------------------------------------------------------------------------


PESQ_RATES = (8000, 16000)  # the only rates ITU-T P.862 accepts
STOI_NATIVE_RATE = 10000  # pystoi resamples to 10 kHz internally


def pesq_score(reference: np.ndarray, estimate: np.ndarray, sr: int, *, mode: str | None = None) -> float:
    """PESQ (ITU-T P.862 / P.862.2) MOS-LQO of `estimate` against `reference`, via the `pesq` package.

    Parameters
    ----------
    reference, estimate : np.ndarray, shape (samples,) or (channels, samples)
        Clean and processed speech, the same length (downmixed to mono).
    sr : int
        Sample rate, Hz. Audio is scored at 8 kHz for "nb" at 8 kHz, else resampled (soxr) to 16 kHz.
    mode : "nb", "wb" or None
        Narrow-band (P.862, 8 kHz) or wide-band (P.862.2, 16 kHz); None: "nb" at 8 kHz, else "wb".

    Returns
    -------
    float
        MOS-LQO, about 1.0 (bad) to 4.5 ("nb") / 4.64 ("wb").

    Raises
    ------
    MetricUnavailableError
        (an ImportError) if `pesq` is not installed.
    """
    try:
        from pesq import pesq
    except ImportError as e:
        raise MetricUnavailableError(
            "pesq_score needs the 'pesq' package: pip install 'avagent[bench]'"
        ) from e
    ref, est = _pair(reference, estimate)
    mode = mode or ("nb" if sr == 8000 else "wb")
    if mode not in ("nb", "wb"):
        raise ParameterError(f"mode must be 'nb' or 'wb', got {mode!r}")
    target_sr = 8000 if sr == 8000 and mode == "nb" else 16000  # "wb" needs 16 kHz; "nb" accepts both
    ref, est = _resample(ref, sr, target_sr), _resample(est, sr, target_sr)
    return float(pesq(target_sr, ref, est, mode))


def stoi_score(reference: np.ndarray, estimate: np.ndarray, sr: int, *, extended: bool = False) -> float:
    """Short-time objective intelligibility (Taal et al. 2011; extended: Jensen & Taal 2016), via `pystoi`.

    Parameters
    ----------
    reference, estimate : np.ndarray, shape (samples,) or (channels, samples)
        Clean and processed speech, the same length (downmixed to mono).
    sr : int
        Sample rate, Hz (pystoi resamples to 10 kHz).
    extended : bool
        Compute ESTOI instead of STOI.

    Returns
    -------
    float
        Intelligibility index, about 0 to 1 (higher is better).

    Raises
    ------
    MetricUnavailableError
        (an ImportError) if `pystoi` is not installed.
    """
    try:
        from pystoi import stoi
    except ImportError as e:
        raise MetricUnavailableError(
            "stoi_score needs the 'pystoi' package: pip install 'avagent[bench]'"
        ) from e
    ref, est = _pair(reference, estimate)
    return float(stoi(ref, est, sr, extended=extended))


def _resample(x: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    if sr == target_sr:
        return x
    import soxr

    return soxr.resample(x, sr, target_sr, quality="HQ")
