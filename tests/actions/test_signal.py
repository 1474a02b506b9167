"""core.signal: STFT round trip, noise estimators that ignore dropouts, dB helpers, SNR estimate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avagent.core import signal as sig
from avagent.core.errors import ParameterError
from tests.actions.conftest import SPEECH_SR, mix_at_snr


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 5000),
    frame_ms=st.floats(8.0, 128.0),
    sr=st.integers(8000, 48000),
    channels=st.integers(1, 3),
)
def test_stft_round_trip_is_perfect(n, frame_ms, sr, channels):
    x = np.random.default_rng(n).standard_normal((channels, n))
    n_fft, hop = sig.frame_size(sr, frame_ms)
    assert n_fft % 4 == 0 and hop * 4 == n_fft
    spec = sig.stft(x, n_fft, hop)
    assert spec.shape[:2] == (channels, n_fft // 2 + 1)
    np.testing.assert_allclose(sig.istft(spec, n_fft, hop, n), x, atol=1e-10)
    assert sig.valid_frames(x, n_fft, hop).shape == (channels, spec.shape[-1])


def _noise_and_truth(seed=0):
    n_fft, hop = sig.frame_size(16000, 32.0)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(32000)
    truth = np.mean(np.abs(sig.stft(noise, n_fft, hop)) ** 2, axis=-1)
    return noise, truth, n_fft, hop


@pytest.mark.parametrize("estimator", ["floor", "quietest", "minimum_statistics"])
def test_noise_estimators_ignore_dropouts(estimator):
    noise, truth, n_fft, hop = _noise_and_truth()
    x = noise.copy()
    x[4000:12000] = 0.0  # half a second of digital silence
    x[20000:20300] = 0.0
    power = np.abs(sig.stft(x, n_fft, hop)) ** 2
    valid = sig.valid_frames(x, n_fft, hop)
    assert not valid.all() and valid.sum() > valid.size // 2
    if estimator == "floor":
        estimate = sig.noise_psd_floor(power, valid)[:, 0]
    elif estimator == "quietest":
        estimate = sig.noise_psd_quietest(power, valid)[:, 0]
        unguarded = sig.noise_psd_quietest(power, np.ones_like(valid))[:, 0]
        assert np.median(unguarded / truth) < 0.01  # what the guard prevents: a zero noise estimate
    else:
        estimate = sig.noise_psd_minimum_statistics(power, valid, 16000 / hop).mean(axis=-1)
    ratio_db = 10 * np.log10(np.median(estimate / truth))
    assert ratio_db == pytest.approx(0.0, abs=1.5)


def test_floor_constants_are_those_of_a_truncated_exponential():
    cells = np.random.default_rng(0).exponential(1.0, 2_000_000)
    kept = cells[cells < sig.FLOOR_TRUNCATION]
    assert np.mean(kept) == pytest.approx(sig.FLOOR_KEPT_MEAN, rel=2e-3)
    assert np.var(kept) / np.mean(kept) ** 2 == pytest.approx(sig.FLOOR_KEPT_CV2, rel=5e-3)


def _spectrogram(x, frame_ms=32.0):
    n_fft, hop = sig.frame_size(16000, frame_ms)
    return np.abs(sig.stft(x, n_fft, hop)) ** 2, sig.valid_frames(x, n_fft, hop), n_fft


def test_noise_floor_under_speech_needs_no_pauses(speech):
    # The quietest frames of speech in pink noise at 0 dB still hold speech below 1 kHz; the per-bin floor
    # much less (measured from 100 Hz to 1 kHz: the floor +0.8 dB above the truth, the quietest frames +2 to +3).
    from avagent.core import simulate

    noise = simulate.pink_noise(speech.size, np.random.default_rng(1), sr=16000)
    noise *= np.sqrt(np.mean(speech**2) / np.mean(noise**2))
    power, valid, n_fft = _spectrogram(speech + noise)
    truth = np.mean(_spectrogram(noise)[0], axis=-1)
    band = (np.arange(power.shape[0]) * 16000 / n_fft >= 100) & (np.arange(power.shape[0]) * 16000 / n_fft < 1000)
    floor_db = 10 * np.log10(sig.noise_psd_floor(power, valid)[band, 0].sum() / truth[band].sum())
    quietest_db = 10 * np.log10(sig.noise_psd_quietest(power, valid)[band, 0].sum() / truth[band].sum())
    assert abs(floor_db) < 1.5
    assert quietest_db > floor_db + 1.0


def test_steady_tone_is_not_noise_unless_it_stays_through_pauses():
    t = np.arange(32000) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 1000.0 * t)
    noise = 0.01 * np.random.default_rng(2).standard_normal(t.size)
    power, valid, n_fft = _spectrogram(tone + noise)
    k = round(1000.0 * n_fft / 16000)
    floor = sig.noise_floor(power, valid)
    share = sig.noise_share(power, valid, floor)
    assert share[k, 0] < 0.05  # the tone's bin: steady, hardly any noise
    assert np.median(share[:, 0]) > 0.8  # the noise bins
    assert not sig.persists_through_pauses(power, valid, floor).any()  # no pauses, no content: no evidence
    # The same tone (a hum) under bursts of other sound with pauses between them: it stays through the pauses.
    bursts = 0.3 * np.random.default_rng(3).standard_normal(t.size) * (np.sin(2 * np.pi * 1.5 * t) > 0.3)
    power, valid, _ = _spectrogram(tone + noise + bursts)
    floor = sig.noise_floor(power, valid)
    assert sig.persists_through_pauses(power, valid, floor)[k, 0]
    assert sig.noise_psd_floor(power, valid)[k, 0] == pytest.approx(floor[k, 0])


def test_noise_segment_estimate_and_its_errors():
    noise, truth, n_fft, hop = _noise_and_truth()
    x = noise.copy()
    x[16000:] += 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    power = np.abs(sig.stft(x, n_fft, hop)) ** 2
    valid = sig.valid_frames(x, n_fft, hop)
    times = (np.arange(power.shape[-1]) * hop - (n_fft - hop) + n_fft / 2) / 16000
    estimate = sig.noise_psd_segment(power, valid, times, 0.1, 0.9)[:, 0]
    assert 10 * np.log10(np.median(estimate / truth)) == pytest.approx(0.0, abs=1.0)
    tiny = sig.noise_psd_segment(power, valid, times, 0.5, 0.5001)  # shorter than a frame: nearest frame
    assert np.all(np.isfinite(tiny)) and tiny.sum() > 0
    with pytest.raises(ParameterError, match="starts after the audio ends"):
        sig.noise_psd_segment(power, valid, times, 3.0, 4.0)
    x[: 16000 // 2] = 0.0
    valid = sig.valid_frames(x, n_fft, hop)
    with pytest.raises(ParameterError, match="only digital silence"):
        sig.noise_psd_segment(power, valid, times, 0.1, 0.4)


def test_quietest_excerpt_skips_silence_and_picks_noise():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(8000), 0.01 * rng.standard_normal(8000), 0.5 * rng.standard_normal(16000)])
    excerpt = sig.quietest_excerpt(x, 512)
    assert excerpt.size > 0 and np.std(excerpt) == pytest.approx(0.01, rel=0.2)
    assert sig.quietest_excerpt(np.zeros(20000), 512).size == 0


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_estimate_snr_db(speech, snr_db):
    noisy = mix_at_snr(speech, np.random.default_rng(0).standard_normal(speech.size), snr_db)
    assert sig.estimate_snr_db(noisy, SPEECH_SR) == pytest.approx(snr_db, abs=3.0)


def test_estimate_snr_db_edge_cases(speech):
    assert sig.estimate_snr_db(speech, SPEECH_SR) > 40.0  # clean speech with near-silent pauses
    assert sig.estimate_snr_db(np.zeros(4000), SPEECH_SR) == -100.0
    assert sig.estimate_snr_db(np.random.default_rng(0).standard_normal(16000), SPEECH_SR) < 3.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, 0.0), (0.5, -6.0206), (0.0, sig.DBFS_FLOOR), (-0.1, -20.0), (10.0, 20.0)],
)
def test_amplitude_to_db(value, expected):
    assert sig.amplitude_to_db(value) == pytest.approx(expected, abs=1e-4)
    if value > 0:
        assert sig.db_to_amplitude(expected) == pytest.approx(value)


def test_levels():
    x = np.full((2, 100), 0.5)
    assert sig.rms_dbfs(x) == pytest.approx(-6.0206, abs=1e-4)
    assert sig.peak_dbfs(-x) == pytest.approx(-6.0206, abs=1e-4)
    assert sig.rms_dbfs(np.zeros(10)) == sig.DBFS_FLOOR


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(0), "empty"),
        (np.zeros((2, 0)), "empty"),
        (np.array([0.0, np.nan]), "NaN/Inf"),
        (np.array([[0.0, np.inf]]), "NaN/Inf"),
        (np.zeros((1, 2, 3)), "shape"),
        (np.array(["a"]), "real numbers"),
        (np.zeros(3, dtype=complex), "real numbers"),
        (np.zeros(3, dtype=np.int16), None),
        (np.zeros((2, 3), dtype=np.float32), None),
    ],
)
def test_check_audio(audio, message):
    if message is None:
        x = sig.check_audio(audio)
        assert x.dtype == np.float64 and x.ndim == 2
    else:
        with pytest.raises(ParameterError, match=message):
            sig.check_audio(audio)


@pytest.mark.parametrize(
    ("sr", "ok"), [(16000, True), (np.int64(8000), True), (1000, False), (16000.0, False), (True, False)]
)
def test_check_sample_rate(sr, ok):
    if ok:
        assert sig.check_sample_rate(sr) == int(sr)
    else:
        with pytest.raises(ParameterError, match="sr"):
            sig.check_sample_rate(sr)


def test_finish_scales_instead_of_clipping_and_keeps_layout():
    x = np.array([[0.5, -0.9]])
    y = sig.finish(np.array([[1.0, -2.0]]), x, x[0])
    assert y.shape == (2,) and y.dtype == np.float32
    assert np.max(np.abs(y)) <= 1.0 and y[0] == pytest.approx(-0.5 * y[1], rel=1e-6)
    clipped_input = np.array([[1.5, 0.0]])
    assert np.max(np.abs(sig.finish(np.array([[3.0, 0.0]]), clipped_input, clipped_input))) <= 1.5
