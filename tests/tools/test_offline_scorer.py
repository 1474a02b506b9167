"""The offline reflection scorer: calibrated scores that fall with corruption and rise again with repair."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from avagent.actions.registry import apply_action
from avagent.core.errors import AvagentError, ParameterError
from avagent.core.media import load_clip
from avagent.core.samples import bigbuckbunny_path
from avagent.core.simulate import Dropouts, Noise, Offset, simulate, time_warp
from avagent.core.synthetic_av import make_clip
from avagent.tools import offline_scorer as osc
from avagent.tools.scoring import DEFAULT_THRESHOLD, Scorer
from avagent.tools.sync import VisualActivity

T = DEFAULT_THRESHOLD


class CountingClip:
    """A Clip stand-in that counts (and can forbid) video decoding."""

    def __init__(self, clip):
        self._clip = clip
        self.video, self.audio_info = clip.video, clip.audio_info
        self.audio, self.sample_rate = clip.audio, clip.sample_rate
        self.decodes = 0
        self.forbid = False

    def frames(self, *args, **kwargs):
        if self.forbid:
            raise AssertionError("score() must not decode video")
        self.decodes += 1
        return self._clip.frames(*args, **kwargs)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    made = make_clip(tmp_path_factory.mktemp("scorer") / "scene.mp4", seed=8, n_objects=3)
    clip = CountingClip(load_clip(made.path))
    scorer = osc.OfflineScorer()
    features = scorer.prepare_video(clip)
    clip.forbid = True  # from here on, nothing may decode the video again
    return scorer, features, clip


def _score(job, audio):
    scorer, features, clip = job
    return scorer.score(audio, clip.sample_rate, features)


def test_is_a_scorer():
    assert isinstance(osc.OfflineScorer(), Scorer)
    assert osc.OfflineScorer().backend == "offline/1"


def test_clean_clip_scores_high_on_both(job):
    scores = _score(job, job[2].audio)
    assert scores.alignment >= T and scores.sync >= T
    assert scores.meets(T)
    d = scores.details
    assert d["sync_cue"] and not d["no_sync_cue"]
    assert abs(d["offset_s"]) < 0.04 and d["offset_confidence"] > 0.9
    assert d["snr_db"] > 25
    json.dumps(scores.to_dict())  # the report stores it as it is


def test_pink_noise_at_0_db_lowers_alignment_and_denoising_raises_it(job):
    clip = job[2]
    result = simulate(clip.audio, clip.sample_rate, [Noise("pink", 0.0)], seed=1)
    corrupted = _score(job, result.audio)
    assert corrupted.alignment < T
    assert corrupted.details["alignment_factors"]["noise"] < T
    label = result.labels[0]  # the simulator's repair label: spectral subtraction with Berouti's factor
    repaired = _score(job, apply_action(label.action, result.audio, clip.sample_rate, label.params))
    assert repaired.alignment > corrupted.alignment + 0.3


def test_alignment_rises_as_the_noise_falls(job):
    clip = job[2]
    values = [
        _score(job, simulate(clip.audio, clip.sample_rate, [Noise("pink", snr)], seed=1).audio).alignment
        for snr in (0.0, 10.0, 15.0, 20.0, 30.0)
    ]
    assert values == sorted(values) and values[0] < 0.05 and values[-1] >= T


def test_offset_lowers_sync_and_undoing_it_step_by_step_raises_it(job):
    clip = job[2]
    late = simulate(clip.audio, clip.sample_rate, [Offset(0.5)]).audio
    corrupted = _score(job, late)
    assert corrupted.sync < T
    assert corrupted.alignment >= T  # an offset is not an alignment problem
    assert corrupted.details["offset_s"] == pytest.approx(0.5, abs=0.04)
    hint = corrupted.details["repair_speed"]
    assert hint["rate"] == pytest.approx(1.0, abs=0.002) and hint["offset_s"] == pytest.approx(-0.5, abs=0.04)
    half = _score(job, time_warp(late, clip.sample_rate, offset_s=-0.25))
    full = _score(job, time_warp(late, clip.sample_rate, offset_s=-0.5))
    assert corrupted.sync < half.sync < full.sync
    assert full.sync >= T and full.alignment >= T  # the silence the repair pads in at the end is not a dropout


@pytest.mark.parametrize(("offset_s", "below"), [(0.03, False), (0.1, True), (-0.1, True), (-1.4, True)])
def test_sync_threshold_sits_between_40_and_100_ms(job, offset_s, below):
    clip = job[2]
    scores = _score(job, simulate(clip.audio, clip.sample_rate, [Offset(offset_s)]).audio)
    assert (scores.sync < T) is below


def test_sync_falls_smoothly_with_the_offset(job):
    clip = job[2]
    syncs = [
        _score(job, simulate(clip.audio, clip.sample_rate, [Offset(o)]).audio if o else clip.audio).sync
        for o in (0.0, 0.05, 0.1, 0.2)
    ]
    assert syncs == sorted(syncs, reverse=True) and syncs[0] > syncs[-1] + 0.5


def test_dropouts_lower_alignment(job):
    clip = job[2]
    gapped = simulate(clip.audio, clip.sample_rate, [Dropouts(2, 80.0)], seed=2).audio
    scores = _score(job, gapped)
    assert scores.alignment < T and len(scores.details["blanks"]) == 2
    assert scores.sync >= T


def test_scores_are_cached_and_video_is_never_decoded_again(job):
    scorer, features, clip = job
    first = scorer.score(clip.audio, clip.sample_rate, features)
    assert scorer.score(clip.audio.copy(), clip.sample_rate, features) is first
    assert clip.decodes == 1  # prepare_video decoded once; every score above reused the features


def test_described_video_is_reused_without_decoding(job):
    _, features, clip = job
    v = features.visual
    series = lambda values: SimpleNamespace(values=values, start_s=v.start_s)  # noqa: E731
    nothing = np.full(v.channels.shape[0], np.nan, dtype=np.float32)
    description = SimpleNamespace(
        regional_motion=v.channels,
        motion_grid=(4, 4),
        mouth_motion=series(nothing),
        mouth_activity=series(nothing),
        motion_energy=series(nothing),
        scene_cuts=[],
        fps_analysed=v.rate_hz,
    )
    scorer = osc.OfflineScorer()
    reused = scorer.prepare_video(clip, description=description)  # clip.forbid is set: decoding would raise
    assert reused.source == "describer"
    scores = scorer.score(clip.audio, clip.sample_rate, reused)
    assert scores.meets(T) and abs(scores.details["offset_s"]) < 0.04


def test_still_video_has_no_cue_and_does_not_ask_for_sync_repairs(tmp_path):
    clip = load_clip(make_clip(tmp_path / "still.mp4", seed=3, visual_events=False).path)
    scorer = osc.OfflineScorer()
    features = scorer.prepare_video(clip)
    for audio in (clip.audio, simulate(clip.audio, clip.sample_rate, [Offset(0.6)]).audio):
        scores = scorer.score(audio, clip.sample_rate, features)
        assert scores.details["no_sync_cue"] and scores.details["repair_speed"] is None
        assert scores.sync >= T  # documented: an offset that cannot be measured is not "repaired"
        assert scores.alignment >= T


def test_big_buck_bunny_documented_behaviour():
    """BBB (quiet ambience, a bunny stretching): nothing on screen makes a sound, so there is no sync cue and sync
    is NO_CUE_SYNC; the audio is clean but very quiet (-49 LUFS), and alignment stays above the threshold."""
    try:
        clip = load_clip(bigbuckbunny_path())
    except AvagentError as e:
        pytest.skip(str(e))
    scorer = osc.OfflineScorer()
    scores = scorer.score(clip.audio, clip.sample_rate, scorer.prepare_video(clip))
    assert scores.details["no_sync_cue"]
    assert scores.sync == pytest.approx(osc.NO_CUE_SYNC, abs=0.03)
    assert scores.alignment >= T and scores.alignment < 0.99  # the level factor notices how quiet it is
    assert scores.details["loudness_lufs"] == pytest.approx(-49.4, abs=1.0)


def test_calibration_functions_are_monotone_and_documented():
    assert abs(osc.SYNC_SIGMA_S - 0.1316) < 1e-3  # g = 0.85 at SYNC_TOLERANCE_S
    assert osc.logistic(1.7346) == pytest.approx(T, abs=1e-3)  # the "crossing = mid + 1.7346 * width" rule
    assert osc.sync_confidence(osc.sync_lib.MIN_CUE_STRENGTH) < 0.06  # flagged clips keep sync >= 0.85
    clean = SimpleNamespace(snr_db=40.0, blanks=(), clipping_ratio=0.0, loudness_lufs=-20.0)
    noisy = [SimpleNamespace(**{**vars(clean), "snr_db": snr}) for snr in (20.0, 15.0, 10.0, 0.0)]
    values = [np.prod(list(osc.alignment_factors(d, 1.0, 1.0).values())) for d in [clean, *noisy]]
    assert values == sorted(values, reverse=True) and values[0] > 0.99 and values[-1] < 0.01


def test_wrong_inputs_are_refused(job):
    scorer, _, clip = job
    with pytest.raises(ParameterError):
        scorer.score(clip.audio, clip.sample_rate, None)
    with pytest.raises(ParameterError):
        scorer.prepare_video(SimpleNamespace(video=None))
    with pytest.raises(ParameterError):
        osc.OfflineScorer(analysis_width=8)
    assert isinstance(job[1].visual, VisualActivity)
