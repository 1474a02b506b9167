"""Metrics against hand-computed cases: SI-SDR, SNR, segmental SNR, LUFS, GCC-PHAT offset, PESQ/STOI."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avagent.core.errors import ParameterError
from avagent.core.metrics import (
    RATIO_CEILING_DB,
    SEGSNR_CEILING_DB,
    SEGSNR_FLOOR_DB,
    MetricUnavailableError,
    estimate_offset,
    loudness_lufs,
    pesq_score,
    segmental_snr,
    si_sdr,
    snr,
    stoi_score,
)
from avagent.core.samples import SampleNotFoundError, asterisk_speech

FAST = settings(max_examples=25, deadline=None)


def _orthogonal_pair(n: int, ratio_db: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean x and noise orthogonal to it with 10 log10(||x||² / ||noise||²) = ratio_db exactly."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    x -= x.mean()
    noise = rng.standard_normal(n)
    noise -= noise.mean()
    noise -= np.dot(noise, x) / np.dot(x, x) * x
    noise *= np.sqrt(np.dot(x, x) / np.dot(noise, noise) / 10 ** (ratio_db / 10))
    return x, noise


def _fractional_delay(x: np.ndarray, delay: float) -> np.ndarray:
    """x delayed by `delay` samples (circularly) by a linear phase in the frequency domain."""
    k = np.arange(x.size // 2 + 1)
    return np.fft.irfft(np.fft.rfft(x) * np.exp(-2j * np.pi * k * delay / x.size), x.size)


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    import soundfile

    try:
        path = asterisk_speech()[3]  # basic-pbx-ivr-main.wav, about 25 s
    except SampleNotFoundError as e:
        pytest.skip(str(e))
    x, sr = soundfile.read(path, dtype="float64")
    return x[: 10 * sr], sr


# --- SI-SDR -------------------------------------------------------------------------------------------------


def test_si_sdr_of_identical_signals_is_the_documented_ceiling():
    x = np.random.default_rng(0).standard_normal(4000)
    assert si_sdr(x, x) == RATIO_CEILING_DB
    assert si_sdr(x, 2.0 * x) == RATIO_CEILING_DB
    assert si_sdr(x, -0.5 * x) == RATIO_CEILING_DB


@FAST
@given(ratio_db=st.floats(-30.0, 60.0), seed=st.integers(0, 2**16))
def test_si_sdr_of_orthogonal_noise_is_the_power_ratio(ratio_db, seed):
    x, noise = _orthogonal_pair(3000, ratio_db, seed)
    assert si_sdr(x, x + noise) == pytest.approx(ratio_db, abs=1e-6)


@FAST
@given(scale=st.floats(0.01, 100.0), negative=st.booleans(), seed=st.integers(0, 2**16))
def test_si_sdr_is_scale_invariant(scale, negative, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(2000)
    y = x + 0.3 * rng.standard_normal(2000)
    a = -scale if negative else scale
    assert si_sdr(x, a * y) == pytest.approx(si_sdr(x, y), abs=1e-9)
    assert si_sdr(a * x, y) == pytest.approx(si_sdr(x, y), abs=1e-9)


def test_si_sdr_removes_the_mean_unless_told_not_to():
    x, noise = _orthogonal_pair(3000, 20.0, 1)
    assert si_sdr(x, x + noise + 5.0) == pytest.approx(20.0, abs=1e-6)
    assert si_sdr(x, x + noise + 5.0, zero_mean=False) < 0.0


def test_si_sdr_downmixes_channels():
    x, noise = _orthogonal_pair(3000, 12.0, 2)
    stereo_ref, stereo_est = np.stack([x, x]), np.stack([x + 2 * noise, x])  # mean: x + noise
    assert si_sdr(stereo_ref, stereo_est) == pytest.approx(12.0, abs=1e-6)


def test_si_sdr_of_a_silent_estimate_is_minus_infinity():
    assert si_sdr(np.arange(10.0), np.zeros(10)) == float("-inf")


@pytest.mark.parametrize(
    ("reference", "estimate", "message"),
    [
        (np.zeros(100), np.ones(100), "silent"),
        (np.ones(100) * 3.0, np.arange(100.0), "silent"),  # constant: silent after mean removal
        (np.ones(100), np.ones(99), "same length"),
        (np.ones(0), np.ones(0), "empty"),
        (np.ones((2, 2, 5)), np.ones((2, 2, 5)), "shape"),
        (np.array([1.0, np.nan]), np.ones(2), "NaN"),
    ],
)
def test_si_sdr_rejects_bad_input(reference, estimate, message):
    with pytest.raises(ParameterError, match=message):
        si_sdr(reference, estimate)


# --- SNR and segmental SNR ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("error_gain", "expected_db"), [(1.0, 0.0), (0.1, 20.0), (0.01, 40.0), (10.0, -20.0)])
def test_snr_of_a_scaled_copy_is_analytic(error_gain, expected_db):
    x = np.random.default_rng(3).standard_normal(1000)
    assert snr(x, x + error_gain * x) == pytest.approx(expected_db, abs=1e-9)


@FAST
@given(ratio_db=st.floats(-30.0, 60.0), seed=st.integers(0, 2**16))
def test_snr_of_added_noise_is_the_power_ratio(ratio_db, seed):
    x, noise = _orthogonal_pair(2000, ratio_db, seed)
    assert snr(x, x + noise) == pytest.approx(ratio_db, abs=1e-6)


def test_snr_is_not_scale_invariant_and_caps_identity():
    x = np.random.default_rng(4).standard_normal(1000)
    assert snr(x, 2.0 * x) == pytest.approx(0.0, abs=1e-12)
    assert snr(x, x) == RATIO_CEILING_DB
    assert snr(np.zeros(10), np.ones(10)) == float("-inf")


def test_segmental_snr_averages_clamped_frame_snrs():
    sr, frame = 1000, 20  # 20 ms frames of 20 samples
    rng = np.random.default_rng(5)
    frame_db = [0.0, 10.0, 20.0, 50.0, -30.0]  # the last two clamp to 35 and -10
    ref, est = [], []
    for db in frame_db:
        s, e = _orthogonal_pair(frame, db, int(rng.integers(1000)))
        ref.append(s)
        est.append(s + e)
    expected = np.mean(np.clip(frame_db, SEGSNR_FLOOR_DB, SEGSNR_CEILING_DB))
    got = segmental_snr(np.concatenate(ref), np.concatenate(est), sr, frame_ms=20.0, hop_ms=20.0, window=None)
    assert got == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(np.mean([0, 10, 20, 35, -10]))


def test_segmental_snr_drops_the_partial_last_frame_and_scores_silent_frames_as_perfect():
    sr = 1000
    # frame 2 silent and reproduced exactly, 7 samples left over
    x = np.concatenate([np.ones(20), np.zeros(20), np.ones(7)])
    est = x + np.concatenate([0.1 * np.ones(20), np.zeros(27)])  # frame 1 at 20 dB
    got = segmental_snr(x, est, sr, frame_ms=20.0, hop_ms=20.0, window=None)
    assert got == pytest.approx((20.0 + SEGSNR_CEILING_DB) / 2, abs=1e-9)


def test_segmental_snr_with_the_default_hann_frames_on_a_proportional_error():
    x = np.random.default_rng(6).standard_normal(16000)  # every frame has energy
    assert segmental_snr(x, 1.1 * x, 16000) == pytest.approx(20.0, abs=1e-9)
    assert segmental_snr(x, 11.0 * x, 16000) == SEGSNR_FLOOR_DB  # -20 dB in every frame, clamped to -10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"frame_ms": 0.0}, "positive"), ({"hop_ms": -1.0}, "positive"), ({"window": "hamming"}, "window")],
)
def test_segmental_snr_rejects_bad_options(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        segmental_snr(np.ones(100), np.ones(100), 1000, **kwargs)


# --- loudness -----------------------------------------------------------------------------------------------


def _sine(freq_hz: float, amplitude: float, seconds: float, sr: int) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq_hz * np.arange(round(seconds * sr)) / sr)


def test_full_scale_997_hz_sine_is_minus_3_lufs():
    # BS.1770: -3.01 LUFS; pyloudnorm's filter design gives -3.05 at 48 kHz.
    assert loudness_lufs(_sine(997.0, 1.0, 3.0, 48000), 48000) == pytest.approx(-3.01, abs=0.06)


def test_minus_20_dbfs_1_khz_sine_is_minus_23_lufs_even_when_shorter_than_a_block():
    sr = 48000
    assert loudness_lufs(_sine(1000.0, 0.1, 3.0, sr), sr) == pytest.approx(-23.0, abs=0.1)
    assert loudness_lufs(_sine(1000.0, 0.1, 0.2, sr), sr) == pytest.approx(-23.0, abs=0.1)  # 200 ms < 400 ms


def test_loudness_sums_channels_and_silence_is_minus_infinity():
    sr = 48000
    mono = _sine(1000.0, 0.1, 2.0, sr)
    assert loudness_lufs(np.stack([mono, mono]), sr) == pytest.approx(loudness_lufs(mono, sr) + 3.0103, abs=1e-3)
    assert loudness_lufs(np.zeros(sr), sr) == float("-inf")


@FAST
@given(gain_db=st.floats(-30.0, 10.0))
def test_loudness_follows_gain(gain_db):
    sr = 16000
    x = np.random.default_rng(7).standard_normal(sr) * 0.05
    expected = loudness_lufs(x, sr) + gain_db
    assert loudness_lufs(x * 10 ** (gain_db / 20), sr) == pytest.approx(expected, abs=1e-6)


def _five_one(sr: int, **channels: np.ndarray) -> np.ndarray:
    """A (6, samples) 5.1 signal in FFmpeg's order L R C LFE Ls Rs, silent except the named channels."""
    names = ("L", "R", "C", "LFE", "Ls", "Rs")
    n = len(next(iter(channels.values())))
    return np.stack([channels.get(name, np.zeros(n)) for name in names])


