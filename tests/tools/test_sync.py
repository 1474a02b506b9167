"""Audio-video offset estimation on synthetic clips whose offsets are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from avagent.core.errors import ParameterError
from avagent.core.media import load_clip
from avagent.core.simulate import Drift, Noise, Offset, simulate
from avagent.core.synthetic_av import make_clip
from avagent.tools import sync


def _visual(path):
    clip = load_clip(path)
    visual = sync.visual_activity_from_frames(clip.frames(size=(160, 120)), rate_hz=clip.video.fps)
    return clip, visual


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 10 s clip with three objects and a talking face; its audio and the video's activity channels."""
    made = make_clip(tmp_path_factory.mktemp("sync") / "scene.mp4", seed=8, n_objects=3)
    clip, visual = _visual(made.path)
    return clip.audio, clip.sample_rate, visual


@pytest.mark.parametrize("offset_s", [-1.2, -0.3, 0.0, 0.15, 0.8, 0.137])
def test_known_offsets_are_recovered_within_40_ms(scene, offset_s):
    audio, sr, visual = scene
    shifted = simulate(audio, sr, [Offset(offset_s)]).audio if offset_s else audio
    estimate = sync.estimate_offset(shifted, sr, visual)
    assert estimate.offset_s == pytest.approx(offset_s, abs=0.04)
    assert not estimate.no_sync_cue
    assert estimate.strength > sync.MIN_CUE_STRENGTH + 0.3
    assert estimate.drift_s_per_s == 0.0


def test_sub_frame_precision(scene):
    """0.137 s is not a multiple of the 10 ms grid nor of the 40 ms frame: the parabola gets close anyway."""
    audio, sr, visual = scene
    estimate = sync.estimate_offset(simulate(audio, sr, [Offset(0.137)]).audio, sr, visual)
    assert abs(estimate.offset_s - 0.137) < 0.015


def test_sign_convention_audio_late_is_positive(tmp_path):
    """The generator's own audio delay (sounds after their pictures) reads as a positive offset."""
    made = make_clip(tmp_path / "late.mp4", seed=4, audio_offset_s=0.3)
    clip, visual = _visual(made.path)
    estimate = sync.estimate_offset(clip.audio, clip.sample_rate, visual)
    assert estimate.offset_s == pytest.approx(0.3, abs=0.04)
    early = sync.estimate_offset(simulate(clip.audio, clip.sample_rate, [Offset(-0.6)]).audio, clip.sample_rate, visual)
    assert early.offset_s == pytest.approx(-0.3, abs=0.04)


@pytest.mark.parametrize("rate", [1 / 1.03, 1.02])
def test_drift_is_measured(scene, rate):
    """Drift(rate=d) plays the audio d times too fast: offsets grow by 1/d - 1 per second of video."""
    audio, sr, visual = scene
    estimate = sync.estimate_offset(simulate(audio, sr, [Drift(rate)]).audio, sr, visual)
    slope = 1.0 / rate - 1.0
    assert estimate.drift_s_per_s == pytest.approx(slope, abs=0.005)
    assert estimate.start_offset_s == pytest.approx(0.0, abs=0.04)
    assert estimate.end_offset_s == pytest.approx(slope * 10.0, abs=0.06)
    assert estimate.max_abs_offset_s == pytest.approx(abs(slope) * 10.0, abs=0.06)
    first, second = estimate.windows  # the half-clip offsets (raw audio, not de-warped) move the same way
    moved = second.offset_s - first.offset_s
    assert np.sign(moved) == np.sign(slope) and abs(moved) > 0.4 * abs(slope) * (second.centre_s - first.centre_s)


def test_no_drift_without_one(scene):
    audio, sr, visual = scene
    assert sync.estimate_offset(audio, sr, visual).drift_s_per_s == 0.0


def test_still_video_has_no_sync_cue(tmp_path):
    made = make_clip(tmp_path / "still.mp4", seed=4, visual_events=False)
    clip, visual = _visual(made.path)
    estimate = sync.estimate_offset(clip.audio, clip.sample_rate, visual)
    assert estimate.no_sync_cue
    assert estimate.strength < sync.MIN_CUE_STRENGTH


def test_audio_of_another_clip_has_no_sync_cue(scene, tmp_path):
    visual = scene[2]
    other = make_clip(tmp_path / "other.mp4", seed=11).audio
    assert sync.estimate_offset(other, 48000, visual).no_sync_cue


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_under_heavy_noise_the_estimate_is_right_or_flagged(scene, kind):
    """Noise at -5 dB SNR may hide the cue, but must not produce a confident wrong offset."""
    audio, sr, visual = scene
    noisy = simulate(audio, sr, [Noise(kind, -5.0), Offset(0.4)], seed=3).audio
    estimate = sync.estimate_offset(noisy, sr, visual)
    assert estimate.no_sync_cue or abs(estimate.offset_s - 0.4) < 0.04


def test_lagged_correlation_matches_brute_force():
    rng = np.random.default_rng(0)
    a, v = rng.standard_normal(60), rng.standard_normal((60, 2))
    got = sync.lagged_correlation(a, v, 7, shrink=False)
    for i, lag in enumerate(range(-7, 8)):
        lo, hi = max(0, lag), min(60, 60 + lag)
        for k in range(2):
            expected = np.corrcoef(a[lo:hi], v[lo - lag : hi - lag, k])[0, 1]
            assert got[i, k] == pytest.approx(expected, abs=1e-9)
    shrunk = sync.lagged_correlation(a, v, 7)
    np.testing.assert_allclose(shrunk[0], got[0] * np.sqrt(53 / 60))


def test_lagged_correlation_refuses_impossible_lags():
    with pytest.raises(ParameterError):
        sync.lagged_correlation(np.zeros(10), np.zeros((10, 1)), 8)


def test_frames_with_non_increasing_timestamps_are_placed_in_order():
    """AVI with packed B-frames: generated pts come in decode order while the pictures are in display order."""
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(6)]
    stamps = [0.0, 0.04, 0.12, 0.08, 0.16, 0.24]
    visual = sync.visual_activity_from_frames(zip(stamps, frames, strict=True), rate_hz=25)
    assert visual.channels.shape[0] == 6 and np.isfinite(visual.channels).all()
    monotone = sync.visual_activity_from_frames(zip([0.0, 0.04, 0.12], frames[:3], strict=True), rate_hz=25)
    assert monotone.channels.shape[0] == 4 and np.isnan(monotone.channels[2]).all()  # a real gap stays a gap


def test_only_cuts_that_change_most_of_the_picture_are_neutralised():
    values = np.full((50, 16), 0.01)
    values[20, :] = 0.5  # a real cut: every region changes
    values[30, 3] = 0.5  # one object flashing: an event, kept
    visual = sync.VisualActivity(0.0, 25.0, values, sync.region_labels((4, 4)), cuts_s=(20 / 25, 30 / 25))
    out = sync._neutralise_cuts(values, visual)
    assert np.all(out[19:22] == pytest.approx(0.01))
    assert out[30, 3] == 0.5


def test_invalid_input_is_refused(scene):
    audio, sr, visual = scene
    with pytest.raises(ParameterError):
        sync.estimate_offset(audio, sr, visual, max_lag_s=0.0)
    with pytest.raises(ParameterError):
        sync.estimate_offset(np.full((1, 100), np.nan, dtype=np.float32), sr, visual)
