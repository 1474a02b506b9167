"""Markdown reports: summary, side-by-side columns and probe drops (sign follows the metric's direction)."""

from __future__ import annotations

import dataclasses

import pytest

from avagent.avllm.evaluate.report import compare_markdown, drop, probe_markdown, summary_markdown
from avagent.avllm.evaluate.results import EvalResult, FailureExample


def _result(model: str, variant: str, value: float, *, task: str = "refavs_null", higher: bool = False) -> EvalResult:
    metric = "null_s" if task == "refavs_null" else "accuracy"
    return EvalResult(
        task=task, title=task.upper(), model=model, variant=variant, primary_metric=metric,
        metrics={metric: value}, metrics_parsed_only={metric: value}, metric_definitions={metric: "def"},
        higher_is_better={metric: higher}, percent_metrics=[metric], n_samples=4, n_parsed=3, n_unparsable=1,
        n_missing=0, n_extra_predictions=0, unparsable_rate=0.25,
        failure_examples=[FailureExample("x", "no mask", "the dog")], options={}, judge=None, sources={},
        created_utc="2025-01-01T00:00:00+00:00", samples=[],
    )  # fmt: skip


def test_drop_sign_follows_metric_direction() -> None:
    original, noisy = _result("m", "original", 0.10), _result("m", "white_noise", 0.30)
    assert drop(original, noisy, "null_s") == pytest.approx(0.20)  # lower is better: worse by 0.2
    acc_o = _result("m", "original", 0.8, task="ks", higher=True)
    acc_n = _result("m", "white_noise", 0.6, task="ks", higher=True)
    assert drop(acc_o, acc_n, "accuracy") == pytest.approx(0.2)


def test_probe_table_needs_an_original_run() -> None:
    assert probe_markdown([_result("m", "white_noise", 0.3)]) == ""
    table = probe_markdown([_result("m", "original", 0.1), _result("m", "swapped", 0.4)])
    assert "| swapped | 40.00 | 30.00 | 25.0 |" in table and "| original | 10.00 | – | 25.0 |" in table


def test_summary_and_duplicate_columns() -> None:
    summary = summary_markdown(_result("m", "original", 0.1))
    assert "| null_s ★ | 10.00 | 10.00 |" in summary and "`x`: no mask" in summary
    table = compare_markdown([_result("m", "original", 0.1), dataclasses.replace(_result("m", "original", 0.2))])
    assert "| metric | m | m #2 |" in table
