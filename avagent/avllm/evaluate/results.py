"""Evaluation results: frozen dataclasses, written to and read back from JSON (validated with pydantic)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from avagent.avllm.evaluate.errors import ResultsError

RESULTS_SCHEMA = "avagent.eval/1"  # bump when the JSON layout changes


@dataclass(frozen=True)
class SampleRecord:
    """One ground-truth sample, its prediction and its scores."""

    id: str
    status: str  # "ok", "unparsable" or "missing"
    prediction: str | None  # the raw model output (None when missing)
    parsed: Any = None  # the structured answer, JSON form
    reason: str | None = None  # why the answer is unparsable / missing
    reference: Any = None  # the ground truth, JSON form
    scores: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FailureExample:
    """An unparsable or missing answer, for the report."""

    id: str
    reason: str
    prediction: str | None  # truncated raw output


@dataclass(frozen=True)
class EvalResult:
    """Everything one `avagent eval` run produced."""

    task: str
    title: str
    model: str
    variant: str  # "original" or a probe variant (no_audio, white_noise, ...)
    primary_metric: str
    metrics: dict[str, float]  # unparsable and missing answers counted as wrong
    metrics_parsed_only: dict[str, float]  # the same over parsed answers only (how Crab+'s scorer counts); {} if none
    metric_definitions: dict[str, str]
    higher_is_better: dict[str, bool]
    percent_metrics: list[str]  # metrics shown x100
    n_samples: int  # ground-truth samples
    n_parsed: int
    n_unparsable: int
    n_missing: int  # ground-truth samples without a prediction
    n_extra_predictions: int  # predictions whose id is not in the ground truth (ignored)
    unparsable_rate: float  # (unparsable + missing) / samples
    failure_examples: list[FailureExample]
    options: dict[str, Any]
    judge: dict[str, Any] | None
    sources: dict[str, str]  # predictions and ground-truth paths
    created_utc: str
    samples: list[SampleRecord]
    schema: str = RESULTS_SCHEMA


_ADAPTER = TypeAdapter(EvalResult)


def save_results(result: EvalResult, path: Path) -> None:
    """Write `result` as indented JSON (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(result), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_results(path: Path) -> EvalResult:
    """Read a results JSON written by `save_results` (raises `ResultsError`)."""
    try:
        return _ADAPTER.validate_json(Path(path).read_bytes())
    except OSError as e:
        raise ResultsError(f"cannot read results {path}: {e}") from e
    except ValidationError as e:
        raise ResultsError(f"{path} is not an avagent eval results file: {e.errors()[0]['msg']}") from e
