"""The AV-LLM evaluator: task scorers, answer parsing, audio-reliance probes and `avagent eval`.

The reference AV-LLMs ship no scorer for most of their tasks (Crab writes raw JSONL; Crab+'s segmentation
scorer drops what it cannot parse and Crab's "cIoU" is box IoU), so this package provides one, with every
metric ported from the benchmark's own code where that code is public (the module docstrings under `metrics/`
name it).

Typical use::

    from avagent.avllm.evaluate import evaluate, save_results, summary_markdown
    result = evaluate("ave", Path("preds.jsonl"), Path("testSet.txt"), model="crab")
    print(summary_markdown(result))

Modules: `tasks` (registry), `benchmarks/` (one module per task family: reader, parser and metrics wired
together), `readers` (annotation formats), `predictions` (model outputs), `parsing` and `text` (answer
parsing), `masks` (RLE / PNG), `metrics/` (kernels), `judge` (open-QA judges), `evaluator`, `results`,
`report`, `probes` (audio-reliance variants) and `cli`.
"""

from avagent.avllm.evaluate.base import EvalOptions, MetricSpec, Task
from avagent.avllm.evaluate.evaluator import evaluate
from avagent.avllm.evaluate.judge import ExactMatchJudge, TransformersJudge
from avagent.avllm.evaluate.probes import ProbeOptions, build_probes
from avagent.avllm.evaluate.report import compare_markdown, probe_markdown, summary_markdown
from avagent.avllm.evaluate.results import EvalResult, load_results, save_results
from avagent.avllm.evaluate.tasks import TASKS, get_task

__all__ = [
    "TASKS",
    "EvalOptions",
    "EvalResult",
    "ExactMatchJudge",
    "MetricSpec",
    "ProbeOptions",
    "Task",
    "TransformersJudge",
    "build_probes",
    "compare_markdown",
    "evaluate",
    "get_task",
    "load_results",
    "probe_markdown",
    "save_results",
    "summary_markdown",
]
