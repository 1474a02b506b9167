"""Face detection, face mesh and mouth opening with MediaPipe's models on LiteRT, on real photographs."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from avagent.core.errors import ParameterError
from avagent.tools.faces import (
    DETECTOR_LAYOUTS,
    FaceDetector,
    FaceLandmarker,
    FaceTracker,
    Roi,
    ssd_anchors,
    weighted_nms,
)

# scikit-image's `astronaut` (Eileen Collins, public domain, 512 x 512): the face spans about x 175-275, y
# 75-180.
FACE_CENTRE = (225, 128)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector("short")


@pytest.fixture(scope="module")
def landmarker() -> FaceLandmarker:
    return FaceLandmarker()


def test_anchor_layouts_match_the_models():
    assert ssd_anchors(128, DETECTOR_LAYOUTS["short"][2]).shape == (896, 2)
    assert ssd_anchors(192, DETECTOR_LAYOUTS["full"][2]).shape == (2304, 2)


@pytest.mark.parametrize("model", ["short", "full"])
def test_detects_the_astronaut_face(astronaut, model):
    faces = FaceDetector(model)(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.8
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    assert abs(cx - FACE_CENTRE[0]) < 20 and abs(cy - FACE_CENTRE[1]) < 20
    assert 70 < face.width < 130 and 70 < face.height < 130
    right_eye, left_eye, nose, mouth = face.keypoints[:4]
    assert right_eye[0] < left_eye[0]  # subject's right eye is on the image's left
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]


@pytest.mark.parametrize("model", ["short", "full"])
def test_no_face_in_noise_or_flat_images(model):
    detect = FaceDetector(model)
    noise = np.random.default_rng(0).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    assert detect(noise) == []
    assert detect(np.full((240, 320, 3), 128, np.uint8)) == []


def test_landmark_geometry(astronaut, detector, landmarker):
    face = detector(astronaut)[0]
    lm = landmarker(astronaut, Roi.from_detection(face))
    assert lm.points.shape == (468, 3)
    assert lm.presence > 0.9
    assert 0.8 * face.height < lm.face_height < 1.6 * face.height
    # vertical order on an upright face: forehead (10) < nose tip (1) < upper lip (13) <= lower lip (14) <
    # chin (152)
    y = lm.points[:, 1]
    assert y[10] < y[1] < y[13] <= y[14] < y[152]
    # the inner-lip points sit within the detector's mouth keypoint neighbourhood
    assert np.linalg.norm(lm.points[13, :2] - face.keypoints[3]) < 0.2 * face.height
    assert 0.0 <= lm.mouth_opening < 0.15
    # tracking from the landmarks' own ROI gives the same mesh
    again = landmarker(astronaut, Roi.from_landmarks(lm.points))
    assert np.abs(again.points[:, :2] - lm.points[:, :2]).max() < 0.05 * lm.face_height


def _open_mouth(image: np.ndarray, lm, gap_px: int) -> np.ndarray:
    """Drop the jaw by `gap_px` under the lip line and paint a dark mouth cavity in the gap."""
    out = image.copy()
    y_mid = round((lm.points[13, 1] + lm.points[14, 1]) / 2)
    x0, x1 = int(lm.box[0]) - 20, int(lm.box[2]) + 20
    out[y_mid + gap_px :, x0:x1] = image[y_mid : image.shape[0] - gap_px, x0:x1]
    mouth_l, mouth_r = int(lm.points[61, 0]), int(lm.points[291, 0])
    centre = ((mouth_l + mouth_r) // 2, y_mid + gap_px // 2)
    cv2.ellipse(out, centre, (int(0.4 * (mouth_r - mouth_l)), gap_px // 2 + 1), 0, 0, 360, (40, 10, 10), -1)
    return out


def test_mouth_opening_grows_when_the_mouth_opens(astronaut, detector, landmarker):
    closed = landmarker(astronaut, Roi.from_detection(detector(astronaut)[0]))
    opened_image = _open_mouth(astronaut, closed, gap_px=12)
    opened = landmarker(opened_image, Roi.from_detection(detector(opened_image)[0]))
    assert opened.presence > 0.9
    assert opened.mouth_opening > closed.mouth_opening + 0.02


def test_rotated_face_is_found_and_levelled(astronaut, detector, landmarker):
    rotated = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((256, 256), 30, 1.0), (512, 512))
    faces = detector(rotated)
    assert len(faces) == 1
    lm = landmarker(rotated, Roi.from_detection(faces[0]))
    assert lm.presence > 0.9
    # cv2 rotates counter-clockwise on screen: the eye line tilts by -30 degrees in image coordinates (y down)
    assert math.degrees(Roi.from_landmarks(lm.points).angle) == pytest.approx(-30, abs=8)


class _CountingDetector:
    def __init__(self, detector: FaceDetector) -> None:
        self.detector, self.calls = detector, 0

    def __call__(self, frame):
        self.calls += 1
        return self.detector(frame)


def test_tracker_follows_a_moving_face_between_detections(astronaut, detector, landmarker):
    counting = _CountingDetector(detector)
    tracker = FaceTracker(counting, landmarker, detect_every=5, max_faces=2)
    centres = []
    for k in range(10):  # the face drifts right by 4 px per frame
        frame = np.roll(astronaut, 4 * k, axis=1)
        slots = tracker.update(frame)
        assert slots[0] is not None and slots[1] is None
        centres.append(slots[0].points[1, 0])  # nose tip x
    assert counting.calls == 2  # frames 0 and 5; the other 8 were tracked from the previous landmarks
    assert np.diff(centres) == pytest.approx(4, abs=1.5)
    noise = np.random.default_rng(1).integers(0, 256, astronaut.shape, dtype=np.uint8)
    assert tracker.update(noise) == [None, None]  # the track is dropped when the face disappears


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    out_boxes, _, out_scores = weighted_nms(boxes, kps, scores)
    assert len(out_boxes) == 2
    assert out_scores.tolist() == pytest.approx([0.9, 0.8])
    assert out_boxes[0][0] == pytest.approx(0.4, abs=1e-4)  # (0 * 0.9 + 1 * 0.6) / 1.5


@pytest.mark.parametrize(("kwargs", "error"), [({"model": "back"}, ParameterError), ({"model": "full"}, None)])
def test_detector_model_names(kwargs, error):
    if error is None:
        assert FaceDetector(**kwargs).input_size == 192
    else:
        with pytest.raises(error):
            FaceDetector(**kwargs)
