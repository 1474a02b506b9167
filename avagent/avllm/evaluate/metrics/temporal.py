"""Temporal metrics: AVE segment accuracy and the AVVP (LLP) segment- and event-level F-scores.

AVE (Tian et al., ECCV 2018): each 10-s clip has 10 one-second segments labelled with one of 28 events or
background; accuracy = #segments whose predicted label equals the ground truth / #segments, over all clips.

AVVP (Tian et al., ECCV 2020, ``utils/eval_metrics.py``, also Crab's ``utils/avvp_eval_metrics.py``), per
video, on binary matrices of 25 classes x 10 segments for audio (a), visual (v) and audio-visual (av = a * v):

- segment level: per class, TP / FP / FN are counted over the 10 segments; F_c = 2TP / (2TP + FN + FP)
  over the classes with a positive in the prediction or the ground truth; the video's F is their mean, 1.0
  when there is none ("all true negatives"). The pooled "event" score adds the audio and visual counts class
  by class.
- event level: events are maximal runs of 1s in a class row; a predicted event is a TP if some
  ground-truth event of the class overlaps it with IoU >= 0.5 (``sum(x1*x2) >= 0.5 * sum(x1+x2-x1*x2)``),
  else FP; a ground-truth event no prediction reaches is FN. F per class and per video as above.
- the benchmark reports the mean over videos of each score, Type@AV = (F_a + F_v + F_av) / 3 and
  Event@AV = the pooled score (``main_avvp.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EVENT_IOU = 0.5  # AVVP event-level matching threshold


def ave_segment_accuracy(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-clip fraction of correct segments.

    Parameters
    ----------
    pred, gt : np.ndarray, shape = (n_clips, n_segments), int
        Label per segment (a class index, or the background index). A label no ground truth uses (e.g. -1 for
        an unparsable answer) is never correct.

    Returns
    -------
    np.ndarray, shape = (n_clips,)
        The benchmark accuracy is the mean of this (all clips have the same number of segments).
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground truth shape {gt.shape}")
    return (pred == gt).mean(axis=1) if pred.size else np.zeros(len(pred))


def _f_mean(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    active = (tp + fp != 0) | (tp + fn != 0)
    if not active.any():
        return 1.0  # all true negatives
    return float(np.mean(2 * tp[active] / (2 * tp[active] + fn[active] + fp[active])))


def _counts(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.sum(pred * gt, axis=1)
    fn = np.sum((1 - pred) * gt, axis=1)
    fp = np.sum(pred * (1 - gt), axis=1)
    return tp, fp, fn


def avvp_segment_level(*matrices: np.ndarray) -> tuple[float, float, float, float]:
    """Segment-level (F_a, F_v, F_pooled, F_av) of one video.

    Parameters
    ----------
    *matrices : np.ndarray, shape = (n_classes, n_segments)
        ``so_a, so_v, so_av, gt_a, gt_v, gt_av``, binary, in the reference's argument order.
    """
    so_a, so_v, so_av, gt_a, gt_v, gt_av = matrices
    a, v, av = _counts(so_a, gt_a), _counts(so_v, gt_v), _counts(so_av, gt_av)
    pooled = tuple(x + y for x, y in zip(a, v, strict=True))
    return _f_mean(*a), _f_mean(*v), _f_mean(*pooled), _f_mean(*av)


def extract_events(row: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of 1s in a binary row, as half-open (start, end) segment indices."""
    row = np.concatenate([[0], (np.asarray(row) == 1).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(row))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _overlaps(x: tuple[int, int], y: tuple[int, int]) -> bool:
    inter = max(0, min(x[1], y[1]) - max(x[0], y[0]))
    union = (x[1] - x[0]) + (y[1] - y[0]) - inter
    return inter >= EVENT_IOU * union


def event_wise_counts(pred_row: np.ndarray, gt_row: np.ndarray) -> tuple[int, int, int]:
    """(TP, FP, FN) of the events of one class row (reference ``event_wise_metric``)."""
    pred_events, gt_events = extract_events(pred_row), extract_events(gt_row)
    tp = sum(1 for p in pred_events if any(_overlaps(p, g) for g in gt_events))
    fn = sum(1 for g in gt_events if not any(_overlaps(g, p) for p in pred_events))
    return tp, len(pred_events) - tp, fn


def _event_counts(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [event_wise_counts(p, g) for p, g in zip(pred, gt, strict=True)]
    return tuple(np.array(c, dtype=float) for c in zip(*rows, strict=True))  # type: ignore[return-value]


def avvp_event_level(*matrices: np.ndarray) -> tuple[float, float, float, float]:
    """Event-level (F_a, F_v, F_pooled, F_av) of one video; arguments as in `avvp_segment_level`."""
    so_a, so_v, so_av, gt_a, gt_v, gt_av = matrices
    a, v, av = _event_counts(so_a, gt_a), _event_counts(so_v, gt_v), _event_counts(so_av, gt_av)
    pooled = tuple(x + y for x, y in zip(a, v, strict=True))
    return _f_mean(*a), _f_mean(*v), _f_mean(*pooled), _f_mean(*av)


def avvp_video_scores(so_a: np.ndarray, so_v: np.ndarray, gt_a: np.ndarray, gt_v: np.ndarray) -> dict[str, float]:
    """All eight per-video AVVP scores; the av matrices are products of a and v, as in ``main_avvp.py``."""
    so_a, so_v, gt_a, gt_v = (np.asarray(x, dtype=float) for x in (so_a, so_v, gt_a, gt_v))
    args = (so_a, so_v, so_a * so_v, gt_a, gt_v, gt_a * gt_v)
    names = ("audio", "visual", "pooled", "av")
    seg, evt = avvp_segment_level(*args), avvp_event_level(*args)
    return {
        **{f"segment_{n}": s for n, s in zip(names, seg, strict=True)},
        **{f"event_{n}": s for n, s in zip(names, evt, strict=True)},
    }


def avvp_summary(per_video: Sequence[dict[str, float]]) -> dict[str, float]:
    """Benchmark numbers from per-video scores: means, Type@AV and Event@AV for both levels."""
    out: dict[str, float] = {}
    for level in ("segment", "event"):
        mean = {
            n: float(np.mean([v[f"{level}_{n}"] for v in per_video])) if per_video else 0.0
            for n in ("audio", "visual", "pooled", "av")
        }
        out[f"{level}_audio_f1"] = mean["audio"]
        out[f"{level}_visual_f1"] = mean["visual"]
        out[f"{level}_av_f1"] = mean["av"]
        out[f"{level}_type_at_av"] = (mean["audio"] + mean["visual"] + mean["av"]) / 3
        out[f"{level}_event_at_av"] = mean["pooled"]
    return out
