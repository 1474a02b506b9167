"""The offline video describer: ImageNet labels, the analysis grid, faces, mouths, motion, cuts, real clip."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from avagent.core.errors import ParameterError
from avagent.tools import imagenet
from avagent.tools.faces import FaceDetector, FaceLandmarker, Roi
from avagent.tools.video import (
    OfflineVideoDescriber,
    VideoDescriberOptions,
    decode_size,
    get_video_describer,
)
from tests.tools.test_faces import _open_mouth

FPS = 25.0
W, H = 640, 360
CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


# --- ImageNet -----------------------------------------------------------------------------------------------


def test_class_names_are_the_imagenet_1k_list():
    names, synsets = imagenet.class_names(), imagenet.synset_ids()
    assert len(names) == len(synsets) == 1000
    assert (names[0], synsets[0]) == ("tench", "n01440764")
    assert (names[285], synsets[285]) == ("Egyptian cat", "n02124075")
    assert names[967] == "espresso"


def test_imagenet_labels_for_real_photos():
    classifier = imagenet.load_classifier()
    cat = classifier.top_labels([skimage_data.chelsea()], k=3)
    assert {name for name, _ in cat} <= CAT_CLASSES | {"red fox", "tiger"} and cat[0][0] in CAT_CLASSES
    assert sum(score for name, score in cat if name in CAT_CLASSES) > 0.6
    coffee = classifier.top_labels([skimage_data.coffee()], k=3)
    assert coffee[0][0] == "espresso" and coffee[0][1] > 0.5


def test_preprocess_shape_and_range():
    x = imagenet.preprocess(np.full((100, 300, 3), 255, np.uint8))
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    assert x.max() == pytest.approx((255 - 127) / 128)
    with pytest.raises(ParameterError):
        imagenet.preprocess(np.zeros((10, 10), np.uint8))


# --- a synthetic clip with a face, a mouth that opens, a moving block and a cut -----------------------------


def _texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(60, 200, (H // 10, W // 10, 3)).repeat(10, 0).repeat(10, 1).astype(np.uint8)


@pytest.fixture(scope="module")
def synthetic_frames() -> list[tuple[float, np.ndarray]]:
    """3 s at 25 fps: 0-2 s a face (mouth open 0.8-1.2 s) and a block moving at 1.4-1.56 s; a cut at 2.0 s."""
    astronaut = skimage_data.astronaut()
    lm = FaceLandmarker()(astronaut, Roi.from_detection(FaceDetector()(astronaut)[0]))
    faces = {False: astronaut, True: _open_mouth(astronaut, lm, gap_px=12)}
    shot_a, shot_b = _texture(1), _texture(2)
    frames = []
    for k in range(75):
        t = k / FPS
        if k < 50:
            frame = shot_a.copy()
            frame[20:340, 20:340] = cv2.resize(faces[20 <= k < 30], (320, 320), interpolation=cv2.INTER_AREA)
            if 35 <= k < 39:  # a white block moving in the bottom-right grid cell (row 3, col 3)
                x = 500 + 15 * (k - 35)
                frame[290:340, x : x + 40] = 255
        else:
            frame = shot_b.copy()
        frames.append((t, frame))
    return frames


@pytest.fixture(scope="module")
def synthetic_description(synthetic_frames):
    return OfflineVideoDescriber().describe(iter(synthetic_frames), fps=FPS, duration_s=3.0)


def test_time_series_share_one_uniform_grid(synthetic_description):
    d = synthetic_description
    assert d.fps_analysed == FPS and d.duration_s == 3.0
    for series in (d.motion_energy, d.mouth_activity, d.mouth_motion, d.mouth_openings):
        assert len(series) == 75 and series.rate_hz == FPS and series.start_s == 0.0
    assert d.mouth_openings.values.shape == (75, 2)
    assert d.regional_motion.shape == (75, 16) and d.motion_grid == (4, 4)
    np.testing.assert_allclose(d.times_s, np.arange(75) / FPS)


def test_cut_and_motion_are_placed_in_time_and_space(synthetic_description):
    d = synthetic_description
    assert d.scene_cuts == [pytest.approx(2.0)]
    energy = d.motion_energy.values
    assert int(np.argmax(energy)) == 50  # the cut is the biggest change
    block = d.regional_motion[35:40]
    assert int(np.argmax(block.mean(axis=0))) == 15  # bottom-right cell
    assert np.argmax(d.regional_motion[:, 15][30:45]) + 30 in range(35, 40)


def test_faces_and_mouth_activity(synthetic_description):
    d = synthetic_description
    mouth = d.mouth_activity.values
    assert np.isfinite(mouth[:50]).all()  # the face is tracked in every frame of the first shot
    assert np.isnan(mouth[50:]).all()  # ...and nowhere after the cut
    assert d.faces.frame_fraction == pytest.approx(50 / 75, abs=0.01)
    assert d.faces.max_faces == 1
    assert 0.12 < d.faces.mean_face_height < 0.3  # forehead to chin: ~60 px of the 320-px inset, in 360 px
    assert np.nanmean(mouth[21:30]) > np.nanmean(mouth[:19]) + 0.015  # the mouth opens at frames 20-29
    assert np.nanmax(d.mouth_motion.values[19:22]) > 3 * np.nanmedian(d.mouth_motion.values[1:19])


def test_caption_and_dict(synthetic_description):
    d = synthetic_description
    assert "two shots (cut at 2.0 s)" in d.caption
    assert "one face" in d.caption
    assert d.backend == "offline" and "efficientnet-lite0" in d.model_version
    assert len(d.labels) == 5 and all(0 <= score <= 1 for _, score in d.labels)
    summary = json.loads(json.dumps(d.to_dict()))
    assert summary["scene_cuts"] == [2.0]
    assert summary["mouth_activity"]["defined_fraction"] == pytest.approx(50 / 75, abs=0.01)
    full = json.loads(json.dumps(d.to_dict(series=True)))
    assert full["mouth_activity"]["values"][60] is None
    assert len(full["regional_motion"]["values"]) == 75
    assert [len(row) for row in full["mouth_openings"]["values"]] == [2] * 75  # one column per face slot
    assert set(d.timings_s) >= {"decode", "motion", "faces", "labels", "total"}


def test_out_of_order_and_denser_timestamps(synthetic_frames):
    describer = OfflineVideoDescriber(analysis_fps=12.5)
    # pts of neighbouring frames swapped (as PyAV reports for some AVI files), at 25 fps into a 12.5 Hz grid
    frames = list(synthetic_frames[:40])
    for i in range(1, 38, 4):
        frames[i], frames[i + 1] = frames[i + 1], frames[i]
    d = describer.describe(frames, fps=FPS)
    assert d.fps_analysed == 12.5
    # frame 39 (1.56 s) lands on slot round(19.5) = 20: 21 slots, each filled by exactly one frame
    assert len(d.motion_energy) == 21 and np.isfinite(d.motion_energy.values).all()
    np.testing.assert_allclose(d.motion_energy.times_s, np.arange(21) / 12.5)
    assert np.isfinite(d.mouth_activity.values).all()


def test_gaps_are_nan_and_empty_input_is_described():
    frames = [(k / FPS, _texture(3)) for k in (0, 1, 2, 6, 7)]
    d = OfflineVideoDescriber().describe(frames, fps=FPS)
    assert len(d.motion_energy) == 8
    assert np.isnan(d.motion_energy.values[3:6]).all() and np.isfinite(d.motion_energy.values[6])
    regional = d.to_dict(series=True)["regional_motion"]
    assert regional["values"][4] == [None] * 16 and len(regional["mean_per_region"]) == 16
    empty = OfflineVideoDescriber().describe([], fps=FPS)
    assert len(empty.motion_energy) == 0 and empty.labels == [] and empty.scene_cuts == []
    assert json.dumps(empty.to_dict())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, None),
        ({"analysis_fps": 0}, ParameterError),
        ({"label_fps": float("nan")}, ParameterError),
        ({"decode_width": 100}, ParameterError),
        ({"face_model": "back"}, ParameterError),
        ({"max_faces": 0}, ParameterError),
        ({"motion_grid": (0, 3)}, ParameterError),
        ({"cut_threshold": 1.5}, ParameterError),
    ],
)
def test_options_are_validated(kwargs, error):
    if error is None:
        assert VideoDescriberOptions(**kwargs).analysis_fps == 25.0
    else:
        with pytest.raises(error):
            VideoDescriberOptions(**kwargs)


def test_bad_frames_and_fps_are_rejected():
    describer = OfflineVideoDescriber()
    with pytest.raises(ParameterError):
        describer.describe([(0.0, np.zeros((10, 10, 3), np.float32))], fps=FPS)
    with pytest.raises(ParameterError):
        describer.describe([], fps=0)


def test_factory_and_decode_size():
    assert isinstance(get_video_describer("offline", analysis_fps=10), OfflineVideoDescriber)
    assert get_video_describer("offline", analysis_fps=10).options.analysis_fps == 10
    with pytest.raises(ParameterError):
        get_video_describer("nope")
    assert decode_size(1280, 720, 640) == (640, 360)
    assert decode_size(320, 240, 640) is None


# --- a real clip --------------------------------------------------------------------------------------------


def test_big_buck_bunny_is_described_quickly():
    from avagent.core.media import load_clip
    from avagent.core.samples import SampleNotFoundError, bigbuckbunny_path

    try:
        path = bigbuckbunny_path()
    except SampleNotFoundError as e:
        pytest.skip(str(e))
    clip = load_clip(path, require_video=True, require_audio=False)
    describer = OfflineVideoDescriber()
    describer.describe_clip(clip)  # warm: model loading is a once-per-process cost
    started = time.perf_counter()
    d = describer.describe_clip(clip)
    seconds = time.perf_counter() - started
    assert d.fps_analysed == 25.0 and d.duration_s == pytest.approx(5.3, abs=0.1)
    assert len(d.motion_energy) == pytest.approx(132, abs=1)
    assert np.isfinite(d.motion_energy.values).all()
    assert 0.001 < float(np.median(d.motion_energy.values[1:])) < 0.02  # the bunny stretches; the camera holds
    assert d.scene_cuts == []  # one continuous shot
    assert d.faces.frame_fraction < 0.1  # a cartoon rabbit, not a human face
    assert len(d.labels) == 5 and "a single continuous shot" in d.caption
    assert seconds < 8.0, d.timings_s  # ~0.7-1.6 s on an idle 2-core CPU; generous for shared CI machines
