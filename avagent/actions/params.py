"""Typed parameters of the eight actions: ranges, defaults and units, the contract planners fill in.

Every model forbids unknown fields, so a planner's typo is an error that names the parameter instead of a value
silently ignored. Field descriptions are shown by `avagent actions` and in planner prompts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ActionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NoiseEstimate = Literal["noise_floor", "quietest_frames", "minimum_statistics"]


class _NoiseSegment(ActionParams):
    """Where the noise estimate comes from: a given noise-only segment, else the estimator."""

    noise_estimate: NoiseEstimate = Field(
        "noise_floor",
        description="noise PSD estimator when no noise segment is given: the per-bin stationary noise floor "
        "(steady tones without pauses are kept as content), the mean of the quietest frames, "
        "or Martin's minimum statistics (tracks slowly varying noise)",
    )
    noise_start_s: float | None = Field(None, ge=0.0, description="start of a noise-only segment, seconds")
    noise_end_s: float | None = Field(None, ge=0.0, description="end of a noise-only segment, seconds")

    @model_validator(mode="after")
    def _segment_is_ordered(self) -> _NoiseSegment:
        given = (self.noise_start_s is None, self.noise_end_s is None)
        if given[0] != given[1]:
            raise ValueError("noise_start_s and noise_end_s must be given together")
        if self.noise_start_s is not None and self.noise_end_s <= self.noise_start_s:  # type: ignore[operator]
            raise ValueError("noise_end_s must be greater than noise_start_s")
        return self


class SpectralSubtractionParams(_NoiseSegment):
    over_subtraction: float = Field(
        3.0, ge=1.0, le=6.0, description="Berouti over-subtraction factor alpha (higher removes more noise)"
    )
    spectral_floor: float = Field(
        0.02, ge=0.0, le=0.5, description="Berouti floor beta, a fraction of the noisy magnitude kept"
    )
    frame_ms: float = Field(32.0, ge=8.0, le=128.0, description="STFT window length in milliseconds")


class WienerParams(_NoiseSegment):
    dd_alpha: float = Field(
        0.95, ge=0.5, le=0.999, description="decision-directed smoothing of the a-priori SNR (Ephraim-Malah)"
    )
    gain_floor_db: float = Field(-25.0, ge=-60.0, le=0.0, description="lowest gain applied to any bin, dB")
    frame_ms: float = Field(48.0, ge=8.0, le=128.0, description="STFT window length in milliseconds")


class WaveletDenoiseParams(ActionParams):
    wavelet: Literal["db4", "db8", "sym8", "coif5", "haar"] = Field("db8", description="mother wavelet")
    method: Literal["BayesShrink", "VisuShrink"] = Field("BayesShrink", description="threshold rule")
    mode: Literal["soft", "hard"] = Field("soft", description="thresholding function")
    levels: int | None = Field(None, ge=1, le=12, description="decomposition levels (None: the maximum useful)")
    threshold_scale: float = Field(1.0, ge=0.1, le=4.0, description="multiplies the rule's threshold")


class SpectralGatingParams(ActionParams):
    stationary: bool = Field(True, description="stationary gate (fixed per-frequency threshold) or non-stationary")
    prop_decrease: float = Field(0.5, ge=0.0, le=1.0, description="fraction of the gated noise removed")
    n_std_thresh_stationary: float = Field(1.5, ge=0.0, le=5.0, description="threshold in noise std units")
    time_constant_s: float = Field(2.0, gt=0.0, le=10.0, description="non-stationary noise smoothing, seconds")
    thresh_n_mult_nonstationary: float = Field(2.0, gt=0.0, le=10.0, description="non-stationary threshold")
    sigmoid_slope_nonstationary: float = Field(10.0, gt=0.0, le=50.0, description="non-stationary mask slope")
    freq_mask_smooth_hz: float = Field(500.0, ge=0.0, le=4000.0, description="mask smoothing across frequency")
    time_mask_smooth_ms: float = Field(50.0, ge=0.0, le=500.0, description="mask smoothing across time")
    n_fft: int = Field(1024, ge=128, le=8192, description="FFT size in samples")

    @model_validator(mode="after")
    def _n_fft_divides(self) -> SpectralGatingParams:
        if self.n_fft % 4:
            raise ValueError(f"n_fft must be a multiple of 4 (the hop is n_fft / 4), got {self.n_fft}")
        return self


class SpeedParams(ActionParams):
    rate: float = Field(
        1.0, ge=0.5, le=2.0, description="playback rate: >1 plays the audio faster (repairs audio that runs slow)"
    )
    offset_s: float = Field(
        0.0, ge=-5.0, le=5.0, description="shift in seconds, positive = audio later (repairs audio that leads)"
    )
    preserve_pitch: bool = Field(
        False, description="time-stretch keeping the pitch instead of resampling (clock drift changes pitch too)"
    )


class PitchParams(ActionParams):
    semitones: float = Field(0.0, ge=-12.0, le=12.0, description="pitch shift in semitones, duration kept")


class VolumeParams(ActionParams):
    target_lufs: float | None = Field(
        -23.0, ge=-50.0, le=-5.0, description="integrated loudness target (ITU-R BS.1770); None: no normalisation"
    )
    gain_db: float = Field(0.0, ge=-30.0, le=30.0, description="extra gain after normalisation, dB")
    peak_limit_dbfs: float = Field(-1.0, ge=-20.0, le=0.0, description="true-peak ceiling of the limiter, dBFS")
    segment_s: float | None = Field(
        None, ge=0.5, le=30.0, description="if set, even out loudness over windows of this length, seconds"
    )


class FillBlanksParams(ActionParams):
    min_gap_ms: float = Field(
        20.0, ge=5.0, le=5000.0, description="shortest blank stretch (digital silence or dropout) to fill, ms"
    )
    max_gap_ms: float = Field(
        1000.0,
        ge=5.0,
        le=60000.0,
        description="longest blank stretch to fill, ms: dropouts are short, longer digital silence is taken as "
        "intentional (gated pauses, scene breaks) and kept",
    )
    fill_edges: bool = Field(
        False, description="also fill blanks that touch the start or end of the clip (from their one side)"
    )
    silence_threshold_dbfs: float = Field(
        -80.0, ge=-140.0, le=-30.0, description="level under which audio counts as blank, dBFS"
    )
    method: Literal["auto", "noise", "lpc"] = Field(
        "auto", description="fill: envelope-shaped noise, LPC/AR interpolation, or auto (LPC for short gaps)"
    )
    crossfade_ms: float = Field(5.0, ge=0.0, le=100.0, description="crossfade at each gap edge, ms")
    seed: int = Field(0, ge=0, description="seed of the synthetic fill")

    @model_validator(mode="after")
    def _gap_range_is_ordered(self) -> FillBlanksParams:
        if self.max_gap_ms < self.min_gap_ms:
            raise ValueError("max_gap_ms must be at least min_gap_ms")
        return self


def field_bounds(info: Any) -> tuple[float | None, float | None]:
    """The (lower, upper) bounds declared on a pydantic field (ge/gt, le/lt), None where unbounded."""
    lo = hi = None
    for m in info.metadata:
        lo = next((v for v in (getattr(m, "ge", None), getattr(m, "gt", None)) if v is not None), lo)
        hi = next((v for v in (getattr(m, "le", None), getattr(m, "lt", None)) if v is not None), hi)
    return lo, hi
