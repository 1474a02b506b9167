"""Audio-video offset estimation from activity cross-correlation, with a confidence and a drift estimate.

Sign convention: `offset_s > 0` means the audio is LATE relative to the video (a sound is heard after its picture),
so the repair is `speed(rate=1, offset_s=-offset_s)`, the convention of `avagent.core.simulate.Offset`.

Method
------
Audio and video are each turned into "activity" series that rise when something happens, then compared over lags.

- Audio (`audio_activity`): mono at 16 kHz; log power in AUDIO_BANDS log-spaced bands over Hann windows one video
  frame long, every 10 ms; each band is floored at its own noise level (a low percentile plus a margin), so a
  steady background carries no activity. The activity is the |change| of each band's log power across one frame
  period, divided by that band's median change (a noisy band counts less), averaged over bands: a full-wave
  spectral flux. It mirrors frame differencing: a frame difference is the change between two frame-long
  exposures, so the start AND the end of a sound, a mouth opening AND closing, count.
- Video (`VisualActivity`): motion energy per cell of a grid (mean |grey-level difference| of consecutive frames,
  `avagent.tools.motion` conventions: value k compares frames k-1 and k and is stamped at frame k), plus, when the
  video describer tracked a face, the lip-box motion and the mouth-opening velocity. Frames at scene cuts that
  change most of the picture are neutralised (a cut changes every pixel whatever the sound does), and a channel
  that rises above MOTION_FLOOR (the coding noise of a still picture) in fewer than MIN_ACTIVE_FRAMES frames is
  left out: there is nothing to follow in it.
- Both sides are square-root compressed and high-passed (minus a running median over HIGHPASS_S), and the video
  channels are interpolated onto the audio's 10 ms grid.
- Correlation (`estimate_offset`): the Pearson correlation r_k(L) of the audio activity with each visual channel
  k at every lag L in ±MAX_LAG_S (over the overlapping part, scaled by sqrt(overlap / n) so that partial overlaps
  at far lags do not win by chance), combined as R(L) = sqrt(sum_k max(r_k(L), 0)^2): channels that see the
  sounding objects add up at the true lag, channels with unrelated motion (a drifting blob, a blink, a camera
  pan) add a flat background. Tried and rejected on the calibration clips: a weighted mean of the r_k (weights
  from each curve's prominence or from the channel's activity) and a non-negative least-squares fit of all
  channels per lag; R was as accurate on clean clips and the most accurate under added noise. The peak of R is
  refined to sub-sample precision with a parabola through its three highest samples.
- Confidence: the peak's robust z-score against R outside ±EXCLUSION_S of the peak, and the ratio of the peak to
  the best other local maximum outside that neighbourhood (a periodic stimulus gives several equal peaks and a
  ratio near 1), combined as `strength` = log(z) + RATIO_WEIGHT * log(ratio); `no_sync_cue` is set below
  MIN_CUE_STRENGTH, which separates synthetic clips with a visible source from still pictures and from another
  clip's audio.
- Drift: the audio activity is re-read at (1 + s) t for drift slopes s on a grid (±MAX_DRIFT, coarse then fine);
  the slope whose R peaks highest wins if it raises the peak by DRIFT_MIN_GAIN and its strength clears the cue
  threshold by DRIFT_CUE_MARGIN (the best of many warps stands out by chance more often than one curve does).
  Offsets then grow by s per second of video: the result gives them at the start, middle and end. An audio track
  resampled by the simulator's `Drift(rate=d)` shows s = 1/d - 1; the repair is `speed(rate=1 + s, ...)`.
  Independent of that fit, the first and second half of the (un-warped) audio are each searched near the
  prediction (`windows`), as a check.

Constants marked "calibrated" come from `python -m bench.calibrate_scorer` (synthetic clips assembled from real
recordings with known offsets, plus Big Buck Bunny and Megamind); see `avagent.tools.offline_scorer`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from avagent.core.errors import ParameterError
from avagent.tools.motion import DEFAULT_GRID, MotionAnalyzer, merge_close_cuts

ANALYSIS_SR = 16000  # Hz: audio is analysed at this rate
HOP_S = 0.01  # activity series step, s (100 Hz: 10 ms lags before parabolic refinement)
AUDIO_BANDS = 8  # log-spaced bands between BAND_LOW_HZ and BAND_HIGH_HZ (8 beat 16 under added noise)
BAND_LOW_HZ, BAND_HIGH_HZ = 80.0, 7600.0
LOG_RANGE_DB = 70.0  # log power is floored this far below the loudest band level (its 99th percentile)
NOISE_PERCENTILE = 20.0  # a band's noise level: this percentile of its log power over the clip
NOISE_MARGIN_DB = 6.0  # ...and the band's floor sits this far above it
MIN_BAND_CHANGE_DB = 0.1  # floor of the per-band median change that normalises the flux
MAX_LAG_S = 2.5  # lags searched, s (either sign)
MIN_OVERLAP_S = 2.0  # lags whose overlap is shorter than this (or than half the clip) are not searched
HIGHPASS_S = 0.5  # running-median window removed from both activity series, s
MOTION_FLOOR = 0.0015  # motion energy below this is coding noise (a still H.264 picture stays under 0.0013)...
MIN_ACTIVE_FRAMES = 5  # ...and a channel needs this many frames above it to be used
CUT_GUARD_FRAMES = 1  # frames on each side of a scene cut whose motion is neutralised
CUT_SPREAD_FACTOR = 2.0  # a real cut lifts a channel above this multiple of its 90th percentile...
CUT_MIN_REGION_SHARE = 0.5  # ...in at least this share of the channels
EXCLUSION_S = 0.25  # half-width around the peak left out when measuring the rest of the curve, s
RATIO_WEIGHT = 1.0  # calibrated: weight of log(peak ratio) against log(z) in the cue strength
MIN_CUE_STRENGTH = 2.5  # calibrated: cue strength below which the clip has no usable sync cue
MAX_DRIFT = 0.06  # drift slopes searched: offsets growing by up to 6 % of the elapsed time (either sign)
DRIFT_STEP = 0.01  # coarse grid of the drift search...
DRIFT_FINE_STEP = 0.002  # ...then this fine grid within one coarse step of the best
DRIFT_MIN_GAIN = 0.14  # a drift is reported only if it raises the peak of R by this fraction (S by 30 %)
DRIFT_CUE_MARGIN = 0.5  # calibrated: extra cue strength a drifting estimate needs (see estimate_from_activity)
HALF_SEARCH_S = 0.3  # the half-clip consistency estimates search within this of the global lag, s
MIN_WINDOW_STRENGTH = 2.0  # half-clip estimates below this cue strength are not trusted
MAX_Z = 50.0  # z-scores are capped here in the cue strength (a flat rest of the curve makes z explode)
EPS = 1e-12


@dataclass(frozen=True, eq=False)
class VisualActivity:
    """Visual activity channels on the video's frame grid, times on the AUDIO timeline (s from audio sample 0)."""

    start_s: float  # time of sample 0, s
    rate_hz: float  # grid rate, frames per second
    channels: np.ndarray  # shape = (frames, n_channels), float32 motion energies / velocities; NaN = unknown
    labels: tuple[str, ...]  # one per channel: "region r,c", "mouth motion", "mouth velocity"
    cuts_s: tuple[float, ...] = ()  # scene cuts on the same timeline, s

    @property
    def duration_s(self) -> float:
        return self.channels.shape[0] / self.rate_hz

    @property
    def times_s(self) -> np.ndarray:
        return self.start_s + np.arange(self.channels.shape[0]) / self.rate_hz

    @property
    def has_face(self) -> bool:
        return any(label.startswith("mouth") for label in self.labels)


