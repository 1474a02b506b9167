"""The action registry: name -> function, category, one-line description, parameter model.

The descriptions are used verbatim in planner prompts (paper Fig. 5 lists the action set the same way), so keep
them short, concrete and true to what the code does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import ValidationError

from avagent.actions import blanks, denoise, loudness, timing, wavelet
from avagent.actions.params import (
    ActionParams,
    FillBlanksParams,
    PitchParams,
    SpectralGatingParams,
    SpectralSubtractionParams,
    SpeedParams,
    VolumeParams,
    WaveletDenoiseParams,
    WienerParams,
    field_bounds,
)
from avagent.core.errors import ParameterError, UnknownActionError


class Category(StrEnum):
    NOISE_FILTERING = "noise_filtering"
    COORDINATION = "coordination"


ActionFn = Callable[[np.ndarray, int, Any], np.ndarray]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    fn: ActionFn
    category: Category
    description: str
    params_model: type[ActionParams]

    def parse(self, params: Mapping[str, Any] | ActionParams | None) -> ActionParams:
        """Validate raw parameters; errors name the parameter and its allowed range."""
        if isinstance(params, self.params_model):
            return params
        try:
            return self.params_model.model_validate(dict(params or {}))
        except ValidationError as e:
            raise ParameterError(f"{self.name}: {_describe_validation_error(e, self.params_model)}") from e


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in [
        ActionSpec(
            "spectral_subtraction",
            denoise.spectral_subtraction,
            Category.NOISE_FILTERING,
            "Spectral subtraction: subtracts an estimate of the stationary noise spectrum (Berouti over-subtraction "
            "with a spectral floor); strong on steady broadband noise and hum.",
            SpectralSubtractionParams,
        ),
        ActionSpec(
            "wiener",
            denoise.wiener,
            Category.NOISE_FILTERING,
            "Wiener filtering: per-frequency gain from a decision-directed SNR estimate; gentle on speech, "
            "for moderate stationary noise.",
            WienerParams,
        ),
        ActionSpec(
            "wavelet_denoise",
            wavelet.wavelet_denoise,
            Category.NOISE_FILTERING,
            "Wavelet denoising: shrinks small wavelet coefficients (BayesShrink or VisuShrink); for white hiss "
            "on transient-rich sounds.",
            WaveletDenoiseParams,
        ),
        ActionSpec(
            "spectral_gating",
            denoise.spectral_gating,
            Category.NOISE_FILTERING,
            "Spectral gating: mutes time-frequency bins below a noise threshold (stationary or adaptive); "
            "for non-stationary background noise.",
            SpectralGatingParams,
        ),
        ActionSpec(
            "speed",
            timing.speed,
            Category.COORDINATION,
            "Speed modification: changes the playback rate and shifts the audio in time (offset_s > 0 delays it) "
            "to fix audio-video offset and drift; length stays the video's.",
            SpeedParams,
        ),
        ActionSpec(
            "pitch",
            timing.pitch,
            Category.COORDINATION,
            "Pitch modification: shifts pitch by semitones keeping the duration, to undo a pitch change.",
            PitchParams,
        ),
        ActionSpec(
            "volume",
            loudness.volume,
            Category.COORDINATION,
            "Volume adjustment: normalises loudness to a LUFS target with gain and a peak limiter; can even out "
            "loudness over time.",
            VolumeParams,
        ),
        ActionSpec(
            "fill_blanks",
            blanks.fill_blanks,
            Category.COORDINATION,
            "Filling blanks: detects dropouts and digital silence and fills them with sound matched to the "
            "surrounding audio, leaving the rest untouched.",
            FillBlanksParams,
        ),
    ]
}

# Canonical order of application within a plan: noise filtering runs first, on the original timing, where the
# noise estimate was made; coordination edits follow (volume last among them, so the limiter sees the final signal).
CANONICAL_ORDER: tuple[str, ...] = (
    "spectral_subtraction",
    "wiener",
    "wavelet_denoise",
    "spectral_gating",
    "fill_blanks",
    "pitch",
    "speed",
    "volume",
)


def get_action(name: str) -> ActionSpec:
    try:
        return ACTIONS[name]
    except KeyError:
        raise UnknownActionError(f"unknown action {name!r}; known: {', '.join(ACTIONS)}") from None


def apply_action(name: str, audio: np.ndarray, sr: int, params: Mapping[str, Any] | ActionParams | None = None):
    """Validate `params` and apply one action. `audio` is `(samples,)` or `(channels, samples)`."""
    spec = get_action(name)
    return spec.fn(audio, sr, spec.parse(params))


def apply_actions(
    audio: np.ndarray, sr: int, actions: Sequence[tuple[str, Mapping[str, Any] | ActionParams | None]]
) -> np.ndarray:
    """Apply several actions in canonical order (see CANONICAL_ORDER), each validated first."""
    parsed = [(get_action(n), get_action(n).parse(p)) for n, p in actions]
    parsed.sort(key=lambda item: CANONICAL_ORDER.index(item[0].name))
    out = audio
    for spec, params in parsed:
        out = spec.fn(out, sr, params)
    return out


def _describe_validation_error(error: ValidationError, model: type[ActionParams]) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "params"
        info = model.model_fields.get(str(item["loc"][0])) if item["loc"] else None
        bounds = _field_range(info) if info is not None else ""
        parts.append(f"{field}: {item['msg']}{bounds}")
    return "; ".join(parts)


def _field_range(info: Any) -> str:
    lo, hi = field_bounds(info)
    if lo is None and hi is None:
        return ""
    return f" (allowed range {lo if lo is not None else '-inf'} to {hi if hi is not None else 'inf'})"
