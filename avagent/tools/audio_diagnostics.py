"""DSP diagnostics of a clip: SNR and noise type, loudness, peak, clipping, blanks, onset rate.

Everything here is numpy/scipy (plus pyloudnorm for BS.1770 loudness) and runs at the clip's own sample rate.

SNR
---
The estimate is *global*: mean signal power over the clip (digital silence excluded) against mean noise power,
which is how mixtures are made (`noise *= sqrt(P_clean / (P_noise 10^(snr/10)))`, P over the whole clip;
`avagent.core.simulate.AddNoise` does exactly this).

1. The mono mix (DC removed) is split at SUBSONIC_HZ. A Hann STFT of the upper part (32 ms frames, 16 ms hop)
   gives a power spectrogram whose bins sum to each frame's mean square. Frames that are mostly digital silence
   (dropouts, gated pauses) are dropped: they hold neither signal nor noise.
2. The noise power spectrum N(f) is estimated per bin from the cells where noise dominates, by an iterated
   truncated mean: keep the cells below K·N(f), take their mean, undo the truncation bias of an exponential
   (the distribution of a stationary Gaussian noise's periodogram cells), repeat. Speech and other foreground
   sound fills few time-frequency cells, at levels far above the noise, so it is left out without needing pauses.
   The iteration starts from a low quantile.
3. Noise whose level moves through the clip (see `noise_level_track`) is scaled to its mean level, not its floor.
4. The power below SUBSONIC_HZ counts as noise as far as the audible noise spectrum, extended downwards,
   predicts it (brown noise shaped down to 0.1 Hz keeps most of its power there; a film's LFE rumble is content).
5. SNR = 10 log10((total - noise) / noise), clamped to [SNR_MIN_DB, SNR_MAX_DB]. With less than MIN_ESTIMATE_S
   of non-silent audio there is no estimate (`snr_db` None, noise type "unknown").

Noise type
----------
Decided from N(f), the noise level over time and a hum search, first match wins:

- `none`: SNR >= NO_NOISE_SNR_DB.
- `hum`: narrow peaks at harmonics of one fundamental in a 1 Hz-resolution, low-percentile spectrum, carrying
  at least half the noise power (f0 to 0.1 Hz).
- `non_stationary`: the noise level, followed in the bins where noise dominates, moves by more than
  NON_STATIONARY_SPREAD_DB (p90 - p10).
- `low_frequency_rumble`: most noise power below 150 Hz, falling faster than brown noise above.
- `tonal` (an extension of the brief's list): a stationary component that is none of these and not broadband,
  i.e. third-octave levels far from a straight line, such as a sustained tone.
- `broadband`, with its slope in dB per octave and a colour: white (about 0), pink (-3) or brown (-6).

The DSP cannot tell a sustained musical tone from a hum, or a steady synthetic sound from noise; the audio
describer settles those cases with the AudioSet tags (`avagent.tools.audio.noise_verdict`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.signal

from avagent.core.errors import ParameterError

FRAME_S = 0.032  # STFT frame for the noise estimate
HOP_S = 0.016  # 50 % overlap
BLANK_LEVEL = 1e-4  # |x| at or below this is digital silence (-80 dBFS; 16-bit dither is ~3e-5)
MIN_BLANK_S = 0.020  # shortest blank reported
BLANK_FRAME_FRACTION = 0.5  # frames with more silent samples than this are left out of the SNR estimate
TRUNCATION_K = 4.0  # keep cells below K times the current noise estimate
NOISE_QUANTILE = 0.1  # starting point of the iteration (a bin's lowest 10 % of cells)
NOISE_ITERATIONS = 12
SUBSONIC_HZ = 20.0  # below: inaudible drift and rumble, measured in the time domain and counted as noise
SUBSONIC_ANCHOR_HZ = (20.0, 80.0)  # where the noise density is read before extending it below SUBSONIC_HZ
SUBSONIC_TOLERANCE = 4.0  # measured sub-20 Hz power counts as noise up to this multiple of the prediction
SUBSONIC_MIN_SAMPLES = 64  # sosfiltfilt's padding needs a few dozen samples
MIN_ESTIMATE_S = 0.75  # less non-silent audio than this: no SNR estimate
SNR_MIN_DB = -20.0  # reported when the clip is noise only
SNR_MAX_DB = 60.0
NO_NOISE_SNR_DB = 30.0  # at or above: noise_type "none"
RUMBLE_MAX_HZ = 150.0  # "rumble" = most noise power below this
RUMBLE_POWER_FRACTION = 0.6
SLOPE_BAND_HZ = (100.0, 8000.0)  # band for the broadband slope fit
RUMBLE_MAX_SLOPE_DB = -7.5  # ... and falling faster than brown noise (-6 dB/octave) above it
NON_STATIONARY_SPREAD_DB = 4.0  # p90 - p10 of the smoothed noise level above this: non-stationary
LEVEL_QUANTILE = 0.25  # per-frame noise level: lower quartile over the noise-carrying bins
LEVEL_MIN_BINS = 16  # fewer noise-dominated bins: too few to track the level
LEVEL_MIN_NOISE_SHARE = 0.25  # a bin is noise-dominated when noise is this share of its mean power
LEVEL_MIN_POWER_SHARE = 0.25  # ... and those bins must hold this share of the noise power
LEVEL_MIN_RELATIVE_PSD = 1e-4  # bins more than 40 dB below the noise peak hold no noise worth following
LEVEL_SMOOTH_S = 0.25
SLOPE_OCCUPIED_DB = 40.0  # third-octave bands this far below the strongest are not fitted
SLOPE_MIN_BANDS = 6  # two octaves of occupied bands, or the noise counts as tonal
BROADBAND_MAX_RESIDUAL_DB = 6.0  # rms deviation of third-octave noise levels from the slope fit
HUM_SAMPLE_RATE = 8000  # hum harmonics are searched below 4 kHz
HUM_MIN_SEGMENTS = 3  # 1 s segments at half overlap: at least 2 s of non-silent audio
HUM_WINDOW_S = 1.0  # 1 Hz bins
HUM_PERCENTILE = 20  # per-bin percentile over segments: a hum is there all the time
HUM_FLOOR_BINS = 17  # median over +-8 Hz is the neighbourhood a peak must stand out of
HUM_F0_RANGE_HZ = (40.0, 420.0)
HUM_HARMONICS = 8
HUM_PEAK_DB = 10.0  # a harmonic counts when it stands this far above its neighbourhood
HUM_MIN_HARMONICS = 2
HUM_TOLERANCE_HZ = 1.5
HUM_MAX_HZ = 3800.0
HUM_POWER_FRACTION = 0.5  # hum is the noise type when it carries this share of the noise power
ONSET_BANDS = 24
ONSET_MIN_HZ = 100.0
ONSET_FLOOR_GAIN = 3.0  # noise power added before the log, in units of the noise estimate
ONSET_MAD_K = 5.0
ONSET_MIN_DELTA = 0.02  # nats per band
CLIP_RUN = 3  # samples in a plateau before it counts as clipping
CLIP_LEVEL_FRACTION = 0.98  # plateau within 2 % of the extreme
CLIP_FLAT_TOLERANCE = 1e-4  # relative sample-to-sample change inside a plateau
MIN_LOUDNESS_S = 0.4  # BS.1770 gating block
ONSET_MIN_GAP_S = 0.05


def _truncation_gain(k: float, dof: int) -> float:
    """E[X | X < k·mu] / mu for a periodogram cell X of mean mu: chi-square, 2 dof (exponential) or 1 dof."""
    if dof == 2:
        return 1.0 - k * math.exp(-k) / (1.0 - math.exp(-k))
    r = math.sqrt(k)
    density = math.exp(-k / 2) / math.sqrt(2 * math.pi)
    return 1.0 - 2 * r * density / math.erf(r / math.sqrt(2))


def _quantile_scale(q: float, dof: int) -> float:
    """The q-quantile of a periodogram cell divided by its mean."""
    if dof == 2:
        return -math.log1p(-q)
    from scipy.special import ndtri

    return float(ndtri((1 + q) / 2)) ** 2


# Bins 1 .. n/2-1 are complex (exponential cells); the DC and Nyquist bins are real (chi-square, 1 dof).
TRUNCATION_GAIN = {dof: _truncation_gain(TRUNCATION_K, dof) for dof in (1, 2)}  # {1: 0.774, 2: 0.925} for K = 4
QUANTILE_SCALE = {dof: _quantile_scale(NOISE_QUANTILE, dof) for dof in (1, 2)}


@dataclass(frozen=True)
class Spectrogram:
    """Power spectrogram whose bins sum to each frame's mean square."""

    power: np.ndarray  # shape = (frames, bins)
    freqs_hz: np.ndarray  # shape = (bins,)
    times_s: np.ndarray  # shape = (frames,), frame centres
    silent: np.ndarray  # shape = (frames,), bool: mostly digital silence
    hop_s: float