def test_five_one_loudness_weights_channels_per_bs1770():
    sr = 48000
    rng = np.random.default_rng(3)
    speech_like = _sine(1000.0, 0.1, 2.0, sr) * (1 + 0.5 * np.sin(2 * np.pi * 3 * np.arange(2 * sr) / sr))
    rumble = 0.5 * _sine(60.0, 1.0, 2.0, sr) + 0.1 * rng.standard_normal(2 * sr)
    mono = loudness_lufs(speech_like, sr)
    assert loudness_lufs(_five_one(sr, L=speech_like), sr) == pytest.approx(mono, abs=1e-9)
    assert loudness_lufs(_five_one(sr, L=speech_like, LFE=rumble), sr) == pytest.approx(mono, abs=1e-9)
    assert loudness_lufs(_five_one(sr, LFE=rumble), sr) == float("-inf")  # the LFE alone does not count
    surround = 10 * np.log10(1.41)  # +1.49 dB
    assert loudness_lufs(_five_one(sr, Ls=speech_like), sr) == pytest.approx(mono + surround, abs=1e-9)
    both = 10 * np.log10(1 + 1 + 1 + 1.41 + 1.41)  # L R C at 1, Ls Rs at 1.41
    same = {name: speech_like for name in ("L", "R", "C", "LFE", "Ls", "Rs")}
    assert loudness_lufs(_five_one(sr, **same), sr) == pytest.approx(mono + both, abs=1e-9)


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("sr", "seconds"), [(16000, 0.25), (44100, 1.3), (48000, 3.0)])
def test_loudness_matches_pyloudnorm_up_to_five_channels(channels, sr, seconds):
    pyloudnorm = pytest.importorskip("pyloudnorm")
    n = round(seconds * sr)
    x = np.random.default_rng(channels).standard_normal((channels, n)) * np.linspace(0.001, 0.3, n)
    meter = pyloudnorm.Meter(sr, block_size=min(0.4, seconds))
    assert loudness_lufs(x, sr) == pytest.approx(meter.integrated_loudness(x.T.copy()), abs=1e-9)


