"""Offline audio describer: speech activity, SNR and noise type, levels, clipping, blanks, caption and API.

Speech is real (Debian asterisk prompts, 8 kHz, resampled to 16 kHz); noise is synthesised and mixed at a known
SNR over the whole clip, 10 log10(mean clean² / mean noise²), the definition `audio_diagnostics` estimates.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import soundfile
import soxr

from avagent.core import samples
from avagent.core.errors import ParameterError
from avagent.tools import audio, audio_diagnostics, vad

SR = 16000
SNR_TOLERANCE_DB = 3.0


def _speech(target_s: float = 10.0, seed: int = 0) -> np.ndarray:
    """Asterisk prompts of 1-5 s, shuffled, joined with 0.2-0.5 s of digital silence."""
    rng = np.random.default_rng(seed)
    files = samples.asterisk_speech()
    parts, total = [], 0
    for i in rng.permutation(len(files)):
        x, sr = soundfile.read(files[i], dtype="float32")
        if not 1.0 <= len(x) / sr <= 5.0:
            continue
        parts += [
            soxr.resample(x, sr, SR).astype(np.float32),
            np.zeros(int(SR * rng.uniform(0.2, 0.5)), np.float32),
        ]
        total += len(parts[-2]) + len(parts[-1])
        if total >= target_s * SR:
            break
    return np.concatenate(parts)


def _coloured(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=float)
    f[0] = 1.0
    spectrum *= f ** (-exponent / 2)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n)


def _hum(n: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SR
    return sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 9) if k * f0 < SR / 2)


def _noise(kind: str, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return _coloured(n, 1.0, rng)
    if kind.startswith("hum"):
        return _hum(n, float(kind[3:]), rng)
    raise ValueError(kind)


def _mix(clean: np.ndarray, kind: str, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = _noise(kind, clean.size, seed)
    gain = np.sqrt(np.mean(clean.astype(float) ** 2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return (clean + gain * noise).astype(np.float32)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return _speech()


@pytest.fixture(scope="module")
def describer() -> audio.OfflineAudioDescriber:
    return audio.OfflineAudioDescriber()


# --- speech activity ----------------------------------------------------------------------------------------


def test_vad_finds_speech_in_speech_and_little_in_noise(speech: np.ndarray) -> None:
    active = vad.detect_speech(speech, SR)
    assert active.speech_ratio > 0.6
    assert all(0 <= a < b <= active.duration_s for a, b in active.segments)
    assert vad.detect_speech(_noise("white", 5 * SR).astype(np.float32) * 0.1, SR).speech_ratio < 0.05
    assert vad.detect_speech(_noise("pink", 5 * SR).astype(np.float32) * 0.1, SR).speech_ratio < 0.05


def test_vad_segments_follow_the_hysteresis() -> None:
    probs = np.array([0.1] * 10 + [0.9] * 20 + [0.4] * 3 + [0.9] * 20 + [0.1] * 20)  # 0.4: between thresholds
    segments = vad.segments_from_probabilities(probs, duration_s=len(probs) * vad.FRAME_S, pad_ms=0)
    assert segments == [(round(10 * vad.FRAME_S, 3), round(53 * vad.FRAME_S, 3))]
    short = np.array([0.1] * 10 + [0.9] * 5 + [0.1] * 10)  # 160 ms: under min_speech_ms
    assert vad.segments_from_probabilities(short, duration_s=1.0) == []


# --- SNR and noise type -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["white", "pink", "hum50"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_snr_estimate_on_real_speech(speech: np.ndarray, kind: str, snr_db: float) -> None:
    d = audio_diagnostics.diagnose(_mix(speech, kind, snr_db), SR)
    assert d.snr_db is not None and abs(d.snr_db - snr_db) <= SNR_TOLERANCE_DB
    expected_type = "hum" if kind.startswith("hum") else "broadband"
    assert d.noise_type == expected_type
    if expected_type == "broadband":
        assert d.noise_color == kind


def test_clean_speech_reports_no_significant_noise(speech: np.ndarray) -> None:
    d = audio_diagnostics.diagnose(speech, SR)
    assert d.snr_db is not None and d.snr_db >= 25.0
    assert d.noise_type == "none"


@pytest.mark.parametrize("f0", [50.0, 60.0])
def test_hum_fundamental(speech: np.ndarray, f0: float) -> None:
    d = audio_diagnostics.diagnose(_mix(speech, f"hum{f0:.0f}", 5.0), SR)
    assert d.noise_type == "hum"
    assert d.noise.hum_hz is not None and abs(d.noise.hum_hz - f0) < 1.0


def test_non_stationary_noise_is_flagged(speech: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    envelope = np.repeat(rng.uniform(0.1, 1.5, speech.size // 4000 + 1), 4000)[: speech.size]
    modulated = _coloured(speech.size, 1.0, rng) * envelope
    gain = np.sqrt(np.mean(speech.astype(float) ** 2) / np.mean(modulated**2))
    d = audio_diagnostics.diagnose((speech + gain * modulated).astype(np.float32), SR)
    assert d.noise_type == "non_stationary"
    assert abs(d.snr_db - 0.0) <= SNR_TOLERANCE_DB


# --- levels, clipping, blanks, onsets -----------------------------------------------------------------------


def test_blanks_inside_the_clip_are_found(speech: np.ndarray) -> None:
    x = _mix(speech, "pink", 15.0)
    x[int(3.1 * SR) : int(3.5 * SR)] = 0.0
    x[int(6.0 * SR) : int(6.01 * SR)] = 0.0  # 10 ms: below the 20 ms minimum
    x[: int(0.3 * SR)] = 0.0  # leading silence is reported apart
    d = audio_diagnostics.diagnose(x, SR)
    assert len(d.blanks) == 1
    start, duration = d.blanks[0]
    assert start == pytest.approx(3.1, abs=0.002) and duration == pytest.approx(0.4, abs=0.002)
    assert d.leading_silence_s == pytest.approx(0.3, abs=0.002)


def test_clipping_is_detected_and_clean_audio_is_not_clipped(speech: np.ndarray) -> None:
    clean = audio_diagnostics.diagnose(speech, SR)
    clipped = audio_diagnostics.diagnose(np.clip(speech * 8.0, -1.0, 1.0), SR)
    half_scale = audio_diagnostics.diagnose(np.clip(speech * 8.0, -0.5, 0.5), SR)  # clipped, then attenuated
    assert clean.clipping_ratio == 0.0
    assert clipped.clipping_ratio > 0.02 and half_scale.clipping_ratio > 0.02
    assert clipped.peak_dbfs == pytest.approx(0.0, abs=0.01)


def test_levels_of_a_known_sine() -> None:
    t = np.arange(5 * SR) / SR
    d = audio_diagnostics.diagnose((0.5 * np.sin(2 * np.pi * 997 * t)).astype(np.float32), SR)
    assert d.peak_dbfs == pytest.approx(20 * np.log10(0.5), abs=0.05)
    assert d.rms_dbfs == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)
    assert d.loudness_lufs is not None and -12.0 < d.loudness_lufs < -6.0  # BS.1770: -3.01 dB + K-weighting
    assert d.clipping_ratio == 0.0


def test_onset_rate_counts_clicks() -> None:
    rng = np.random.default_rng(1)
    x = (0.001 * rng.standard_normal(10 * SR)).astype(np.float32)
    x[:: SR // 2] = 0.8  # 20 clicks in 10 s
    assert audio_diagnostics.diagnose(x, SR).onset_rate_hz == pytest.approx(2.0, abs=0.3)


# --- the describer ------------------------------------------------------------------------------------------


def test_caption_mentions_the_key_facts(speech: np.ndarray, describer: audio.OfflineAudioDescriber) -> None:
    x = _mix(speech, "hum60", 5.0)
    x[int(3.1 * SR) : int(3.5 * SR)] = 0.0
    x = np.clip(x * 3.0, -1.0, 1.0)
    d = describer.describe(x, SR)
    assert d.caption.startswith("speech")
    for fact in ("60 Hz hum", "dB SNR", "one 0.40 s dropout at 3.10 s", "clipping"):
        assert fact in d.caption, (fact, d.caption)
    assert d.noise_type == "hum" and d.hum_hz == pytest.approx(60.0, abs=1.0)
    assert d.facts in d.caption
    assert d.backend == "offline" and "yamnet" in d.model_version


def test_clean_speech_description(speech: np.ndarray, describer: audio.OfflineAudioDescriber) -> None:
    d = describer.describe(speech, SR)
    assert d.tags[0][0] == "Speech"
    assert d.speech_ratio > 0.6 and d.speech_segments
    assert d.noise_type == "none" and "no significant noise" in d.caption
    assert d.duration_s == pytest.approx(speech.size / SR, abs=1e-3) and d.sample_rate == SR and d.channels == 1
    patches = 1 + int(np.ceil(max(0, speech.size - 15600) / 7680))  # YAMNet: 0.96 s patches every 0.48 s
    assert len(d.tag_timeline) == patches and d.tag_timeline[1][0] == pytest.approx(0.48)


@pytest.mark.parametrize("name", ["phone-incoming-call.oga", "service-logout.oga", "alarm-clock-elapsed.oga"])
def test_tonal_content_is_not_called_noise(describer: audio.OfflineAudioDescriber, name: str) -> None:
    path = next(p for p in samples.freedesktop_sounds() if p.name == name)
    x, sr = soundfile.read(path, dtype="float32", always_2d=True)
    d = describer.describe(x.T, sr)
    assert d.noise_type == "none", d.caption
    assert "no significant noise" in d.caption


def test_noise_alone_is_called_noise(describer: audio.OfflineAudioDescriber) -> None:
    d = describer.describe((0.05 * _noise("pink", 4 * SR)).astype(np.float32), SR)
    assert d.noise_type == "broadband" and d.noise_color == "pink"
    assert d.snr_db is not None and d.snr_db < 0
    assert d.speech_ratio < 0.05


def test_stereo_48k_input(speech: np.ndarray, describer: audio.OfflineAudioDescriber) -> None:
    x = soxr.resample(_mix(speech, "white", 10.0), SR, 48000).astype(np.float32)
    d = describer.describe(np.stack([x, 0.9 * x]), 48000)
    assert d.channels == 2 and d.sample_rate == 48000
    assert d.noise_type == "broadband" and abs(d.snr_db - 10.0) <= SNR_TOLERANCE_DB


def test_description_is_deterministic_and_json_able(speech: np.ndarray, describer: audio.OfflineAudioDescriber) -> None:
    x = _mix(speech, "pink", 8.0)
    first, second = describer.describe(x, SR).to_dict(), describer.describe(x, SR).to_dict()
    first.pop("timings_s"), second.pop("timings_s")
    assert first == second
    text = json.dumps(first)
    assert json.loads(text)["diagnostics"]["noise"]["snr_db"] == first["snr_db"]


def test_describes_ten_seconds_quickly(speech: np.ndarray, describer: audio.OfflineAudioDescriber) -> None:
    x = _mix(speech, "white", 10.0)[: 10 * SR]
    describer.describe(x, SR)  # models loaded
    started = time.perf_counter()
    d = describer.describe(x, SR)
    assert time.perf_counter() - started < 1.0  # typically 0.1-0.2 s on 2 shared cores
    assert set(d.timings_s) >= {"tags", "vad", "dsp", "total"}


def test_too_short_clip_reports_unknown_noise(describer: audio.OfflineAudioDescriber) -> None:
    d = describer.describe((0.1 * _noise("white", SR // 4)).astype(np.float32), SR)
    assert d.snr_db is None and d.noise_type == "unknown" and not d.snr_reliable
    assert "too short" in d.caption


# --- API and errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audio_in", "sr"),
    [
        (np.zeros(0, dtype=np.float32), SR),
        (np.full(SR, np.nan, dtype=np.float32), SR),
        (np.zeros((2, 2, SR), dtype=np.float32), SR),
        (np.zeros(SR, dtype=np.float32), 0),
        (np.zeros(SR, dtype=np.float32), 16000.5),
    ],
)
def test_bad_input_raises_parameter_error(describer: audio.OfflineAudioDescriber, audio_in, sr) -> None:
    with pytest.raises(ParameterError):
        describer.describe(audio_in, sr)


@pytest.mark.parametrize(
    ("kwargs", "ok"),
    [
        ({}, True),
        ({"top_k_tags": 0}, False),
        ({"vad_threshold": 1.5}, False),
        ({"min_tag_score": 0.0}, False),
    ],
)
def test_options_are_validated(kwargs: dict, ok: bool) -> None:
    if ok:
        assert audio.get_audio_describer("offline", **kwargs).name == "offline"
    else:
        with pytest.raises(ParameterError):
            audio.AudioDescriberOptions(**kwargs)


def test_factory_knows_its_backends(speech: np.ndarray) -> None:
    assert audio.available_audio_describers() == ["offline", "qwen2-audio"]
    with pytest.raises(ParameterError, match="unknown audio describer"):
        audio.get_audio_describer("nope")
    d = audio.describe_audio(speech[: 3 * SR], SR, backend="offline", top_k_tags=2)
    assert d.backend == "offline" and len(d.tags) <= 2