@dataclass(frozen=True, eq=False)
class AudioActivity:
    """Audio activity on the HOP_S grid: sample j is at j * HOP_S seconds from the first audio sample."""

    flux: np.ndarray  # shape = (n,), normalised band-averaged |log-power change| over one frame period
    level_db: np.ndarray  # shape = (n,), band-averaged floored log power, dB
    rate_hz: float = 1.0 / HOP_S


@dataclass(frozen=True)
class WindowEstimate:
    centre_s: float  # window centre, s
    offset_s: float
    strength: float  # cue strength of the window's peak


@dataclass(frozen=True)
class OffsetEstimate:
    """Result of `estimate_offset` (times in seconds; offsets > 0: audio late)."""

    offset_s: float  # at the middle of the clip when drifting
    z: float  # robust z-score of the correlation peak
    peak_ratio: float  # peak / best other peak outside ±EXCLUSION_S (>= 1; capped at 100)
    strength: float  # cue strength: log(z) + RATIO_WEIGHT * log(peak_ratio)
    peak_corr: float  # sqrt(S) at the peak: root-sum-square of the channels' positive correlations
    no_sync_cue: bool  # True: the offset is not measurable here
    drift_s_per_s: float  # offset gained per second of video (0 without >= 2 confident windows)
    start_offset_s: float  # offset at the clip's start (= offset_s without drift)
    end_offset_s: float
    channel: str  # the channel correlating best at the peak
    windows: tuple[WindowEstimate, ...] = ()
    curve: np.ndarray | None = field(default=None, repr=False)  # S per lag (with keep_curve)
    lags_s: np.ndarray | None = field(default=None, repr=False)

    @property
    def max_abs_offset_s(self) -> float:
        """The largest |offset| over the clip (start, middle or end)."""
        return max(abs(self.offset_s), abs(self.start_offset_s), abs(self.end_offset_s))

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset_s": round(self.offset_s, 4),
            "offset_z": round(self.z, 2),
            "offset_peak_ratio": round(self.peak_ratio, 3),
            "offset_strength": round(self.strength, 3),
            "offset_peak_corr": round(self.peak_corr, 4),
            "no_sync_cue": self.no_sync_cue,
            "drift_s_per_s": round(self.drift_s_per_s, 5),
            "start_offset_s": round(self.start_offset_s, 4),
            "end_offset_s": round(self.end_offset_s, 4),
            "sync_channel": self.channel,
            "windows": [[round(w.centre_s, 2), round(w.offset_s, 4), round(w.strength, 2)] for w in self.windows],
        }


