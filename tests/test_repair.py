"""Repair tests: corrupt real speech with the simulator, repair with the labelled action, the metric improves.

Margins are stated per test; the values measured when they were set (asterisk `basic-pbx-ivr-main.wav`, 8 s at
8 kHz, seed 1) are in the comments, so a regression in an action or a label shows up here.
"""

from __future__ import annotations

import numpy as np
import pytest

from avagent.actions.registry import apply_action, apply_actions
from avagent.core.metrics import estimate_offset, loudness_lufs, si_sdr
from avagent.core.samples import SampleNotFoundError, asterisk_speech
from avagent.core.simulate import (
    Clipping,
    Drift,
    Dropouts,
    Noise,
    Offset,
    PitchShift,
    VolumeChange,
    simulate,
)

NOISE_FLOOR_DBFS = -70.0  # a recording's noise floor, so the only digital silence is what the simulator makes


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """8 s of real speech (8 kHz) over a -70 dBFS noise floor, float32."""
    import soundfile

    try:
        path = asterisk_speech()[3]
    except SampleNotFoundError as e:
        pytest.skip(str(e))
    x, sr = soundfile.read(path, dtype="float64")
    x = x[: 8 * sr] + 10 ** (NOISE_FLOOR_DBFS / 20) * np.random.default_rng(0).standard_normal(8 * sr)
    return x.astype(np.float32), sr


def _repair(result, index: int = 0) -> np.ndarray:
    label = result.labels[index]
    return apply_action(label.action, result.audio, result.sr, label.params)


@pytest.mark.parametrize(
    ("kind", "snr_db", "min_gain_db"),
    [
        ("white", 0.0, 5.0),  # measured +9.1 dB (spectral_subtraction, alpha 4)
        ("pink", 0.0, 5.0),  # +7.3
        ("brown", 0.0, 10.0),  # +27
        ("white", 10.0, 4.0),  # +7.0 (wiener)
        ("pink", 10.0, 4.0),  # +6.9
        ("hum", 0.0, 8.0),  # +14 (spectral_subtraction, 64 ms frames)
        ("hum", 10.0, 8.0),  # +12
        ("babble", 0.0, 0.3),  # +1.1 (wiener): speech-like noise is only partly removable
        ("babble", 5.0, 0.5),  # +1.6
    ],
)
def test_noise_repair_raises_si_sdr(speech, kind, snr_db, min_gain_db):
    x, sr = speech
    result = simulate(x, sr, [Noise(kind, snr_db)], seed=1)
    assert result.labels[0].category == "noise_filtering"
    repaired = _repair(result)
    assert si_sdr(x, repaired) - si_sdr(x, result.audio) >= min_gain_db


@pytest.mark.parametrize("seconds", [0.3, -0.25, 1.7])
def test_offset_repair_leaves_under_1_ms_of_residual_offset(speech, seconds):
    x, sr = speech
    result = simulate(x, sr, [Offset(seconds)])
    assert abs(estimate_offset(x, result.audio, sr).seconds - seconds) < 1e-3
    repaired = _repair(result)
    assert abs(estimate_offset(x, repaired, sr).seconds) < 1e-3
    shift = round(abs(seconds) * sr)
    kept = slice(0, x.size - shift) if seconds > 0 else slice(shift, None)
    np.testing.assert_array_equal(repaired[kept], x[kept])  # a whole-sample shift is exact


@pytest.mark.parametrize("rate", [1.03, 0.97])
def test_drift_repair_removes_the_growing_offset(speech, rate):
    x, sr = speech
    result = simulate(x, sr, [Drift(rate)])
    repaired = _repair(result)
    early, late = slice(1 * sr, 3 * sr), slice(5 * sr, int(7.2 * sr))
    drifted_late = estimate_offset(x[late], result.audio[late], sr, max_lag_s=0.5).seconds
    assert abs(drifted_late) > 0.04  # measured 159 ms (1.03) and 170 ms (0.97): the corruption is real
    for window in (early, late):
        assert abs(estimate_offset(x[window], repaired[window], sr, max_lag_s=0.5).seconds) < 1e-3
    assert si_sdr(x[sr : 7 * sr], repaired[sr : 7 * sr]) > 25.0  # measured 35 and 44 dB


