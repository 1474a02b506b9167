"""Wavelet shrinkage denoising (PyWavelets): VisuShrink (Donoho-Johnstone), BayesShrink (Chang et al.)."""

from __future__ import annotations

import numpy as np
import pywt

from avagent.actions.params import WaveletDenoiseParams
from avagent.core import signal as sig

# Median absolute deviation of Gaussian noise is 0.6745 sigma, so sigma = MAD / 0.6745 (Donoho 1995).
MAD_TO_SIGMA = 1.0 / 0.6745
# Boundary handling of the transform; symmetric extension avoids edge artefacts, output is trimmed to length.
EXTENSION_MODE = "symmetric"


def wavelet_denoise(audio: np.ndarray, sr: int, params: WaveletDenoiseParams) -> np.ndarray:
    """Shrink the detail coefficients of a multilevel DWT, channel by channel.

    The noise level sigma is the MAD of the finest detail coefficients over 0.6745 (white noise assumed).
    VisuShrink uses one universal threshold `sigma * sqrt(2 ln n)`; BayesShrink uses `sigma**2 / sigma_x` per
    level, with `sigma_x**2 = max(var(d) - sigma**2, 0)` (a level with no signal above the noise is zeroed).
    Both are multiplied by `threshold_scale`. The approximation coefficients are kept.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Samples, full scale 1.0.
    sr : int
        Sample rate, Hz (the transform does not depend on it).
    params : WaveletDenoiseParams
        `levels` above the largest useful depth for the clip length (PyWavelets' `dwt_max_level`) are lowered
        to it; a clip too short for one level is returned unchanged.

    Returns
    -------
    np.ndarray, float32, same shape as `audio`
    """
    sig.expect_params(params, WaveletDenoiseParams)
    x = sig.check_audio(audio)
    sig.check_sample_rate(sr)
    wavelet = pywt.Wavelet(params.wavelet)
    max_level = pywt.dwt_max_level(x.shape[-1], wavelet.dec_len)
    levels = max_level if params.levels is None else min(params.levels, max_level)
    if levels < 1:
        return sig.finish(x, x, audio)
    coeffs = pywt.wavedec(x, wavelet, mode=EXTENSION_MODE, level=levels, axis=-1)
    details = coeffs[1:]
    sigma = np.median(np.abs(details[-1]), axis=-1, keepdims=True) * MAD_TO_SIGMA
    shrunk = [_shrink(d, sigma, x.shape[-1], params) for d in details]
    y = pywt.waverec([coeffs[0], *shrunk], wavelet, mode=EXTENSION_MODE, axis=-1)[..., : x.shape[-1]]
    return sig.finish(y, x, audio)


def _shrink(detail: np.ndarray, sigma: np.ndarray, n: int, params: WaveletDenoiseParams) -> np.ndarray:
    """Threshold one level of details (channels, n_coeffs) given the per-channel noise sigma (channels, 1)."""
    if params.method == "VisuShrink":
        threshold = sigma * np.sqrt(2.0 * np.log(n))
    else:
        signal_var = np.maximum(np.mean(detail * detail, axis=-1, keepdims=True) - sigma**2, 0.0)
        peak = np.max(np.abs(detail), axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            threshold = np.where(signal_var > 0, sigma**2 / np.sqrt(signal_var), peak)
    with np.errstate(divide="ignore", invalid="ignore"):  # pywt divides by |d|, which is 0 on silence
        return pywt.threshold(detail, threshold * params.threshold_scale, mode=params.mode)
