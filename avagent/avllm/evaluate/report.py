"""Markdown reports: one run's summary, several models side by side, and audio-reliance probe drops.

Fractions are shown x100 with two decimals for metrics flagged percent (accuracies, IoUs, F-scores, BLEU,
ROUGE-L), other numbers (CIDEr-D, judge scores) with three. In the probe table, "drop" is the loss from the
original audio, positive when the variant is worse (original - variant for higher-is-better metrics, variant -
original for lower-is-better ones); a model that uses audio must show positive drops.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from avagent.avllm.evaluate.results import EvalResult

ORIGINAL = "original"


def format_value(result: EvalResult, metric: str, value: float | None) -> str:
    """A metric value as shown in tables ("–" when absent)."""
    if value is None:
        return "–"
    return f"{100 * value:.2f}" if metric in result.percent_metrics else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def summary_markdown(result: EvalResult) -> str:
    """Summary of one run: metrics (all samples and parsed only), failure counts and examples, judge."""
    rows = [
        [
            m + (" ★" if m == result.primary_metric else ""),
            format_value(result, m, v),
            format_value(result, m, result.metrics_parsed_only.get(m)),
        ]
        for m, v in result.metrics.items()
    ]
    failed = result.n_unparsable + result.n_missing
    parts = [
        f"### {result.title}: {result.model} ({result.variant})",
        "",
        _table(["metric", "all samples", "parsed only"], rows),
        "",
        f"{result.n_samples} samples; {failed} counted wrong ({100 * result.unparsable_rate:.1f}%): "
        f"{result.n_unparsable} unparsable, {result.n_missing} without prediction; "
        f"{result.n_extra_predictions} predictions for unknown ids ignored.",
    ]
    if result.failure_examples:
        parts += ["", "Unparsable / missing examples:"]
        parts += [f"- `{f.id}`: {f.reason}: {(f.prediction or '')[:120]!r}" for f in result.failure_examples]
    if result.judge:
        parts += ["", f"Judge: {result.judge.get('kind')} {result.judge.get('model') or ''}".rstrip()]
    return "\n".join(parts) + "\n"


def _column_names(results: Sequence[EvalResult]) -> list[str]:
    show_variant = len({r.variant for r in results}) > 1
    names, seen = [], defaultdict(int)
    for r in results:
        name = f"{r.model} [{r.variant}]" if show_variant else r.model
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return names


def compare_markdown(results: Sequence[EvalResult]) -> str:
    """Models side by side, one table per task; then the probe table when probe variants are present."""
    by_task: dict[str, list[EvalResult]] = defaultdict(list)
    for r in results:
        by_task[r.task].append(r)
    parts = []
    for task, group in by_task.items():
        metrics = list(dict.fromkeys(m for r in group for m in r.metrics))
        rows = [[m] + [format_value(r, m, r.metrics.get(m)) for r in group] for m in metrics]
        rows.append(["unparsable + missing %"] + [f"{100 * r.unparsable_rate:.1f}" for r in group])
        rows.append(["samples"] + [str(r.n_samples) for r in group])
        parts += [f"### {group[0].title} (`{task}`)", "", _table(["metric", *_column_names(group)], rows), ""]
    probes = probe_markdown(results)
    return "\n".join(parts) + (("\n" + probes) if probes else "")


def drop(original: EvalResult, variant: EvalResult, metric: str) -> float | None:
    """Loss of `metric` from the original to the variant, positive when the variant is worse."""
    a, b = original.metrics.get(metric), variant.metrics.get(metric)
    if a is None or b is None:
        return None
    return (a - b) if original.higher_is_better.get(metric, True) else (b - a)


def probe_markdown(results: Sequence[EvalResult]) -> str:
    """Per task and model with an original run: the primary metric on each probe variant and its drop."""
    groups: dict[tuple[str, str], dict[str, EvalResult]] = defaultdict(dict)
    for r in results:
        groups[(r.task, r.model)][r.variant] = r
    parts = []
    for (_, model), variants in groups.items():
        original = variants.get(ORIGINAL)
        if original is None or len(variants) < 2:
            continue
        metric = original.primary_metric
        rows = []
        for name, r in variants.items():
            loss = drop(original, r, metric)
            shown = "–" if name == ORIGINAL or loss is None else format_value(original, metric, loss)
            rows.append(
                [
                    name,
                    format_value(r, metric, r.metrics.get(metric)),
                    shown,
                    f"{100 * r.unparsable_rate:.1f}",
                ]
            )
        header = ["variant", metric, "drop", "unparsable %"]
        parts += [f"### Audio reliance: {original.title}, {model}", "", _table(header, rows), ""]
    return "\n".join(parts)
