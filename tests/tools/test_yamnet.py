"""YAMNet: the numpy front end, the bundled ONNX model's labels on real recordings, caching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile

from avagent.core import samples
from avagent.core.errors import ParameterError
from avagent.tools import yamnet

SR = yamnet.SAMPLE_RATE
NOISE_LABELS = {"Pink noise", "White noise", "Noise", "Static", "Waterfall", "Hiss"}
RING_LABELS = {"Alarm", "Telephone", "Telephone bell ringing", "Ringtone", "Bell", "Buzzer", "Beep, bleep"}


def _hz_to_mel(hz: float) -> float:
    return 1127.0 * math.log1p(hz / 700.0)


def _mel_to_hz(mel: float) -> float:
    return 700.0 * math.expm1(mel / 1127.0)


def _pink(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=float)
    f[0] = 1.0
    y = np.fft.irfft(spectrum / np.sqrt(f), n)
    return (0.1 * y / y.std()).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> yamnet.YamNet:
    return yamnet.load_yamnet()


@pytest.mark.parametrize("seconds", [0.3, 0.975, 1.0, 2.0, 10.0])
def test_patch_count_and_shape(seconds: float) -> None:
    n = int(seconds * SR)
    patches = yamnet.log_mel_patches(np.zeros(n, dtype=np.float32))
    # YAMNet pads so the first patch exists and every later 0.48 s hop gets a full patch.
    expected = 1 + math.ceil(max(0, n - yamnet.MIN_PATCH_SAMPLES) / (0.48 * SR))
    assert patches.shape == (expected, 1, 96, 64)
    assert patches.dtype == np.float32
    # Silence sits at the stabilised floor log(0.001), the bottom of the model's uint8 input range.
    assert np.allclose(patches, math.log(yamnet.LOG_OFFSET), atol=1e-4)


def test_tone_lands_in_its_mel_band() -> None:
    t = np.arange(SR) / SR
    spec = yamnet.log_mel_spectrogram((0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32))
    edges = np.linspace(_hz_to_mel(125.0), _hz_to_mel(7500.0), 66)
    centres_hz = np.array([_mel_to_hz(m) for m in edges[1:-1]])
    expected = int(np.argmin(np.abs(centres_hz - 1000.0)))
    assert spec.shape == (1 + (SR - 400) // 160, 64)
    assert int(np.bincount(spec.argmax(axis=1)).argmax()) == expected


def test_mel_matrix_drops_dc_and_covers_125_to_7500_hz() -> None:
    weights = yamnet.mel_matrix()
    freqs = np.linspace(0, SR / 2, 257)
    used = freqs[weights.sum(axis=1) > 0]
    assert weights.shape == (257, 64)
    assert weights[0].sum() == 0.0
    assert 125.0 <= used.min() < 160.0 and 7400.0 < used.max() <= 7500.0


def test_front_end_rejects_bad_input() -> None:
    with pytest.raises(ParameterError):
        yamnet.log_mel_spectrogram(np.zeros(100, dtype=np.float32))
    with pytest.raises(ParameterError):
        yamnet.to_mono_16k(np.zeros(1000, dtype=np.float32), 0)


def test_speech_is_tagged_speech(model: yamnet.YamNet) -> None:
    x, sr = soundfile.read(samples.asterisk_speech()[5], dtype="float32")
    result = model.tag(x, sr, top_k=3)
    assert "Speech" in [label for label, _ in result.tags]
    assert result.scores.shape[1] == yamnet.N_CLASSES
    assert len(result.timeline) == result.scores.shape[0]


def test_phone_ring_is_tagged_as_a_ring_or_alarm(model: yamnet.YamNet) -> None:
    path = next(p for p in samples.freedesktop_sounds() if p.name == "phone-incoming-call.oga")
    x, sr = soundfile.read(path, dtype="float32", always_2d=True)
    labels = {label for label, _ in model.tag(x.T, sr, top_k=5).tags}
    assert labels & RING_LABELS


def test_pink_noise_is_tagged_as_noise(model: yamnet.YamNet) -> None:
    labels = [label for label, _ in model.tag(_pink(5 * SR), SR, top_k=5).tags]
    assert set(labels) & NOISE_LABELS
    assert "Speech" not in labels[:1]


def test_tags_are_deterministic_sorted_and_thresholded(model: yamnet.YamNet) -> None:
    x = _pink(3 * SR, seed=3)
    first, second = model.tag(x, SR, top_k=8, min_score=0.05), model.tag(x, SR, top_k=8, min_score=0.05)
    scores = [s for _, s in first.tags]
    assert first.tags == second.tags
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.05


def test_resampling_keeps_the_label(model: yamnet.YamNet) -> None:
    x, sr = soundfile.read(samples.asterisk_speech()[5], dtype="float32")
    import soxr

    x48 = soxr.resample(x, sr, 48000)
    assert model.tag(x48, 48000, top_k=1).tags[0][0] == "Speech"


def test_session_is_cached_and_model_unzipped_once(tmp_path) -> None:
    assert yamnet.load_yamnet() is yamnet.load_yamnet()
    first = yamnet.model_path(tmp_path)
    assert first.is_file() and first.suffix == ".onnx"
    assert yamnet.model_path(tmp_path) == first  # second call reuses the extracted copy
    assert len(yamnet.class_names()) == yamnet.N_CLASSES and yamnet.class_names()[0] == "Speech"