@dataclass(frozen=True)
class NoiseEstimate:
    """Noise power spectrum, signal and noise powers and the SNR they give."""

    psd: np.ndarray  # shape = (bins,), noise power per bin (sums to the noise mean square)
    freqs_hz: np.ndarray
    noise_power: float  # mean square of the noise
    signal_power: float  # mean square of everything else, over the non-silent frames
    snr_db: float  # clamped to [SNR_MIN_DB, SNR_MAX_DB]
    level_spread_db: float  # p90 - p10 of the smoothed per-frame noise level (0 when not measurable)
    subsonic_power: float  # the part of noise_power below SUBSONIC_HZ


@dataclass(frozen=True)
class NoiseFeatures:
    """Scalar descriptions of the noise estimate, from which `classify_noise` names it."""

    snr_db: float | None  # None: too little audio to estimate
    level_spread_db: float  # p90 - p10 of the noise level over time
    low_frequency_fraction: float  # share of noise power below RUMBLE_MAX_HZ
    slope_db_per_octave: float | None  # over SLOPE_BAND_HZ
    slope_residual_db: float | None  # rms deviation of third-octave levels from that line
    hum_hz: float | None  # fundamental of a hum, also when hum is not the main noise
    hum_share: float  # hum power / noise power


@dataclass(frozen=True)
class AudioDiagnostics:
    """DSP facts about a clip (times in seconds, levels in dB)."""

    duration_s: float
    sample_rate: int
    channels: int
    snr_db: float | None  # global SNR estimate (module docstring); None when the clip is too short
    noise_floor_dbfs: float | None  # noise mean square in dBFS
    noise_type: str  # see the module docstring; "unknown" when snr_db is None
    noise_color: str | None  # broadband only: "white" | "pink" | "brown"
    noise: NoiseFeatures  # what the type was decided from
    loudness_lufs: float | None  # BS.1770 integrated; None when shorter than 0.4 s or silent
    peak_dbfs: float
    rms_dbfs: float
    clipping_ratio: float  # fraction of samples on clipped plateaus
    blanks: tuple[tuple[float, float], ...]  # (start s, duration s) of digital silence inside the clip
    leading_silence_s: float
    trailing_silence_s: float
    onset_rate_hz: float

    def to_dict(self) -> dict:
        return asdict(self)


