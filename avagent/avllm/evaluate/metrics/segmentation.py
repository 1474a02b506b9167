"""Segmentation metrics for S4, MS3, AVSS and Ref-AVS, with the reference each follows.

AVSBench (OpenNLPLab/AVSBench, ``avs_scripts/avs_s4/utils/utility.py``), per video of F frames:

- 𝒥 (``mask_iou``): per frame ``|P ∩ G| / (|P ∪ G| + 1e-7)``; a frame whose ground truth is empty scores the
  fraction of pixels that are background in both. The video's 𝒥 is the mean over its frames.
- ℱ (``Eval_Fmeasure``, β² = 0.3): on the probability map thresholded at 255 values
  ``linspace(0, 1 - 1e-10)``, precision and recall per frame (``tp / (n + 1e-20)``),
  F = (1 + β²) P R / (β² P + R) (NaN -> 0), averaged over the frames whose ground truth is not empty; the
  video's ℱ is the maximum of that average over thresholds (0.0 when every frame is empty). A binary mask is
  its own probability map (the reference takes ``sigmoid`` of logits; a 0/1 map needs none).
- the test scripts (batch size 1) report the mean over videos of both.

Crab+ (GeWu-Lab/Crab_Plus ``seg/scripts/inference_3.py`` ``calculate_metrics``), per frame on binary masks:
J = |P ∩ G| / |P ∪ G| (1 if both empty), precision / recall 1 on an empty denominator when TP = 0, F as above
with β² = 0.3 (0 if P + R = 0); the mean over frames. Reported here as ``*_per_frame`` variants.

Ref-AVS null set (GeWu-Lab/Ref-AVS ``utils/metric/utility.py`` ``metric_s_for_null``): S = sqrt(foreground
pixels / all pixels) over all frames of a video, mean over videos; lower is better.

AVSS (AVSBench ``avss/utils/compute_color_metrics.py`` and ``avss/test.py``): per frame and class, IoU =
inter / (union + eps) and F (β² = 0.3, NaN -> 0) are summed, a class counted in frames where its union is not
empty; 𝒥 = mean over all classes of sum / count (0 for classes never seen), ℱ likewise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BETA2 = 0.3  # F-measure β² of AVSBench and Crab+
PR_THRESHOLDS = 255  # AVSBench Eval_Fmeasure pr_num
_IOU_EPS = 1e-7  # AVSBench mask_iou eps
_PR_EPS = 1e-20  # AVSBench _eval_pr eps
_AVSS_EPS = 2.220446049250313e-16  # AVSBench _batch_miou_fscore eps (float64 machine epsilon)


def avsbench_frame_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """AVSBench 𝒥 of one frame (binary masks of equal shape)."""
    pred, gt = np.asarray(pred, dtype=bool), np.asarray(gt, dtype=bool)
    if not gt.any():
        return float(np.sum(~pred & ~gt) / (gt.size + _IOU_EPS))
    return float(np.sum(pred & gt) / (np.sum(pred | gt) + _IOU_EPS))


def _pr_curve(prob: np.ndarray, gt: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.sort(prob.ravel())
    fg_values = np.sort(prob[gt].ravel())
    n_pos = len(values) - np.searchsorted(values, thresholds, side="left")  # pixels >= threshold
    tp = len(fg_values) - np.searchsorted(fg_values, thresholds, side="left")
    return tp / (n_pos + _PR_EPS), tp / (gt.sum() + _PR_EPS)


def avsbench_fmeasure(probs: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> float:
    """AVSBench ℱ of one video: frames' probability maps in [0, 1] (or binary masks) and ground truths."""
    thresholds = np.linspace(0.0, 1.0 - 1e-10, PR_THRESHOLDS)
    total, frames = np.zeros(PR_THRESHOLDS), 0
    for prob, gt in zip(probs, gts, strict=True):
        gt = np.asarray(gt, dtype=bool)
        if not gt.any():
            continue  # "examples with totally black GTs are out of consideration"
        precision, recall = _pr_curve(np.asarray(prob, dtype=float), gt, thresholds)
        with np.errstate(invalid="ignore", divide="ignore"):
            f = (1 + BETA2) * precision * recall / (BETA2 * precision + recall)
        total += np.nan_to_num(f, nan=0.0)
        frames += 1
    return float((total / frames).max()) if frames else 0.0


def crabplus_frame_jf(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """Crab+ (J, F) of one frame (definition in the module docstring)."""
    pred, gt = np.asarray(pred, dtype=bool), np.asarray(gt, dtype=bool)
    inter, union = int(np.sum(pred & gt)), int(np.sum(pred | gt))
    jaccard = (1.0 if inter == 0 else 0.0) if union == 0 else inter / union
    n_pred, n_gt = int(pred.sum()), int(gt.sum())
    precision = (1.0 if inter == 0 else 0.0) if n_pred == 0 else inter / n_pred
    recall = (1.0 if inter == 0 else 0.0) if n_gt == 0 else inter / n_gt
    if precision + recall == 0:
        return float(jaccard), 0.0
    return float(jaccard), float((1 + BETA2) * precision * recall / (BETA2 * precision + recall))


def refavs_null_s(preds: Sequence[np.ndarray]) -> float:
    """Ref-AVS null-set S of one video: sqrt(foreground pixels / pixels) over its frames (lower: better)."""
    stack = [np.asarray(p, dtype=bool) for p in preds]
    pixels = sum(p.size for p in stack)
    return float(np.sqrt(sum(int(p.sum()) for p in stack) / pixels)) if pixels else 0.0


@dataclass
class AvssAccumulator:
    """Running AVSS per-class sums; `add` one frame at a time, then `result`."""

    n_classes: int

    def __post_init__(self) -> None:
        self.iou_sum = np.zeros(self.n_classes)
        self.f_sum = np.zeros(self.n_classes)
        self.count = np.zeros(self.n_classes)

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add one frame: class-index maps of equal shape; ground-truth pixels < 0 are ignored."""
        pred, gt = np.asarray(pred, dtype=np.int64), np.asarray(gt, dtype=np.int64)
        valid = gt >= 0
        area_pred = self._histogram(pred[valid])
        area_gt = self._histogram(gt[valid])
        area_inter = self._histogram(pred[valid & (pred == gt)])
        union = area_pred + area_gt - area_inter
        self.iou_sum += area_inter / (_AVSS_EPS + union)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision, recall = area_inter / area_pred, area_inter / area_gt
            f = (1 + BETA2) * precision * recall / (BETA2 * precision + recall)
        self.f_sum += np.nan_to_num(f, nan=0.0)
        self.count[union > 0] += 1

    def _histogram(self, labels: np.ndarray) -> np.ndarray:
        """Pixel count per class; labels outside [0, n_classes) are not counted (torch.histc's range)."""
        inside = labels[(labels >= 0) & (labels < self.n_classes)]
        return np.bincount(inside, minlength=self.n_classes).astype(float)

    def result(self) -> tuple[float, float]:
        """(𝒥, ℱ): means over all classes of the per-class averages (0 for classes never present)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.nan_to_num(self.iou_sum / self.count, nan=0.0)
            f = np.nan_to_num(self.f_sum / self.count, nan=0.0)
        return float(iou.mean()), float(f.mean())
