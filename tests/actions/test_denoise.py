"""The four noise actions on real speech: they remove noise by a stated margin, leave clean speech alone."""

from __future__ import annotations

import numpy as np
import pytest

from avagent.actions import denoise
from avagent.actions.params import SpectralSubtractionParams, WienerParams
from avagent.actions.registry import apply_action
from avagent.core import simulate
from avagent.core.errors import ParameterError
from avagent.core.media import load_audio
from avagent.core.metrics import si_sdr
from avagent.core.samples import FREEDESKTOP_DIR, freedesktop_sounds
from tests.actions.conftest import SPEECH_SR, mix_at_snr

SR = SPEECH_SR


def _noise(kind: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return simulate.pink_noise(n, rng, sr=SR) if kind == "pink" else simulate.white_noise(n, rng)


# Measured on this 6 s excerpt at 0 dB: ss +8.8, wiener +9.3, minimum statistics +8.4 / +8.5, gating +1.2
# (defaults: prop_decrease 0.5), +5.8 (prop_decrease 1), +4.8 (non-stationary, prop_decrease 1) on pink noise;
# wavelet +8.7 (VisuShrink hard +4.0) on white noise. Margins leave 1-1.5 dB of slack; wiener's is the
# benchmark's target for the defaults on speech in pink noise at 0 dB (+8 dB).
@pytest.mark.parametrize(
    ("name", "params", "kind", "min_gain_db"),
    [
        ("spectral_subtraction", {}, "pink", 7.5),
        ("spectral_subtraction", {"noise_estimate": "minimum_statistics"}, "pink", 7.0),
        ("spectral_subtraction", {"noise_estimate": "quietest_frames"}, "pink", 6.0),
        ("wiener", {}, "pink", 8.0),
        ("wiener", {"noise_estimate": "minimum_statistics"}, "pink", 7.0),
        ("spectral_gating", {}, "pink", 0.5),
        ("spectral_gating", {"prop_decrease": 1.0}, "pink", 4.5),
        ("spectral_gating", {"stationary": False, "prop_decrease": 1.0}, "pink", 3.5),
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
        ("spectral_gating", {"stationary": False}),
        ("wavelet_denoise", {}),
    ],
)
def test_denoiser_leaves_clean_speech_alone(speech, name, params):
    clean = speech.astype(np.float32)
    assert si_sdr(clean, apply_action(name, clean, SR, params)) >= 20.0


@pytest.fixture(scope="module")
def steady_sounds() -> dict[str, np.ndarray]:
    """Two steady real sounds without pauses: the freedesktop alarm clock (6 s) and phone ring (1.5 s)."""
    by_stem = {p.stem: p for p in freedesktop_sounds()} if FREEDESKTOP_DIR.is_dir() else {}
    if not {"alarm-clock-elapsed", "phone-incoming-call"} <= by_stem.keys():
        pytest.skip("needs Debian sound-theme-freedesktop")
    return {stem: load_audio(by_stem[stem], sample_rate=SR, mono=True)[0][0] for stem in STEADY_SOUNDS}


STEADY_SOUNDS = ("alarm-clock-elapsed", "phone-incoming-call")


# Measured: alarm clock ss 23.8, wiener 24.0, gating 22.5 dB; phone ring 40.4, 28.4, 24.6 dB (the previous
# defaults, with the quietest-frames estimate, gave 15 / 15 / 10 and 18 / 15 / 11 dB). The threshold is the
# benchmark's do-no-harm target.
@pytest.mark.parametrize("stem", STEADY_SOUNDS)
@pytest.mark.parametrize("name", ["spectral_subtraction", "wiener", "spectral_gating", "wavelet_denoise"])
def test_denoiser_leaves_a_steady_sound_alone(steady_sounds, stem, name):
    clean = steady_sounds[stem]
    assert si_sdr(clean, apply_action(name, clean, SR, {})) >= 20.0


# Measured: the tone alone 67 / 50 dB, its noise removed by +14.4 / +15.8 dB; hum under speech +12.3 / +12.5 dB.
def test_steady_tone_is_kept_and_the_noise_around_it_removed():
    t = np.arange(2 * SR) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    noisy = tone + 0.03 * np.random.default_rng(1).standard_normal(t.size)  # 17 dB SNR, no pauses
    for name in ("spectral_subtraction", "wiener"):
        assert si_sdr(tone, apply_action(name, tone, SR, {})) >= 40.0, name  # the tone alone: not noise
        assert si_sdr(tone, apply_action(name, noisy, SR, {})) - si_sdr(tone, noisy) >= 12.0, name


def test_hum_under_speech_is_removed(speech):
    # Hum is as steady as a tone; it counts as noise because it stays through the speech pauses.
    hum = simulate.hum_noise(speech.size, SR, np.random.default_rng(2))
    noisy = mix_at_snr(speech, hum, 0.0)
    for name in ("spectral_subtraction", "wiener"):
        assert si_sdr(speech, apply_action(name, noisy, SR, {})) - si_sdr(speech, noisy) >= 10.0, name


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