# --- helpers ------------------------------------------------------------------------------------------------


def _as_channels(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] == 0:
        raise ParameterError("audio must have shape (samples,) or (channels, samples) with samples > 0")
    if not np.isfinite(x).all():
        raise ParameterError("audio contains NaN or infinite samples")
    return x


def _db(power: float, floor: float = 1e-20) -> float:
    return 10.0 * math.log10(max(power, floor))


def power_spectrogram(
    mono: np.ndarray,
    sr: int,
    *,
    blank: np.ndarray | None = None,
    frame_s: float = FRAME_S,
    hop_s: float = HOP_S,
) -> Spectrogram:
    """Hann-windowed power spectrogram, scaled so each frame's bins sum to the frame's mean square.

    Parameters
    ----------
    mono : np.ndarray, shape = (samples,)
    sr : int, Hz
    blank : optional bool mask, shape = (samples,), True inside digital silence; frames more than half blank
        are marked `silent` (default: samples within BLANK_LEVEL)

    Returns
    -------
    Spectrogram with power of shape (frames, n_fft // 2 + 1); a clip shorter than one frame is zero-padded
    """
    n_fft = 2 * scipy.fft.next_fast_len(max(8, round(frame_s * sr / 2)), real=True)  # even: has a Nyquist bin
    hop = max(1, round(hop_s * sr))
    x = np.pad(mono, (0, max(0, n_fft - mono.shape[0])))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    window = scipy.signal.get_window("hann", n_fft).astype(np.float32)
    spec = np.abs(scipy.fft.rfft(frames * window, axis=1)) ** 2
    spec[:, 1:-1] *= 2.0  # one-sided
    spec /= n_fft * float(np.sum(window**2))
    flags = np.abs(mono) <= BLANK_LEVEL if blank is None else blank
    flags = np.pad(flags, (0, x.shape[0] - flags.shape[0]), constant_values=True)
    silent = np.lib.stride_tricks.sliding_window_view(flags, n_fft)[::hop].mean(axis=1) > BLANK_FRAME_FRACTION
    times = (np.arange(frames.shape[0]) * hop + n_fft / 2) / sr
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return Spectrogram(spec.astype(np.float64), freqs, times, silent, hop / sr)


def noise_psd(power: np.ndarray) -> np.ndarray:
    """Per-bin noise power by the iterated truncated mean (see the module docstring).

    Parameters
    ----------
    power : np.ndarray, shape = (frames, bins), periodogram cells of non-silent frames

    Returns
    -------
    np.ndarray, shape = (bins,)
    """
    gain, scale = _per_bin(power.shape[1], TRUNCATION_GAIN), _per_bin(power.shape[1], QUANTILE_SCALE)
    mu = np.maximum(np.quantile(power, NOISE_QUANTILE, axis=0) / scale, 1e-30)
    for _ in range(NOISE_ITERATIONS):
        keep = power < TRUNCATION_K * mu
        count = keep.sum(axis=0)
        mean = np.where(keep, power, 0.0).sum(axis=0) / np.maximum(count, 1)
        mu = np.where(count > 0, mean / gain, mu)
    return mu


