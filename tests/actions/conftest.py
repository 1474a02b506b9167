"""Signals shared by the action tests: real speech from an installed package, tones, noise."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr

from avagent.core.samples import ASTERISK_DIR

# Five asterisk prompts (Allison Smith, 8 kHz studio speech with near-silent pauses), concatenated.
SPEECH_PROMPTS = ("demo-instruct", "demo-congrats", "priv-callee-options", "vm-options", "conf-getpin")
SPEECH_SR = 16000
SPEECH_S = 6.0


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """6 s of real speech at 16 kHz, float64, peak 0.5 (skips when asterisk-core-sounds-en-wav is missing)."""
    paths = [ASTERISK_DIR / f"{name}.wav" for name in SPEECH_PROMPTS]
    if not all(p.is_file() for p in paths):
        pytest.skip("needs Debian asterisk-core-sounds-en-wav")
    parts = []
    for path in paths:
        x, fs = sf.read(path, dtype="float64")
        parts.append(soxr.resample(x, fs, SPEECH_SR))
    x = np.concatenate(parts)[: int(SPEECH_S * SPEECH_SR)]
    return 0.5 * x / np.max(np.abs(x))


def tone(freq_hz: float, sr: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """A sine, float32."""
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_frequency_hz(x: np.ndarray, sr: int) -> float:
    """Frequency of the largest spectral peak (Hann window, 8x zero padding, parabolic refinement)."""
    n = 8 * x.shape[-1]
    mag = np.abs(np.fft.rfft(x * np.hanning(x.shape[-1]), n))
    k = int(np.argmax(mag[1:-1])) + 1
    a, b, c = np.log(mag[k - 1 : k + 2] + 1e-30)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / n


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """clean + noise scaled to `snr_db` (by mean power), float32."""
    gain = np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (clean + gain * noise).astype(np.float32)
