"""STFT noise reduction: spectral subtraction (Berouti), Wiener (decision-directed SNR), spectral gating.

All three take `(samples,)` or `(channels, samples)` audio at any rate, work channel by channel and return
float32 audio of the same shape. The noise power spectrum comes from a given noise-only segment
(`noise_start_s`/`noise_end_s`) or from an estimator over the whole clip (`core.signal`), which skips digital
silence and dropouts so that they do not pull the estimate to zero.

The default estimator, `noise_floor` (`core.signal.noise_psd_floor`), asks for evidence of noise before it
removes anything: per STFT bin, a floor that the content rises above (speech and most sounds come and go), and
of that floor only what fluctuates like noise, unless it stays through the clip's pauses (hum under speech).
Clean input therefore mostly passes through (SI-SDR >= 20 dB on the benchmark's clean sets and on steady alarm
and ring tones). What it cannot tell apart: steady noise-like content (rain, applause, a noise test signal) is
removed like noise; hum under content that never pauses is kept like a tone; a single short event with
digital silence around it has no floor of its own. The agent applies these actions only when the audio
describer reports noise.
"""

from __future__ import annotations

import noisereduce
import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage
from scipy import signal as scipy_signal

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
# noisereduce pads each chunk with 30000 samples of context by default (+37 % work on 10 s at 16 kHz); one STFT
# window plus the span of its mask smoothing in time is enough (`_gating_options`). Chunks only exist beyond
# its 600000-sample chunk size.
# The stationary gate's noise statistics come from a synthetic Gaussian noise clip with the estimated noise
# floor spectrum, this many hops long: 64 frames keep the per-bin mean of its dB spectrum within about 0.7 dB.
GATING_NOISE_FRAMES = 64


def spectral_subtraction(audio: np.ndarray, sr: int, params: SpectralSubtractionParams) -> np.ndarray:
    """Berouti power spectral subtraction with over-subtraction and a spectral floor.

    Each bin keeps `max(1 - alpha * N / P, beta**2)` of its power, where P is the noisy power (smoothed over
    a few frames), N the noise power estimate (`noise_estimate`, see the module docstring), alpha
    `over_subtraction` and beta `spectral_floor`; the noisy phase is kept.

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
    elif params.noise_estimate == "quietest_frames":
        noise = sig.noise_psd_quietest(power, valid)
    else:
        noise = sig.noise_psd_floor(power, valid)
    return spec, noise, n_fft, hop


def spectral_gating(audio: np.ndarray, sr: int, params: SpectralGatingParams) -> np.ndarray:
    """Spectral gating with noisereduce (Sainburg 2020), stationary or non-stationary.

    Every parameter of `params` is passed to `noisereduce.reduce_noise` (numpy backend, one job, so none is
    dropped). Mask smoothing finer than one STFT bin (`freq_mask_smooth_hz`) or one hop
    (`time_mask_smooth_ms`) means no smoothing along that axis (noisereduce itself would raise). The
    stationary gate does not take its noise statistics from the whole clip, as noisereduce would (on clean
    speech that sets the threshold inside the speech and gates it away: SI-SDR 4 dB), but from a Gaussian
    noise clip synthesised with the noise floor of the mono mix (`core.signal.noise_psd_floor`, with its
    safeguard for steady content); with no floor at all (clean audio with silent pauses, digital silence) the
    input is returned unchanged.

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
    noise = _gating_noise(x.mean(axis=0), params.n_fft) if params.stationary else None
    if noise is not None and not noise.any():
        return sig.finish(x, x, audio)  # no noise floor (or nothing above digital silence): nothing to gate
    dither = 0.0 if params.stationary else GATING_DITHER * np.random.default_rng(GATING_SEED).standard_normal(x.shape)
    # float32 in: noisereduce's output is the same (it works in float32 anyway) and its STFTs run faster.
    y_in = (x + dither).astype(np.float32)
    try:
        y = noisereduce.reduce_noise(
            y=y_in, sr=sr, y_noise=noise, n_jobs=1, use_torch=False, **_gating_options(params, sr)
        )
    except ValueError as e:
        raise ParameterError(f"spectral_gating: noisereduce rejected the parameters: {e}") from e
    return sig.finish(_undo_mask_edge_loss(y, sr, params), x, audio)


def _gating_noise(x: np.ndarray, n_fft: int) -> np.ndarray:
    """Seeded Gaussian noise (GATING_NOISE_FRAMES hops) whose STFT power is the noise floor of `x` (samples,).

    The floor is estimated on non-overlapping frames (a quarter of the work of noisereduce's 75 % overlap, and
    independent cells); all zeros when `x` has no floor (no valid frame, or a floor of zero).
    """
    valid = sig.valid_frames(x, n_fft, n_fft)
    psd = sig.noise_psd_floor(np.abs(sig.stft(x, n_fft, n_fft)) ** 2, valid)  # (n_bins, 1)
    hop = n_fft // 4  # noisereduce's default hop
    white = np.random.default_rng(GATING_SEED).standard_normal(GATING_NOISE_FRAMES * hop)
    window_power = float(np.sum(scipy_signal.get_window("hann", n_fft) ** 2))  # E|STFT|^2 of unit white noise
    return sig.istft(sig.stft(white, n_fft, hop) * np.sqrt(psd / window_power), n_fft, hop, white.size)


def _undo_mask_edge_loss(y: np.ndarray, sr: int, params: SpectralGatingParams) -> np.ndarray:
    """Undo the loss noisereduce's mask smoothing causes at the lowest and highest frequencies.

    noisereduce smooths its gate mask by a 2-D convolution with a triangular filter (`freq_mask_smooth_hz`
    wide either way) and zero padding, so even a fully open mask drops towards 0.5 at 0 Hz and at Nyquist:
    with the defaults, everything below 500 Hz loses up to 6 dB whatever the gate decides (SI-SDR 18 dB on
    clean sound with prop_decrease=0). That loss is the same for every frame, a fixed frequency response of
    the smoothing; its inverse is applied here as a zero-phase filter over the whole clip.
    """
    if params.freq_mask_smooth_hz < sr / (params.n_fft / 2):
        return y  # no smoothing across frequency (see _gating_options)
    n_grad = int(params.freq_mask_smooth_hz / (sr / (params.n_fft / 2)))  # noisereduce's half width, in bins
    taps = 1.0 - np.abs(np.arange(-n_grad, n_grad + 1)) / (n_grad + 1)
    n_bins = params.n_fft // 2 + 1
    kept = np.convolve(np.ones(n_bins), taps, mode="same") / taps.sum()  # open mask after smoothing
    n = y.shape[-1]
    n_pad = sp_fft.next_fast_len(n + params.n_fft, real=True)  # no wrap-around
    freqs = sp_fft.rfftfreq(n_pad, 1.0 / sr)
    gain = (1.0 / np.interp(freqs, np.arange(n_bins) * sr / params.n_fft, kept)).astype(np.float32)
    spectrum = sp_fft.rfft(np.asarray(y, dtype=np.float32), n_pad, axis=-1)  # float32: the output's precision
    return sp_fft.irfft(spectrum * gain, n_pad, axis=-1)[..., :n]


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
        "padding": params.n_fft + int(np.ceil(params.time_mask_smooth_ms * sr / 1000.0)),
    }
