"""Closed-set metrics: accuracy, per-group accuracy, WAR / UAR and support-weighted F1.

Definitions (the papers cite them without code; these are the standard ones):

- accuracy = WAR (weighted average recall) = #correct / #samples.
- UAR (unweighted average recall) = mean over the classes present in the ground truth of #correct / #in-class.
- weighted F1 = sum over classes c of support_c / N * F1_c, F1_c = 2 TP / (2 TP + FP + FN), over the union of
  true and predicted classes (scikit-learn ``f1_score(average="weighted")``, which MELD papers report as WAF).

A prediction of ``None`` (unparsable) is a class of its own that no sample has, so it is always wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np

UNPARSABLE = "<unparsable>"  # stands for an unparsable answer in the confusion counts


def accuracy(correct: Sequence[bool]) -> float:
    """Fraction of True; 0.0 for an empty sequence."""
    return float(np.mean(np.asarray(correct, dtype=float))) if len(correct) else 0.0


def grouped_accuracy(correct: Sequence[bool], groups: Sequence[Hashable]) -> dict[Hashable, float]:
    """Accuracy within each group, in order of first appearance."""
    hits: dict[Hashable, list[bool]] = defaultdict(list)
    for ok, group in zip(correct, groups, strict=True):
        hits[group].append(bool(ok))
    return {g: accuracy(v) for g, v in hits.items()}


def _labels(y_pred: Sequence[Hashable | None]) -> list[Hashable]:
    return [UNPARSABLE if p is None else p for p in y_pred]


def war_uar(y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None]) -> tuple[float, float]:
    """(WAR, UAR) of predictions against labels (definitions in the module docstring)."""
    pred = _labels(y_pred)
    correct = [t == p for t, p in zip(y_true, pred, strict=True)]
    recalls = grouped_accuracy(correct, list(y_true))
    return accuracy(correct), (float(np.mean(list(recalls.values()))) if recalls else 0.0)


def weighted_f1(y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None]) -> float:
    """Support-weighted F1 (scikit-learn ``average="weighted"``); 0.0 for no samples."""
    pred = _labels(y_pred)
    if not y_true:
        return 0.0
    classes = list(dict.fromkeys([*y_true, *pred]))
    total = 0.0
    for c in classes:
        tp = sum(1 for t, p in zip(y_true, pred, strict=True) if t == c and p == c)
        fp = sum(1 for t, p in zip(y_true, pred, strict=True) if t != c and p == c)
        fn = sum(1 for t, p in zip(y_true, pred, strict=True) if t == c and p != c)
        support = tp + fn
        f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
        total += support * f1
    return total / len(y_true)
