"""AVE segment accuracy and AVVP F-scores.

AVVP follows the benchmark's own ``utils/eval_metrics.py`` (YapengTian/AVVP-ECCV20, ported unchanged to
GeWu-Lab/Crab ``utils/avvp_eval_metrics.py``). `_ref_*` below is a line-by-line transcription of those
functions (Python 3, 25 classes): our numbers must equal theirs on the same matrices.
"""

from __future__ import annotations

import numpy as np
import pytest

from avagent.avllm.evaluate.metrics.temporal import (
    ave_segment_accuracy,
    avvp_event_level,
    avvp_segment_level,
    avvp_summary,
    avvp_video_scores,
    extract_events,
)

# --- transcription of AVVP-ECCV20 utils/eval_metrics.py -----------------------------------------------------


def _ref_f_list(tp, fp, fn):
    out = []
    for ii in range(len(fp)):
        if (tp + fp)[ii] != 0 or (tp + fn)[ii] != 0:
            out.append(2 * tp[ii] / (2 * tp[ii] + (fn + fp)[ii]))
    return out


def _ref_mean_or_one(values):
    return 1.0 if len(values) == 0 else sum(values) / len(values)


def _ref_segment_level(so_a, so_v, so_av, gt_a, gt_v, gt_av):
    tp_a, fn_a, fp_a = (
        np.sum(so_a * gt_a, axis=1),
        np.sum((1 - so_a) * gt_a, axis=1),
        np.sum(so_a * (1 - gt_a), axis=1),
    )
    tp_v, fn_v, fp_v = (
        np.sum(so_v * gt_v, axis=1),
        np.sum((1 - so_v) * gt_v, axis=1),
        np.sum(so_v * (1 - gt_v), axis=1),
    )
    tp_av = np.sum(so_av * gt_av, axis=1)
    fn_av, fp_av = np.sum((1 - so_av) * gt_av, axis=1), np.sum(so_av * (1 - gt_av), axis=1)
    f_a, f_v = _ref_f_list(tp_a, fp_a, fn_a), _ref_f_list(tp_v, fp_v, fn_v)
    f = _ref_f_list(tp_a + tp_v, fp_a + fp_v, fn_a + fn_v)
    f_av = _ref_f_list(tp_av, fp_av, fn_av)
    return tuple(_ref_mean_or_one(x) for x in (f_a, f_v, f, f_av))


def _ref_to_vec(start, end):
    x = np.zeros(10)
    for i in range(start, end):
        x[i] = 1
    return x


def _ref_extract_event(seq):
    x = []
    i = 0
    while i < 10:
        if seq[i] == 1:
            start = i
            if i + 1 == 10:
                i = i + 1
                x.append(_ref_to_vec(start, i))
                break
            for j in range(i + 1, 10):
                if seq[j] != 1:
                    i = j + 1
                    x.append(_ref_to_vec(start, j))
                    break
                i = j + 1
                if i == 10:
                    x.append(_ref_to_vec(start, i))
                    break
        else:
            i += 1
    return x


def _ref_event_wise_metric(event_p, event_gt):
    tp = fp = fn = 0
    if event_p is not None:
        for x1 in event_p:
            flag = True
            if event_gt is not None:
                for x2 in event_gt:
                    if np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2):
                        tp += 1
                        flag = False
                        break
            if flag:
                fp += 1
    if event_gt is not None:
        for x1 in event_gt:
            flag = True
            if event_p is not None:
                for x2 in event_p:
                    if np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2):
                        flag = False
                        break
            if flag:
                fn += 1
    return tp, fp, fn


def _ref_event_level(so_a, so_v, so_av, gt_a, gt_v, gt_av):
    counts = {k: (np.zeros(25), np.zeros(25), np.zeros(25)) for k in ("a", "v", "av")}
    for n in range(25):
        for key, so, gt in (("a", so_a, gt_a), ("v", so_v, gt_v), ("av", so_av, gt_av)):
            pred = _ref_extract_event(so[n]) if np.sum(so[n]) != 0 else None
            ref = _ref_extract_event(gt[n]) if np.sum(gt[n]) != 0 else None
            tp, fp, fn = _ref_event_wise_metric(pred, ref)
            counts[key][0][n] += tp
            counts[key][1][n] += fp
            counts[key][2][n] += fn
    (tp_a, fp_a, fn_a), (tp_v, fp_v, fn_v), (tp_av, fp_av, fn_av) = counts["a"], counts["v"], counts["av"]
    f_a, f_v = _ref_f_list(tp_a, fp_a, fn_a), _ref_f_list(tp_v, fp_v, fn_v)
    f = _ref_f_list(tp_a + tp_v, fp_a + fp_v, fn_a + fn_v)
    f_av = _ref_f_list(tp_av, fp_av, fn_av)
    return tuple(_ref_mean_or_one(x) for x in (f_a, f_v, f, f_av))


# --- tests --------------------------------------------------------------------------------------------------


