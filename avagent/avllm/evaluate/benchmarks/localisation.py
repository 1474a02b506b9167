"""ARIG / sound-source localisation with boxes: box IoU, LVS / EZ-VSL consensus IoU and their AUCs.

Ground truth: JSONL ``{id, box: [x1, y1, x2, y2]}`` or ``{id, boxes: [[...], ...]}`` (several annotators),
with ``image_size: [w, h]`` of the coordinate space (default ``--image-size``, else 224 x 224, Crab's ARIG
space). A prediction's box is read in its record's ``image_size`` if given, else in the ground truth's space.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avagent.avllm.evaluate.base import EvalOptions, Item, MetricSpec, RunContext, Task, TaskScores
from avagent.avllm.evaluate.errors import GroundTruthError
from avagent.avllm.evaluate.masks import box_to_mask
from avagent.avllm.evaluate.metrics.localisation import (
    LVS_MAP_SIZE,
    box_iou,
    consensus_iou,
    consensus_map,
    success_auc,
    success_rate,
)
from avagent.avllm.evaluate.parsing import BoxPoints, parse_box
from avagent.avllm.evaluate.predictions import Prediction
from avagent.avllm.evaluate.readers import index_records, read_records

ARIG_IMAGE_SIZE = (224, 224)  # Crab's ARIG coordinates are pixels of the 224 x 224 frame


@dataclass(frozen=True)
class BoxTruth:
    boxes: tuple[tuple[float, float, float, float], ...]
    image_size: tuple[float, float]  # (w, h)


def _scale(box: tuple[float, ...], src: tuple[float, float], dst: tuple[float, float]) -> tuple[float, ...]:
    sx, sy = dst[0] / src[0], dst[1] / src[1]
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


class ArigTask(Task):
    name = "arig"
    title = "ARIG / sound-source localisation (boxes)"
    family = "spatial"
    gt_formats = "JSONL {id, box: [x1,y1,x2,y2] | boxes: [[...], ...], image_size: [w, h]}"
    primary = "box_iou_mean"
    metrics = (
        MetricSpec(
            "box_iou_mean",
            "mean box IoU (Crab+ 'IoU'; Crab printed the same as 'cIoU'); a sample with "
            "several ground-truth boxes takes the best",
        ),
        MetricSpec(
            "box_iou_auc",
            "trapezoid area under P(box IoU >= t), t = 0:0.05:1 (Crab/Crab+ 'AUC', "
            "LVS/EZ-VSL finalize_AUC applied to box IoU)",
        ),
        MetricSpec("box_iou_success@0.5", "fraction of samples with box IoU >= 0.5"),
        MetricSpec(
            "consensus_iou_ap50",
            "LVS/EZ-VSL 'cIoU': fraction of samples with consensus IoU >= 0.5 on "
            "224x224 maps (Evaluator.cal_CIOU, finalize_AP50)",
        ),
        MetricSpec("consensus_iou_mean", "EZ-VSL 'Avg-cIoU': mean consensus IoU on 224x224 maps"),
        MetricSpec("consensus_iou_auc", "LVS/EZ-VSL 'AUC': trapezoid area under P(consensus IoU >= t), t = 0:0.05:1"),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, BoxTruth]:
        default_size = options.image_size or ARIG_IMAGE_SIZE
        out = {}
        for rid, r in index_records(read_records(path), path).items():
            boxes = r.get("boxes") or ([r["box"]] if r.get("box") else None)
            try:
                boxes = tuple(tuple(float(v) for v in b) for b in boxes or ())
                size = tuple(float(v) for v in r.get("image_size") or default_size)
            except (TypeError, ValueError) as e:
                raise GroundTruthError(f"{path}: {rid}: bad box or image_size: {e}") from e
            if not boxes or any(len(b) != 4 or b[0] >= b[2] or b[1] >= b[3] for b in boxes) or len(size) != 2:
                raise GroundTruthError(f"{path}: {rid}: needs boxes [x1,y1,x2,y2] with x1<x2, y1<y2")
            out[rid] = BoxTruth(boxes, size)  # type: ignore[arg-type]
        return out

    def parse(self, prediction: Prediction, gt: BoxTruth, ctx: RunContext) -> BoxPoints:
        parsed = parse_box(prediction.text)
        size = prediction.extra.get("image_size")
        if size:
            box = _scale(parsed.box, (float(size[0]), float(size[1])), gt.image_size)  # type: ignore[arg-type]
            return BoxPoints(box, parsed.points, f"{parsed.how}/rescaled")  # type: ignore[arg-type]
        return parsed

    def _sample(self, gt: BoxTruth, box: tuple[float, ...], consensus: str) -> dict[str, float]:
        masks = [box_to_mask(b, size=LVS_MAP_SIZE, coord_size=gt.image_size) for b in gt.boxes]
        gt_map = consensus_map(masks, mode=consensus)
        pred_map = box_to_mask(box, size=LVS_MAP_SIZE, coord_size=gt.image_size)
        return {
            "box_iou": max(box_iou(box, b) for b in gt.boxes),
            "consensus_iou": consensus_iou(pred_map, gt_map),
        }

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        per_sample = {
            it.id: (
                {"box_iou": 0.0, "consensus_iou": 0.0}
                if it.parsed is None
                else self._sample(it.gt, it.parsed.box, ctx.options.consensus)
            )
            for it in items
        }
        box = [s["box_iou"] for s in per_sample.values()]
        cons = [s["consensus_iou"] for s in per_sample.values()]
        metrics = {
            "box_iou_mean": sum(box) / len(box) if box else 0.0,
            "box_iou_auc": success_auc(box),
            "box_iou_success@0.5": success_rate(box),
            "consensus_iou_ap50": success_rate(cons),
            "consensus_iou_mean": sum(cons) / len(cons) if cons else 0.0,
            "consensus_iou_auc": success_auc(cons),
        }
        return TaskScores(metrics, per_sample)
