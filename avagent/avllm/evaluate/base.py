"""The task interface every benchmark implements, and the options and records they share.

A task knows three things (issue 6): how its ground truth is read (`read_ground_truth`), how a free-text
answer is parsed (`parse`, raising `UnparsableAnswer`), and its metrics (`score`). `score` receives every
ground-truth sample, with ``parsed=None`` for answers that could not be parsed or are missing, and must count
those as wrong with the metric's own worst value; nothing is dropped.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from avagent.avllm.evaluate.judge import Judge
from avagent.avllm.evaluate.predictions import Prediction
from avagent.core.errors import ParameterError

DEFAULT_MASK_SIZE = 224  # AVSBench and Crab+ compute 𝒥 / ℱ on 224 x 224 masks
AVSS_CLASSES = 71  # AVSBench-semantic label count (incl. background)


@dataclass(frozen=True)
class MetricSpec:
    """A reported number: its name, exact definition (with the reference it follows) and direction."""

    name: str  # a trailing "*" makes it a pattern (e.g. "acc_*" for per-group accuracies)
    definition: str
    higher_is_better: bool = True
    percent: bool = True  # shown x100 in tables (stored as a fraction)

    def matches(self, name: str) -> bool:
        return name.startswith(self.name[:-1]) if self.name.endswith("*") else name == self.name


@dataclass(frozen=True)
class EvalOptions:
    """Task options; each reaches the tasks that use it and is recorded in the results."""

    mask_size: int | None = field(
        default=DEFAULT_MASK_SIZE,
        metadata={"help": "side of the square masks are resized to (nearest) before 𝒥/ℱ; None: ground truth size"},
    )
    mask_from_box: bool = field(
        default=False,
        metadata={"help": "segmentation without a predicted mask: rasterise the answer's box as the mask (proxy)"},
    )
    consensus: str = field(
        default="union",
        metadata={"help": "ARIG consensus map of several boxes: 'union' (VGG-SS) or 'flickr'"},
    )
    image_size: tuple[int, int] | None = field(
        default=None, metadata={"help": "(w, h) coordinate space of boxes when a record does not give one"}
    )
    labels: tuple[str, ...] = field(
        default=(),
        metadata={"help": "extra class names for classification tasks (beyond the ground truth's)"},
    )
    avss_classes: int = field(default=AVSS_CLASSES, metadata={"help": "number of AVSS classes incl. background"})

    def __post_init__(self) -> None:
        if self.mask_size is not None and self.mask_size <= 0:
            raise ParameterError("mask_size must be a positive number of pixels")
        if self.consensus not in ("union", "flickr"):
            raise ParameterError("consensus must be 'union' or 'flickr'")
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) <= 0):
            raise ParameterError("image_size must be two positive numbers (w, h)")
        if self.avss_classes < 2:
            raise ParameterError("avss_classes must be at least 2")


@dataclass(frozen=True)
class RunContext:
    """Everything a task needs besides the samples."""

    options: EvalOptions
    judge: Judge | None = None  # open-QA tasks only
    state: Any = None  # what `Task.prepare` built from the ground truth (label matcher, vocabulary, ...)


@dataclass(frozen=True)
class Item:
    """One ground-truth sample with its parsed prediction (None: unparsable or missing)."""

    id: str
    gt: Any
    parsed: Any | None
    prediction: Prediction | None = None


@dataclass(frozen=True)
class TaskScores:
    """Output of `Task.score`."""

    metrics: dict[str, float]
    per_sample: dict[str, dict[str, Any]]  # id -> this sample's scores


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples and paths as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


class Task(ABC):
    """A benchmark: ground-truth reader, answer parser and metrics."""

    name: ClassVar[str]
    title: ClassVar[str]
    family: ClassVar[str]
    gt_formats: ClassVar[str]  # the annotation formats `read_ground_truth` accepts, for help texts
    metrics: ClassVar[tuple[MetricSpec, ...]]
    primary: ClassVar[str]  # the metric shown first and used for probe drops
    uses_judge: ClassVar[bool] = False  # open-QA tasks score with a `Judge`

    @abstractmethod
    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, Any]:
        """Ground truth by sample id (raises `GroundTruthError`)."""

    def prepare(self, gts: dict[str, Any], ctx: RunContext) -> Any:
        """State shared by all samples (e.g. the label matcher); stored as ``ctx.state``."""
        return None

    @abstractmethod
    def parse(self, prediction: Prediction, gt: Any, ctx: RunContext) -> Any:
        """The structured answer (raises `UnparsableAnswer`)."""

    @abstractmethod
    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        """Metrics over all items, unparsable ones counted as wrong."""

    def describe(self, parsed: Any) -> Any:
        """JSON form of a parsed answer for the per-sample records."""
        return to_jsonable(parsed)

    def describe_gt(self, gt: Any) -> Any:
        """JSON form of a ground-truth sample for the per-sample records."""
        return to_jsonable(gt)

    def metric_spec(self, name: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.matches(name)), None)