def _matrices(rng: np.random.Generator, density: float) -> tuple[np.ndarray, ...]:
    so_a, so_v, gt_a, gt_v = ((rng.random((25, 10)) < density).astype(float) for _ in range(4))
    return so_a, so_v, so_a * so_v, gt_a, gt_v, gt_a * gt_v


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("density", [0.02, 0.15, 0.5])
def test_avvp_matches_reference_on_random_matrices(seed: int, density: float) -> None:
    args = _matrices(np.random.default_rng(seed), density)
    assert avvp_segment_level(*args) == pytest.approx(_ref_segment_level(*args), abs=1e-12)
    assert avvp_event_level(*args) == pytest.approx(_ref_event_level(*args), abs=1e-12)


def test_avvp_all_true_negatives_is_one() -> None:
    zero = np.zeros((25, 10))
    args = (zero,) * 6
    assert avvp_segment_level(*args) == (1.0, 1.0, 1.0, 1.0) == _ref_segment_level(*args)
    assert avvp_event_level(*args) == (1.0, 1.0, 1.0, 1.0) == _ref_event_level(*args)


def test_avvp_empty_prediction_scores_zero_on_present_events() -> None:
    gt_a = np.zeros((25, 10))
    gt_a[0, 2:6] = 1
    zero = np.zeros((25, 10))
    scores = avvp_video_scores(zero, zero, gt_a, zero)
    # audio: the one active class has F = 0; visual: no activity anywhere -> 1 (reference convention)
    assert scores["segment_audio"] == 0.0 and scores["event_audio"] == 0.0
    assert scores["segment_visual"] == 1.0 and scores["event_visual"] == 1.0


def test_avvp_event_iou_exactly_half_is_a_match() -> None:
    """Ties at the threshold count (reference: ``>= 0.5 * union``); two halves both match one ground truth."""
    gt = np.zeros((25, 10))
    gt[3, 0:4] = 1  # one event [0, 4)
    pred = np.zeros((25, 10))
    pred[3, 0:2] = 1  # [0, 2): IoU 2 / 4 = 0.5
    pred[3, 3:4] = 1  # [3, 4): IoU 1 / 4 < 0.5 -> FP
    zero = np.zeros((25, 10))
    args = (pred, zero, zero, gt, zero, zero)
    # TP = 1, FP = 1, FN = 0 -> F = 2 / 3
    assert avvp_event_level(*args)[0] == pytest.approx(2 / 3)
    assert avvp_event_level(*args) == pytest.approx(_ref_event_level(*args))


def test_avvp_overlapping_events_of_two_classes_by_hand() -> None:
    """Speech [0, 8) and Dog [2, 5) overlap in time; prediction gets Speech [0, 6) and Dog [2, 5)."""
    gt, pred, zero = np.zeros((25, 10)), np.zeros((25, 10)), np.zeros((25, 10))
    gt[0, 0:8], gt[3, 2:5] = 1, 1
    pred[0, 0:6], pred[3, 2:5] = 1, 1
    seg = avvp_segment_level(pred, zero, zero, gt, zero, zero)
    # Speech: TP 6, FN 2 -> 12 / 14; Dog: 1.0; mean over the two active classes
    assert seg[0] == pytest.approx((12 / 14 + 1.0) / 2)
    evt = avvp_event_level(pred, zero, zero, gt, zero, zero)
    assert evt[0] == pytest.approx(1.0)  # [0, 6) vs [0, 8): IoU 0.75 -> both events matched


def test_extract_events_matches_reference() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        row = (rng.random(10) < 0.5).astype(float)
        ours = [(s, e) for s, e in extract_events(row)]
        theirs = [(int(np.argmax(v)), int(np.argmax(v)) + int(v.sum())) for v in _ref_extract_event(row)]
        assert ours == theirs


def test_avvp_summary_type_and_event_at_av() -> None:
    per_video = [
        {**{f"segment_{k}": v for k, v in zip(("audio", "visual", "pooled", "av"), (1.0, 0.5, 0.6, 0.0), strict=True)},
         **{f"event_{k}": 0.0 for k in ("audio", "visual", "pooled", "av")}},
        {**{f"segment_{k}": v for k, v in zip(("audio", "visual", "pooled", "av"), (0.0, 0.5, 0.2, 1.0), strict=True)},
         **{f"event_{k}": 1.0 for k in ("audio", "visual", "pooled", "av")}},
    ]  # fmt: skip
    out = avvp_summary(per_video)
    assert out["segment_audio_f1"] == 0.5 and out["segment_visual_f1"] == 0.5 and out["segment_av_f1"] == 0.5
    assert out["segment_type_at_av"] == pytest.approx(0.5)
    assert out["segment_event_at_av"] == pytest.approx(0.4)
    assert out["event_type_at_av"] == pytest.approx(0.5)


def test_ave_segment_accuracy_by_hand() -> None:
    bg = 28
    gt = np.array([[0] * 10, [bg] * 3 + [5] * 4 + [bg] * 3])
    pred = np.array([[0] * 8 + [bg] * 2, [-1] * 10])  # second clip unparsable: no segment right
    np.testing.assert_allclose(ave_segment_accuracy(pred, gt), [0.8, 0.0])


def test_ave_all_background_prediction() -> None:
    bg = 28
    gt = np.array([[bg] * 4 + [7] * 6])
    assert ave_segment_accuracy(np.full((1, 10), bg), gt)[0] == pytest.approx(0.4)
