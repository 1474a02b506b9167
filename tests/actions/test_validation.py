"""Every action validates first: parameters out of range, bad audio and bad rates raise ParameterError."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

from avagent.actions import denoise
from avagent.actions.registry import ACTIONS, apply_action
from avagent.core.errors import ParameterError

SR = 16000
AUDIO = (0.1 * np.random.default_rng(0).standard_normal(SR // 2)).astype(np.float32)


def raises(pattern: str):
    return pytest.raises(ParameterError, match=pattern)


@pytest.mark.parametrize(
    ("name", "params", "expectation"),
    [
        ("spectral_subtraction", {"over_subtraction": 6.0, "spectral_floor": 0.5}, nullcontext()),
        ("spectral_subtraction", {"over_subtraction": 0.5}, raises(r"over_subtraction.*1\.0 to 6\.0")),
        ("spectral_subtraction", {"frame_ms": 4}, raises(r"frame_ms.*8\.0 to 128\.0")),
        ("spectral_subtraction", {"noise_estimate": "median"}, raises("noise_estimate")),
        ("wiener", {"dd_alpha": 0.999, "gain_floor_db": -60}, nullcontext()),
        ("wiener", {"dd_alpha": 1.0}, raises(r"dd_alpha.*0\.5 to 0\.999")),
        ("wiener", {"gain_floor_db": 3}, raises(r"gain_floor_db.*-60\.0 to 0\.0")),
        ("wavelet_denoise", {"levels": 12, "wavelet": "haar"}, nullcontext()),
        ("wavelet_denoise", {"levels": 0}, raises(r"levels.*1 to 12")),
        ("wavelet_denoise", {"wavelet": "db99"}, raises("wavelet")),
        ("spectral_gating", {"n_fft": 128, "freq_mask_smooth_hz": 100}, nullcontext()),
        ("spectral_gating", {"prop_decrease": 1.5}, raises(r"prop_decrease.*0\.0 to 1\.0")),
        ("spectral_gating", {"n_fft": 64}, raises(r"n_fft.*128 to 8192")),
        ("spectral_gating", {"time_constant_s": 0}, raises(r"time_constant_s.*0\.0 to 10\.0")),
        ("speed", {"rate": 0.5, "offset_s": -5}, nullcontext()),
        ("speed", {"rate": 0.4}, raises(r"rate.*0\.5 to 2\.0")),
        ("pitch", {"semitones": -12.5}, raises(r"semitones.*-12\.0 to 12\.0")),
        ("volume", {"target_lufs": None, "segment_s": 0.5}, nullcontext()),
        ("volume", {"target_lufs": -60}, raises(r"target_lufs.*-50\.0 to -5\.0")),
        ("volume", {"peak_limit_dbfs": 1}, raises(r"peak_limit_dbfs.*-20\.0 to 0\.0")),
        ("volume", {"segment_s": 60}, raises(r"segment_s.*0\.5 to 30\.0")),
        ("fill_blanks", {"min_gap_ms": 5, "crossfade_ms": 100, "method": "lpc"}, nullcontext()),
        ("fill_blanks", {"min_gap_ms": 1}, raises(r"min_gap_ms.*5\.0 to 5000\.0")),
        ("fill_blanks", {"seed": -1}, raises(r"seed.*0 to inf")),
        ("fill_blanks", {"method": "magic"}, raises("method")),
        ("speed", {"ratee": 1.1}, raises("ratee")),  # typos are errors, not silently ignored
    ],
)
def test_parameters(name, params, expectation):
    with expectation:
        out = apply_action(name, AUDIO, SR, params)
        assert out.shape == AUDIO.shape


@pytest.mark.parametrize("name", sorted(ACTIONS))
@pytest.mark.parametrize(
    ("audio", "sr", "message"),
    [
        (np.zeros(0, dtype=np.float32), SR, "empty"),
        (np.zeros((2, 0), dtype=np.float32), SR, "empty"),
        (np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), SR, "NaN/Inf"),
        (np.array([[0.1, -np.inf] * 100]), SR, "NaN/Inf"),
        (np.zeros((1, 2, 300)), SR, "shape"),
        (AUDIO, 100, "sr must be in the range"),
        (AUDIO, 16000.5, "sr must be an integer"),
    ],
)
def test_bad_audio_and_rates(name, audio, sr, message):
    with raises(message):
        apply_action(name, audio, sr, {})


def test_functions_take_validated_models_only():
    with raises("expected SpectralSubtractionParams"):
        denoise.spectral_subtraction(AUDIO, SR, {"over_subtraction": 2.0})
