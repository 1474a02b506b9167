"""STFT noise reduction: spectral subtraction (Berouti), Wiener (decision-directed SNR), spectral gating.

All three take `(samples,)` or `(channels, samples)` audio at any rate, work channel by channel and return
float32 audio of the same shape. The noise power spectrum comes from a given noise-only segment
(`noise_start_s`/`noise_end_s`) or from an estimator over the whole clip (`core.signal`), which skips digital
silence and dropouts so that they do not pull the estimate to zero.
"""

from __future__ import annotations

import noisereduce
import numpy as np
from scipy import ndimage

from avagent.actions.params import SpectralGatingParams, SpectralSubtractionParams, WienerParams
from avagent.core import signal as sig
from avagent.core.errors import ParameterError

# Decision-directed a-priori SNR floor (Ephraim-Malah): -25 dB keeps the estimate from collapsing in
# noise-only bins where the posterior SNR fluctuates below 1.
XI_MIN_DB = -25.0
# Spectral subtraction works on the noisy power smoothed over SS_SMOOTH_FRAMES frames (2 hops = half a
# window with the 75 % overlap STFT): the gain then follows the speech rather than each periodogram
# fluctuation, which is what turns residual noise into "musical" tones.
SS_SMOOTH_FRAMES = 3
# noisereduce's non-stationary gate divides by the smoothed magnitude, which is 0/0 on digital silence. A
# fixed dither 240 dB below full scale removes the exact zeros and nothing audible (stationary mode: no need).
GATING_DITHER = 1e-12
GATING_SEED = 0
# noisereduce pads each chunk with 30000 samples of context by default (+37 % work on 10 s at 16 kHz); 8 STFT
# windows cover its mask smoothing. Chunks only exist beyond its 600000-sample chunk size.
GATING_PADDING_FFTS = 8


def spectral_subtraction(audio: np.ndarray, sr: int, params: SpectralSubtractionParams) -> np.ndarray:
    """Berouti power spectral subtraction with over-subtraction and a spectral floor.

    Each bin keeps `max(1 - alpha * N / P, beta**2)` of its power, where P is the noisy power (smoothed over
    a few frames), N the noise power estimate, alpha `over_subtraction` and beta `spectral_floor`; the noisy
    phase is kept.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Samples, full scale 1.0.
    sr : int
        Sample rate, Hz.
    params : SpectralSubtractionParams

    Returns
    -------
    np.ndarray, float32, same shape as `audio`
    """
    sig.expect_params(params, SpectralSubtractionParams)
    x = sig.check_audio(audio)
    spec, noise, n_fft, hop = _analyse(x, sig.check_sample_rate(sr), params)
    power = np.abs(spec) ** 2
    smoothed = ndimage.uniform_filter1d(power, SS_SMOOTH_FRAMES, axis=-1, mode="nearest")
    gain2 = np.maximum(1.0 - params.over_subtraction * noise / np.maximum(smoothed, sig.EPS), params.spectral_floor**2)
    y = sig.istft(spec * np.sqrt(gain2), n_fft, hop, x.shape[-1])
    return sig.finish(y, x, audio)


def wiener(audio: np.ndarray, sr: int, params: WienerParams) -> np.ndarray:
    """STFT Wiener filter with the decision-directed a-priori SNR of Ephraim and Malah (1984).

    For each frame t and bin k: posterior SNR gamma = P / N, a-priori SNR
    `xi = a * G(t-1)**2 * gamma(t-1) + (1 - a) * max(gamma - 1, 0)` (a = `dd_alpha`), Wiener gain
    `G = xi / (1 + xi)`, refined once by the two-step estimate of Plapous et al. (2006), `xi' = G**2 * gamma`,
    which removes the one-frame lag of the decision-directed estimate; the gain never goes below
    `gain_floor_db`.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
    sr : int
        Sample rate, Hz.
    params : WienerParams

    Returns
    -------
    np.ndarray, float32, same shape as `audio`
    """
    sig.expect_params(params, WienerParams)
    x = sig.check_audio(audio)
    spec, noise, n_fft, hop = _analyse(x, sig.check_sample_rate(sr), params)
    gamma = np.abs(spec) ** 2 / np.maximum(noise, sig.EPS)
    gain = _decision_directed_gain(gamma, params.dd_alpha, sig.db_to_amplitude(params.gain_floor_db))
    y = sig.istft(spec * gain, n_fft, hop, x.shape[-1])
    return sig.finish(y, x, audio)