def test_drift_and_offset_together_are_repaired_by_the_ideal_plan(speech):
    x, sr = speech
    result = simulate(x, sr, [Drift(1.02), Offset(0.2)])
    plan = result.ideal_plan()
    assert [name for name, _ in plan.actions] == ["speed"]
    repaired = apply_actions(result.audio, sr, plan.actions)
    for window in (slice(1 * sr, 3 * sr), slice(5 * sr, 7 * sr)):
        assert abs(estimate_offset(x[window], repaired[window], sr, max_lag_s=0.5).seconds) < 1e-3


@pytest.mark.parametrize("corruption", [VolumeChange(-15.0), VolumeChange(6.0), Clipping(gain_db=12.0)])
def test_volume_repair_restores_the_loudness_within_1_lu(speech, corruption):
    x, sr = speech
    result = simulate(x, sr, [corruption])
    original = loudness_lufs(x, sr)
    assert abs(loudness_lufs(result.audio, sr) - original) > 5.0
    repaired = _repair(result)
    assert abs(loudness_lufs(repaired, sr) - original) < 1.0  # measured within 0.001 LU
    if isinstance(corruption, VolumeChange):
        assert si_sdr(x, repaired) > 40.0  # a pure gain change comes back exactly


@pytest.mark.parametrize("semitones", [2.0, -3.0])
def test_pitch_repair_brings_a_tone_back(semitones):
    sr = 16000
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * np.arange(2 * sr) / sr)).astype(np.float32)
    result = simulate(tone, sr, [PitchShift(semitones)], seed=1)
    assert abs(_peak_hz(result.audio, sr) / 440.0 - 1.0) > 0.1
    assert _peak_hz(_repair(result), sr) == pytest.approx(440.0, rel=0.005)  # measured 440.4 and 440.1 Hz


def test_short_dropout_repair_raises_si_sdr(speech):
    x, sr = speech
    result = simulate(x, sr, [Dropouts(count=3, duration_ms=20.0)], seed=1)
    repaired = _repair(result)
    gaps = _gap_mask(result, x.size)
    np.testing.assert_array_equal(repaired[~gaps], result.audio[~gaps])  # only the gaps change
    # LPC continuation recovers part of the lost waveform: measured +5.3 dB SI-SDR, +5.3 dB SNR in the gaps
    assert si_sdr(x, repaired) - si_sdr(x, result.audio) > 1.0
    assert np.sum((x[gaps] - repaired[gaps]) ** 2) < np.sum(x[gaps] ** 2)


def test_long_dropout_repair_conceals_the_gaps(speech):
    """Long gaps are concealed with matched noise, not restored: no blank is left, the level matches."""
    x, sr = speech
    result = simulate(x, sr, [Dropouts(count=3, duration_ms=100.0)], seed=2)
    repaired = _repair(result)
    gaps = _gap_mask(result, x.size)
    np.testing.assert_array_equal(repaired[~gaps], result.audio[~gaps])
    for start_s, end_s in result.applied[0].params["gaps_s"]:
        a, b = round(start_s * sr), round(end_s * sr)
        assert np.sqrt(np.mean(repaired[a:b] ** 2)) > 10 ** (-60 / 20)  # no longer blank
        level_db = 10 * np.log10(np.mean(repaired[a:b] ** 2) / np.mean(x[a:b] ** 2))
        assert -15.0 < level_db < 10.0  # measured -4.4 to +4.0 dB


def test_noise_and_offset_are_repaired_together_by_the_ideal_plan(speech):
    x, sr = speech
    result = simulate(x, sr, [Offset(0.2), Noise("pink", 5.0)], seed=1)
    plan = result.ideal_plan()
    assert [name for name, _ in plan.actions] == ["spectral_subtraction", "speed"]
    repaired = apply_actions(result.audio, sr, plan.actions)
    assert abs(estimate_offset(x, repaired, sr).seconds) < 1e-3
    aligned_noisy = apply_action("speed", result.audio, sr, plan.actions[1][1])
    assert si_sdr(x, repaired) - si_sdr(x, aligned_noisy) > 4.0  # measured +5.6 dB


def _gap_mask(result, n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for start_s, end_s in result.applied[0].params["gaps_s"]:
        mask[round(start_s * result.sr) : round(end_s * result.sr)] = True
    return mask


def _peak_hz(x: np.ndarray, sr: int) -> float:
    n = 8 * x.size
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    return float(np.fft.rfftfreq(n, 1 / sr)[np.argmax(spectrum)])
