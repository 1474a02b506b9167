"""The four noise actions on real speech: they remove noise by a stated margin, leave clean speech alone."""

from __future__ import annotations

import numpy as np
import pytest

from avagent.actions import denoise
from avagent.actions.params import SpectralSubtractionParams, WienerParams
from avagent.actions.registry import apply_action
from avagent.core import simulate
from avagent.core.errors import ParameterError
from avagent.core.metrics import si_sdr
from tests.actions.conftest import SPEECH_SR, mix_at_snr

SR = SPEECH_SR


def _noise(kind: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return simulate.pink_noise(n, rng) if kind == "pink" else simulate.white_noise(n, rng)


# Measured on this 6 s excerpt at 0 dB: ss +7.8, wiener +8.5, gating +7.7 / +5.6 (non-stationary), minimum
# statistics +6.2 / +6.5, wavelet +8.7 (VisuShrink hard +4.0) on white noise; margins leave about 1.5 dB of
# slack.
@pytest.mark.parametrize(
    ("name", "params", "kind", "min_gain_db"),
    [
        ("spectral_subtraction", {}, "pink", 6.0),
        ("spectral_subtraction", {"noise_estimate": "minimum_statistics"}, "pink", 4.5),
        ("wiener", {}, "pink", 7.0),
        ("wiener", {"noise_estimate": "minimum_statistics"}, "pink", 4.5),
        ("spectral_gating", {}, "pink", 6.0),
        ("spectral_gating", {"stationary": False}, "pink", 4.0),
        ("wavelet_denoise", {}, "white", 7.0),
        ("wavelet_denoise", {"method": "VisuShrink", "mode": "hard"}, "white", 3.0),
    ],
)
def test_denoiser_raises_si_sdr_at_0_db(speech, name, params, kind, min_gain_db):
    noisy = mix_at_snr(speech, _noise(kind, speech.size), 0.0)
    out = apply_action(name, noisy, SR, params)
    assert si_sdr(speech, out) - si_sdr(speech, noisy) >= min_gain_db


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("spectral_subtraction", {}),
        ("spectral_subtraction", {"noise_estimate": "minimum_statistics"}),
        ("wiener", {}),
        ("wiener", {"noise_estimate": "minimum_statistics"}),
        ("spectral_gating", {}),
        ("wavelet_denoise", {}),
    ],
)
def test_denoiser_leaves_clean_speech_alone(speech, name, params):
    clean = speech.astype(np.float32)
    assert si_sdr(clean, apply_action(name, clean, SR, params)) >= 20.0


def test_dropouts_do_not_zero_the_noise_estimate(speech):
    noisy = mix_at_snr(speech, _noise("white", speech.size), 5.0)
    for start in range(4000, speech.size, 16000):  # 80 ms of digital silence every second
        noisy[start : start + 1280] = 0.0
    reference = speech.copy()
    for start in range(4000, speech.size, 16000):
        reference[start : start + 1280] = 0.0
    for fn, params in (
        (denoise.spectral_subtraction, SpectralSubtractionParams()),
        (denoise.wiener, WienerParams()),
    ):
        gain_db = si_sdr(reference, fn(noisy, SR, params)) - si_sdr(reference, noisy)
        assert gain_db >= 5.0, fn.__name__


def test_noise_segment_is_used(speech):
    # Noise only in the first 0.5 s (speech starts after it): the estimate from that segment alone works,
    # and a segment without noise (a speech stretch) removes much less.
    n_lead = SR // 2
    clean = np.concatenate([np.zeros(n_lead), speech])
    noisy = mix_at_snr(clean, _noise("white", clean.size), 0.0)
    base = si_sdr(clean, noisy)
    seg = apply_action("wiener", noisy, SR, {"noise_start_s": 0.0, "noise_end_s": 0.45})
    assert si_sdr(clean, seg) - base >= 7.0
    wrong = apply_action("wiener", noisy, SR, {"noise_start_s": 2.0, "noise_end_s": 2.5})
    assert si_sdr(clean, wrong) < si_sdr(clean, seg) - 1.0


def test_digital_silence_passes_through_unchanged():
    silent = np.zeros((2, 4000), dtype=np.float32)
    for name in ("spectral_subtraction", "wiener", "spectral_gating", "wavelet_denoise"):
        np.testing.assert_array_equal(apply_action(name, silent, SR, {}), silent)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"noise_start_s": 10.0, "noise_end_s": 11.0}, "starts after the audio ends"),
        ({"noise_start_s": 1.0}, "must be given together"),
        ({"noise_start_s": 1.0, "noise_end_s": 0.5}, "greater than noise_start_s"),
    ],
)
def test_bad_noise_segment_is_a_parameter_error(params, message):
    audio = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    with pytest.raises(ParameterError, match=message):
        apply_action("spectral_subtraction", audio, SR, params)