def _per_bin(n_bins: int, by_dof: dict[int, float]) -> np.ndarray:
    values = np.full(n_bins, by_dof[2])
    values[0] = by_dof[1]
    values[-1] = by_dof[1]  # n_fft is even (next_fast_len(real=True) of an even length keeps it even)
    return values


def estimate_noise(spec: Spectrogram, *, subsonic_power: float = 0.0, duration_s: float | None = None) -> NoiseEstimate:
    """Noise spectrum and global SNR from a power spectrogram (silent frames ignored).

    Stationary noise: the per-bin estimate of `noise_psd` over the whole clip. Noise whose level moves by more
    than NON_STATIONARY_SPREAD_DB across the clip: that spectrum scaled by the mean of the per-frame noise
    level. `subsonic_power`, the mean square below SUBSONIC_HZ (split off before the STFT), counts as noise as
    far as the audible noise spectrum, extended below SUBSONIC_HZ down to 1 / `duration_s`, predicts it
    (`subsonic_noise`).
    """
    power = spec.power[~spec.silent]
    if power.shape[0] < 2:
        zero = np.zeros_like(spec.freqs_hz)
        return NoiseEstimate(zero, spec.freqs_hz, 0.0, 0.0, SNR_MAX_DB, 0.0, 0.0)
    psd = noise_psd(power)
    level = noise_level_track(power, psd)
    spread = _spread_db(level, spec.hop_s)
    if spread > NON_STATIONARY_SPREAD_DB:
        psd = psd * float(level.mean())
    duration_s = duration_s or power.shape[0] * spec.hop_s
    subsonic_noise = min(subsonic_power, subsonic_noise_bound(psd, spec.freqs_hz, duration_s))
    noise = float(psd.sum()) + subsonic_noise
    signal = max(float(power.sum(axis=1).mean()) + subsonic_power - noise, 0.0)
    if noise <= 0.0:
        snr = SNR_MAX_DB
    elif signal <= 0.0:
        snr = SNR_MIN_DB
    else:
        snr = float(np.clip(_db(signal) - _db(noise), SNR_MIN_DB, SNR_MAX_DB))
    return NoiseEstimate(psd, spec.freqs_hz, noise, signal, snr, spread, subsonic_noise)


def subsonic_noise_bound(psd: np.ndarray, freqs_hz: np.ndarray, duration_s: float) -> float:
    """Largest sub-SUBSONIC_HZ power that counts as noise: SUBSONIC_TOLERANCE times the power the noise
    spectrum predicts there, its density in SUBSONIC_ANCHOR_HZ extended down to 1 / duration_s with the fitted
    slope.

    Brown noise made by shaping white noise down to the clip's lowest frequency keeps most of its power below
    20 Hz, and a mixture's SNR counts it; a film's low-frequency effects are content, and the audible noise
    floor above them (usually flat) predicts little power there, so they stay signal.
    """
    anchor = (freqs_hz >= SUBSONIC_ANCHOR_HZ[0]) & (freqs_hz < SUBSONIC_ANCHOR_HZ[1])
    fit = spectral_slope(psd, freqs_hz)
    if not anchor.any() or fit is None or duration_s <= 0:
        return 0.0
    bin_hz = float(freqs_hz[1])
    f_anchor = float(freqs_hz[anchor].mean())
    density = float(psd[anchor].mean()) / bin_hz  # power per Hz at f_anchor
    exponent = fit[0] / (10 * math.log10(2))  # dB per octave -> power-law exponent
    grid = np.geomspace(min(1.0 / duration_s, SUBSONIC_HZ / 2), SUBSONIC_HZ, 256)
    predicted = float(np.trapezoid(density * (grid / f_anchor) ** exponent, grid))
    return SUBSONIC_TOLERANCE * predicted


