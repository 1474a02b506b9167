"""Loudness: normalisation to a LUFS target (ITU-R BS.1770), gain, segment-wise levelling, and a
true-peak limiter."""

from __future__ import annotations

import numpy as np
import soxr
from scipy import ndimage

from avagent.actions.params import VolumeParams
from avagent.core import signal as sig
from avagent.core.metrics import loudness_lufs

BLOCK_S = 0.4  # BS.1770 gating block; shorter clips are measured tiled to one block (same mean square)
# BS.1770 absolute gate: a clip quieter than this is silence and gets no normalisation gain.
ABSOLUTE_GATE_LUFS = -70.0
# Normalisation never adds more than this: a -53 LUFS clip still reaches -23 LUFS, but a near-silent noise
# floor is not blown up by +60 dB (gain_db still applies on top, as the caller asked for it explicitly).
MAX_NORMALISATION_GAIN_DB = 30.0
# Segment mode: windows overlap by half; windows quieter than the clip's loudness minus SEGMENT_GATE_LU are
# pauses and take their neighbours' gain; no window's gain is more than SEGMENT_RANGE_DB from the clip's.
SEGMENT_GATE_LU = 20.0
SEGMENT_RANGE_DB = 20.0
# The limiter lowers the loudness when it acts; make-up passes re-measure and correct within MAKEUP_TOL_LU.
MAKEUP_PASSES = 3
MAKEUP_TOL_LU = 0.05
TRUE_PEAK_OVERSAMPLING = 4  # BS.1770-4 Annex 2: 4x oversampling estimates inter-sample peaks
# Inter-sample peaks exceed the sample peaks by 3 dB at most for a sine (at fs/4, sampled at +-45 degrees) and
# rarely by more on real audio: gains that keep the sample peaks 6 dB under the ceiling skip the oversampling.
TRUE_PEAK_MARGIN = 2.0
LIMITER_LOOKAHEAD_S = 0.005  # attack ramp of 2 x 5 ms, fully applied by the time a peak arrives
LIMITER_HOLD_S = 0.05  # gain reduction is held 50 ms after a peak before the release ramp, against distortion


def volume(audio: np.ndarray, sr: int, params: VolumeParams) -> np.ndarray:
    """Normalise loudness to `target_lufs`, add `gain_db`, and limit true peaks to `peak_limit_dbfs`.

    With `segment_s`, the gain varies over time: each half-overlapping window of `segment_s` is brought to
    the target (or, without a target, to the clip's own loudness), pauses keep their neighbours' gain, and
    gains are interpolated linearly between window centres. The limiter is a look-ahead gain computer on a 4x
    oversampled peak envelope, linked across channels, whose gain never exceeds `ceiling / peak` at any
    sample (a final clip at the ceiling only removes rounding residue). When limiting lowers the loudness, the
    gain is re-adjusted (a few passes) so the result still meets the target where the ceiling allows it.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Samples, full scale 1.0.
    sr : int
        Sample rate, Hz.
    params : VolumeParams
        Normalisation gain is capped at MAX_NORMALISATION_GAIN_DB (+30 dB) and not applied at all to clips
        below the -70 LUFS absolute gate (silence); `gain_db` always applies.

    Returns
    -------
    np.ndarray, float32, same shape as `audio`
        Sample peak <= 10**(peak_limit_dbfs / 20).
    """
    sig.expect_params(params, VolumeParams)
    x = sig.check_audio(audio)
    sr = sig.check_sample_rate(sr)
    loudness = integrated_lufs(x, sr)
    norm_db = _normalisation_db(x, sr, loudness, params)
    ceiling = sig.db_to_amplitude(params.peak_limit_dbfs)
    y, limited = _limit(x, norm_db + params.gain_db, ceiling, sr)
    needs_makeup = limited or norm_db.size > 1  # otherwise the loudness is exactly on target already
    if params.target_lufs is not None and loudness > ABSOLUTE_GATE_LUFS and needs_makeup:
        goal = params.target_lufs + params.gain_db
        for _ in range(MAKEUP_PASSES):
            miss = goal - integrated_lufs(y, sr)
            if not abs(miss) > MAKEUP_TOL_LU or np.max(norm_db) >= MAX_NORMALISATION_GAIN_DB:
                break
            norm_db = np.minimum(norm_db + miss, MAX_NORMALISATION_GAIN_DB)
            y, _ = _limit(x, norm_db + params.gain_db, ceiling, sr)
    return sig.finish(y, x, audio)


