"""Accuracy, WAR / UAR and weighted F1; weighted F1 is checked against scikit-learn's ``average="weighted"``."""

from __future__ import annotations

import numpy as np
import pytest

from avagent.avllm.evaluate.metrics.classification import accuracy, grouped_accuracy, war_uar, weighted_f1


def test_war_uar_by_hand() -> None:
    y_true = ["happy"] * 8 + ["sad"] * 2
    y_pred = ["happy"] * 8 + ["happy", "sad"]
    war, uar = war_uar(y_true, y_pred)
    assert war == pytest.approx(0.9)  # 9 / 10
    assert uar == pytest.approx((1.0 + 0.5) / 2)


def test_unparsable_is_never_correct() -> None:
    war, uar = war_uar(["a", "b"], [None, "b"])
    assert (war, uar) == (0.5, 0.5)
    assert weighted_f1(["a", "b"], [None, "b"]) == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)


def test_weighted_f1_matches_sklearn() -> None:
    from sklearn import metrics as sklearn_metrics

    rng = np.random.default_rng(0)
    labels = ["neutral", "joy", "anger", "sadness", "surprise"]
    y_true = list(rng.choice(labels, size=200, p=[0.4, 0.2, 0.2, 0.1, 0.1]))
    y_pred = [t if rng.random() < 0.6 else str(rng.choice([*labels, "fear"])) for t in y_true]
    expected = sklearn_metrics.f1_score(y_true, y_pred, average="weighted")
    assert weighted_f1(y_true, y_pred) == pytest.approx(expected)


def test_empty_and_grouped() -> None:
    assert accuracy([]) == 0.0 and war_uar([], []) == (0.0, 0.0) and weighted_f1([], []) == 0.0
    assert grouped_accuracy([True, False, True], ["x", "y", "x"]) == {"x": 1.0, "y": 0.0}