def noise_level_track(power: np.ndarray, psd: np.ndarray) -> np.ndarray:
    """Per-frame noise level relative to `psd` (1.0 = as estimated), or empty when it cannot be followed.

    Measured in the bins where noise makes up at least LEVEL_MIN_NOISE_SHARE of the mean power (and is within
    40 dB of its strongest bin), as the lower quartile of P(f) / N(f) over them divided by the quartile of an
    exponential, so foreground sound in up to three quarters of those bins leaves it unchanged. Empty when
    fewer than LEVEL_MIN_BINS bins qualify or they carry less than LEVEL_MIN_POWER_SHARE of the noise power
    (narrowband noise, or noise far below the signal).

    Returns
    -------
    np.ndarray, shape = (frames,) or (0,)
    """
    share = psd / np.maximum(power.mean(axis=0), 1e-30)
    total = psd.sum()
    bins = np.flatnonzero((share >= LEVEL_MIN_NOISE_SHARE) & (psd >= LEVEL_MIN_RELATIVE_PSD * psd.max()))
    if bins.size < LEVEL_MIN_BINS or total <= 0 or psd[bins].sum() < LEVEL_MIN_POWER_SHARE * total:
        return np.zeros(0)
    ratio = power[:, bins] / np.maximum(psd[bins], 1e-30)
    return np.quantile(ratio, LEVEL_QUANTILE, axis=1) / -math.log1p(-LEVEL_QUANTILE)


def _spread_db(level: np.ndarray, hop_s: float) -> float:
    """p90 - p10 of the noise level (dB) smoothed over LEVEL_SMOOTH_S; 0 when not measurable."""
    width = max(1, round(LEVEL_SMOOTH_S / hop_s))
    if level.shape[0] < 2 * width:
        return 0.0
    smooth = 10 * np.log10(np.maximum(scipy.ndimage.uniform_filter1d(level, width, mode="nearest"), 1e-12))
    return float(np.percentile(smooth, 90) - np.percentile(smooth, 10))


# --- noise type ---------------------------------------------------------------------------------------------


def spectral_slope(psd: np.ndarray, freqs_hz: np.ndarray) -> tuple[float, float] | None:
    """Line through the occupied third-octave band levels of a spectrum over SLOPE_BAND_HZ.

    Bands more than SLOPE_OCCUPIED_DB below the strongest one are left out, so noise that stops at a band edge
    (e.g. 8 kHz recordings played at 16 kHz) is fitted where it exists.

    Returns
    -------
    (slope in dB per octave, rms residual in dB), or None when fewer than SLOPE_MIN_BANDS bands are occupied.
    White noise gives a slope of about 0, pink -3, brown -6; a sound with spectral peaks a large residual.
    """
    top = min(SLOPE_BAND_HZ[1], 0.9 * freqs_hz[-1])
    edges = SLOPE_BAND_HZ[0] * 2.0 ** (np.arange(0, 30) / 3)
    edges = edges[edges <= top]
    octaves, levels = [], []
    for lo, hi in itertools.pairwise(edges):
        band = (freqs_hz >= lo) & (freqs_hz < hi)
        if band.any() and psd[band].mean() > 0:
            octaves.append(math.log2(math.sqrt(lo * hi)))
            levels.append(10 * math.log10(psd[band].mean()))  # density: mean per bin
    occupied = np.asarray(levels) >= max(levels, default=0.0) - SLOPE_OCCUPIED_DB
    if occupied.sum() < SLOPE_MIN_BANDS:
        return None
    x, y = np.asarray(octaves)[occupied], np.asarray(levels)[occupied]
    coefficients = np.polyfit(x, y, 1)
    residual = y - np.polyval(coefficients, x)
    return float(coefficients[0]), float(np.sqrt(np.mean(residual**2)))


def noise_color(slope_db_per_octave: float | None) -> str | None:
    """ "white", "pink" or "brown" by the nearest of 0, -3 and -6 dB per octave."""
    if slope_db_per_octave is None:
        return None
    if slope_db_per_octave > -1.5:
        return "white"
    return "pink" if slope_db_per_octave > -4.5 else "brown"


@dataclass(frozen=True)
class Hum:
    """A stationary harmonic series in the noise floor."""

    f0_hz: float
    harmonics: int  # how many of the first HUM_HARMONICS stand out
    power: float  # mean square carried by the peaks


