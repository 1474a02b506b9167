"""Invariants every action keeps, on random audio, rates, layouts and parameters (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avagent.actions.registry import ACTIONS, apply_action

PARAMS = {
    "spectral_subtraction": st.fixed_dictionaries(
        {
            "over_subtraction": st.floats(1.0, 6.0),
            "spectral_floor": st.floats(0.0, 0.5),
            "frame_ms": st.sampled_from([8.0, 32.0, 128.0]),
            "noise_estimate": st.sampled_from(["noise_floor", "quietest_frames", "minimum_statistics"]),
        }
    ),
    "wiener": st.fixed_dictionaries(
        {
            "dd_alpha": st.floats(0.5, 0.999),
            "gain_floor_db": st.floats(-60.0, 0.0),
            "frame_ms": st.sampled_from([8.0, 32.0, 64.0]),
            "noise_estimate": st.sampled_from(["noise_floor", "quietest_frames", "minimum_statistics"]),
        }
    ),
    "wavelet_denoise": st.fixed_dictionaries(
        {
            "wavelet": st.sampled_from(["db4", "db8", "sym8", "coif5", "haar"]),
            "method": st.sampled_from(["BayesShrink", "VisuShrink"]),
            "mode": st.sampled_from(["soft", "hard"]),
            "levels": st.one_of(st.none(), st.integers(1, 12)),
            "threshold_scale": st.floats(0.1, 4.0),
        }
    ),
    "spectral_gating": st.fixed_dictionaries(
        {
            "stationary": st.booleans(),
            "prop_decrease": st.floats(0.0, 1.0),
            "n_std_thresh_stationary": st.floats(0.0, 5.0),
            "freq_mask_smooth_hz": st.sampled_from([0.0, 100.0, 500.0, 4000.0]),
            "time_mask_smooth_ms": st.sampled_from([0.0, 10.0, 50.0, 500.0]),
            "n_fft": st.sampled_from([128, 512, 1024, 2048]),
        }
    ),
    "speed": st.fixed_dictionaries(
        {"rate": st.floats(0.5, 2.0), "offset_s": st.floats(-5.0, 5.0), "preserve_pitch": st.booleans()}
    ),
    "pitch": st.fixed_dictionaries({"semitones": st.floats(-12.0, 12.0)}),
    "volume": st.fixed_dictionaries(
        {
            "target_lufs": st.one_of(st.none(), st.floats(-50.0, -5.0)),
            "gain_db": st.floats(-30.0, 30.0),
            "peak_limit_dbfs": st.floats(-20.0, 0.0),
            "segment_s": st.one_of(st.none(), st.floats(0.5, 2.0)),
        }
    ),
    "fill_blanks": st.fixed_dictionaries(
        {
            "min_gap_ms": st.floats(5.0, 100.0),
            "silence_threshold_dbfs": st.floats(-140.0, -30.0),
            "method": st.sampled_from(["auto", "noise", "lpc"]),
            "crossfade_ms": st.floats(0.0, 100.0),
            "seed": st.integers(0, 2**31),
        }
    ),
}


@st.composite
def audio_cases(draw):
    """(audio, sr): 0.05-1.5 s at 8-48 kHz, mono or up to 3 channels, tone + noise + a silent stretch, and
    sometimes input that already clips (peak up to 1.5)."""
    sr = draw(st.integers(8000, 48000))
    n = round(draw(st.floats(0.05, 1.5)) * sr)
    channels = draw(st.sampled_from([None, 1, 2, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (n,) if channels is None else (channels, n)
    t = np.arange(n) / sr
    x = 0.3 * np.sin(2 * np.pi * draw(st.floats(50.0, 3000.0)) * t) + draw(st.floats(0.0, 0.3)) * rng.standard_normal(
        shape
    )
    gap = draw(st.floats(0.0, 0.5))
    x[..., int(n * gap) : int(n * gap) + n // 5] = 0.0  # digital silence / a dropout
    peak = draw(st.sampled_from([1e-4, 0.5, 1.0, 1.5]))
    x = x / max(np.max(np.abs(x)), 1e-12) * peak
    return x.astype(np.float32), sr


@pytest.mark.parametrize("name", sorted(ACTIONS))
@settings(max_examples=15, deadline=None)
@given(case=audio_cases(), data=st.data())
def test_action_invariants(name, case, data):
    audio, sr = case
    params = data.draw(PARAMS[name])
    out = apply_action(name, audio, sr, params)
    assert out.shape == audio.shape
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    in_peak = float(np.max(np.abs(audio)))
    limit = max(1.0, in_peak)
    if name == "volume":
        limit = 10 ** (params["peak_limit_dbfs"] / 20)
    assert float(np.max(np.abs(out))) <= limit * (1 + 1e-6)
    again = apply_action(name, audio, sr, params)
    np.testing.assert_array_equal(out, again)  # deterministic for the same input, parameters and seed


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_treats_identical_channels_like_mono(name):
    sr = 16000
    rng = np.random.default_rng(1)
    t = np.arange(sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.standard_normal(sr)).astype(np.float32)
    x[6000:7000] = 0.0
    # (Loudness sums channel powers, so a stereo pair normalises 3 dB lower than mono: compare a fixed gain.)
    params = {
        "speed": {"rate": 1.1, "offset_s": 0.01},
        "pitch": {"semitones": 3.0},
        "volume": {"target_lufs": None, "gain_db": 12.0},
    }.get(name, {})
    mono = apply_action(name, x, sr, params)
    stereo = apply_action(name, np.stack([x, x]), sr, params)
    assert stereo.shape == (2, sr)
    np.testing.assert_allclose(stereo[0], mono, atol=2e-3)
    np.testing.assert_allclose(stereo[1], mono, atol=2e-3)
    assert not np.allclose(mono, x, atol=1e-4)  # every action did something
