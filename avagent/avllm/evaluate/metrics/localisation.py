"""Sound-source localisation metrics, named so that the three families are never confused.

- ``box_iou``: plain intersection-over-union of two boxes (continuous coordinates). Crab+ reports its mean as
  "IoU" for ARIG; Crab reported the same numbers as "cIoU" although its ``utils/ciou.py`` holds box IoU and
  Complete-IoU code (../shared/notes/crab-and-crab-plus.md §4.2, §8).
- ``consensus_iou``: the LVS / EZ-VSL "cIoU" (hche11/Localizing-Visual-Sounds-the-Hard-Way and stoneMo/EZ-VSL
  ``utils.py`` ``Evaluator.cal_CIOU``) on 224 x 224 maps: ``sum(P * G) / (sum(G) + sum(P * (G == 0)))`` with
  P the binarised prediction and G the consensus map of the annotators' boxes (Flickr: sum of boxes / 2,
  clipped to 1; VGG-SS: their union). The number those papers print as "cIoU" is ``ap50`` below: the fraction
  of samples whose consensus IoU is >= 0.5 (EZ-VSL prints it as "AP50(cIoU)" next to "Avg-cIoU", the mean).
- ``success_auc``: area under the success-rate curve, fraction of samples with score >= t for t = 0, 0.05,
  ..., 1 (21 thresholds), by the trapezoid rule (``Evaluator.finalize_AUC`` / ``cal_AUC`` with sklearn ``auc``).
  Because the integral of P(score >= t) over [0, 1] is the mean score, AUC and the mean differ only by the
  0.05 discretisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AUC_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # 0, 0.05, ..., 1 as in LVS / EZ-VSL
SUCCESS_IOU = 0.5  # "AP50": a localisation is a success at IoU >= 0.5
LVS_MAP_SIZE = (224, 224)  # LVS / EZ-VSL evaluate on 224 x 224 maps


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of boxes ``(x1, y1, x2, y2)``; 0.0 when the union is empty."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def consensus_map(box_masks: Sequence[np.ndarray], *, mode: str = "union") -> np.ndarray:
    """Ground truth from per-annotator box rasters: ``"union"`` (VGG-SS) or ``"flickr"`` (sum / 2, <= 1)."""
    if not box_masks:
        raise ValueError("a consensus map needs at least one box")
    total = np.sum([np.asarray(m, dtype=float) for m in box_masks], axis=0)
    if mode == "union":
        return (total > 0).astype(float)
    if mode == "flickr":
        return np.minimum(total / 2.0, 1.0)
    raise ValueError(f"consensus mode must be 'union' or 'flickr', got {mode!r}")


def consensus_iou(pred_map: np.ndarray, gt_map: np.ndarray, *, threshold: float = 0.5) -> float:
    """LVS / EZ-VSL consensus IoU of one sample (definition in the module docstring).

    Parameters
    ----------
    pred_map : np.ndarray, shape = (h, w)
        Prediction, binarised as ``pred_map >= threshold`` (a box raster is already 0/1).
    gt_map : np.ndarray, shape = (h, w)
        Consensus map with values in [0, 1].

    Returns
    -------
    float
        The score; 0.0 when the denominator is 0 (empty ground truth and empty prediction).
    """
    infer = (np.asarray(pred_map, dtype=float) >= threshold).astype(float)
    gt = np.asarray(gt_map, dtype=float)
    denominator = np.sum(gt) + np.sum(infer * (gt == 0))
    return float(np.sum(infer * gt) / denominator) if denominator > 0 else 0.0


def success_rate(scores: Sequence[float], threshold: float = SUCCESS_IOU) -> float:
    """Fraction of scores >= threshold ("AP50" at 0.5); 0.0 for no scores."""
    return float(np.mean(np.asarray(scores) >= threshold)) if len(scores) else 0.0


def success_auc(scores: Sequence[float]) -> float:
    """Trapezoid area under the success-rate curve over `AUC_THRESHOLDS`; 0.0 for no scores."""
    if not len(scores):
        return 0.0
    values = np.asarray(scores, dtype=float)
    rates = [np.sum(values >= t) / len(values) for t in AUC_THRESHOLDS]
    return float(np.trapezoid(rates, AUC_THRESHOLDS))