def test_loudness_weighs_seven_or_more_channels_alike():
    sr = 16000
    mono = _sine(1000.0, 0.1, 1.0, sr)
    for channels in (7, 8, 12):
        expected = loudness_lufs(mono, sr) + 10 * np.log10(channels)
        assert loudness_lufs(np.tile(mono, (channels, 1)), sr) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("audio", "message"),
    [(np.ones((65, 1000)), "at most 64 channels"), (np.ones(0), "non-empty"), (np.full(100, np.nan), "NaN")],
)
def test_loudness_rejects_bad_input(audio, message):
    with pytest.raises(ParameterError, match=message):
        loudness_lufs(audio, 16000)


# --- offset -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [12.0, 12.4, -7.3, 0.5, 100.75, -250.0])
def test_gcc_phat_recovers_integer_and_fractional_delays_of_white_noise(delay):
    sr = 16000
    x = np.random.default_rng(8).standard_normal(40000)
    y = _fractional_delay(x, delay)
    found = estimate_offset(x[300:-300], y[300:-300], sr, max_lag_s=0.05)
    assert found.samples == pytest.approx(delay, abs=0.1)  # the requirement
    # what the Newton refinement reaches (a parabola alone is off by up to ~0.1)
    assert found.samples == pytest.approx(delay, abs=0.01)
    assert found.seconds == pytest.approx(delay / sr, abs=0.01 / sr)
    assert found.confidence > 0.9