def _decision_directed_gain(gamma: np.ndarray, alpha: float, floor: float) -> np.ndarray:
    """Wiener gains (..., n_bins, n_frames) from posterior SNRs, by the decision-directed recursion."""
    xi_min = sig.db_to_amplitude(XI_MIN_DB) ** 2
    gain = np.empty_like(gamma)
    frames = np.moveaxis(gamma, -1, 0)  # (n_frames, ..., n_bins): one contiguous slice per frame
    out = np.moveaxis(gain, -1, 0)
    clean_prev = np.maximum(frames[0] - 1.0, 0.0)  # first frame: maximum-likelihood estimate
    for t in range(frames.shape[0]):
        xi = np.maximum(alpha * clean_prev + (1.0 - alpha) * np.maximum(frames[t] - 1.0, 0.0), xi_min)
        g = xi / (1.0 + xi)
        xi = g * g * frames[t]  # two-step refinement (Plapous 2006): removes the one-frame lag of xi
        g = np.maximum(xi / (1.0 + xi), floor)
        out[t] = g
        clean_prev = g * g * frames[t]
    return gain


def _analyse(x: np.ndarray, sr: int, params: SpectralSubtractionParams | WienerParams):
    """STFT of `x` (channels, samples) and its noise power estimate, broadcastable to the spectrogram."""
    n_fft, hop = sig.frame_size(sr, params.frame_ms)
    spec = sig.stft(x, n_fft, hop)
    power = np.abs(spec) ** 2
    valid = sig.valid_frames(x, n_fft, hop)
    if params.noise_start_s is not None:
        times = (np.arange(spec.shape[-1]) * hop - (n_fft - hop) + n_fft / 2) / sr
        noise = sig.noise_psd_segment(power, valid, times, params.noise_start_s, params.noise_end_s)
    elif params.noise_estimate == "minimum_statistics":
        noise = sig.noise_psd_minimum_statistics(power, valid, sr / hop)
    else:
        noise = sig.noise_psd_quietest(power, valid)
    return spec, noise, n_fft, hop


def spectral_gating(audio: np.ndarray, sr: int, params: SpectralGatingParams) -> np.ndarray:
    """Spectral gating with noisereduce (Sainburg 2020), stationary or non-stationary.

    Every parameter of `params` is passed to `noisereduce.reduce_noise` (numpy backend, one job, so none is
    dropped). Mask smoothing finer than one STFT bin (`freq_mask_smooth_hz`) or one hop
    (`time_mask_smooth_ms`) means no smoothing along that axis (noisereduce itself would raise). The
    stationary gate takes its noise statistics from the quietest non-silent stretches of the clip
    (`core.signal.quietest_excerpt`), not from the whole clip as noisereduce would: on clean speech the whole
    clip sets the threshold inside the speech and gates it away (SI-SDR 4 dB instead of 37 dB).

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
    sr : int
        Sample rate, Hz.
    params : SpectralGatingParams

    Returns
    -------
    np.ndarray, float32, same shape as `audio`
    """
    sig.expect_params(params, SpectralGatingParams)
    x = sig.check_audio(audio)
    sr = sig.check_sample_rate(sr)
    noise = sig.quietest_excerpt(x.mean(axis=0), params.n_fft) if params.stationary else None
    if noise is not None and noise.size == 0:
        return sig.finish(x, x, audio)  # nothing above digital silence: nothing to gate
    dither = 0.0 if params.stationary else GATING_DITHER * np.random.default_rng(GATING_SEED).standard_normal(x.shape)
    try:
        y = noisereduce.reduce_noise(
            y=x + dither, sr=sr, y_noise=noise, n_jobs=1, use_torch=False, **_gating_options(params, sr)
        )
    except ValueError as e:
        raise ParameterError(f"spectral_gating: noisereduce rejected the parameters: {e}") from e
    return sig.finish(y, x, audio)


def _gating_options(params: SpectralGatingParams, sr: int) -> dict:
    """Keyword arguments of `noisereduce.reduce_noise` for `params` (smoothing below one bin/hop: None)."""
    hop = params.n_fft // 4  # noisereduce's default hop
    return {
        "stationary": params.stationary,
        "prop_decrease": params.prop_decrease,
        "time_constant_s": params.time_constant_s,
        "freq_mask_smooth_hz": (
            params.freq_mask_smooth_hz if params.freq_mask_smooth_hz >= sr / (params.n_fft / 2) else None
        ),
        "time_mask_smooth_ms": (
            params.time_mask_smooth_ms if params.time_mask_smooth_ms >= 1000.0 * hop / sr else None
        ),
        "thresh_n_mult_nonstationary": params.thresh_n_mult_nonstationary,
        "sigmoid_slope_nonstationary": params.sigmoid_slope_nonstationary,
        "n_std_thresh_stationary": params.n_std_thresh_stationary,
        "n_fft": params.n_fft,
        "padding": GATING_PADDING_FFTS * params.n_fft,
    }
