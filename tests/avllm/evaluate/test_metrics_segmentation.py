"""𝒥 / ℱ, the Ref-AVS null metric and AVSS.

References transcribed below (torch, as in the originals) and compared on the same masks:

- AVSBench ``avs_scripts/avs_s4/utils/utility.py`` ``mask_iou`` and ``Eval_Fmeasure`` (OpenNLPLab/AVSBench);
- Ref-AVS ``utils/metric/utility.py`` ``metric_s_for_null`` (GeWu-Lab/Ref-AVS);
- Crab+ ``seg/scripts/inference_3.py`` ``calculate_metrics`` (GeWu-Lab/Crab_Plus);
- AVSBench ``avs_scripts/avss/utils/compute_color_metrics.py`` ``_batch_miou_fscore`` + ``avss/test.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avagent.avllm.evaluate.metrics.segmentation import (
    AvssAccumulator,
    avsbench_fmeasure,
    avsbench_frame_iou,
    crabplus_frame_jf,
    refavs_null_s,
)


def _ref_mask_iou(pred, target, eps=1e-7):
    """AVSBench mask_iou (pred are logits)."""
    n = pred.size(0)
    num_pixels = pred.size(-1) * pred.size(-2)
    no_obj_flag = target.sum(2).sum(1) == 0
    pred = (torch.sigmoid(pred) > 0.5).int()
    inter = (pred * target).sum(2).sum(1)
    union = torch.max(pred, target).sum(2).sum(1)
    inter_no_obj = ((1 - target) * (1 - pred)).sum(2).sum(1)
    inter[no_obj_flag] = inter_no_obj[no_obj_flag]
    union[no_obj_flag] = num_pixels
    return torch.sum(inter / (union + eps)) / n


def _ref_eval_pr(y_pred, y, num):
    prec, recall = torch.zeros(num), torch.zeros(num)
    thlist = torch.linspace(0, 1 - 1e-10, num)
    for i in range(num):
        y_temp = (y_pred >= thlist[i]).float()
        tp = (y_temp * y).sum()
        prec[i], recall[i] = tp / (y_temp.sum() + 1e-20), tp / (y.sum() + 1e-20)
    return prec, recall


def _ref_eval_fmeasure(pred, gt, pr_num=255):
    """AVSBench Eval_Fmeasure (pred are logits)."""
    pred = torch.sigmoid(pred)
    beta2 = 0.3
    avg_f, img_num = 0.0, 0
    score = torch.zeros(pr_num)
    for img_id in range(pred.size(0)):
        if torch.mean(gt[img_id]) == 0.0:
            continue
        prec, recall = _ref_eval_pr(pred[img_id], gt[img_id], pr_num)
        f_score = (1 + beta2) * prec * recall / (beta2 * prec + recall)
        f_score[f_score != f_score] = 0
        avg_f += f_score
        img_num += 1
        score = avg_f / img_num
    return score.max().item()


def _ref_metric_s_for_null(pred):
    """Ref-AVS metric_s_for_null (pred are logits, [num_seg, T, H, W])."""
    num_seg, t, h, w = pred.shape
    pred = pred.view(num_seg * t, h, w)
    num_pixels = pred.reshape(-1).shape[0]
    pred = (torch.sigmoid(pred) > 0.5).int()
    return torch.sqrt(torch.sum(pred.reshape(-1)) / num_pixels)


def _ref_calculate_metrics(pred_mask, gt_mask):
    """Crab+ calculate_metrics."""
    pred_mask, gt_mask = pred_mask.astype(bool), gt_mask.astype(bool)
    intersection = np.logical_and(pred_mask, gt_mask).sum()
    union = np.logical_or(pred_mask, gt_mask).sum()
    jaccard = (1.0 if intersection == 0 else 0.0) if union == 0 else intersection / union
    tp, pp, ap = intersection, pred_mask.sum(), gt_mask.sum()
    precision = (1.0 if tp == 0 else 0.0) if pp == 0 else tp / pp
    recall = (1.0 if tp == 0 else 0.0) if ap == 0 else tp / ap
    f = 0.0 if precision + recall == 0 else (1.3 * precision * recall / (0.3 * precision + recall))
    return jaccard, f


def _ref_avss(preds, targets, nclass):
    """AVSBench _batch_miou_fscore (argmax of one-hot logits = the label maps) + the test.py finalisation."""
    miou_pc, fs_pc, cls_pc = torch.zeros(nclass), torch.zeros(nclass), torch.zeros(nclass)
    for pred_map, target in zip(preds, targets, strict=True):
        output = torch.nn.functional.one_hot(torch.as_tensor(pred_map), nclass).permute(2, 0, 1)[None].float()
        target = torch.as_tensor(target)[None]
        predict = torch.argmax(output, 1) + 1
        target = target.float() + 1
        predict = predict.float() * (target > 0).float()
        intersection = predict * (predict == target).float()
        area_inter = torch.histc(intersection[0], bins=nclass, min=1, max=nclass)
        area_pred = torch.histc(predict[0], bins=nclass, min=1, max=nclass)
        area_lab = torch.histc(target[0], bins=nclass, min=1, max=nclass)
        area_union = area_pred + area_lab - area_inter
        miou_pc += 1.0 * area_inter.float() / (2.220446049250313e-16 + area_union.float())
        cls_pc[torch.nonzero(area_union).squeeze(-1)] += 1
        precision, recall = area_inter / area_pred, area_inter / area_lab
        fscore = (1 + 0.3) * precision * recall / (0.3 * precision + recall)
        fscore[torch.isnan(fscore)] = 0.0
        fs_pc += fscore
    miou_pc = miou_pc / cls_pc
    miou_pc[torch.isnan(miou_pc)] = 0
    f_pc = fs_pc / cls_pc
    f_pc[torch.isnan(f_pc)] = 0
    return torch.mean(miou_pc).item(), torch.mean(f_pc).item()


def _logits(masks: np.ndarray) -> torch.Tensor:
    """Binary masks as logits the references threshold back to the same masks."""
    return torch.as_tensor(np.where(masks, 20.0, -20.0), dtype=torch.float32)


def _video(rng: np.random.Generator, frames: int = 5, size: int = 24, empty_gt: int = 1) -> tuple:
    gts = np.zeros((frames, size, size), dtype=bool)
    preds = np.zeros_like(gts)
    for f in range(frames):
        y, x = rng.integers(0, size - 8, size=2)
        if f >= empty_gt:
            gts[f, y : y + rng.integers(3, 8), x : x + rng.integers(3, 8)] = True
        y, x = np.clip([y + rng.integers(-3, 4), x + rng.integers(-3, 4)], 0, size - 1)
        preds[f, y : y + rng.integers(0, 8), x : x + rng.integers(0, 8)] = True
    return preds, gts


@pytest.mark.parametrize("seed", range(6))
def test_jf_match_avsbench_reference(seed: int) -> None:
    preds, gts = _video(np.random.default_rng(seed))
    ref_j = _ref_mask_iou(_logits(preds), torch.as_tensor(gts, dtype=torch.float32)).item()
    ours_j = float(np.mean([avsbench_frame_iou(p, g) for p, g in zip(preds, gts, strict=True)]))
    assert ours_j == pytest.approx(ref_j, abs=1e-6)
    ref_f = _ref_eval_fmeasure(_logits(preds), torch.as_tensor(gts, dtype=torch.float32))
    assert avsbench_fmeasure(list(preds), list(gts)) == pytest.approx(ref_f, abs=1e-6)


def test_fmeasure_matches_reference_on_soft_maps() -> None:
    rng = np.random.default_rng(7)
    _, gts = _video(rng)
    logits = rng.normal(0, 2, size=gts.shape) + 3 * gts
    probs = 1 / (1 + np.exp(-logits))
    ref_f = _ref_eval_fmeasure(torch.as_tensor(logits, dtype=torch.float32), torch.as_tensor(gts, dtype=torch.float32))
    assert avsbench_fmeasure(list(probs), list(gts)) == pytest.approx(ref_f, abs=1e-5)


def test_masks_without_foreground() -> None:
    """Empty ground truth: 𝒥 is the shared-background fraction; the frame leaves ℱ; all-empty video: ℱ = 0."""
    empty = np.zeros((10, 10), dtype=bool)
    some = empty.copy()
    some[:2, :5] = True  # 10 of 100 pixels predicted
    assert avsbench_frame_iou(empty, empty) == pytest.approx(1.0)
    assert avsbench_frame_iou(some, empty) == pytest.approx(0.9)
    assert avsbench_fmeasure([some, empty], [empty, empty]) == 0.0
    assert crabplus_frame_jf(empty, empty) == (1.0, pytest.approx(1.0))  # Crab+: both empty is perfect
    assert crabplus_frame_jf(some, empty) == (0.0, 0.0)


def test_fmeasure_by_hand() -> None:
    gt = np.zeros((4, 4), dtype=bool)
    gt[:2, :2] = True  # 4 px
    pred = np.zeros_like(gt)
    pred[:2, :] = True  # 8 px, 4 correct: P = 0.5, R = 1
    f_binary = 1.3 * 0.5 * 1.0 / (0.3 * 0.5 + 1.0)
    assert avsbench_fmeasure([pred], [gt]) == pytest.approx(f_binary)  # threshold 0 (all ones) scores lower
    assert crabplus_frame_jf(pred, gt) == (pytest.approx(0.5), pytest.approx(f_binary))


@pytest.mark.parametrize("seed", range(4))
def test_crabplus_per_frame_matches_reference(seed: int) -> None:
    preds, gts = _video(np.random.default_rng(seed + 10), empty_gt=2)
    for p, g in zip(preds, gts, strict=True):
        assert crabplus_frame_jf(p, g) == pytest.approx(_ref_calculate_metrics(p, g))


def test_null_s_matches_refavs_reference() -> None:
    rng = np.random.default_rng(1)
    preds = rng.random((5, 16, 16)) < 0.1
    ref = _ref_metric_s_for_null(_logits(preds)[None]).item()
    assert refavs_null_s(list(preds)) == pytest.approx(ref, abs=1e-6)
    assert refavs_null_s([np.zeros((4, 4), dtype=bool)]) == 0.0
    assert refavs_null_s([np.ones((4, 4), dtype=bool)]) == 1.0


def test_avss_matches_avsbench_reference() -> None:
    rng = np.random.default_rng(5)
    nclass = 6
    targets = [rng.integers(0, 4, size=(12, 12)) for _ in range(4)]  # classes 4, 5 never in the ground truth
    preds = [np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, nclass, size=t.shape)) for t in targets]
    acc = AvssAccumulator(nclass)
    for p, t in zip(preds, targets, strict=True):
        acc.add(p, t)
    assert acc.result() == pytest.approx(_ref_avss(preds, targets, nclass), abs=1e-6)


def test_avss_perfect_and_unparsable() -> None:
    target = np.array([[0, 0, 1], [1, 2, 2]])
    acc = AvssAccumulator(4)
    acc.add(target, target)
    assert acc.result() == pytest.approx((3 / 4, 3 / 4))  # class 3 never present: 0, mean over all 4 classes
    acc = AvssAccumulator(4)
    acc.add(np.full(target.shape, -1), target)
    assert acc.result() == (0.0, 0.0)