@FAST
@given(delay=st.floats(-40.0, 40.0), seed=st.integers(0, 2**16))
def test_gcc_phat_sub_sample_accuracy_property(delay, seed):
    x = np.random.default_rng(seed).standard_normal(8192)
    y = _fractional_delay(x, delay)
    assert estimate_offset(x[64:-64], y[64:-64], 8000, max_lag_s=0.01).samples == pytest.approx(delay, abs=0.01)


def test_offset_sign_positive_when_the_second_signal_lags():
    sr = 8000
    x = np.random.default_rng(9).standard_normal(sr)
    late = np.concatenate([np.zeros(80), x[:-80]])  # late(t) = x(t - 10 ms)
    assert estimate_offset(x, late, sr).seconds == pytest.approx(0.010, abs=1e-6)
    assert estimate_offset(late, x, sr).seconds == pytest.approx(-0.010, abs=1e-6)


def test_offset_on_real_speech_within_1_ms(speech):
    x, sr = speech
    for shift_s in (0.25, -0.6):
        shift = round(shift_s * sr)
        delayed = np.roll(x, shift)
        if shift > 0:
            delayed[:shift] = 0
        else:
            delayed[shift:] = 0
        noisy = delayed + 0.02 * np.random.default_rng(10).standard_normal(x.size)
        found = estimate_offset(x, noisy, sr)
        assert abs(found.seconds - shift / sr) < 1e-3
        assert found.confidence > 0.5


def test_offset_of_unrelated_noise_has_low_confidence():
    rng = np.random.default_rng(11)
    found = estimate_offset(rng.standard_normal(16000), rng.standard_normal(16000), 16000, max_lag_s=0.5)
    assert found.confidence < 0.3


def test_offset_respects_max_lag():
    sr = 1000
    x = np.random.default_rng(12).standard_normal(4000)
    late = np.concatenate([np.zeros(500), x[:-500]])
    assert abs(estimate_offset(x, late, sr, max_lag_s=0.2).seconds) <= 0.2
    assert estimate_offset(x, late, sr, max_lag_s=1.0).seconds == pytest.approx(0.5, abs=1e-5)


# --- PESQ and STOI ------------------------------------------------------------------------------------------


def test_pesq_and_stoi_rank_clean_above_noisy(speech):
    x, sr = speech
    x = x[: 5 * sr]
    noisy = x + 0.05 * np.random.default_rng(13).standard_normal(x.size)
    assert pesq_score(x, x, sr) > 4.0
    assert pesq_score(x, noisy, sr) < pesq_score(x, x, sr) - 1.0
    assert stoi_score(x, x, sr) > 0.99
    assert stoi_score(x, noisy, sr) < 0.95
    assert pesq_score(x, x, sr, mode="wb") > 4.0  # resampled to 16 kHz


@pytest.mark.parametrize(("module", "fn"), [("pesq", pesq_score), ("pystoi", stoi_score)])
def test_missing_optional_metric_raises_an_import_error_naming_the_package(monkeypatch, module, fn):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(ImportError, match=module) as info:
        fn(np.ones(8000), np.ones(8000), 8000)
    assert isinstance(info.value, MetricUnavailableError)
