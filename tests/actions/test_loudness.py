"""volume: LUFS target, peak ceiling, gain cap on near-silence, short clips, segment-wise levelling."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
import soxr

from avagent.actions import loudness
from avagent.actions.registry import apply_action
from tests.actions.conftest import SPEECH_SR, tone

SR = SPEECH_SR


def lufs(x: np.ndarray, sr: int = SR) -> float:
    return float(pyloudnorm.Meter(sr).integrated_loudness(np.asarray(x, dtype=np.float64).T))


def true_peak_dbfs(x: np.ndarray, sr: int = SR) -> float:
    up = soxr.resample(np.asarray(x, dtype=np.float64).T, sr, 4 * sr, quality="VHQ")
    return float(20 * np.log10(np.max(np.abs(up))))


@pytest.mark.parametrize(("scale", "target"), [(1.0, -23.0), (0.05, -23.0), (1.0, -35.0), (0.2, -16.0)])
@pytest.mark.parametrize("stereo", [False, True])
def test_hits_target_and_respects_ceiling(speech, scale, target, stereo):
    x = (speech * scale).astype(np.float32)
    if stereo:
        x = np.stack([x, 0.5 * x])
    out = apply_action("volume", x, SR, {"target_lufs": target})
    assert lufs(out) == pytest.approx(target, abs=0.5)
    assert np.max(np.abs(out)) <= 10 ** (-1 / 20)
    assert true_peak_dbfs(out) <= -1.0 + 0.3  # the limiter works on a 4x oversampled envelope


def test_limiter_holds_the_ceiling_under_heavy_gain(speech):
    params = {"target_lufs": None, "gain_db": 12.0, "peak_limit_dbfs": -3.0}
    out = apply_action("volume", speech.astype(np.float32), SR, params)  # peaks would reach +6 dBFS
    assert np.max(np.abs(out)) <= 10 ** (-3 / 20)
    assert lufs(out) > lufs(speech) + 6.0  # most of the gain went through; only the peaks were limited


def test_gain_only_below_the_ceiling_is_exact():
    x = tone(440.0, SR, 1.0, amplitude=0.1)
    out = apply_action("volume", x, SR, {"target_lufs": None, "gain_db": 6.0})
    np.testing.assert_allclose(out, x * 10 ** (6 / 20), rtol=1e-6)


def test_near_silence_is_not_blown_up():
    hiss = (1e-5 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32)  # about -100 dBFS
    np.testing.assert_array_equal(apply_action("volume", hiss, SR, {"target_lufs": -14.0}), hiss)


def test_normalisation_gain_is_capped(speech):
    quiet = (speech * 10 ** (-40 / 20)).astype(np.float32)  # about -63 LUFS, needs +40 dB for -23
    out = apply_action("volume", quiet, SR, {"target_lufs": -23.0})
    assert lufs(out) == pytest.approx(lufs(quiet) + loudness.MAX_NORMALISATION_GAIN_DB, abs=0.1)


@pytest.mark.parametrize("seconds", [0.01, 0.1, 0.39])
def test_clips_shorter_than_a_gating_block(seconds):
    x = tone(1000.0, SR, seconds, amplitude=0.05)
    out = apply_action("volume", x, SR, {"target_lufs": -20.0})
    tiled = np.tile(out, int(np.ceil(1.0 / seconds)))
    assert lufs(tiled) == pytest.approx(-20.0, abs=0.5)


def test_segment_mode_evens_out_loudness(speech):
    x = speech.astype(np.float32).copy()
    half = x.size // 2
    x[:half] *= 0.1  # first half 20 dB quieter
    plain = apply_action("volume", x, SR, {"target_lufs": -23.0})
    levelled = apply_action("volume", x, SR, {"target_lufs": -23.0, "segment_s": 1.0})
    spread = lambda y: abs(lufs(y[:half]) - lufs(y[half:]))  # noqa: E731
    assert spread(plain) > 15.0
    assert spread(levelled) < 4.0
    assert lufs(levelled) == pytest.approx(-23.0, abs=0.5)
    gain = np.abs(levelled[half - 1600 : half + 1600]) / np.maximum(np.abs(x[half - 1600 : half + 1600]), 1e-9)
    assert np.all(np.isfinite(gain))


def test_more_than_five_channels(speech):
    x = np.stack([speech] * 6).astype(np.float32)
    out = apply_action("volume", x, SR, {"target_lufs": -30.0})
    per_channel_power = sum(10 ** (lufs(ch) / 10) for ch in out)
    assert 10 * np.log10(per_channel_power) == pytest.approx(-30.0, abs=0.5)


def test_limiter_gain_never_exceeds_the_needed_gain():
    rng = np.random.default_rng(0)
    needed = np.minimum(1.0, rng.uniform(0.2, 3.0, 5000))
    gain = loudness.limiter_gain(needed, lookahead=40, hold=200)
    assert np.all(gain <= needed)
    assert np.max(np.abs(np.diff(gain))) <= 1.0 / 81 + 1e-12  # ramps over 2 * lookahead + 1 samples
