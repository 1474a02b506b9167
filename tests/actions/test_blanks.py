"""fill_blanks: detection, fills that match their surroundings, untouched non-blank samples, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from avagent.actions import blanks
from avagent.actions.params import FillBlanksParams
from avagent.actions.registry import apply_action
from avagent.core.errors import ParameterError
from tests.actions.conftest import tone

SR = 16000


def _outside(gaps, n):
    mask = np.ones(n, dtype=bool)
    for a, b in gaps:
        mask[a:b] = False
    return mask


def _lowpass_noise(n: int, seed: int = 0) -> np.ndarray:
    b, a = signal.butter(4, 1000, fs=SR)
    x = signal.lfilter(b, a, np.random.default_rng(seed).standard_normal(n))
    return (0.2 * x / np.std(x)).astype(np.float32)


@pytest.mark.parametrize(("gap_ms", "method"), [(25, "auto"), (25, "lpc"), (100, "lpc")])
def test_fills_a_zeroed_gap_in_a_tone(gap_ms, method):
    x = tone(440.0, SR, 1.0)
    start, stop = 8000, 8000 + gap_ms * SR // 1000
    damaged = x.copy()
    damaged[start:stop] = 0.0
    out = apply_action("fill_blanks", damaged, SR, {"method": method})
    gaps = blanks.find_blanks(damaged.astype(np.float64), SR, 20.0, -80.0)
    assert len(gaps) == 1 and abs(gaps[0][0] - start) <= 2 and abs(gaps[0][1] - stop) <= 2
    np.testing.assert_array_equal(out[_outside(gaps, x.size)], damaged[_outside(gaps, x.size)])
    error = out[start:stop] - x[start:stop]
    assert 10 * np.log10(np.sum(x[start:stop] ** 2) / np.sum(error**2)) > 30.0  # the tone is continued


def test_noise_fill_matches_level_and_spectrum_and_leaves_the_rest_bit_identical():
    x = _lowpass_noise(SR)
    damaged = x.copy()
    damaged[5000:8200] = 0.0  # 200 ms
    out = apply_action("fill_blanks", damaged, SR, {"method": "auto"})
    gaps = blanks.find_blanks(damaged.astype(np.float64), SR, 20.0, -80.0)
    np.testing.assert_array_equal(out[_outside(gaps, SR)], damaged[_outside(gaps, SR)])
    fill = out[5000:8200].astype(np.float64)
    assert 20 * np.log10(np.std(fill) / np.std(x)) == pytest.approx(0.0, abs=4.0)
    spectrum = np.abs(np.fft.rfft(fill)) ** 2
    freqs = np.fft.rfftfreq(fill.size, 1 / SR)
    assert spectrum[freqs < 1500].sum() / spectrum.sum() > 0.9  # low-pass like its surroundings


def test_seeded():
    damaged = _lowpass_noise(SR)
    damaged[4000:9000] = 0.0
    first = apply_action("fill_blanks", damaged, SR, {"seed": 3})
    np.testing.assert_array_equal(first, apply_action("fill_blanks", damaged, SR, {"seed": 3}))
    other = apply_action("fill_blanks", damaged, SR, {"seed": 4})
    assert not np.array_equal(first[4000:9000], other[4000:9000])
    np.testing.assert_array_equal(first[:3990], other[:3990])


def test_short_gaps_and_quiet_audio_above_the_threshold_are_left_alone():
    x = tone(440.0, SR, 0.5)
    x[1000:1100] = 0.0  # 6 ms < min_gap_ms
    x[4000:6000] *= 1e-3  # -66 dBFS: quiet, not blank
    out = apply_action("fill_blanks", x, SR, {"min_gap_ms": 20.0})
    np.testing.assert_array_equal(out, x)


def test_dropout_residue_below_the_threshold_counts_as_blank():
    x = _lowpass_noise(SR)
    x[5000:7000] = 1e-6 * np.random.default_rng(1).standard_normal(2000)  # -120 dBFS hiss
    out = apply_action("fill_blanks", x, SR, {})
    assert np.std(out[5200:6800]) > 0.05


def test_edges_and_channels():
    x = np.stack([_lowpass_noise(SR, 0), _lowpass_noise(SR, 1), np.zeros(SR, dtype=np.float32)])
    x[0, :3000] = 0.0  # leading blank: filled from its right side
    x[1, 6000:7000] = 0.0  # only channel 1 has this gap
    out = apply_action("fill_blanks", x, SR, {"fill_edges": True})
    assert np.std(out[0, 500:2500]) > 0.05
    np.testing.assert_array_equal(out[0, 3000:], x[0, 3000:])
    np.testing.assert_array_equal(out[1, :6000], x[1, :6000])
    assert np.std(out[1, 6200:6800]) > 0.05
    np.testing.assert_array_equal(out[2], x[2])  # blank throughout: nothing to match, left as it is


def test_fill_never_exceeds_the_peak_of_its_surroundings():
    x = _lowpass_noise(SR)
    x[3000:12000] = 0.0
    out = apply_action("fill_blanks", x, SR, {"method": "noise"})
    context_peak = max(np.max(np.abs(x[1400:3000])), np.max(np.abs(x[12000:13600])))
    assert np.max(np.abs(out[3000:12000])) <= context_peak


def test_burg_recovers_an_ar2_process():
    rng = np.random.default_rng(0)
    a_true = np.array([1.0, -1.5, 0.8])
    x = signal.lfilter([1.0], a_true, rng.standard_normal(20000))
    a, error_power = blanks.burg(x, 2)
    np.testing.assert_allclose(a, a_true, atol=0.03)
    assert error_power == pytest.approx(1.0, rel=0.05)


def test_crossfade_starts_the_noise_fill_from_the_waveform():
    x = tone(440.0, SR, 1.0)
    x[8000:12000] = 0.0
    hard = blanks.fill_blanks(x, SR, FillBlanksParams(method="noise", crossfade_ms=0.0))
    soft = blanks.fill_blanks(x, SR, FillBlanksParams(method="noise", crossfade_ms=20.0))
    continued = tone(440.0, SR, 1.0)[8000:8040]
    assert np.max(np.abs(soft[8000:8040] - continued)) < np.max(np.abs(hard[8000:8040] - continued))


def test_defaults_fill_only_short_interior_gaps():
    # Leading and trailing silence and a 1.5 s pause are what clean recordings have; a 100 ms gap inside
    # running audio is a dropout.
    x = _lowpass_noise(4 * SR)
    x[:4000] = 0.0
    x[-4000:] = 0.0
    x[16000:40000] = 0.0  # 1.5 s > max_gap_ms (1000 ms by default)
    x[50000:51600] = 0.0  # 100 ms
    assert FillBlanksParams().max_gap_ms == 1000.0 and not FillBlanksParams().fill_edges
    out = apply_action("fill_blanks", x, SR, {})
    keep = np.ones(x.size, dtype=bool)
    keep[50000:51600] = False
    np.testing.assert_array_equal(out[keep], x[keep])
    assert np.std(out[50200:51400]) > 0.05
    longer = apply_action("fill_blanks", x, SR, {"max_gap_ms": 2000.0})
    assert np.std(longer[18000:38000]) > 0.05
    np.testing.assert_array_equal(longer[:4000], x[:4000])


def test_max_gap_below_min_gap_is_a_parameter_error():
    with pytest.raises(ParameterError, match="max_gap_ms must be at least min_gap_ms"):
        apply_action("fill_blanks", _lowpass_noise(SR), SR, {"min_gap_ms": 500.0, "max_gap_ms": 100.0})