def integrated_lufs(x: np.ndarray, sr: int) -> float:
    """Gated integrated loudness (BS.1770-4, `avagent.core.metrics.loudness_lufs`: 5.1 weighting with the LFE
    left out) of `x` (channels, samples), LUFS; -inf if silent. Clips shorter than one 400 ms block are tiled to
    one block, so the volume action and the simulator's labels measure alike."""
    n_block = int(np.ceil(BLOCK_S * sr)) + 1
    if x.shape[-1] < n_block:
        x = np.tile(x, (1, -(-n_block // x.shape[-1])))
    return float(loudness_lufs(x, sr))


def _normalisation_db(x: np.ndarray, sr: int, loudness: float, params: VolumeParams) -> np.ndarray:
    """Normalisation gain in dB: shape (1,) for one gain, (samples,) in segment mode."""
    if not loudness > ABSOLUTE_GATE_LUFS:
        return np.zeros(1)
    reference = loudness if params.target_lufs is None else params.target_lufs
    gain = min(reference - loudness, MAX_NORMALISATION_GAIN_DB)
    if params.segment_s is None or x.shape[-1] <= params.segment_s * sr:
        return np.array([gain])
    win = int(params.segment_s * sr)
    starts = np.arange(0, x.shape[-1] - win + 1, win // 2)
    levels = np.array([integrated_lufs(x[:, s : s + win], sr) for s in starts])
    voiced = (levels > ABSOLUTE_GATE_LUFS) & (levels > loudness - SEGMENT_GATE_LU)
    if not voiced.any():
        return np.array([gain])
    wanted = np.clip(reference - levels[voiced], gain - SEGMENT_RANGE_DB, gain + SEGMENT_RANGE_DB)
    centres = starts[voiced] + win / 2
    curve = np.interp(np.arange(x.shape[-1]), centres, np.minimum(wanted, MAX_NORMALISATION_GAIN_DB))
    return curve


def _true_peak_envelope(x: np.ndarray, sr: int) -> np.ndarray:
    """Per-sample true-peak estimate (samples,): max over channels of the 4x oversampled |x|."""
    up = soxr.resample(x.T, sr, sr * TRUE_PEAK_OVERSAMPLING, quality="HQ")
    up = np.abs(up[: x.shape[-1] * TRUE_PEAK_OVERSAMPLING]).max(axis=-1)
    up = np.pad(up, (0, x.shape[-1] * TRUE_PEAK_OVERSAMPLING - up.shape[0]))
    peaks = up.reshape(x.shape[-1], TRUE_PEAK_OVERSAMPLING).max(axis=-1)
    return np.maximum(peaks, np.abs(x).max(axis=0))


def _limit(x: np.ndarray, gain_db: np.ndarray, ceiling: float, sr: int) -> tuple[np.ndarray, bool]:
    """Apply `gain_db` (1,) or (samples,) to `x` (channels, samples) limiting peaks to `ceiling`; limited?"""
    gain = sig.db_to_amplitude(gain_db) * np.ones(x.shape[-1])
    sample_peak = np.abs(x).max(axis=0) * gain
    if np.max(sample_peak) * TRUE_PEAK_MARGIN <= ceiling:
        return x * gain, False
    peak = _true_peak_envelope(x, sr) * gain
    needed = np.minimum(1.0, np.divide(ceiling, peak, out=np.ones_like(peak), where=peak > ceiling))
    if needed.min() < 1.0:
        needed = limiter_gain(needed, round(LIMITER_LOOKAHEAD_S * sr), round(LIMITER_HOLD_S * sr))
    return np.clip(x * (gain * needed), -ceiling, ceiling), bool(needed.min() < 1.0)


def limiter_gain(needed: np.ndarray, lookahead: int, hold: int) -> np.ndarray:
    """Smooth gain curve that is never above `needed` at any sample.

    A sliding minimum over [n - lookahead - hold, n + lookahead] followed by a moving average over
    [n - lookahead, n + lookahead]: every averaged value is a minimum over a window containing n, so the
    result is <= needed[n]; attack and release are linear ramps of 2 * lookahead samples, release after a
    hold.

    Parameters
    ----------
    needed : np.ndarray, shape (samples,)
        Largest allowed gain at each sample, in (0, 1].
    lookahead, hold : int
        Samples.

    Returns
    -------
    np.ndarray, shape (samples,)
    """
    size = 2 * lookahead + hold + 1
    held = ndimage.minimum_filter1d(needed, size, mode="nearest", origin=(lookahead + hold) - size // 2)
    return np.minimum(ndimage.uniform_filter1d(held, 2 * lookahead + 1, mode="nearest"), needed)
