"""Timing and pitch edits: an affine time-warp (playback rate + offset) and a duration-preserving pitch shift.

Both keep the input length, which is the video's length: audio moved or compressed away from an edge leaves
zeros there (no source audio exists for that time), audio moved or stretched past the end is cut.
"""

from __future__ import annotations

import numpy as np
import python_stretch as ps
import soxr

from avagent.actions.params import PitchParams, SpeedParams
from avagent.core import signal as sig

RESAMPLE_QUALITY = "VHQ"  # soxr's very-high quality: 175 dB stop band, still > 1000x real time at 16 kHz
# python-stretch (Signalsmith Stretch) picks random phases when it has to invent them; a fixed seed makes the
# time-stretch and the pitch shift deterministic.
STRETCH_SEED = 0


def speed(audio: np.ndarray, sr: int, params: SpeedParams) -> np.ndarray:
    """Affine time-warp: `output(t) = input(rate * (t - offset_s))`, output length = input length.

    `rate` > 1 plays faster (repairs audio that runs slow), `offset_s` > 0 delays the audio (repairs audio
    that leads the video). Without `preserve_pitch` the audio is resampled (soxr), so pitch follows the rate,
    as with a drifting clock; with it, the audio is time-stretched (python-stretch) keeping its pitch. The
    offset is applied as a whole-sample shift (rounded to the nearest sample); with `rate == 1` the output is
    exactly the shifted input. Where no source audio maps to an output time (the start after a delay, the end
    after speeding up or advancing), the output is zero; source audio mapped past the end is dropped.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Samples, full scale 1.0.
    sr : int
        Sample rate, Hz.
    params : SpeedParams

    Returns
    -------
    np.ndarray, float32, same shape as `audio`
    """
    sig.expect_params(params, SpeedParams)
    x = sig.check_audio(audio)
    sr = sig.check_sample_rate(sr)
    if params.rate == 1.0:
        warped = x
    elif params.preserve_pitch:
        warped = _stretch(x, sr, time_factor=params.rate, semitones=0.0)
    else:
        warped = soxr.resample(x.T, sr * params.rate, sr, quality=RESAMPLE_QUALITY).T
    y = shift(warped, round(params.offset_s * sr), x.shape[-1])
    return sig.finish(y, x, audio)


def shift(x: np.ndarray, delay: int, length: int) -> np.ndarray:
    """Delay `x` by `delay` samples (negative: advance) into an array of `length` samples, zeros elsewhere.

    Parameters
    ----------
    x : np.ndarray, shape (channels, samples)
    delay : int
        Samples; output sample n is `x[n - delay]` where that index exists.
    length : int
        Output length, samples.

    Returns
    -------
    np.ndarray, shape (channels, length)
    """
    out = np.zeros((x.shape[0], length), dtype=x.dtype)
    dst, src = max(delay, 0), max(-delay, 0)
    count = max(0, min(length - dst, x.shape[-1] - src))
    out[:, dst : dst + count] = x[:, src : src + count]
    return out


def pitch(audio: np.ndarray, sr: int, params: PitchParams) -> np.ndarray:
    """Shift the pitch by `semitones` keeping the duration (python-stretch, Signalsmith Stretch).

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Samples, full scale 1.0.
    sr : int
        Sample rate, Hz.
    params : PitchParams
        `semitones == 0` returns the input unchanged (as float32).

    Returns
    -------
    np.ndarray, float32, same shape as `audio`
    """
    sig.expect_params(params, PitchParams)
    x = sig.check_audio(audio)
    sr = sig.check_sample_rate(sr)
    if params.semitones == 0.0:
        return sig.restore_layout(x, audio)
    y = shift(_stretch(x, sr, time_factor=1.0, semitones=params.semitones), 0, x.shape[-1])
    return sig.finish(y, x, audio)


def _stretch(x: np.ndarray, sr: int, time_factor: float, semitones: float) -> np.ndarray:
    """Time-stretch (time_factor > 1 shortens) and transpose (channels, samples); latency compensated."""
    stretcher = ps.Signalsmith.Stretch(STRETCH_SEED)
    stretcher.preset(x.shape[0], float(sr))
    stretcher.setTimeFactor(time_factor)
    stretcher.setTransposeSemitones(semitones)
    return np.asarray(stretcher.process(np.ascontiguousarray(x, dtype=np.float32)), dtype=np.float64)
