"""Box IoU, consensus IoU and AUC.

Consensus IoU and AUC follow LVS (hche11/Localizing-Visual-Sounds-the-Hard-Way ``utils.py``) and EZ-VSL
(stoneMo/EZ-VSL ``utils.py``): `_RefEvaluator` transcribes their ``Evaluator`` and ``testset_gt`` (Flickr
consensus map) so our numbers can be compared on the same maps.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sklearn_metrics

from avagent.avllm.evaluate.masks import box_to_mask
from avagent.avllm.evaluate.metrics.localisation import (
    box_iou,
    consensus_iou,
    consensus_map,
    success_auc,
    success_rate,
)


class _RefEvaluator:
    """EZ-VSL utils.Evaluator (LVS's is the same with cal_AUC / final)."""

    def __init__(self) -> None:
        self.ciou: list[float] = []

    def cal_CIOU(self, infer, gtmap, thres=0.01):
        infer_map = np.zeros((224, 224))
        infer_map[infer >= thres] = 1
        ciou = np.sum(infer_map * gtmap) / (np.sum(gtmap) + np.sum(infer_map * (gtmap == 0)))
        self.ciou.append(ciou)

    def finalize_AUC(self):
        cious = [np.sum(np.array(self.ciou) >= 0.05 * i) / len(self.ciou) for i in range(21)]
        thr = [0.05 * i for i in range(21)]
        return sklearn_metrics.auc(thr, cious)

    def finalize_AP50(self):
        return np.mean(np.array(self.ciou) >= 0.5)

    def finalize_cIoU(self):
        return np.mean(np.array(self.ciou))


def _ref_flickr_gt(boxes_256):
    """LVS testset_gt for Flickr: boxes in 256-px coordinates, summed / 2, clipped to 1."""
    gt_map = np.zeros([224, 224])
    for item in boxes_256:
        bbox = [int(224 * v / 256) for v in item]
        temp = np.zeros([224, 224])
        temp[bbox[1] : bbox[3], bbox[0] : bbox[2]] = 1
        gt_map += temp
    gt_map /= 2
    gt_map[gt_map > 1] = 1
    return gt_map


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),
        ((0, 0, 10, 10), (10, 10, 20, 20), 0.0),  # touching corners
        ((0, 0, 4, 4), (1, 1, 3, 3), 4 / 16),  # nested
        ((0, 0, 0, 5), (0, 0, 0, 5), 0.0),  # empty union
    ],
)
def test_box_iou_by_hand(a: tuple, b: tuple, iou: float) -> None:
    assert box_iou(a, b) == pytest.approx(iou)


def test_consensus_iou_matches_lvs_on_flickr_consensus_maps() -> None:
    rng = np.random.default_rng(0)
    ref = _RefEvaluator()
    ours = []
    for _ in range(40):
        boxes = []
        for _ in range(int(rng.integers(1, 4))):
            x1, y1 = rng.integers(0, 200, size=2)
            boxes.append([int(x1), int(y1), int(x1 + rng.integers(10, 56)), int(y1 + rng.integers(10, 56))])
        gt_ref = _ref_flickr_gt(boxes)
        gt_ours = consensus_map([box_to_mask(b, size=(224, 224), coord_size=(256, 256)) for b in boxes], mode="flickr")
        np.testing.assert_array_equal(gt_ours, gt_ref)
        x1, y1 = rng.integers(0, 180, size=2)
        pred_box = (int(x1), int(y1), int(x1 + rng.integers(5, 44)), int(y1 + rng.integers(5, 44)))
        pred = box_to_mask(pred_box, size=(224, 224)).astype(float)
        ref.cal_CIOU(pred, gt_ref, thres=0.5)
        ours.append(consensus_iou(pred, gt_ours, threshold=0.5))
    np.testing.assert_allclose(ours, ref.ciou)
    assert success_rate(ours) == pytest.approx(ref.finalize_AP50())
    assert float(np.mean(ours)) == pytest.approx(ref.finalize_cIoU())
    assert success_auc(ours) == pytest.approx(ref.finalize_AUC())


def test_consensus_iou_counts_half_weight_pixels() -> None:
    """Flickr: a pixel only one of two annotators boxed weighs 0.5 in the ground truth."""
    a = box_to_mask((0, 0, 4, 4), size=(8, 8))
    b = box_to_mask((2, 0, 6, 4), size=(8, 8))
    gt = consensus_map([a, b], mode="flickr")  # overlap (8 px) weighs 1, each box alone (2 x 8 px) 0.5
    pred = box_to_mask((0, 0, 4, 4), size=(8, 8))
    # sum(pred * gt) = 8 * 0.5 + 8 * 1 = 12; sum(gt) = 8 + 16 * 0.5 = 16; no predicted pixel outside gt
    assert consensus_iou(pred, gt) == pytest.approx(12 / 16)
    assert consensus_map([a, b], mode="union").sum() == 24


def test_auc_equals_reference_with_ties_at_thresholds() -> None:
    scores = [0.5, 0.5, 0.05, 1.0, 0.0]  # values exactly on the 0.05 grid count as >= threshold
    ref = _RefEvaluator()
    ref.ciou = scores
    assert success_auc(scores) == pytest.approx(ref.finalize_AUC())
    assert success_rate(scores) == pytest.approx(0.6)


def test_empty_inputs() -> None:
    assert success_auc([]) == 0.0 and success_rate([]) == 0.0
    assert consensus_iou(np.zeros((4, 4)), np.zeros((4, 4))) == 0.0
    with pytest.raises(ValueError, match="at least one box"):
        consensus_map([])


def test_auc_of_perfect_and_null_localisation() -> None:
    assert success_auc([1.0] * 3) == pytest.approx(1.0)
    # every score is >= the first threshold 0: the trapezoid keeps 0.05 * 1 / 2 even when all localisations
    # fail
    assert success_auc([0.0] * 3) == pytest.approx(0.025)
