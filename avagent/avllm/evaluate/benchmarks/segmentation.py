"""S4, MS3, Ref-AVS (𝒥 / ℱ), the Ref-AVS null set (S) and AVSS (semantic 𝒥 / ℱ).

Ground truth: JSONL ``{id, masks: [source, ...], group?}`` (one mask source per evaluated frame: PNG path or
COCO RLE; ``group`` such as "seen" / "unseen" adds per-group metrics), or an AVSBench ``gt_masks`` folder tree
(leaf folder = video id). The null set needs only ``{id, frames: N}``.

Predictions carry masks (``masks`` / ``mask`` keys or a mask folder tree; see `predictions`), one per frame.
Without a mask, an answer that says the object is absent (Crab+ Ref-AVS "false" / "absent") predicts empty
masks, and with ``--mask-from-box`` the answer's box is rasterised as a stand-in for SAM2 prompting (Crab+
feeds its box and points to SAM2, which this evaluator does not run). Anything else is unparsable: 𝒥 = ℱ = 0,
S = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avagent.avllm.evaluate.base import EvalOptions, Item, MetricSpec, RunContext, Task, TaskScores
from avagent.avllm.evaluate.errors import GroundTruthError
from avagent.avllm.evaluate.masks import box_to_mask, load_label_map, load_mask, resize_nearest
from avagent.avllm.evaluate.metrics.segmentation import (
    AvssAccumulator,
    avsbench_fmeasure,
    avsbench_frame_iou,
    crabplus_frame_jf,
    refavs_null_s,
)
from avagent.avllm.evaluate.parsing import UnparsableAnswer, parse_box, parse_presence
from avagent.avllm.evaluate.predictions import Prediction
from avagent.avllm.evaluate.readers import index_records, read_mask_tree, read_records

SEGMENTATION_FRAME = (224, 224)  # Crab+ box / point coordinates are pixels of the 224 x 224 frame
UNPARSABLE_NULL_S = 1.0  # worst null-set score: every pixel foreground


@dataclass(frozen=True)
class MaskTruth:
    frames: tuple[Any, ...]  # mask sources, one per evaluated frame
    base_dir: Path | None
    group: str | None = None


@dataclass(frozen=True)
class MaskAnswer:
    how: str  # "masks", "absent" or "box_raster"
    sources: tuple[Any, ...] | None = None
    base_dir: Path | None = None
    box: tuple[float, ...] | None = None
    box_space: tuple[float, float] | None = None  # (w, h) of the box coordinates


def read_mask_truth(path: Path, *, allow_frame_count: bool = False) -> dict[str, MaskTruth]:
    """Mask ground truth from a folder tree or JSONL (see module docstring)."""
    if path.is_dir():
        return {k: MaskTruth(tuple(str(f) for f in v), None) for k, v in read_mask_tree(path).items()}
    out = {}
    for rid, r in index_records(read_records(path), path).items():
        masks = r.get("masks") or ([r["mask"]] if r.get("mask") is not None else None)
        if masks is None and allow_frame_count and int(r.get("frames", 0)) > 0:
            masks = [None] * int(r["frames"])
        if not masks:
            raise GroundTruthError(f"{path}: {rid} needs 'masks' (one source per frame)")
        group = r.get("group", r.get("split"))
        out[rid] = MaskTruth(tuple(masks), path.parent, None if group is None else str(group))
    return out


def _check_source(source: Any, base_dir: Path | None) -> None:
    if isinstance(source, dict):
        if "counts" not in source and not source.get("empty"):
            raise UnparsableAnswer("mask dict is neither RLE nor {'empty': true}")
        return
    path = Path(str(source))
    path = path if path.is_absolute() or base_dir is None else base_dir / path
    if not path.is_file():
        raise UnparsableAnswer(f"mask file not found: {path}")


def parse_mask_answer(prediction: Prediction, n_frames: int, options: EvalOptions) -> MaskAnswer:
    """Where the predicted masks come from (rules in the module docstring)."""
    if prediction.masks is not None:
        if len(prediction.masks) != n_frames:
            raise UnparsableAnswer(f"{len(prediction.masks)} predicted masks for {n_frames} frames")
        for source in prediction.masks:
            _check_source(source, prediction.base_dir)
        return MaskAnswer("masks", prediction.masks, prediction.base_dir)
    if parse_presence(prediction.text) is False:
        return MaskAnswer("absent")
    if options.mask_from_box:
        box = parse_box(prediction.text).box
        space = prediction.extra.get("image_size") or options.image_size or SEGMENTATION_FRAME
        return MaskAnswer("box_raster", box=box, box_space=(float(space[0]), float(space[1])))
    raise UnparsableAnswer("no predicted mask and no statement that the object is absent")


def _eval_shape(gt: np.ndarray, options: EvalOptions) -> tuple[int, int]:
    return (options.mask_size, options.mask_size) if options.mask_size else gt.shape  # type: ignore[return-value]


def predicted_frames(answer: MaskAnswer, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """Binary predicted masks, one per frame, at the given shapes."""
    if answer.how == "absent":
        return [np.zeros(s, dtype=bool) for s in shapes]
    if answer.how == "box_raster":
        return [box_to_mask(answer.box, size=s, coord_size=answer.box_space) for s in shapes]  # type: ignore[arg-type]
    masks = [load_mask(src, base_dir=answer.base_dir) for src in answer.sources or ()]
    return [resize_nearest(m, s) for m, s in zip(masks, shapes, strict=True)]


def _group_means(items: list[Item], per_sample: dict[str, dict[str, Any]], keys: tuple[str, ...]) -> dict:
    out: dict[str, float] = {}
    groups = sorted({it.gt.group for it in items if it.gt.group is not None})
    for group in groups:
        members = [per_sample[it.id] for it in items if it.gt.group == group]
        for key in keys:
            out[f"{key}_{group}"] = float(np.mean([m[key] for m in members]))
    return out


class MaskTask(Task):
    """Binary-mask segmentation (S4, MS3, Ref-AVS seen / unseen)."""

    family = "pixel"
    gt_formats = "AVSBench gt_masks folder tree, or JSONL {id, masks: [PNG path | COCO RLE, ...], group?}"
    primary = "jaccard"
    metrics = (
        MetricSpec(
            "jaccard",
            "AVSBench 𝒥: per video, mean over frames of mask_iou (empty GT frame: shared "
            "background fraction); mean over videos (AVSBench utility.py mask_iou)",
        ),
        MetricSpec(
            "fmeasure",
            "AVSBench ℱ (β²=0.3): per video, max over 255 thresholds of the mean F over frames "
            "with foreground; mean over videos (AVSBench utility.py Eval_Fmeasure)",
        ),
        MetricSpec(
            "jaccard_per_frame",
            "Crab+ J: |P∩G|/|P∪G| (1 if both empty), mean over all frames "
            "(Crab_Plus seg/scripts/inference_3.py calculate_metrics)",
        ),
        MetricSpec(
            "fmeasure_per_frame",
            "Crab+ F (β²=0.3) on binary masks, mean over all frames (Crab_Plus calculate_metrics)",
        ),
        MetricSpec("jaccard_*", "𝒥 within a ground-truth group (e.g. Ref-AVS seen / unseen)"),
        MetricSpec("fmeasure_*", "ℱ within a ground-truth group"),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, MaskTruth]:
        return read_mask_truth(path)

    def parse(self, prediction: Prediction, gt: MaskTruth, ctx: RunContext) -> MaskAnswer:
        return parse_mask_answer(prediction, len(gt.frames), ctx.options)

    def _sample(self, it: Item, options: EvalOptions) -> dict[str, Any]:
        gts = [load_mask(src, base_dir=it.gt.base_dir) for src in it.gt.frames]
        gts = [resize_nearest(g, _eval_shape(g, options)) for g in gts]
        if it.parsed is None:
            n = len(gts)
            return {"jaccard": 0.0, "fmeasure": 0.0, "frame_j": [0.0] * n, "frame_f": [0.0] * n}
        preds = predicted_frames(it.parsed, [g.shape for g in gts])
        frame_jf = [crabplus_frame_jf(p, g) for p, g in zip(preds, gts, strict=True)]
        return {
            "jaccard": float(np.mean([avsbench_frame_iou(p, g) for p, g in zip(preds, gts, strict=True)])),
            "fmeasure": avsbench_fmeasure(preds, gts),
            "frame_j": [j for j, _ in frame_jf],
            "frame_f": [f for _, f in frame_jf],
        }

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        per_sample = {it.id: self._sample(it, ctx.options) for it in items}
        frame_j = [v for s in per_sample.values() for v in s["frame_j"]]
        frame_f = [v for s in per_sample.values() for v in s["frame_f"]]
        metrics = {
            "jaccard": float(np.mean([s["jaccard"] for s in per_sample.values()])) if items else 0.0,
            "fmeasure": float(np.mean([s["fmeasure"] for s in per_sample.values()])) if items else 0.0,
            "jaccard_per_frame": float(np.mean(frame_j)) if frame_j else 0.0,
            "fmeasure_per_frame": float(np.mean(frame_f)) if frame_f else 0.0,
        }
        metrics.update(_group_means(items, per_sample, ("jaccard", "fmeasure")))
        return TaskScores(metrics, per_sample)


class S4Task(MaskTask):
    name = "s4"
    title = "AVSBench S4 (single sound source)"


class Ms3Task(MaskTask):
    name = "ms3"
    title = "AVSBench MS3 (multiple sound sources)"


class RefAvsTask(MaskTask):
    name = "refavs"
    title = "Ref-AVS (seen / unseen)"


class RefAvsNullTask(Task):
    name = "refavs_null"
    title = "Ref-AVS null set"
    family = "pixel"
    gt_formats = "JSONL {id, frames: N} or {id, masks: [...]}, or a mask folder tree"
    primary = "null_s"
    metrics = (
        MetricSpec(
            "null_s",
            "Ref-AVS null metric S = sqrt(#foreground pixels / #pixels) over a video's frames, "
            "mean over videos, lower is better (Ref-AVS utility.py metric_s_for_null); "
            "unparsable = 1",
            higher_is_better=False,
        ),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, MaskTruth]:
        return read_mask_truth(path, allow_frame_count=True)

    def parse(self, prediction: Prediction, gt: MaskTruth, ctx: RunContext) -> MaskAnswer:
        return parse_mask_answer(prediction, len(gt.frames), ctx.options)

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        side = ctx.options.mask_size or SEGMENTATION_FRAME[0]
        per_sample = {}
        for it in items:
            if it.parsed is None:
                per_sample[it.id] = {"null_s": UNPARSABLE_NULL_S}
                continue
            preds = predicted_frames(it.parsed, [(side, side)] * len(it.gt.frames))
            per_sample[it.id] = {"null_s": refavs_null_s(preds)}
        values = [s["null_s"] for s in per_sample.values()]
        return TaskScores({"null_s": float(np.mean(values)) if values else 0.0}, per_sample)


class AvssTask(Task):
    name = "avss"
    title = "AVSBench AVSS (semantic)"
    family = "pixel"
    gt_formats = "AVSBench-semantic label PNG tree or JSONL {id, masks: [label PNG, ...]} (palette, grey or VOC RGB)"
    primary = "miou"
    metrics = (
        MetricSpec(
            "miou",
            "AVSS 𝒥: per class, sum over frames of IoU / #frames where the class is present in "
            "prediction or GT; mean over all classes (AVSBench avss test.py, "
            "compute_color_metrics.py)",
        ),
        MetricSpec("fmeasure", "AVSS ℱ (β²=0.3): per-class F summed over frames / same count, mean over classes"),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, MaskTruth]:
        return read_mask_truth(path)

    def parse(self, prediction: Prediction, gt: MaskTruth, ctx: RunContext) -> MaskAnswer:
        if prediction.masks is None:
            raise UnparsableAnswer("no predicted label maps")
        return parse_mask_answer(prediction, len(gt.frames), ctx.options)

    def _frames(self, it: Item, options: EvalOptions) -> list[tuple[np.ndarray, np.ndarray]]:
        pairs = []
        sources = it.parsed.sources if it.parsed is not None else [None] * len(it.gt.frames)
        for gt_src, pred_src in zip(it.gt.frames, sources, strict=True):
            gt = load_label_map(gt_src, base_dir=it.gt.base_dir)
            gt = resize_nearest(gt, _eval_shape(gt, options))
            if pred_src is None:
                pred = np.full(gt.shape, -1, dtype=np.int64)  # unparsable: no class anywhere
            else:
                pred = resize_nearest(load_label_map(pred_src, base_dir=it.parsed.base_dir), gt.shape)
            pairs.append((pred, gt))
        return pairs

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        total = AvssAccumulator(ctx.options.avss_classes)
        per_sample = {}
        for it in items:
            video = AvssAccumulator(ctx.options.avss_classes)
            for pred, gt in self._frames(it, ctx.options):
                total.add(pred, gt)
                video.add(pred, gt)
            miou, f = video.result()
            per_sample[it.id] = {"miou_video": miou, "fmeasure_video": f}
        miou, f = total.result()
        return TaskScores({"miou": miou, "fmeasure": f}, per_sample)
