"""The synthetic AV generator: real recordings on a timeline, pictures that follow their timing, exact truth."""

from __future__ import annotations

import itertools
import time

import av
import numpy as np
import pytest

from avagent.core.media import load_clip
from avagent.core.synthetic_av import SAMPLE_RATE, SyntheticMediaError, make_clip


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic_av") / "clip.mp4"
    started = time.perf_counter()
    clip = make_clip(path, seed=4, duration_s=10.0)
    return clip, time.perf_counter() - started


def test_writes_h264_and_aac_with_the_requested_geometry(generated):
    clip, _ = generated
    with av.open(str(clip.path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert audio.codec_context.name == "aac"
        assert (video.width, video.height) == clip.size == (320, 240)
        assert float(video.average_rate) == pytest.approx(25.0)
        assert audio.rate == SAMPLE_RATE
        assert container.duration / av.time_base == pytest.approx(10.0, abs=0.1)


def test_ground_truth_is_consistent(generated):
    clip, _ = generated
    names = {s.name for s in clip.sources}
    assert len(clip.sources) == 3 and "speech" in names  # two objects and a talking face by default
    assert clip.events and {e.source for e in clip.events} == names
    for event in clip.events:
        assert 0.0 < event.start_s < event.end_s < clip.duration_s
    for name in names:  # a source never overlaps itself
        own = sorted((e.start_s, e.end_s) for e in clip.events if e.source == name)
        assert all(b[0] > a[1] for a, b in itertools.pairwise(own))
    assert clip.audio.shape == (1, round(10.0 * SAMPLE_RATE)) and clip.audio.dtype == np.float32
    assert 0.05 < np.max(np.abs(clip.audio)) <= 0.9


def test_the_decoded_audio_is_the_mix_without_delay(generated):
    clip, _ = generated
    decoded = load_clip(clip.path)
    n = min(decoded.audio.shape[1], clip.audio.shape[1])
    ref, got = clip.audio[0, :n].astype(np.float64), decoded.audio.mean(axis=0)[:n].astype(np.float64)
    lags = np.arange(-200, 201)
    corr = [np.dot(ref[200:-200], np.roll(got, -lag)[200:-200]) for lag in lags]
    assert lags[int(np.argmax(corr))] == 0  # AAC priming is signalled, so sample 0 is sample 0
    assert np.corrcoef(ref, got)[0, 1] > 0.99


def _brightness_near(frames: list[np.ndarray], centre: tuple[float, float]) -> np.ndarray:
    h, w = frames[0].shape[:2]
    x, y = round(centre[0] * w), round(centre[1] * h)
    return np.array([f[y - 3 : y + 4, x - 3 : x + 4].astype(float).mean() for f in frames])


def test_objects_light_up_exactly_while_their_sound_plays(generated):
    clip, _ = generated
    frames = [f for _, f in load_clip(clip.path).frames()]
    for source in (s for s in clip.sources if s.kind == "object"):
        level = _brightness_near(frames, source.centre)
        events = [e for e in clip.events if e.source == source.name]
        on = np.zeros(len(frames), dtype=bool)
        for e in events:
            on[int(e.start_s * clip.fps) + 1 : int(e.end_s * clip.fps)] = True
        quiet = np.ones(len(frames), dtype=bool)
        for e in events:  # frames well away from any event (the release fades over 0.2 s)
            quiet[max(0, int(e.start_s * clip.fps) - 2) : int((e.end_s + 0.4) * clip.fps)] = False
        assert level[on].mean() > level[quiet].mean() + 20
        first = int(events[0].start_s * clip.fps)  # frame `first` covers the onset: it is already lit
        assert level[first + 1] > level[first - 1] + 20


def test_same_seed_same_clip_other_seed_other_clip(tmp_path, generated):
    clip, _ = generated
    again = make_clip(tmp_path / "again.mp4", seed=4, duration_s=10.0)
    other = make_clip(tmp_path / "other.mp4", seed=5, duration_s=10.0)
    assert again.events == clip.events and again.sources == clip.sources
    np.testing.assert_array_equal(again.audio, clip.audio)
    assert other.events != clip.events


def test_audio_offset_delays_the_sounds_not_the_pictures(tmp_path):
    base = make_clip(tmp_path / "base.mp4", seed=2, duration_s=4.0, n_objects=1, speech=False)
    late = make_clip(tmp_path / "late.mp4", seed=2, duration_s=4.0, n_objects=1, speech=False, audio_offset_s=0.25)
    assert late.events == base.events  # ground truth stays in video time
    shift = round(0.25 * SAMPLE_RATE)
    # The sounds move by exactly 0.25 s; only the (unshifted) room tone, 40 dB down, differs.
    assert np.corrcoef(late.audio[0, shift:], base.audio[0, :-shift])[0, 1] > 0.99
    assert np.corrcoef(late.audio[0], base.audio[0])[0, 1] < 0.5


def test_still_clip_has_no_moving_picture(tmp_path):
    clip = make_clip(tmp_path / "still.mp4", seed=1, duration_s=3.0, visual_events=False)
    frames = np.array([f for _, f in load_clip(clip.path).frames()], dtype=float)
    assert not clip.visual_events
    # Only sensor noise and coding noise change between frames (a few grey levels on average).
    assert np.abs(np.diff(frames, axis=0)).mean() < 3.0
    assert np.abs(clip.audio).max() > 0.05  # the sounds are still there


def test_generation_is_fast(generated):
    _, seconds = generated
    assert seconds < 6.0  # about 0.5 s on an idle 2-core machine; generous for a shared CPU


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration_s": 1.0}, "duration_s"),
        ({"size": (321, 240)}, "size"),
        ({"fps": 100}, "fps"),
        ({"n_objects": 0, "speech": False}, "n_objects"),
        ({"audio_offset_s": 5.0}, "audio_offset_s"),
    ],
)
def test_invalid_parameters_are_refused(tmp_path, kwargs, message):
    with pytest.raises(SyntheticMediaError, match=message):
        make_clip(tmp_path / "bad.mp4", **kwargs)
