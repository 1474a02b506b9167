"""`avagent eval`: score predictions, build audio-reliance probes, compare models.

Mounted by the main CLI as ``app.add_typer(eval_app, name="eval")``:

    avagent eval --task music_avqa --pred preds.jsonl --gt avqa-test.json --out results.json
    avagent eval tasks
    avagent eval probes manifest.jsonl --out probes/
    avagent eval compare crab.json crab_noise.json ours.json --out table.md

Errors print one line on stderr and exit non-zero; no traceback.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from avagent.avllm.evaluate.base import EvalOptions
from avagent.avllm.evaluate.errors import EvaluationError
from avagent.avllm.evaluate.evaluator import FAILURE_EXAMPLES, evaluate
from avagent.avllm.evaluate.judge import TransformersJudge
from avagent.avllm.evaluate.probes import ALL_VARIANTS, DEFAULT_VARIANTS, ProbeOptions, build_probes
from avagent.avllm.evaluate.report import compare_markdown, summary_markdown
from avagent.avllm.evaluate.results import load_results, save_results
from avagent.avllm.evaluate.tasks import TASKS, get_task
from avagent.core.errors import AvagentError, ParameterError

app = typer.Typer(
    help="Evaluate AV-LLM predictions: task metrics, audio-reliance probes, model comparison.",
    no_args_is_help=False,
    add_completion=False,
)


def _one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into one stderr line and an exit code (AvagentError's own, else 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except AvagentError as e:
            typer.echo(f"error: {e.message}", err=True)
            raise typer.Exit(e.exit_code) from None
        except Exception as e:  # last resort: a bug must still not print a traceback
            typer.echo(f"error: unexpected {type(e).__name__}: {' '.join(str(e).split())}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def _image_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[x,]\s*(\d+)\s*", text)
    if not match:
        raise ParameterError("--image-size must look like 224x224 (width x height)")
    return int(match.group(1)), int(match.group(2))


def _labels(path: Path | None) -> tuple[str, ...]:
    if path is None:
        return ()
    try:
        return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError as e:
        raise EvaluationError(f"cannot read labels file {path}: {e}") from e


def _judge(model: str | None, prompt_file: Path | None) -> TransformersJudge | None:
    if model is None:
        if prompt_file is not None:
            raise ParameterError("--judge-prompt needs --judge-model")
        return None
    if prompt_file is None:
        return TransformersJudge(model)
    try:
        return TransformersJudge(model, prompt=prompt_file.read_text(encoding="utf-8"))
    except OSError as e:
        raise EvaluationError(f"cannot read judge prompt {prompt_file}: {e}") from e


@app.callback(invoke_without_command=True)
@_one_line_errors
def run(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option("--task", "-t", help="task name (see `avagent eval tasks`)")] = None,
    pred: Annotated[Path | None, typer.Option("--pred", "-p", help="predictions JSONL (or mask folder)")] = None,
    gt: Annotated[Path | None, typer.Option("--gt", "-g", help="ground-truth annotations")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="results JSON (a .md summary is written too)")] = None,
    model: Annotated[str | None, typer.Option(help="model name in tables (default: predictions file stem)")] = None,
    variant: Annotated[str, typer.Option(help="probe variant the predictions were made on")] = "original",
    id_key: Annotated[str | None, typer.Option(help="id key of the predictions, if not a usual one")] = None,
    mask_size: Annotated[int, typer.Option(help="masks resized to this square size; 0: ground-truth size")] = 224,
    mask_from_box: Annotated[bool, typer.Option(help="rasterise the answer's box when no mask is given")] = False,
    consensus: Annotated[str, typer.Option(help="ARIG consensus of several boxes: union | flickr")] = "union",
    image_size: Annotated[str | None, typer.Option(help="box coordinate space, e.g. 224x224")] = None,
    labels: Annotated[Path | None, typer.Option(help="file of extra class names, one per line")] = None,
    judge_model: Annotated[str | None, typer.Option(help="open-QA judge: local causal LM path")] = None,
    judge_prompt: Annotated[Path | None, typer.Option(help="judge prompt template file")] = None,
    examples: Annotated[int, typer.Option(help="unparsable answers quoted in the report")] = FAILURE_EXAMPLES,
) -> None:
    """Score a model's predictions on one task: `avagent eval --task T --pred P --gt G [--out R]`."""
    if ctx.invoked_subcommand is not None:
        return
    if task is None or pred is None or gt is None:
        raise ParameterError("give --task, --pred and --gt (or a command: tasks, probes, compare)")
    options = EvalOptions(
        mask_size=mask_size or None,
        mask_from_box=mask_from_box,
        consensus=consensus,
        image_size=_image_size(image_size),
        labels=_labels(labels),
    )
    result = evaluate(
        get_task(task),
        pred,
        gt,
        model=model,
        variant=variant,
        options=options,
        judge=_judge(judge_model, judge_prompt),
        id_key=id_key,
        failure_examples=examples,
    )
    summary = summary_markdown(result)
    if out is not None:
        save_results(result, out)
        out.with_suffix(".md").write_text(summary, encoding="utf-8")
    typer.echo(summary)


@app.command("tasks")
@_one_line_errors
def list_tasks() -> None:
    """List the tasks with their metrics and accepted annotation formats."""
    for name, task in TASKS.items():
        metrics = ", ".join(m.name for m in task.metrics)
        typer.echo(f"{name:12s} {task.title}\n{'':12s} metrics: {metrics}\n{'':12s} ground truth: {task.gt_formats}")


@app.command("probes")
@_one_line_errors
def probes(
    manifest: Annotated[Path, typer.Argument(help="video paths (one per line) or JSONL records with a media key")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")],
    variants: Annotated[str, typer.Option(help=f"comma list from {', '.join(ALL_VARIANTS)}")] = ",".join(
        DEFAULT_VARIANTS
    ),
    shift_s: Annotated[float, typer.Option(help="shift of the shift variants, seconds")] = 1.0,
    seed: Annotated[int, typer.Option(help="noise and swap seed")] = 0,
) -> None:
    """Build audio-reliance probe variants (media + manifests) of an evaluation set."""
    names = tuple(v.strip() for v in variants.split(",") if v.strip())
    report = build_probes(manifest, out, ProbeOptions(variants=names, shift_s=shift_s, seed=seed))
    for label, count in report.built.items():
        typer.echo(f"{label}: {count} clips -> {report.manifests[label]}")
    for skip in report.skipped:
        typer.echo(f"skipped {skip['id']} ({skip['variant']}): {skip['reason']}")


@app.command("compare")
@_one_line_errors
def compare(
    results: Annotated[list[Path], typer.Argument(help="results JSON files of `avagent eval --out`")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the markdown table here")] = None,
) -> None:
    """Several models (and probe variants) side by side in one markdown table per task."""
    table = compare_markdown([load_results(p) for p in results])
    if out is not None:
        out.write_text(table, encoding="utf-8")
    typer.echo(table)