# --- audio activity ------------------------------------------------------------------------------------------


def _mono16k(audio: np.ndarray, sr: int) -> np.ndarray:
    import soxr

    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if x.ndim != 1 or x.size == 0:
        raise ParameterError(f"audio must be (samples,) or (channels, samples), non-empty; got {np.shape(audio)}")
    if not np.isfinite(x).all():
        raise ParameterError("audio contains NaN or Inf")
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise ParameterError(f"sample rate must be a positive integer, got {sr!r}")
    return soxr.resample(x, int(sr), ANALYSIS_SR) if sr != ANALYSIS_SR else x


def _band_matrix(n_fft: int) -> np.ndarray:
    """(bins, AUDIO_BANDS) 0/1 matrix summing FFT bins into log-spaced bands (each at least one bin)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / ANALYSIS_SR)
    edges = np.geomspace(BAND_LOW_HZ, BAND_HIGH_HZ, AUDIO_BANDS + 1)
    out = np.zeros((freqs.size, AUDIO_BANDS), dtype=np.float32)
    for b in range(AUDIO_BANDS):
        inside = (freqs >= edges[b]) & (freqs < edges[b + 1])
        if not inside.any():
            inside[np.argmin(np.abs(freqs - np.sqrt(edges[b] * edges[b + 1])))] = True
        out[inside, b] = 1.0
    return out


def _band_levels(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    """Log power (dB) per band, shape (ceil(len / hop), AUDIO_BANDS); frame j is centred on sample j * hop."""
    n_fft = 1 << int(np.ceil(np.log2(win)))
    n = -(-x.size // hop)
    padded = np.pad(x, (win // 2, win // 2 + n * hop - x.size + 1))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]
    window = np.hanning(win + 2)[1:-1].astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1)) ** 2
    return 10.0 * np.log10(power @ _band_matrix(n_fft) + EPS)


def audio_activity(audio: np.ndarray, sr: int, *, frame_s: float = 0.04) -> AudioActivity:
    """Audio activity series on the 10 ms grid (see the module docstring).

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
    sr : int
        Sample rate, Hz.
    frame_s : float > 0
        Window over which band power is measured and span of the change: one video frame period (1 / fps).

    Returns
    -------
    AudioActivity with ceil(duration / HOP_S) samples.
    """
    if not 0 < frame_s <= 1.0:
        raise ParameterError(f"frame_s must be in (0, 1] s, got {frame_s}")
    x = _mono16k(audio, sr)
    hop = round(HOP_S * ANALYSIS_SR)
    level = _band_levels(x, max(hop, round(frame_s * ANALYSIS_SR)), hop)
    floor = np.maximum(
        np.percentile(level, NOISE_PERCENTILE, axis=0) + NOISE_MARGIN_DB, np.percentile(level, 99) - LOG_RANGE_DB
    )
    level = np.maximum(level, floor)
    span = max(1, round(frame_s / HOP_S / 2))
    ahead = np.pad(level, ((0, span), (0, 0)), mode="edge")[span:]
    behind = np.pad(level, ((span, 0), (0, 0)), mode="edge")[: level.shape[0]]
    change = np.abs(ahead - behind)
    change /= np.maximum(np.median(change, axis=0), MIN_BAND_CHANGE_DB)
    return AudioActivity(change.mean(axis=1).astype(np.float32), level.mean(axis=1).astype(np.float32))


# --- visual activity ------------------------------------------------------------------------------------------


def _neutralise_cuts(values: np.ndarray, visual: VisualActivity) -> np.ndarray:
    """Replace the samples at and next to scene cuts by each channel's median.

    Only cuts that change most of the picture count: a histogram-based cut detector also fires on a flash or
    an object lighting up, which is exactly the kind of event a sound goes with.
    """
    out = values.copy()
    if not visual.cuts_s or not np.isfinite(out).any():
        return out
    median = np.nanmedian(out, axis=0)
    typical = np.maximum(np.nanpercentile(out, 90, axis=0), 1e-6)
    for cut in visual.cuts_s:
        k = round((cut - visual.start_s) * visual.rate_hz)
        if not 0 <= k < out.shape[0] or np.mean(out[k] > CUT_SPREAD_FACTOR * typical) < CUT_MIN_REGION_SHARE:
            continue
        lo, hi = max(0, k - CUT_GUARD_FRAMES), min(out.shape[0], k + CUT_GUARD_FRAMES + 1)
        out[lo:hi] = median
    return out


def _fill_gaps(v: np.ndarray) -> np.ndarray:
    """Each column's NaNs linearly interpolated from its finite samples (0 for a column without any)."""
    out = np.zeros_like(v)
    index = np.arange(v.shape[0])
    for c in range(v.shape[1]):
        finite = np.isfinite(v[:, c])
        if finite.any():
            out[:, c] = np.interp(index, index[finite], v[finite, c])
    return out


