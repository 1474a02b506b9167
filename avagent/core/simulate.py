"""Corruption simulator: the inverse of the actions, with ground-truth repair labels.

`simulate(clean, sr, corruptions, seed)` applies corruptions in the order given and returns the corrupted
audio, one `RepairLabel` per corruption (which action repairs it, with which ideal parameters) and the
parameters that were actually realised (e.g. where the dropouts fell, which recordings made the babble).
Results are deterministic for a seed. Used by tests, benchmarks and planner training; `ideal_plan(labels)`
turns labels into the best single plan under the plan contract (at most one noise-filtering and one
coordination action).

Time conventions (the same as the speed action). `time_warp(x, sr, rate=r, offset_s=o)` is

    y(t) = x(r · (t − o))            length kept: zeros where the source is out of range, the rest trimmed

so `o > 0` makes the audio later and `r > 1` plays it faster. Its exact inverse is `time_warp(y, rate=1/r,
offset_s=−r·o)`. The timing corruptions are such warps and their labels are those inverses:

- `Offset(seconds=s)`: y(t) = x(t − s), audio late by s (s > 0 lags the video) -> speed(rate=1, offset_s=−s).
- `Drift(rate=d)`: y(t) = x(d · t), the clock runs d times too fast (d > 1: audio runs ahead and ends early,
  pitch up by 12·log2(d) semitones) -> speed(rate=1/d, offset_s=0), which also restores the pitch (no pitch
  preservation).

Core never imports `avagent.actions` (dependencies point down), so the action names, categories and parameter
ranges the labels use are repeated here as constants; tests check them against `avagent.actions`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from avagent.core.errors import ParameterError
from avagent.core.metrics import loudness_lufs

# --- the action contract, as the labels use it --------------------------------------------------------------

NOISE_FILTERING = "noise_filtering"
COORDINATION = "coordination"
ACTION_CATEGORY: dict[str, str] = {
    "spectral_subtraction": NOISE_FILTERING,
    "wiener": NOISE_FILTERING,
    "wavelet_denoise": NOISE_FILTERING,
    "spectral_gating": NOISE_FILTERING,
    "speed": COORDINATION,
    "pitch": COORDINATION,
    "volume": COORDINATION,
    "fill_blanks": COORDINATION,
}
# Which coordination action `ideal_plan` keeps when several are labelled: timing errors first (nothing else
# repairs sync, and the sync score measures it), then dropouts (lost content), then loudness, then pitch.
COORDINATION_PRIORITY: tuple[str, ...] = ("speed", "fill_blanks", "volume", "pitch")
SPEED_RATE_RANGE = (0.5, 2.0)  # SpeedParams.rate
SPEED_OFFSET_RANGE_S = (-5.0, 5.0)  # SpeedParams.offset_s
PITCH_RANGE_ST = (-12.0, 12.0)  # PitchParams.semitones
TARGET_LUFS_RANGE = (-50.0, -5.0)  # VolumeParams.target_lufs
GAIN_RANGE_DB = (-30.0, 30.0)  # VolumeParams.gain_db
MIN_GAP_RANGE_MS = (5.0, 5000.0)  # FillBlanksParams.min_gap_ms
DEFAULT_MAX_GAP_MS = 1000.0  # FillBlanksParams.max_gap_ms default; labels widen it to cover longer dropouts
# VolumeParams.peak_limit_dbfs default; labels raise the ceiling to 0 dBFS when the original peaks above it
LIMITER_DEFAULT_DBFS = -1.0

# --- simulator constants ------------------------------------------------------------------------------------

NOISE_KINDS = ("white", "pink", "brown", "hum", "babble", "recording")
FAMILIES = ("noise", "offset", "drift", "pitch", "volume", "clipping", "dropouts")
# Order in which `random_corruptions` stacks families, following a capture chain: source clock and pitch, then
# alignment, the acoustic environment, gain staging, and transmission losses last.
CHAIN_ORDER = ("drift", "pitch", "offset", "noise", "volume", "clipping", "dropouts")
HUM_HARMONICS = 8  # mains hum: fundamental plus 7 harmonics, amplitude 1/k
BABBLE_TALKERS = 6
BABBLE_POOL = 64  # babble talkers are drawn from the 64 longest asterisk prompts (4-73 s)
BEROUTI_SNR_RANGE_DB = (-5.0, 20.0)  # Berouti et al. 1979: alpha = 4 - 3/20 * SNR over this range
WIENER_MIN_SNR_DB = 10.0  # broadband noise at >= this SNR is labelled `wiener`, below: spectral subtraction
HUM_FRAME_MS = 64.0  # 15.6 Hz bins resolve 50/60 Hz harmonics (32 ms gives 31 Hz)
DROPOUT_ACTIVE_DB = -10.0  # dropouts fall where the local power is within 10 dB of the mean power
# Pink and brown noise hold no power below this (the lower edge of hearing). Shaped down to 1/duration Hz
# instead, 10 s of pink noise at 16 kHz would put 48 % of its power below 20 Hz and brown noise 99.6 %, so an
# SNR label would count inaudible rumble (a "0 dB" brown label meant about +24 dB SNR of audible noise).
COLOURED_NOISE_LOW_HZ = 20.0


# --- labels and results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepairLabel:
    """Ground truth for one corruption: the action that repairs it and its ideal parameters."""

    corruption: str  # the corruption family: one of FAMILIES
    action: str  # suggested action, a registry name (see ACTION_CATEGORY)
    # the action's parameter fields with their ideal values
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    category: str = ""  # "noise_filtering" or "coordination" (filled from ACTION_CATEGORY)
    alternatives: tuple[str, ...] = ()  # other actions of the same category that also fit
    exact: bool = False  # True if the action with `params` inverts the corruption (up to resampling error)
    # the corruption's parameters (kind, snr_db, ...)
    detail: dict[str, Any] = field(default_factory=dict, hash=False)
    note: str = ""  # what the action cannot undo, if anything

    def __post_init__(self) -> None:
        if self.action not in ACTION_CATEGORY:
            raise ParameterError(f"unknown action {self.action!r} in a repair label")
        if not self.category:
            object.__setattr__(self, "category", ACTION_CATEGORY[self.action])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (lists for tuples)."""
        d = asdict(self)
        d["alternatives"] = list(self.alternatives)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RepairLabel:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs["alternatives"] = tuple(kwargs.get("alternatives", ()))
        return cls(**kwargs)


