"""speed (affine time-warp) and pitch: exact shifts, rate round trips, frequencies measured by FFT."""

from __future__ import annotations

import numpy as np
import pytest

from avagent.actions import timing
from avagent.actions.params import PitchParams
from avagent.actions.registry import apply_action
from avagent.core.errors import ParameterError
from tests.actions.conftest import peak_frequency_hz, tone


@pytest.mark.parametrize(
    ("sr", "offset_s", "preserve_pitch"),
    [
        (16000, 0.25, False),
        (16000, 0.25, True),
        (44100, -0.25, False),
        (8000, 1e-3, False),
        (48000, -5.0, True),
    ],
)
def test_pure_offset_is_an_exact_sample_shift(sr, offset_s, preserve_pitch):
    x = np.random.default_rng(0).uniform(-0.9, 0.9, (2, sr)).astype(np.float32)
    out = apply_action("speed", x, sr, {"offset_s": offset_s, "preserve_pitch": preserve_pitch})
    d = round(offset_s * sr)
    expected = np.zeros_like(x)
    if d >= 0:
        expected[:, d:] = x[:, : sr - d]
    else:
        expected[:, : max(sr + d, 0)] = x[:, -d:]
    np.testing.assert_array_equal(out, expected)  # bit-exact, zeros where no source audio exists


@pytest.mark.parametrize(("rate", "preserve_pitch"), [(1.25, False), (0.8, False), (1.25, True), (0.8, True)])
def test_rate_moves_an_onset_to_rate_scaled_time(rate, preserve_pitch):
    sr = 16000
    x = np.zeros(3 * sr, dtype=np.float32)
    x[sr : sr + 1600] = tone(1000.0, sr, 0.1)  # a burst starting at 1.0 s
    out = apply_action("speed", x, sr, {"rate": rate, "offset_s": 0.1, "preserve_pitch": preserve_pitch})
    onset = np.argmax(np.abs(out) > 0.25) / sr
    assert onset == pytest.approx(1.0 / rate + 0.1, abs=0.004)  # output(t) = input(rate * (t - offset))


@pytest.mark.parametrize("rate", [1.25, 1.6])
def test_resampling_changes_pitch_and_the_inverse_rate_restores_it(rate):
    sr = 16000
    x = tone(440.0, sr, 2.0)
    fast = apply_action("speed", x, sr, {"rate": rate})
    assert peak_frequency_hz(fast[: int(1.5 * sr / rate)], sr) == pytest.approx(440.0 * rate, rel=1e-3)
    assert np.all(fast[int(2.0 * sr / rate) + 64 :] == 0.0)  # nothing maps past the compressed end
    back = apply_action("speed", fast, sr, {"rate": 1.0 / rate})
    middle = slice(sr // 4, int(1.75 * sr))
    assert peak_frequency_hz(back[middle], sr) == pytest.approx(440.0, rel=1e-4)
    np.testing.assert_allclose(back[middle], x[middle], atol=1e-3)  # timing and waveform restored


def test_preserve_pitch_keeps_frequency_and_round_trips_timing():
    sr = 16000
    x = tone(440.0, sr, 2.0)
    slow = apply_action("speed", x, sr, {"rate": 0.8, "preserve_pitch": True})
    assert peak_frequency_hz(slow[sr // 4 : 2 * sr - sr // 4], sr) == pytest.approx(440.0, rel=5e-3)
    burst = np.zeros(2 * sr, dtype=np.float32)
    burst[sr // 2 : sr] = x[: sr // 2]
    there = apply_action("speed", burst, sr, {"rate": 1.25, "preserve_pitch": True})
    back = apply_action("speed", there, sr, {"rate": 0.8, "preserve_pitch": True})
    assert np.argmax(np.abs(back) > 0.25) == pytest.approx(sr // 2, abs=0.004 * sr)


@pytest.mark.parametrize(("semitones", "ratio"), [(12.0, 2.0), (-12.0, 0.5), (7.0, 2 ** (7 / 12))])
@pytest.mark.parametrize("sr", [16000, 48000])
def test_pitch_shift_scales_frequency_and_keeps_duration(semitones, ratio, sr):
    x = tone(440.0, sr, 1.0)
    out = apply_action("pitch", x, sr, {"semitones": semitones})
    assert out.shape == x.shape
    assert peak_frequency_hz(out[sr // 8 : -sr // 8], sr) == pytest.approx(440.0 * ratio, rel=0.01)
    rms_in, rms_out = np.std(x), np.std(out[sr // 8 : -sr // 8])
    assert rms_out == pytest.approx(rms_in, rel=0.25)  # level kept, sound is not lost


def test_zero_semitones_returns_the_input_unchanged():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1000))
    out = timing.pitch(x, 16000, PitchParams(semitones=0.0))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x.astype(np.float32))
    assert out is not x


@pytest.mark.parametrize(
    ("delay", "expected"),
    [(0, [1, 2, 3, 4]), (2, [0, 0, 1, 2]), (-3, [4, 0, 0, 0]), (9, [0, 0, 0, 0]), (-9, [0, 0, 0, 0])],
)
def test_shift_pads_with_zeros_and_trims(delay, expected):
    out = timing.shift(np.array([[1.0, 2.0, 3.0, 4.0]]), delay, 4)
    np.testing.assert_array_equal(out[0], expected)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("speed", {"rate": 2.5}, r"rate.*0\.5 to 2\.0"),
        ("speed", {"offset_s": -6}, r"offset_s.*-5\.0 to 5\.0"),
        ("pitch", {"semitones": 13}, r"semitones.*-12\.0 to 12\.0"),
        ("speed", {"rate": 2.0, "offset_s": 5.0}, None),
        ("pitch", {"semitones": -12.0}, None),
    ],
)
def test_parameter_ranges(name, params, message):
    x = tone(440.0, 16000, 0.2)
    if message is None:
        assert apply_action(name, x, 16000, params).shape == x.shape
    else:
        with pytest.raises(ParameterError, match=message):
            apply_action(name, x, 16000, params)