def _high_pass(x: np.ndarray, rate_hz: float) -> np.ndarray:
    size = max(3, round(HIGHPASS_S * rate_hz) | 1)
    return x - ndimage.median_filter(x, size=(size,) + (1,) * (x.ndim - 1), mode="nearest")


def prepared_channels(visual: VisualActivity, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Visual channels compressed, high-passed and interpolated onto the audio grid (n samples of HOP_S).

    Returns
    -------
    (np.ndarray, shape (n, k'), float64: the k' channels that move (see the module docstring), zero outside the
     video's time span; np.ndarray, shape (k,), bool: which of the visual's channels they are)
    """
    v = np.asarray(visual.channels, dtype=np.float64).reshape(visual.channels.shape[0], -1).copy()
    v[0] = np.nan  # sample 0 compares with nothing
    v = _neutralise_cuts(v, visual)
    moving = np.sum(np.nan_to_num(v) > MOTION_FLOOR, axis=0) >= MIN_ACTIVE_FRAMES
    v = np.sqrt(np.clip(v, 0.0, None))
    v = _fill_gaps(v)
    v = _high_pass(v, visual.rate_hz)
    grid = np.arange(n) * HOP_S
    times = visual.times_s
    inside = (grid >= times[0]) & (grid <= times[-1])
    out = np.zeros((n, v.shape[1]))
    for c in range(v.shape[1]):
        out[inside, c] = np.interp(grid[inside], times, v[:, c])
    keep = moving & (out.std(axis=0) > 1e-6)
    return out[:, keep], keep


# --- correlation ---------------------------------------------------------------------------------------------


def lagged_correlation(a: np.ndarray, v: np.ndarray, max_lag: int, *, shrink: bool = True) -> np.ndarray:
    """Pearson correlation of a[t] with v[t - lag] over the overlapping samples, for lag in [-max_lag, max_lag].

    With `shrink`, each value is multiplied by sqrt(overlap / n): a correlation over fewer samples is noisier
    (its null variance is 1 / overlap), and the factor makes the null variance equal (1 / n) at every lag, so
    the far lags, where only part of the clip overlaps, do not win by chance.

    Parameters
    ----------
    a : np.ndarray, shape (n,)
    v : np.ndarray, shape (n, k)
        k series compared with `a`.
    max_lag : int
        At most n - 3 (at least 3 samples overlap).
    shrink : bool
        Scale by sqrt(overlap / n) (see above).

    Returns
    -------
    np.ndarray, shape (2 * max_lag + 1, k): row i is lag i - max_lag; 0 where a series is constant.
    """
    n, k = v.shape
    if not 0 <= max_lag <= n - 3:
        raise ParameterError(f"max_lag must be in [0, {n - 3}], got {max_lag}")
    size = 1 << int(np.ceil(np.log2(2 * n)))
    cross = np.fft.irfft(np.fft.rfft(a, size)[:, None] * np.conj(np.fft.rfft(v, size, axis=0)), size, axis=0)
    lags = np.arange(-max_lag, max_lag + 1)
    s_av = cross[lags % size]  # cross[L] = sum_t a[t] v[t - L]: zero padding makes the circular sum exact
    ca, ca2 = np.concatenate([[0.0], np.cumsum(a)]), np.concatenate([[0.0], np.cumsum(a * a)])
    cv = np.vstack([np.zeros((1, k)), np.cumsum(v, axis=0)])
    cv2 = np.vstack([np.zeros((1, k)), np.cumsum(v * v, axis=0)])
    a_lo, a_hi = np.maximum(lags, 0), n + np.minimum(lags, 0)  # a over [a_lo, a_hi)
    v_lo, v_hi = np.maximum(-lags, 0), n - np.maximum(lags, 0)  # v over [v_lo, v_hi)
    m = (a_hi - a_lo).astype(np.float64)[:, None]
    sa, saa = (ca[a_hi] - ca[a_lo])[:, None], (ca2[a_hi] - ca2[a_lo])[:, None]
    sv, svv = cv[v_hi] - cv[v_lo], cv2[v_hi] - cv2[v_lo]
    cov = s_av - sa * sv / m
    var = np.maximum(saa - sa * sa / m, 0.0) * np.maximum(svv - sv * sv / m, 0.0)
    r = np.where(var > EPS, cov / np.sqrt(np.maximum(var, EPS)), 0.0)
    return r * np.sqrt(m / n) if shrink else r


def _combine(curves: np.ndarray) -> np.ndarray:
    """R(L) = sqrt(S(L)), S = sum over channels of max(r, 0)^2 (see the module docstring).

    The square root keeps the peak where it is and makes the curve's spread less skewed, so the peak's robust
    z-score separates clips with and without a cue better (calibration clips: z >= 8.6 for 95 % of clips with a
    cue against <= 5.8 for 95 % of still pictures and mismatched audio; on S itself the ranges overlap).
    """
    return np.sqrt(np.sum(np.maximum(curves, 0.0) ** 2, axis=1))


def _robust_z(curve: np.ndarray, peak: int, exclude: int) -> float:
    """How many robust standard deviations the peak stands above the curve outside ±exclude of it."""
    rest = np.concatenate([curve[: max(0, peak - exclude)], curve[peak + exclude + 1 :]])
    if rest.size < 5:
        return 0.0
    median = float(np.median(rest))
    spread = 1.4826 * float(np.median(np.abs(rest - median)))
    return float((curve[peak] - median) / max(spread, 1e-9, 1e-3 * abs(median)))


def _peak_ratio(curve: np.ndarray, peak: int, exclude: int) -> float:
    """Peak over the best other local maximum outside ±exclude (both above the curve's median), at most 100."""
    base = float(np.median(curve))
    inner = curve[1:-1]
    local = np.flatnonzero((inner >= curve[:-2]) & (inner >= curve[2:])) + 1
    others = local[np.abs(local - peak) > exclude]
    if others.size == 0:
        return 100.0
    runner = float(curve[others].max()) - base
    top = float(curve[peak]) - base
    return float(min(100.0, top / runner)) if runner > 1e-12 else 100.0


def _parabolic(curve: np.ndarray, i: int) -> float:
    """Sub-sample position of the maximum at index i (vertex of the parabola through i-1, i, i+1)."""
    if i <= 0 or i >= curve.size - 1:
        return float(i)
    y0, y1, y2 = curve[i - 1], curve[i], curve[i + 1]
    denom = y0 - 2.0 * y1 + y2
    return float(i + 0.5 * (y0 - y2) / denom) if denom < 0 else float(i)


def cue_strength(z: float, ratio: float) -> float:
    """log(min(z, MAX_Z)) + RATIO_WEIGHT * log(ratio); -inf for a non-positive z."""
    return float(np.log(min(z, MAX_Z)) + RATIO_WEIGHT * np.log(max(ratio, 1.0))) if z > 0 else float("-inf")


@dataclass(frozen=True)
class _Peak:
    index: int
    position: float  # sub-sample index
    z: float
    ratio: float

    @property
    def strength(self) -> float:
        return cue_strength(self.z, self.ratio)


def _peak(curve: np.ndarray, exclude: int) -> _Peak:
    i = int(np.argmax(curve))
    return _Peak(i, _parabolic(curve, i), _robust_z(curve, i, exclude), _peak_ratio(curve, i, exclude))


# --- drift ---------------------------------------------------------------------------------------------------


def _warp(a: np.ndarray, slope: float) -> np.ndarray:
    """a read at times (1 + slope) t: undoes an offset that grows by `slope` seconds per second (0 past the end)."""
    grid = np.arange(a.size, dtype=np.float64)
    return np.interp(grid * (1.0 + slope), grid, a, right=0.0)


def _height(a: np.ndarray, channels: np.ndarray, max_lag: int, slope: float) -> float:
    return float(_combine(lagged_correlation(_warp(a, slope), channels, max_lag)).max())


def _search_drift(a: np.ndarray, channels: np.ndarray, max_lag: int, height0: float) -> float:
    """The drift slope whose de-warped audio correlates best, or 0 unless it beats no drift by DRIFT_MIN_GAIN.

    A coarse grid of DRIFT_STEP over ±MAX_DRIFT, then a fine grid of DRIFT_FINE_STEP around the best.
    """
    coarse = [s for s in np.arange(-MAX_DRIFT, MAX_DRIFT + 1e-9, DRIFT_STEP) if abs(s) > 1e-9]
    heights = {float(s): _height(a, channels, max_lag, s) for s in coarse}
    best = max(heights, key=heights.get)
    for s in np.arange(best - DRIFT_STEP, best + DRIFT_STEP + 1e-9, DRIFT_FINE_STEP):
        if abs(s) > 1e-9 and float(s) not in heights:
            heights[float(s)] = _height(a, channels, max_lag, s)
    best = max(heights, key=heights.get)
    return best if heights[best] >= height0 * (1.0 + DRIFT_MIN_GAIN) else 0.0


def _half_estimates(a: np.ndarray, v: np.ndarray, start_s: float, slope: float) -> tuple[WindowEstimate, ...]:
    """Offsets of the first and second half of the audio (not de-warped), each searched within ±HALF_SEARCH_S of
    what the global estimate predicts there (start_s + slope * centre): a check of the drift, and where the
    offset is measured from half the evidence."""
    search, exclude = round(HALF_SEARCH_S / HOP_S), round(EXCLUSION_S / HOP_S)
    out = []
    for start, stop in ((0, a.size // 2), (a.size // 2, a.size)):
        centre_s = (start + stop) / 2 * HOP_S
        expected = round((start_s + slope * centre_s) / HOP_S)
        lags = np.arange(expected - search, expected + search + 1)
        curves = np.zeros((lags.size, v.shape[1]))
        for i, shift in enumerate(lags):
            lo, hi = max(start, shift), min(stop, v.shape[0] + shift)  # a[t] with v[t - shift] inside both
            if hi - lo > 3 * exclude:
                curves[i] = _pearson(a[lo:hi], v[lo - shift : hi - shift])
        peak = _peak(_combine(curves), exclude)
        out.append(WindowEstimate(centre_s, float((peak.position + lags[0]) * HOP_S), peak.strength))
    return tuple(out)


def _pearson(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Correlation of a (m,) with each column of v (m, k); 0 for a constant column."""
    a = a - a.mean()
    v = v - v.mean(axis=0)
    norms = np.sqrt(np.sum(v * v, axis=0) * np.sum(a * a))
    return np.where(norms > EPS, a @ v / np.maximum(norms, EPS), 0.0)


# --- entry points --------------------------------------------------------------------------------------------


def estimate_offset(
    audio: np.ndarray,
    sr: int,
    visual: VisualActivity,
    *,
    max_lag_s: float = MAX_LAG_S,
    drift: bool = True,
    keep_curve: bool = False,
) -> OffsetEstimate:
    """Estimate the audio-video offset (s, > 0: audio late), its confidence and the drift.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Audio whose sample 0 is at time 0 of the `visual` timeline.
    sr : int
        Sample rate, Hz.
    visual : VisualActivity
        From `visual_activity_from_frames` or `visual_activity_from_description`.
    max_lag_s : float > 0
        Largest |offset| searched, s; also limited so that MIN_OVERLAP_S (or half the clip) overlaps.
    drift : bool
        Also search drift rates (offset changing linearly over the clip) within ±MAX_DRIFT.
    keep_curve : bool
        Keep the combined correlation S and its lags in the result (plots, debugging).
    """
    if not max_lag_s > 0:
        raise ParameterError(f"max_lag_s must be positive, got {max_lag_s}")
    act = audio_activity(audio, sr, frame_s=1.0 / visual.rate_hz)
    return estimate_from_activity(act, visual, max_lag_s=max_lag_s, drift=drift, keep_curve=keep_curve)


@dataclass(frozen=True)
class _Fit:
    """The correlation of (possibly de-warped) audio activity with the visual channels, and its peak."""

    a: np.ndarray  # audio activity used, shape (n,)
    curves: np.ndarray  # r_k(L), shape (lags, k)
    combined: np.ndarray  # R(L), shape (lags,)
    peak: _Peak
    slope: float  # drift the audio was de-warped by


def _fit(a: np.ndarray, channels: np.ndarray, max_lag: int, slope: float = 0.0) -> _Fit:
    warped = _warp(a, slope) if slope else a
    curves = lagged_correlation(warped, channels, max_lag)
    combined = _combine(curves)
    return _Fit(warped, curves, combined, _peak(combined, round(EXCLUSION_S / HOP_S)), slope)


def _with_drift(fit: _Fit, channels: np.ndarray, max_lag: int) -> _Fit:
    """The de-warped fit if a drift is found and trusted, else `fit`.

    The best of many warps stands out by chance more often than one curve does, so a drift must also clear the
    cue threshold by DRIFT_CUE_MARGIN (calibrated on another clip's audio, where every drift is spurious).
    """
    slope = _search_drift(fit.a, channels, max_lag, float(fit.combined[fit.peak.index]))
    if not slope:
        return fit
    warped = _fit(fit.a, channels, max_lag, slope)
    trusted = warped.peak.strength >= max(MIN_CUE_STRENGTH + DRIFT_CUE_MARGIN, fit.peak.strength)
    return warped if trusted else fit


def estimate_from_activity(
    act: AudioActivity,
    visual: VisualActivity,
    *,
    max_lag_s: float = MAX_LAG_S,
    drift: bool = True,
    keep_curve: bool = False,
) -> OffsetEstimate:
    """`estimate_offset` on a precomputed `AudioActivity`."""
    n = act.flux.size
    a = _high_pass(np.sqrt(np.asarray(act.flux, dtype=np.float64)), act.rate_hz)
    channels, keep = prepared_channels(visual, n)
    max_lag = min(round(max_lag_s / HOP_S), n - max(round(MIN_OVERLAP_S / HOP_S), n // 2))
    if max_lag < 3 or channels.shape[1] == 0 or float(np.std(a)) < 1e-9:
        return OffsetEstimate(0.0, 0.0, 1.0, float("-inf"), 0.0, True, 0.0, 0.0, 0.0, "none")
    fit = _fit(a, channels, max_lag)
    if drift:
        fit = _with_drift(fit, channels, max_lag)
    peak, slope = fit.peak, fit.slope
    # With a drift the lag found is start / (1 + slope) (see _warp); offsets then grow by `slope` per second.
    start = (peak.position - max_lag) * HOP_S * (1.0 + slope)
    duration = n * HOP_S
    cue = peak.strength >= MIN_CUE_STRENGTH
    labels = [label for label, kept in zip(visual.labels, keep, strict=True) if kept]
    return OffsetEstimate(
        offset_s=float(start + slope * duration / 2),
        z=peak.z,
        peak_ratio=peak.ratio,
        strength=peak.strength,
        peak_corr=float(fit.combined[peak.index]),
        no_sync_cue=not cue,
        drift_s_per_s=float(slope),
        start_offset_s=float(start),
        end_offset_s=float(start + slope * duration),
        channel=labels[int(np.argmax(fit.curves[peak.index]))],
        windows=_half_estimates(a, channels, start, slope) if cue else (),
        curve=fit.combined if keep_curve else None,
        lags_s=np.arange(-max_lag, max_lag + 1) * HOP_S if keep_curve else None,
    )


# --- building visual activity ----------------------------------------------------------------------------------


def region_labels(grid: tuple[int, int]) -> tuple[str, ...]:
    return tuple(f"region {r},{c}" for r in range(grid[0]) for c in range(grid[1]))


def visual_activity_from_frames(
    frames: Iterable[tuple[float, np.ndarray]],
    *,
    rate_hz: float,
    audio_start_s: float = 0.0,
    grid: tuple[int, int] = DEFAULT_GRID,
) -> VisualActivity:
    """Regional motion energy of `(timestamp_s, RGB uint8)` frames (any size; `MotionAnalyzer` shrinks them).

    Parameters
    ----------
    frames : iterable of (float, np.ndarray (H, W, 3) uint8)
        Frames in presentation order, timestamps on the file's timeline.
    rate_hz : float > 0
        The grid rate (the video's frame rate). Each frame goes to the slot nearest its timestamp (a later frame
        landing on a taken slot is analysed but not stored; empty slots are NaN). When the timestamps are not
        increasing (AVI files with packed B-frames get generated pts in decode order while the frames come out in
        presentation order), frame i goes to slot i.
    audio_start_s : float
        Timestamp of the first audio sample on the same timeline; the result is on the audio timeline.
    grid : (rows, cols)
    """
    if not rate_hz > 0:
        raise ParameterError(f"rate_hz must be positive, got {rate_hz}")
    analyzer = MotionAnalyzer(grid=grid)
    stamps = []
    for t, frame in frames:
        stamps.append(float(t))
        analyzer.update(frame)
    if not stamps:
        raise ParameterError("the video has no frames")
    t = np.asarray(stamps)
    slots = np.arange(t.size) if np.any(np.diff(t) <= 0) else np.round((t - t[0]) * rate_hz).astype(int)
    values = np.full((int(slots[-1]) + 1, grid[0] * grid[1]), np.nan, dtype=np.float32)
    values[slots[::-1]] = analyzer.regional[::-1]  # on a collision the first frame's value stays
    start = t[0] - audio_start_s
    cuts = merge_close_cuts([start + slots[k] / rate_hz for k in analyzer.cut_frames()])
    return VisualActivity(start, float(rate_hz), values, region_labels(grid), tuple(cuts))


def visual_activity_from_description(description: Any, audio_start_s: float = 0.0) -> VisualActivity:
    """Visual activity from an `avagent.tools.video.VideoDescription`: its regional motion plus, when a face was
    tracked in enough frames, the lip-box motion and the mouth-opening velocity (|change| of the largest face's
    mouth opening)."""
    regional = np.asarray(description.regional_motion, dtype=np.float32)
    channels, labels = [regional], list(region_labels(tuple(description.motion_grid)))
    mouth = np.asarray(description.mouth_motion.values, dtype=np.float32)
    if np.isfinite(mouth).sum() >= max(10, 0.2 * mouth.size):
        opening = np.asarray(description.mouth_activity.values, dtype=np.float32)
        velocity = np.abs(np.diff(opening, prepend=np.nan))
        channels += [mouth[:, None], velocity[:, None]]
        labels += ["mouth motion", "mouth velocity"]
    start = float(description.motion_energy.start_s) - audio_start_s
    cuts = tuple(float(c) - audio_start_s for c in description.scene_cuts)
    return VisualActivity(start, float(description.fps_analysed), np.hstack(channels), tuple(labels), cuts)