@dataclass(frozen=True)
class AppliedCorruption:
    """A corruption as it was applied: its specification plus what was drawn at random."""

    family: str  # one of FAMILIES
    # spec fields and realised values, JSON-able
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "params": dict(self.params)}


@dataclass(frozen=True)
class IdealPlan:
    """The best single plan for a set of labels: at most one noise-filtering and one coordination action."""

    actions: tuple[tuple[str, dict[str, Any]], ...]  # (name, params), noise filtering first
    # labels this plan does not address (one action per category)
    unrepaired: tuple[RepairLabel, ...] = ()
    notes: tuple[str, ...] = ()  # what even the chosen actions cannot undo (inexact labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": [{"name": n, "params": dict(p)} for n, p in self.actions],
            "unrepaired": [label.to_dict() for label in self.unrepaired],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class SimulationResult:
    """Corrupted audio with its ground truth."""

    audio: np.ndarray = field(repr=False)  # float32, same shape as the clean input
    sr: int  # sample rate, Hz
    labels: tuple[RepairLabel, ...]  # one per corruption, in the order applied
    applied: tuple[AppliedCorruption, ...]  # the corruptions with their realised parameters, in order

    def ideal_plan(self) -> IdealPlan:
        return ideal_plan(self.labels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (no audio): corruptions, labels and the ideal plan."""
        return {
            "schema": "avagent.simulation/1",
            "sr": self.sr,
            "shape": list(self.audio.shape),
            "corruptions": [a.to_dict() for a in self.applied],
            "labels": [label.to_dict() for label in self.labels],
            "ideal_plan": self.ideal_plan().to_dict(),
        }


# --- noise generators ---------------------------------------------------------------------------------------


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise, shape (n,), float64, unit RMS."""
    return _unit_rms(rng.standard_normal(n))


def pink_noise(n: int, rng: np.random.Generator, *, sr: int) -> np.ndarray:
    """Pink noise (power ∝ 1/f, −3.01 dB/octave) from COLOURED_NOISE_LOW_HZ to sr/2, FFT-shaped; (n,), unit RMS.

    Nothing below COLOURED_NOISE_LOW_HZ, so all of its power is audible and an SNR means what it says.
    """
    return _coloured_noise(n, rng, sr=sr, exponent=1.0)


def brown_noise(n: int, rng: np.random.Generator, *, sr: int) -> np.ndarray:
    """Brown (red) noise (power ∝ 1/f², −6.02 dB/octave) from COLOURED_NOISE_LOW_HZ to sr/2; (n,), unit RMS."""
    return _coloured_noise(n, rng, sr=sr, exponent=2.0)


def hum_noise(
    n: int, sr: int, rng: np.random.Generator, *, fundamental_hz: float = 50.0, harmonics: int = HUM_HARMONICS
) -> np.ndarray:
    """Mains hum Σ_k (1/k) sin(2π k f0 t + φ_k), k = 1..harmonics below Nyquist; shape (n,), unit RMS.

    Parameters
    ----------
    n : int
        Length, samples.
    sr : int
        Sample rate, Hz.
    rng : np.random.Generator
        Draws the phases φ_k.
    fundamental_hz : float
        Mains frequency f0, Hz (50 in Europe, 60 in the Americas).
    harmonics : int >= 1
        Number of partials including the fundamental.
    """
    if not 0 < fundamental_hz < sr / 2 or harmonics < 1:
        raise ParameterError("hum needs 0 < fundamental_hz < sr/2 and harmonics >= 1")
    t = np.arange(n) / sr
    ks = [k for k in range(1, harmonics + 1) if k * fundamental_hz < sr / 2]
    phases = rng.uniform(0, 2 * np.pi, len(ks))
    hum = sum(np.sin(2 * np.pi * k * fundamental_hz * t + p) / k for k, p in zip(ks, phases, strict=True))
    return _unit_rms(np.asarray(hum, dtype=np.float64))


def babble_noise(
    n: int,
    sr: int,
    rng: np.random.Generator,
    *,
    talkers: int = BABBLE_TALKERS,
    recordings: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Babble: real speech recordings at equal level, each looped from a random start, summed; unit RMS.

    Parameters
    ----------
    n : int
        Length, samples.
    sr : int
        Sample rate, Hz; the default asterisk prompts (8 kHz) are resampled to it (so no content above 4 kHz).
    rng : np.random.Generator
        Chooses the recordings and their start points.
    talkers : int >= 1
        Number of voices.
    recordings : sequence of np.ndarray at `sr`, optional
        Speech to mix instead of the asterisk prompts (`avagent.core.samples.asterisk_speech`).
    """
    return _babble(n, sr, rng, talkers, recordings)[0]


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2)))
    return x / rms if rms > 0 else x


def _coloured_noise(n: int, rng: np.random.Generator, *, sr: int, exponent: float) -> np.ndarray:
    """White noise shaped so that its power spectrum ∝ f^(−exponent) above COLOURED_NOISE_LOW_HZ, zero below.

    The band edge is a brick wall on the FFT of the whole clip (exact, and the noise is circular anyway). The
    DC bin is always zeroed, even when a clip too short to resolve 20 Hz has no other bin below it.
    """
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    audible = f >= COLOURED_NOISE_LOW_HZ
    audible[0] = False
    spectrum *= np.where(audible, np.maximum(f, COLOURED_NOISE_LOW_HZ) ** (-exponent / 2.0), 0.0)
    return _unit_rms(np.fft.irfft(spectrum, n))


def _babble(
    n: int, sr: int, rng: np.random.Generator, talkers: int, recordings: Sequence[np.ndarray] | None
) -> tuple[np.ndarray, list[str]]:
    if talkers < 1:
        raise ParameterError("babble needs talkers >= 1")
    if recordings is None:
        from avagent.core.samples import asterisk_speech

        pool = asterisk_speech()[:BABBLE_POOL]
        chosen = rng.choice(len(pool), size=min(talkers, len(pool)), replace=False)
        names = [pool[i].name for i in chosen]
        voices = [_load_speech(str(pool[i]), sr) for i in chosen]
    else:
        chosen = rng.choice(len(recordings), size=min(talkers, len(recordings)), replace=False)
        names = [f"recording[{i}]" for i in chosen]
        voices = [np.asarray(recordings[i], dtype=np.float64) for i in chosen]
    mix = sum(_unit_rms(_loop(v, n, rng)) for v in voices)
    return _unit_rms(np.asarray(mix, dtype=np.float64)), names


def _loop(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`x` (mono) repeated circularly from a random start to length n."""
    x = np.asarray(x, dtype=np.float64)
    x = x.mean(axis=0) if x.ndim == 2 else x
    if x.size == 0 or not np.any(x):
        raise ParameterError("a noise recording must be non-empty and not silent")
    start = int(rng.integers(x.size))
    return x[(start + np.arange(n)) % x.size]


@functools.lru_cache(maxsize=BABBLE_POOL)
def _load_speech(path: str, sr: int) -> np.ndarray:
    import soundfile

    x, file_sr = soundfile.read(path, dtype="float64", always_2d=True)
    y = _resample(x.mean(axis=1), file_sr, sr)
    y.flags.writeable = False
    return y


def _resample(x: np.ndarray, sr: int, target_sr: float) -> np.ndarray:
    """soxr resampling along the last axis (any number of leading channels)."""
    if sr == target_sr:
        return x
    import soxr

    if x.ndim == 1:
        return soxr.resample(x, sr, target_sr, quality="VHQ")
    return np.ascontiguousarray(soxr.resample(np.ascontiguousarray(x.T), sr, target_sr, quality="VHQ").T)


# --- the exact forward transforms ---------------------------------------------------------------------------


def time_warp(audio: np.ndarray, sr: int, *, rate: float = 1.0, offset_s: float = 0.0) -> np.ndarray:
    """Affine time warp y(t) = x(rate · (t − offset_s)), the speed action's definition; length kept.

    The rate change resamples with soxr (VHQ, zero delay); the offset is rounded to whole samples
    (round(offset_s · sr)). Where the source time is outside the input the output is zero; the rest is cut.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
    sr : int
        Sample rate, Hz.
    rate : float > 0
        Playback rate: > 1 plays faster.
    offset_s : float
        Shift, seconds: positive makes the audio later.

    Returns
    -------
    np.ndarray
        float64, the same shape as `audio`. `time_warp(time_warp(x, rate=r, offset_s=o), rate=1/r,
        offset_s=−r·o)` restores x except for the parts pushed out of range.
    """
    if rate <= 0:
        raise ParameterError("rate must be a positive number")
    x = np.asarray(audio, dtype=np.float64)
    n = x.shape[-1]
    y = _resample(x, sr, sr / rate) if rate != 1.0 else x
    shift = round(offset_s * sr)
    out = np.zeros_like(x)
    src, dst = max(0, -shift), max(0, shift)
    count = min(n - dst, y.shape[-1] - src)
    if count > 0:
        out[..., dst : dst + count] = y[..., src : src + count]
    return out


def pitch_shift(audio: np.ndarray, sr: int, *, semitones: float, seed: int = 0) -> np.ndarray:
    """Pitch shift by `semitones` keeping the duration (python-stretch / Signalsmith Stretch, no latency).

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
    sr : int
        Sample rate, Hz.
    semitones : float
        Shift; +12 is an octave up. A frequency f becomes f · 2^(semitones/12).
    seed : int
        Seed of the stretcher's internal randomness (its output is deterministic for a seed).

    Returns
    -------
    np.ndarray
        float64, the same shape as `audio`.
    """
    from python_stretch.Signalsmith import Stretch

    x = np.asarray(audio, dtype=np.float32)
    block = x[None, :] if x.ndim == 1 else x
    stretch = Stretch(int(seed))
    stretch.preset(block.shape[0], float(sr))
    stretch.setTransposeSemitones(float(semitones))
    out = np.asarray(stretch.process(np.ascontiguousarray(block)), dtype=np.float64)
    return out[0] if x.ndim == 1 else out


def compose_speed(first: Mapping[str, float], second: Mapping[str, float]) -> dict[str, float]:
    """The single speed warp equal to applying `first` then `second` (each {"rate", "offset_s"}).

    With y = W(a1, b1) x, z = W(a2, b2) y: z(t) = x(a1·a2 · (t − b2 − b1/a2)), rate a1·a2, offset b2 + b1/a2.
    """
    a1, b1 = float(first.get("rate", 1.0)), float(first.get("offset_s", 0.0))
    a2, b2 = float(second.get("rate", 1.0)), float(second.get("offset_s", 0.0))
    return {"rate": a1 * a2, "offset_s": b2 + b1 / a2}


# --- corruption specifications ------------------------------------------------------------------------------


class Corruption(Protocol):
    """A corruption specification: a frozen dataclass with a `family` and an `apply` method."""

    family: ClassVar[str]

    def apply(self, audio: np.ndarray, sr: int, rng: np.random.Generator) -> _Step: ...


@dataclass(frozen=True)
class _Step:
    audio: np.ndarray  # float64 (channels, samples)
    label: RepairLabel
    realised: dict[str, Any]  # values drawn at random or measured, merged into AppliedCorruption.params


def _spec_dict(spec: Any) -> dict[str, Any]:
    """A specification's fields as a JSON-able dict (a noise spec keeps only the fields its kind uses)."""
    d = {f.name: getattr(spec, f.name) for f in fields(spec) if f.name != "recording"}
    if isinstance(spec, Noise):
        used = {"hum": ("hum_hz", "harmonics"), "babble": ("talkers",), "recording": ("recording_name",)}
        d = {k: v for k, v in d.items() if k in ("kind", "snr_db", *used.get(spec.kind, ()))}
    return d


@dataclass(frozen=True)
class Noise:
    """Additive noise at a target SNR: 10 log10(mean x² / mean n²) = snr_db over the whole clip, all channels.

    White, pink and brown noise are independent per channel; hum, babble and recordings are one source heard
    in every channel. A given recording must be at the clip's sample rate; it is downmixed and looped.
    """

    family: ClassVar[str] = "noise"
    kind: Literal["white", "pink", "brown", "hum", "babble", "recording"]
    snr_db: float  # signal-to-noise ratio, dB
    hum_hz: float = 50.0  # hum fundamental, Hz (50 or 60 for mains)
    harmonics: int = HUM_HARMONICS  # hum partials including the fundamental
    talkers: int = BABBLE_TALKERS  # babble voices
    recording: np.ndarray | None = field(default=None, compare=False, repr=False)  # kind "recording"
    recording_name: str = ""  # how a recording is named in labels

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise ParameterError(f"noise kind must be one of {', '.join(NOISE_KINDS)}, got {self.kind!r}")
        if (self.kind == "recording") != (self.recording is not None):
            raise ParameterError("a recording is required for kind 'recording' and only for it")
        if not -60.0 <= self.snr_db <= 100.0:
            raise ParameterError(f"snr_db must be in [-60, 100], got {self.snr_db}")

    def apply(self, audio: np.ndarray, sr: int, rng: np.random.Generator) -> _Step:
        signal_power = float(np.mean(audio**2))
        if signal_power == 0.0:
            raise ParameterError("cannot add noise at an SNR to silent audio")
        noise, realised = self._noise(audio.shape, sr, rng)
        noise_power = float(np.mean(np.broadcast_to(noise, audio.shape) ** 2))
        gain = np.sqrt(signal_power / (noise_power * 10.0 ** (self.snr_db / 10.0)))
        realised["noise_rms"] = float(np.sqrt(noise_power) * gain)
        return _Step(audio + gain * noise, noise_label(self.kind, self.snr_db, _spec_dict(self)), realised)

    def _noise(self, shape: tuple[int, ...], sr: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        channels, n = shape
        if self.kind == "white":
            return np.stack([white_noise(n, rng) for _ in range(channels)]), {}
        if self.kind in ("pink", "brown"):
            shaped = pink_noise if self.kind == "pink" else brown_noise
            return np.stack([shaped(n, rng, sr=sr) for _ in range(channels)]), {}
        if self.kind == "hum":
            return hum_noise(n, sr, rng, fundamental_hz=self.hum_hz, harmonics=self.harmonics)[None], {}
        if self.kind == "babble":
            babble, names = _babble(n, sr, rng, self.talkers, None)
            return babble[None], {"talker_files": names}
        return _unit_rms(_loop(self.recording, n, rng))[None], {}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Offset:
    """Constant offset: y(t) = x(t − seconds), length kept. Positive = audio late (lags the video)."""

    family: ClassVar[str] = "offset"
    seconds: float  # shift, seconds; rounded to whole samples when applied

    def __post_init__(self) -> None:
        if not SPEED_OFFSET_RANGE_S[0] <= self.seconds <= SPEED_OFFSET_RANGE_S[1]:
            raise ParameterError(
                f"offset seconds must be in {list(SPEED_OFFSET_RANGE_S)}, got {self.seconds}"
            )

    def apply(self, audio: np.ndarray, sr: int, rng: np.random.Generator) -> _Step:
        seconds = round(self.seconds * sr) / sr
        label = RepairLabel(
            "offset",
            "speed",
            {"rate": 1.0, "offset_s": -seconds},
            exact=True,
            detail=_spec_dict(self),
            note=f"the {abs(seconds):g} s pushed past the clip's {'end' if seconds > 0 else 'start'} is lost",
        )
        return _Step(time_warp(audio, sr, offset_s=seconds), label, {"seconds_applied": seconds})


@dataclass(frozen=True)
class Drift:
    """Clock drift: y(t) = x(rate · t) by resampling, length kept; rate > 1 runs fast (pitch up too)."""

    family: ClassVar[str] = "drift"
    rate: float  # playback-rate error of the corrupted audio

    def __post_init__(self) -> None:
        if not SPEED_RATE_RANGE[0] <= self.rate <= SPEED_RATE_RANGE[1]:
            raise ParameterError(f"drift rate must be in {list(SPEED_RATE_RANGE)}, got {self.rate}")

    def apply(self, audio: np.ndarray, sr: int, rng: np.random.Generator) -> _Step:
        label = RepairLabel(
            "drift",
            "speed",
            {"rate": 1.0 / self.rate, "offset_s": 0.0},
            exact=True,
            detail=_spec_dict(self),
            note=f"the last {1 - self.rate:.1%} of the clip, pushed past its end, is lost"
            if self.rate < 1
            else "",
        )
        return _Step(time_warp(audio, sr, rate=self.rate), label, {})


@dataclass(frozen=True)
class PitchShift:
    """Pitch shift by semitones, duration kept (python-stretch)."""

    family: ClassVar[str] = "pitch"
    semitones: float

    def __post_init__(self) -> None:
        if not PITCH_RANGE_ST[0] <= self.semitones <= PITCH_RANGE_ST[1]:
            raise ParameterError(f"semitones must be in {list(PITCH_RANGE_ST)}, got {self.semitones}")

    def apply(self, audio: np.ndarray, sr: int, rng: np.random.Generator) -> _Step:
        seed = int(rng.integers(2**31))
        label = RepairLabel(
            "pitch",
            "pitch",
            {"semitones": -self.semitones},
            detail=_spec_dict(self),
            note="phase-vocoder shifts are not exactly invertible: some smearing remains",
        )
        return _Step(
            pitch_shift(audio, sr, semitones=self.semitones, seed=seed), label, {"stretch_seed": seed}
        )


@dataclass(frozen=True)
class VolumeChange:
    """Gain in dB (a drop when negative); no clipping, so a boost may exceed full scale (see `Clipping`)."""

    family: ClassVar[str] = "volume"
    gain_db: float

    def __post_init__(self) -> None:
        if not -60.0 <= self.gain_db <= 40.0:
            raise ParameterError(f"gain_db must be in [-60, 40], got {self.gain_db}")

    def apply(self, audio: np.ndarray, sr: int, rng: np.random.Generator) -> _Step:
        out = audio * 10.0 ** (self.gain_db / 20.0)
        label, realised = volume_label("volume", audio, sr, self.gain_db, _spec_dict(self))
        return _Step(out, label, realised)


@dataclass(frozen=True)
class Clipping:
    """Gain, then hard clipping at ±clip_level: y = clip(x · 10^(gain_db/20), −c, c)."""

    family: ClassVar[str] = "clipping"
    gain_db: float = 12.0  # drive before the clipper, dB
    clip_level: float = 1.0  # clipping threshold, linear full scale

    def __post_init__(self) -> None:
        if not 0.0 <= self.gain_db <= 40.0 or not 0.0 < self.clip_level <= 1.0:
            raise ParameterError("clipping needs gain_db in [0, 40] and clip_level in (0, 1]")

    def apply(self, audio: np.ndarray, sr: int, rng: np.random.Generator) -> _Step:
        driven = audio * 10.0 ** (self.gain_db / 20.0)
        out = np.clip(driven, -self.clip_level, self.clip_level)
        label, realised = volume_label("clipping", audio, sr, self.gain_db, _spec_dict(self), clipped=True)
        realised["clipped_fraction"] = float(np.mean(np.abs(driven) > self.clip_level))
        return _Step(out, label, realised)


@dataclass(frozen=True)
class Dropouts:
    """`count` stretches of `duration_ms` set to digital zero in every channel, placed in active audio.

    Gaps are drawn where the local power is within 10 dB of the clip's mean power (so they remove content), at
    least one gap length from each other and from the clip edges; if too few such places exist, anywhere.
    """

    family: ClassVar[str] = "dropouts"
    count: int = 3
    duration_ms: float = 50.0

    def __post_init__(self) -> None:
        if self.count < 1 or not 2 * MIN_GAP_RANGE_MS[0] <= self.duration_ms <= MIN_GAP_RANGE_MS[1]:
            raise ParameterError(f"dropouts need count >= 1 and duration_ms in [10, {MIN_GAP_RANGE_MS[1]}]")

    def apply(self, audio: np.ndarray, sr: int, rng: np.random.Generator) -> _Step:
        gap = max(1, round(self.duration_ms * sr / 1000.0))
        starts = _dropout_starts(np.mean(audio**2, axis=0), gap, self.count, rng)
        out = audio.copy()
        for s in starts:
            out[:, s : s + gap] = 0.0
        min_gap_ms = float(np.clip(0.5 * gap * 1000.0 / sr, *MIN_GAP_RANGE_MS))
        label = RepairLabel(
            "dropouts",
            "fill_blanks",
            {"min_gap_ms": min_gap_ms, "max_gap_ms": max(DEFAULT_MAX_GAP_MS, 1.5 * gap * 1000.0 / sr)},
            detail=_spec_dict(self),
            note="the lost content is synthesised from its surroundings, not recovered",
        )
        return _Step(out, label, {"gaps_s": [[s / sr, (s + gap) / sr] for s in starts]})


def _dropout_starts(power: np.ndarray, gap: int, count: int, rng: np.random.Generator) -> list[int]:
    n = power.size
    lo, hi = gap, n - 2 * gap  # keep one gap length clear of each edge
    if hi - lo < 0 or count * 2 * gap > n:
        raise ParameterError(f"{count} dropouts of {gap} samples do not fit in {n} samples")
    window = np.concatenate([[0.0], np.cumsum(power)])
    local = (window[gap:] - window[:-gap]) / gap  # mean power of the gap starting at each index
    candidates = np.arange(lo, hi + 1)
    active = candidates[local[candidates] >= np.mean(power) * 10.0 ** (DROPOUT_ACTIVE_DB / 10.0)]
    for pool in (active, candidates):
        chosen: list[int] = []
        for s in rng.permutation(pool)[: 200 * count]:
            if all(abs(int(s) - c) >= 2 * gap for c in chosen):
                chosen.append(int(s))
                if len(chosen) == count:
                    return sorted(chosen)
    raise ParameterError(f"could not place {count} separate dropouts of {gap} samples")


# --- labels -------------------------------------------------------------------------------------------------


def berouti_over_subtraction(snr_db: float) -> float:
    """Berouti et al. (1979) over-subtraction α = 4 − (3/20)·SNR, SNR clamped to [−5, 20] dB (α 1 to 4.75)."""
    return round(4.0 - 0.15 * float(np.clip(snr_db, *BEROUTI_SNR_RANGE_DB)), 3)


def noise_label(kind: str, snr_db: float, detail: Mapping[str, Any] | None = None) -> RepairLabel:
    """The noise-filtering label for a noise kind and SNR.

    - babble and recordings (non-stationary): `wiener` with defaults. Measured on asterisk speech at 0-5 dB
      babble: wiener +0.7 to +2.4 dB SI-SDR, spectral_subtraction about the same, while `spectral_gating` with
      `stationary=False` and default parameters lost 0.5-6.5 dB (+0.2 to +0.8 at best when tuned). Speech-like
      noise is only partly removable by any single-channel filter here.
    - hum: `spectral_subtraction` with Berouti's α and 64 ms frames (resolves the harmonics; +12-14 dB).
    - white, pink, brown (stationary broadband): `wiener` at SNR >= 10 dB, else `spectral_subtraction` with α.
    """
    detail = dict(detail or {"kind": kind, "snr_db": snr_db})
    alpha = berouti_over_subtraction(snr_db)
    if kind in ("babble", "recording"):
        return RepairLabel(
            "noise",
            "wiener",
            {},
            alternatives=("spectral_subtraction",),
            detail=detail,
            note="speech-like, non-stationary noise is only partly removed (about +1-2 dB SI-SDR)",
        )
    if kind == "hum":
        params = {"over_subtraction": alpha, "frame_ms": HUM_FRAME_MS}
        return RepairLabel("noise", "spectral_subtraction", params, alternatives=("wiener",), detail=detail)
    alternatives = ("wavelet_denoise",) if kind == "white" else ()  # spectral_gating lost SI-SDR at >= 5 dB
    if snr_db >= WIENER_MIN_SNR_DB:
        return RepairLabel(
            "noise", "wiener", {}, alternatives=("spectral_subtraction", *alternatives), detail=detail
        )
    return RepairLabel(
        "noise",
        "spectral_subtraction",
        {"over_subtraction": alpha},
        alternatives=("wiener", *alternatives),
        detail=detail,
    )


def volume_label(
    family: str,
    before: np.ndarray,
    sr: int,
    gain_db: float,
    detail: Mapping[str, Any],
    *,
    clipped: bool = False,
) -> tuple[RepairLabel, dict[str, Any]]:
    """Volume label restoring the loudness `before` the corruption: target_lufs = its loudness.

    Falls back to an inverse gain (target_lufs None, gain_db = −gain) when that loudness is outside the
    action's range or unmeasurable; raises the limiter ceiling to 0 dBFS when the original peaks above
    −1 dBFS.
    """
    lufs = loudness_lufs(before, sr)
    peak = float(np.max(np.abs(before)))
    params: dict[str, Any]
    exact = not clipped and peak <= 1.0
    if np.isfinite(lufs) and TARGET_LUFS_RANGE[0] <= lufs <= TARGET_LUFS_RANGE[1]:
        params = {"target_lufs": round(lufs, 3)}
    else:
        inverse = float(np.clip(-gain_db, *GAIN_RANGE_DB))
        exact = exact and inverse == -gain_db
        params = {"target_lufs": None, "gain_db": inverse}
    if peak > 10.0 ** (LIMITER_DEFAULT_DBFS / 20.0):
        params["peak_limit_dbfs"] = 0.0
    note = "hard-clipping distortion is not undone (no declipping action); loudness is" if clipped else ""
    realised = {"loudness_before_lufs": lufs if np.isfinite(lufs) else None}
    return RepairLabel(family, "volume", params, exact=exact, detail=dict(detail), note=note), realised


# --- simulate -----------------------------------------------------------------------------------------------


def simulate(
    clean: np.ndarray,
    sr: int,
    corruptions: Sequence[Corruption],
    seed: int | np.random.Generator | None = 0,
) -> SimulationResult:
    """Apply `corruptions` in order to `clean` and return the result with one repair label each.

    Parameters
    ----------
    clean : np.ndarray, shape (samples,) or (channels, samples)
        Clean audio, finite.
    sr : int
        Sample rate, Hz.
    corruptions : sequence of Corruption
        `Noise`, `Offset`, `Drift`, `PitchShift`, `VolumeChange`, `Clipping`, `Dropouts`, applied in order.
    seed : int, np.random.Generator or None
        Each corruption draws from its own child generator (SeedSequence spawning): its draws depend only on
        the seed and its position in the list, not on what other corruptions consumed. None: fresh entropy
        (not reproducible).

    Returns
    -------
    SimulationResult
        float32 audio of the input's shape, labels and realised parameters in the order applied.
    """
    x = _validated(clean, sr)
    children = _child_generators(seed, len(corruptions))
    labels, applied = [], []
    for spec, rng in zip(corruptions, children, strict=True):
        step = spec.apply(x, sr, rng)
        x = step.audio
        labels.append(step.label)
        applied.append(AppliedCorruption(spec.family, {**_spec_dict(spec), **step.realised}))
    audio = x.astype(np.float32)
    return SimulationResult(audio[0] if np.ndim(clean) == 1 else audio, sr, tuple(labels), tuple(applied))


def _validated(clean: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(clean, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[-1] == 0:
        raise ParameterError(
            f"audio must be non-empty (samples,) or (channels, samples), got {np.shape(clean)}"
        )
    if x.shape[0] > 64:
        raise ParameterError(
            f"audio has {x.shape[0]} channels: expected (channels, samples), not (samples, channels)"
        )
    if not np.all(np.isfinite(x)):
        raise ParameterError("audio contains NaN or Inf")
    if not 1000 <= sr <= 384000:
        raise ParameterError(f"sr must be in [1000, 384000] Hz, got {sr}")
    return x


def _child_generators(seed: int | np.random.Generator | None, n: int) -> list[np.random.Generator]:
    if isinstance(seed, np.random.Generator):
        return seed.spawn(n)
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


# --- the ideal plan -----------------------------------------------------------------------------------------


def ideal_plan(labels: Sequence[RepairLabel]) -> IdealPlan:
    """The best plan for `labels` under the contract: at most one noise-filtering and one coordination action.

    - Noise: the label of the strongest noise (lowest `detail["snr_db"]`; the first on ties).
    - Coordination: labels of the same action are merged first: speed warps compose exactly (applied in
      reverse corruption order, see `compose_speed`), pitch shifts add, volume keeps the earliest target (the
      loudness before any gain change), fill_blanks the smallest `min_gap_ms`. Then the first action in
      `COORDINATION_PRIORITY` (speed > fill_blanks > volume > pitch) is kept.
    - Everything else goes to `unrepaired`: one plan cannot fix, e.g., an offset and a volume drop together;
      the agent's next iteration (which re-plans from the original audio) can only pick one of them too.
    """
    noise = [lb for lb in labels if lb.category == NOISE_FILTERING]
    coordination = [lb for lb in labels if lb.category == COORDINATION]
    actions: list[tuple[str, dict[str, Any]]] = []
    used: list[RepairLabel] = []
    if noise:
        strongest = min(noise, key=lambda lb: float(lb.detail.get("snr_db", np.inf)))
        actions.append((strongest.action, dict(strongest.params)))
        used.append(strongest)
    for name in COORDINATION_PRIORITY:
        group = [lb for lb in coordination if lb.action == name]
        if group:
            params, merged = _merge(name, group)
            actions.append((name, params))
            used.extend(merged)
            break
    unrepaired = tuple(lb for lb in labels if not any(lb is u for u in used))
    notes = tuple(f"{lb.corruption}: {lb.note}" for lb in used if lb.note)
    return IdealPlan(tuple(actions), unrepaired, notes)


def _merge(name: str, group: Sequence[RepairLabel]) -> tuple[dict[str, Any], Sequence[RepairLabel]]:
    """One action's parameters for a group of its labels, and the labels that it repairs."""
    if name == "speed":
        warp = {"rate": 1.0, "offset_s": 0.0}
        for label in reversed(group):  # the last corruption is undone first
            warp = compose_speed(warp, label.params)
        in_range = SPEED_RATE_RANGE[0] <= warp["rate"] <= SPEED_RATE_RANGE[1] and (
            SPEED_OFFSET_RANGE_S[0] <= warp["offset_s"] <= SPEED_OFFSET_RANGE_S[1]
        )
        return (warp, group) if in_range else (dict(group[0].params), group[:1])
    if name == "pitch":
        total = sum(lb.params["semitones"] for lb in group)
        return {"semitones": float(np.clip(total, *PITCH_RANGE_ST))}, group
    if name == "fill_blanks":
        return {
            "min_gap_ms": min(lb.params["min_gap_ms"] for lb in group),
            "max_gap_ms": max(lb.params.get("max_gap_ms", DEFAULT_MAX_GAP_MS) for lb in group),
        }, group
    return dict(group[0].params), group  # volume: the earliest target is the loudness before any change


# --- random configurations ----------------------------------------------------------------------------------


def random_corruptions(
    rng: np.random.Generator,
    *,
    families: Sequence[str] = FAMILIES,
    count: int | tuple[int, int] = (1, 2),
    noise_kinds: Sequence[str] = ("white", "pink", "brown", "hum", "babble"),
    snr_range_db: tuple[float, float] = (-5.0, 20.0),
    offset_range_s: tuple[float, float] = (0.04, 1.0),
    drift_range: tuple[float, float] = (0.005, 0.05),
    pitch_range_st: tuple[float, float] = (0.5, 4.0),
    gain_range_db: tuple[float, float] = (-25.0, 6.0),
    clip_gain_range_db: tuple[float, float] = (6.0, 20.0),
    dropout_count_range: tuple[int, int] = (1, 5),
    dropout_ms_range: tuple[float, float] = (20.0, 200.0),
    duration_s: float | None = None,
) -> list[Corruption]:
    """A random corruption configuration for benchmarks and planner training.

    Draws `count` distinct families (an int, or an inclusive (low, high) range) and stacks them in
    `CHAIN_ORDER`. Magnitude ranges get a random sign: `offset_range_s` (|seconds|), `drift_range`
    (rate = 1 + d or 1/(1 + d)), `pitch_range_st` (|semitones|). `gain_range_db` is signed, with
    |gain| >= 3 dB. Hum is 50 or 60 Hz at random. Given the clip's `duration_s`, dropouts are shortened so
    that gaps plus their spacing take at most half of it (otherwise long dropouts may not fit a short clip).
    """
    unknown = set(families) - set(FAMILIES)
    if unknown or not families:
        raise ParameterError(
            f"families must be a non-empty subset of {', '.join(FAMILIES)}; unknown: {unknown}"
        )
    low, high = (count, count) if isinstance(count, int) else count
    k = min(int(rng.integers(low, high + 1)), len(families))
    chosen = sorted(
        rng.choice(len(families), size=k, replace=False), key=lambda i: CHAIN_ORDER.index(families[i])
    )
    draw = {
        "noise": lambda: _random_noise(rng, noise_kinds, snr_range_db),
        "offset": lambda: Offset(_signed(rng, offset_range_s)),
        "drift": lambda: Drift(float((1.0 + rng.uniform(*drift_range)) ** rng.choice([-1.0, 1.0]))),
        "pitch": lambda: PitchShift(_signed(rng, pitch_range_st)),
        "volume": lambda: VolumeChange(_gain(rng, gain_range_db)),
        "clipping": lambda: Clipping(float(rng.uniform(*clip_gain_range_db))),
        "dropouts": lambda: _random_dropouts(rng, dropout_count_range, dropout_ms_range, duration_s),
    }
    return [draw[families[i]]() for i in chosen]


def _random_dropouts(
    rng: np.random.Generator,
    count_range: tuple[int, int],
    ms_range: tuple[float, float],
    duration_s: float | None,
) -> Dropouts:
    count = int(rng.integers(count_range[0], count_range[1] + 1))
    duration_ms = float(rng.uniform(*ms_range))
    if duration_s is not None:
        # each gap needs itself, one gap of spacing, and the edges one gap each: ~2 (count + 1) gaps <= half
        duration_ms = min(duration_ms, 1000.0 * duration_s / (4 * (count + 1)))
        if duration_ms < 2 * MIN_GAP_RANGE_MS[0]:
            raise ParameterError(f"a {duration_s} s clip is too short for {count} dropouts")
    return Dropouts(count, duration_ms)


def _random_noise(rng: np.random.Generator, kinds: Sequence[str], snr_range_db: tuple[float, float]) -> Noise:
    kind = str(rng.choice(list(kinds)))
    snr_db = float(rng.uniform(*snr_range_db))
    return Noise(kind, snr_db, hum_hz=float(rng.choice([50.0, 60.0])))  # type: ignore[arg-type]


def _signed(rng: np.random.Generator, magnitude: tuple[float, float]) -> float:
    return float(rng.uniform(*magnitude) * rng.choice([-1.0, 1.0]))


def _gain(rng: np.random.Generator, gain_range_db: tuple[float, float]) -> float:
    for _ in range(100):
        gain = float(rng.uniform(*gain_range_db))
        if abs(gain) >= 3.0:
            return gain
    raise ParameterError(f"gain_range_db {gain_range_db} leaves no gain of at least 3 dB in magnitude")