def find_hum(mono: np.ndarray, sr: int, usable: np.ndarray | None = None) -> Hum | None:
    """Look for a hum: narrow peaks at multiples of one fundamental that persist through the clip.

    Parameters
    ----------
    mono : np.ndarray, shape = (samples,)
    sr : int, Hz
    usable : optional bool mask, shape = (samples,); segments touching a False sample (digital silence) are
        skipped

    Returns
    -------
    Hum or None. The spectrum is the per-bin 20th percentile over 1 s Hann segments (1 Hz bins), so a steady
    hum survives and speech or music harmonics, which move, do not.
    """
    spectrum, freqs = _steady_spectrum(mono, sr, usable)
    if spectrum is None:
        return None
    floor = scipy.ndimage.median_filter(spectrum, size=HUM_FLOOR_BINS, mode="nearest")
    prominence = 10 * np.log10(np.maximum(spectrum, 1e-30) / np.maximum(floor, 1e-30))
    is_peak = (prominence > HUM_PEAK_DB) & (spectrum >= np.roll(spectrum, 1)) & (spectrum >= np.roll(spectrum, -1))
    is_peak[:2] = False
    peaks = np.flatnonzero(is_peak & (freqs <= HUM_MAX_HZ))
    if peaks.size == 0:
        return None
    peak_hz = np.array([_refine(spectrum, i, freqs[1]) for i in peaks])
    best: Hum | None = None
    for candidate in _f0_candidates(peak_hz):
        matched = _harmonic_matches(candidate, peak_hz)
        if len(matched) < HUM_MIN_HARMONICS:
            continue
        f0 = float(np.mean([peak_hz[j] / k for k, j in matched]))
        power = float(sum(spectrum[max(0, peaks[j] - 1) : peaks[j] + 2].sum() for _, j in matched))
        hum = Hum(f0_hz=round(f0, 1), harmonics=len(matched), power=power)
        if best is None or (hum.harmonics, hum.power) > (best.harmonics, best.power):
            best = hum
    return best


