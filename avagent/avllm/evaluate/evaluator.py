"""Run one task on one model's predictions: read, parse, score, and account for every sample.

Every ground-truth sample gets a record. An answer that cannot be parsed, or a sample with no prediction, is
scored as wrong by the task (its metric's worst value) and listed with its reason; the headline metrics
include them, and ``metrics_parsed_only`` repeats the metrics over parsed answers only, for comparison with
scorers that drop failures (Crab+'s segmentation scorer does, ../shared/notes/crab-and-crab-plus.md §4.2).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from avagent.avllm.evaluate.base import EvalOptions, Item, RunContext, Task, to_jsonable
from avagent.avllm.evaluate.errors import GroundTruthError
from avagent.avllm.evaluate.judge import ExactMatchJudge, Judge
from avagent.avllm.evaluate.parsing import UnparsableAnswer
from avagent.avllm.evaluate.predictions import Prediction, load_predictions
from avagent.avllm.evaluate.results import EvalResult, FailureExample, SampleRecord
from avagent.avllm.evaluate.tasks import get_task

FAILURE_EXAMPLES = 5  # unparsable / missing answers quoted in the report
EXAMPLE_CHARS = 300  # each quoted answer is cut to this many characters


@dataclasses.dataclass(frozen=True)
class _Outcome:
    item: Item
    status: str
    reason: str | None


def _parse_all(task: Task, gts: dict[str, Any], preds: dict[str, Prediction], ctx: RunContext) -> list[_Outcome]:
    out = []
    for sample_id, gt in gts.items():
        pred = preds.get(sample_id)
        if pred is None:
            out.append(_Outcome(Item(sample_id, gt, None, None), "missing", "no prediction for this id"))
            continue
        try:
            parsed = task.parse(pred, gt, ctx)
        except UnparsableAnswer as e:
            out.append(_Outcome(Item(sample_id, gt, None, pred), "unparsable", e.reason))
            continue
        out.append(_Outcome(Item(sample_id, gt, parsed, pred), "ok", None))
    return out


def _record(task: Task, outcome: _Outcome, scores: dict[str, Any]) -> SampleRecord:
    item = outcome.item
    return SampleRecord(
        id=item.id,
        status=outcome.status,
        prediction=None if item.prediction is None else item.prediction.text,
        parsed=None if item.parsed is None else task.describe(item.parsed),
        reason=outcome.reason,
        reference=task.describe_gt(item.gt),
        scores=to_jsonable(scores),
    )


def _failures(outcomes: list[_Outcome], limit: int) -> list[FailureExample]:
    failed = [o for o in outcomes if o.status != "ok"][:limit]
    return [
        FailureExample(
            o.item.id,
            o.reason or "",
            None if o.item.prediction is None else o.item.prediction.text[:EXAMPLE_CHARS],
        )
        for o in failed
    ]


def evaluate(
    task: str | Task,
    predictions: Path | dict[str, Prediction],
    ground_truth: Path | dict[str, Any],
    *,
    model: str | None = None,
    variant: str = "original",
    options: EvalOptions | None = None,
    judge: Judge | None = None,
    id_key: str | None = None,
    failure_examples: int = FAILURE_EXAMPLES,
) -> EvalResult:
    """Score predictions against ground truth for one task.

    Parameters
    ----------
    task : str or Task
        Registered task name (see `tasks.TASKS`) or a task object.
    predictions : Path or dict
        Predictions file / mask folder (see `predictions`), or predictions by id.
    ground_truth : Path or dict
        Annotation file in a format the task reads, or ground truth by id as the task's reader returns it.
    model : str, optional
        Name in tables; default: the predictions file's stem.
    variant : str
        "original", or the probe variant the predictions were made on.
    options : EvalOptions, optional
        Task options (mask size, consensus mode, extra labels, ...).
    judge : Judge, optional
        Open-QA judge; default exact / normalised match.
    id_key : str, optional
        Predictions' id key when it is none of the usual ones.

    Returns
    -------
    EvalResult
    """
    task = get_task(task) if isinstance(task, str) else task
    options = options or EvalOptions()
    gts = task.read_ground_truth(Path(ground_truth), options) if isinstance(ground_truth, Path) else ground_truth
    if not gts:
        raise GroundTruthError(f"no ground-truth samples for task {task.name}")
    preds = load_predictions(predictions, id_key=id_key) if isinstance(predictions, Path) else predictions
    judge = (judge or ExactMatchJudge()) if task.uses_judge else None
    ctx = RunContext(options, judge)
    ctx = dataclasses.replace(ctx, state=task.prepare(gts, ctx))
    run = _Run(task, _parse_all(task, gts, preds, ctx), ctx, n_extra=len(set(preds) - set(gts)))
    sources = {"predictions": _source(predictions), "ground_truth": _source(ground_truth)}
    default_model = predictions.stem if isinstance(predictions, Path) else "model"
    return _result(run, model or default_model, variant, sources, failure_examples)


def _source(value: Any) -> str:
    return str(value) if isinstance(value, Path) else "<in memory>"


@dataclasses.dataclass(frozen=True)
class _Run:
    task: Task
    outcomes: list[_Outcome]
    ctx: RunContext
    n_extra: int  # predictions whose id is not in the ground truth


def _result(run: _Run, model: str, variant: str, sources: dict[str, str], n_examples: int) -> EvalResult:
    task, outcomes = run.task, run.outcomes
    scores = task.score([o.item for o in outcomes], run.ctx)
    parsed = [o.item for o in outcomes if o.status == "ok"]
    parsed_only = task.score(parsed, run.ctx).metrics if parsed else {}  # no parsed answer: nothing to show
    specs = {name: task.metric_spec(name) for name in scores.metrics}
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "unparsable", "missing")}
    return EvalResult(
        task=task.name,
        title=task.title,
        model=model,
        variant=variant,
        primary_metric=task.primary,
        metrics=dict(scores.metrics),
        metrics_parsed_only=dict(parsed_only),
        metric_definitions={n: s.definition if s else "" for n, s in specs.items()},
        higher_is_better={n: s.higher_is_better if s else True for n, s in specs.items()},
        percent_metrics=[n for n, s in specs.items() if s is None or s.percent],
        n_samples=len(outcomes),
        n_parsed=counts["ok"],
        n_unparsable=counts["unparsable"],
        n_missing=counts["missing"],
        n_extra_predictions=run.n_extra,
        unparsable_rate=(counts["unparsable"] + counts["missing"]) / len(outcomes),
        failure_examples=_failures(outcomes, n_examples),
        options=to_jsonable(run.ctx.options),
        judge=None if run.ctx.judge is None else to_jsonable(run.ctx.judge.info),
        sources=sources,
        created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        samples=[_record(task, o, scores.per_sample.get(o.item.id, {})) for o in outcomes],
    )