def _steady_spectrum(mono: np.ndarray, sr: int, usable: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
    import soxr

    x = soxr.resample(mono, sr, HUM_SAMPLE_RATE) if sr != HUM_SAMPLE_RATE else mono
    n = int(HUM_WINDOW_S * HUM_SAMPLE_RATE)
    freqs = np.fft.rfftfreq(n, 1.0 / HUM_SAMPLE_RATE)
    starts = np.arange(0, x.shape[0] - n + 1, n // 2)
    if usable is not None:
        ratio = sr / HUM_SAMPLE_RATE
        starts = np.array([a for a in starts if usable[int(a * ratio) : int((a + n) * ratio)].all()], dtype=int)
    if starts.size < HUM_MIN_SEGMENTS:
        return None, freqs
    window = scipy.signal.get_window("hann", n)
    segments = np.stack([x[a : a + n] for a in starts]) * window
    power = np.abs(scipy.fft.rfft(segments, axis=1)) ** 2 * (2.0 / (n * np.sum(window**2)))
    return np.percentile(power, HUM_PERCENTILE, axis=0), freqs


def _refine(spectrum: np.ndarray, i: int, bin_hz: float) -> float:
    """Peak frequency by a parabola through the log powers of the peak bin and its neighbours."""
    a, b, c = np.log(np.maximum(spectrum[i - 1 : i + 2], 1e-30))
    denominator = a - 2 * b + c
    offset = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
    return (i + float(np.clip(offset, -0.5, 0.5))) * bin_hz


def _f0_candidates(peak_hz: np.ndarray) -> list[float]:
    """Each peak, and its half and third (a hum whose fundamental is weak), inside HUM_F0_RANGE_HZ."""
    low, high = HUM_F0_RANGE_HZ
    return sorted({round(f / d, 2) for f in peak_hz for d in (1, 2, 3) if low <= f / d <= high})


def _harmonic_matches(f0: float, peak_hz: np.ndarray) -> list[tuple[int, int]]:
    """(harmonic number, peak index) for each of the first HUM_HARMONICS harmonics that has a peak."""
    matched = []
    for k in range(1, HUM_HARMONICS + 1):
        if k * f0 > HUM_MAX_HZ:
            break
        distance = np.abs(peak_hz - k * f0)
        j = int(np.argmin(distance))
        if distance[j] <= max(HUM_TOLERANCE_HZ, 0.005 * k * f0):
            matched.append((k, j))
    return matched


def classify_noise(features: NoiseFeatures, *, ignore_hum: bool = False) -> tuple[str, str | None]:
    """Name the noise (type, colour) from its features, in the order of the module docstring.

    `ignore_hum`: classify as if no hum had been found (the describer's case of a musical tone).
    """
    f = features
    slope, residual = f.slope_db_per_octave, f.slope_residual_db
    if f.snr_db is None:
        return "unknown", None
    if f.snr_db >= NO_NOISE_SNR_DB:
        return "none", None
    if not ignore_hum and f.hum_hz is not None and f.hum_share >= HUM_POWER_FRACTION:
        return "hum", None
    if f.level_spread_db > NON_STATIONARY_SPREAD_DB:
        return "non_stationary", None
    if f.low_frequency_fraction >= RUMBLE_POWER_FRACTION and (slope is None or slope < RUMBLE_MAX_SLOPE_DB):
        return "low_frequency_rumble", None
    if slope is None or residual is None or residual > BROADBAND_MAX_RESIDUAL_DB:
        return "tonal", None
    return "broadband", noise_color(slope)


def noise_features(estimate: NoiseEstimate, hum: Hum | None, *, measurable: bool = True) -> NoiseFeatures:
    """Scalar features of a noise estimate (`measurable` False: too little audio, no SNR)."""
    psd, freqs = estimate.psd, estimate.freqs_hz
    total = estimate.noise_power
    low = float(psd[freqs < RUMBLE_MAX_HZ].sum()) + estimate.subsonic_power
    fit = spectral_slope(psd, freqs) if psd.sum() > 0 else None
    return NoiseFeatures(
        snr_db=round(estimate.snr_db, 2) if measurable else None,
        level_spread_db=round(estimate.level_spread_db, 2),
        low_frequency_fraction=round(low / total, 4) if total > 0 else 0.0,
        slope_db_per_octave=round(fit[0], 2) if fit else None,
        slope_residual_db=round(fit[1], 2) if fit else None,
        hum_hz=hum.f0_hz if hum else None,
        hum_share=round(min(hum.power / total, 1.0), 4) if hum and total > 0 else 0.0,
    )


# --- level, clipping, blanks, onsets ------------------------------------------------------------------------


def clipping_ratio(x: np.ndarray) -> float:
    """Fraction of samples on clipped plateaus: runs of at least CLIP_RUN nearly equal samples at a channel's
    positive or negative extreme.

    Parameters
    ----------
    x : np.ndarray, shape = (channels, samples)
    """
    clipped = 0
    for ch in x:
        hi, lo = float(ch.max()), float(ch.min())
        scale = max(hi, -lo)
        if scale <= BLANK_LEVEL:
            continue
        near = ((ch >= CLIP_LEVEL_FRACTION * hi) & (hi > 0)) | ((ch <= CLIP_LEVEL_FRACTION * lo) & (lo < 0))
        flat_pair = near[:-1] & near[1:] & (np.abs(np.diff(ch)) <= CLIP_FLAT_TOLERANCE * scale)
        clipped += sum(stop - start + 1 for start, stop in _runs(flat_pair) if stop - start + 1 >= CLIP_RUN)
    return clipped / x.size


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the runs of True in a 1-D mask (stop exclusive, as for pairs i, i+1)."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _silent_runs(x: np.ndarray, sr: int, *, min_s: float = MIN_BLANK_S) -> list[tuple[int, int]]:
    """(start, stop) sample ranges where every channel stays within BLANK_LEVEL for at least `min_s`."""
    silent = (np.abs(x) <= BLANK_LEVEL).all(axis=0)
    return [(a, b) for a, b in _runs(silent) if b - a >= max(1, min_s * sr)]


def find_blanks(x: np.ndarray, sr: int) -> tuple[list[tuple[float, float]], float, float]:
    """Digital silence: runs of at least MIN_BLANK_S where every channel stays within BLANK_LEVEL.

    Returns
    -------
    (blanks inside the clip as (start s, duration s), leading silence s, trailing silence s)
    """
    n = x.shape[1]
    blanks, leading, trailing = [], 0.0, 0.0
    for start, stop in _silent_runs(x, sr, min_s=0.0):
        if start == 0:
            leading = stop / sr
        elif stop == n:
            trailing = (stop - start) / sr
        elif stop - start >= MIN_BLANK_S * sr:
            blanks.append((round(start / sr, 3), round((stop - start) / sr, 3)))
    if leading * sr >= n:
        trailing = 0.0
    return blanks, round(leading, 3), round(trailing, 3)


def onset_rate(spec: Spectrogram, psd: np.ndarray, duration_s: float) -> float:
    """Onsets per second: peaks of the positive spectral flux of log band powers, with the noise as a floor.

    Power is pooled into ONSET_BANDS log-spaced bands from ONSET_MIN_HZ, and ONSET_FLOOR_GAIN times the noise
    power is added before the log, so noise fluctuations do not register. A peak must exceed the 1 s running
    median by ONSET_MAD_K robust standard deviations (and ONSET_MIN_DELTA) and be ONSET_MIN_GAP_S from the
    previous one.
    """
    if duration_s <= 0 or spec.power.shape[0] < 3:
        return 0.0
    pool = _band_pool(spec.freqs_hz)
    log_power = np.log(spec.power @ pool + ONSET_FLOOR_GAIN * (psd @ pool) + 1e-20)
    flux = np.maximum(np.diff(log_power, axis=0), 0.0).mean(axis=1)
    flux[spec.silent[1:] | spec.silent[:-1]] = 0.0  # a dropout's edges are not onsets
    baseline = scipy.ndimage.median_filter(flux, size=max(3, round(1.0 / spec.hop_s)), mode="nearest")
    spread = 1.4826 * float(np.median(np.abs(flux - baseline)))
    peaks, _ = scipy.signal.find_peaks(
        flux,
        height=baseline + max(ONSET_MIN_DELTA, ONSET_MAD_K * spread),
        distance=max(1, round(ONSET_MIN_GAP_S / spec.hop_s)),
    )
    return round(len(peaks) / duration_s, 3)


def _band_pool(freqs_hz: np.ndarray) -> np.ndarray:
    """0/1 matrix, shape = (bins, bands), pooling bins above ONSET_MIN_HZ into log-spaced bands."""
    edges = np.geomspace(ONSET_MIN_HZ, max(freqs_hz[-1], 2 * ONSET_MIN_HZ), ONSET_BANDS + 1)
    band = np.clip(np.searchsorted(edges, freqs_hz) - 1, 0, ONSET_BANDS - 1)
    pool = np.zeros((freqs_hz.shape[0], ONSET_BANDS))
    pool[np.arange(freqs_hz.shape[0]), band] = 1.0
    pool[freqs_hz < ONSET_MIN_HZ] = 0.0
    return pool[:, pool.sum(axis=0) > 0]


def loudness_lufs(x: np.ndarray, sr: int) -> float | None:
    """BS.1770 integrated loudness (pyloudnorm); None for clips shorter than 0.4 s or silent ones."""
    if x.shape[1] < MIN_LOUDNESS_S * sr:
        return None
    import pyloudnorm

    data = x.T if x.shape[0] <= 5 else x.mean(axis=0)  # BS.1770 weights cover up to five channels
    value = pyloudnorm.Meter(sr).integrated_loudness(np.asarray(data, dtype=np.float64))
    return round(float(value), 2) if np.isfinite(value) else None


# --- entry point --------------------------------------------------------------------------------------------


def _subsonic(mono: np.ndarray, sr: int) -> np.ndarray:
    """The part of `mono` below SUBSONIC_HZ (zero-phase 4th-order Butterworth low-pass)."""
    if mono.shape[0] <= SUBSONIC_MIN_SAMPLES:
        return np.zeros_like(mono)
    sos = scipy.signal.butter(4, SUBSONIC_HZ, "low", fs=sr, output="sos")
    return scipy.signal.sosfiltfilt(sos, mono).astype(mono.dtype)


def diagnose(audio: np.ndarray, sr: int) -> AudioDiagnostics:
    """All DSP diagnostics of a clip.

    Parameters
    ----------
    audio : np.ndarray, shape = (channels, samples) or (samples,), float, full scale 1.0
    sr : int > 0, Hz

    Returns
    -------
    AudioDiagnostics
    """
    if sr <= 0:
        raise ParameterError("sr must be a positive integer")
    x = _as_channels(audio)
    mono = (x - x.mean(axis=1, keepdims=True)).mean(axis=0)  # a DC offset is neither signal nor noise
    blank = np.zeros(x.shape[1], dtype=bool)
    for start, stop in _silent_runs(x, sr):
        blank[start:stop] = True
    subsonic = _subsonic(mono, sr)
    spec = power_spectrogram(mono - subsonic, sr, blank=blank)
    estimate = estimate_noise(
        spec,
        subsonic_power=float(np.mean(subsonic[~blank] ** 2)) if (~blank).any() else 0.0,
        duration_s=x.shape[1] / sr,
    )
    measurable = (~spec.silent).sum() * spec.hop_s >= MIN_ESTIMATE_S
    features = noise_features(estimate, find_hum(mono, sr, ~blank), measurable=measurable)
    noise_type, color = classify_noise(features)
    blanks, leading, trailing = find_blanks(x, sr)
    return AudioDiagnostics(
        duration_s=round(x.shape[1] / sr, 4),
        sample_rate=int(sr),
        channels=int(x.shape[0]),
        snr_db=features.snr_db,
        noise_floor_dbfs=round(_db(estimate.noise_power, floor=1e-12), 2) if measurable else None,
        noise_type=noise_type,
        noise_color=color,
        noise=features,
        loudness_lufs=loudness_lufs(x, sr),
        peak_dbfs=round(_db(float(np.abs(x).max()) ** 2, floor=1e-12), 2),
        rms_dbfs=round(_db(float(np.mean(x.astype(np.float64) ** 2)), floor=1e-12), 2),
        clipping_ratio=round(clipping_ratio(x), 6),
        blanks=tuple(blanks),
        leading_silence_s=leading,
        trailing_silence_s=trailing,
        onset_rate_hz=onset_rate(spec, estimate.psd, x.shape[1] / sr),
    )
