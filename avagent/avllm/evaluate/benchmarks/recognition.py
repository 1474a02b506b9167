"""Recognition: action (Kinetics-Sounds, UCF51), emotion (CREMA-D, DFEW, MAFW, MELD) and VGG-CM matching.

Ground truth: JSONL / CSV ``{id, label}`` (``class`` or ``answer`` also accepted); MELD also its own
``test_sent_emo.csv``. The label set is the ground truth's labels plus ``--labels``; an answer maps to a
label by the rules of `text.LabelMatcher`, emotions also through common word forms ("happiness" -> "happy").

VGG-CM: JSONL ``{id, direction: "a2v" | "v2a", answer: 1 | 2}`` (also "first" / "second").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from avagent.avllm.evaluate.base import EvalOptions, Item, MetricSpec, RunContext, Task, TaskScores
from avagent.avllm.evaluate.errors import GroundTruthError
from avagent.avllm.evaluate.metrics.classification import accuracy, war_uar, weighted_f1
from avagent.avllm.evaluate.parsing import parse_label, parse_pair_choice
from avagent.avllm.evaluate.predictions import Prediction
from avagent.avllm.evaluate.readers import read_meld, read_records, record_id
from avagent.avllm.evaluate.text import LabelMatcher, normalise

# Word forms of emotion labels across CREMA-D (codes), DFEW, MAFW and MELD.
EMOTION_FORMS = (
    ("happy", "happiness", "joy", "hap"),
    ("angry", "anger", "ang"),
    ("sad", "sadness", "sorrow"),
    ("neutral", "neutrality", "calm", "neu"),
    ("fear", "fearful", "afraid", "scared", "fea"),
    ("disgust", "disgusted", "dis"),
    ("surprise", "surprised"),
    ("contempt", "contemptuous"),
    ("anxiety", "anxious"),
    ("helplessness", "helpless"),
    ("disappointment", "disappointed"),
)
_VGGCM_ANSWERS = {"1": 1, "2": 2, "first": 1, "second": 2, "a": 1, "b": 2}


def emotion_aliases(labels: list[str]) -> dict[str, tuple[str, ...]]:
    """Extra aliases for labels that are a form of a known emotion."""
    out = {}
    for label in labels:
        for forms in EMOTION_FORMS:
            if normalise(label) in forms:
                out[label] = forms
    return out


def _is_meld_csv(path: Path) -> bool:
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with path.open(encoding="utf-8-sig") as f:
        return "Dialogue_ID" in f.readline()


@dataclass(frozen=True)
class LabelTruth:
    label: str


class LabelTask(Task):
    """Single-label classification; subclasses choose the metrics."""

    family = "recognition"
    gt_formats = "JSONL / CSV {id, label}, or a MELD-style CSV (Dialogue_ID, Utterance_ID, Emotion)"
    primary = "accuracy"
    emotions: ClassVar[bool] = False
    report: ClassVar[tuple[str, ...]] = ("accuracy",)
    metrics = (
        MetricSpec("accuracy", "top-1: #answers mapped to the ground-truth label / #samples"),
        MetricSpec("war", "WAR = overall accuracy (weighted average recall)"),
        MetricSpec("uar", "UAR = mean over ground-truth classes of per-class recall"),
        MetricSpec(
            "weighted_f1",
            "support-weighted F1 over classes (sklearn f1_score average='weighted'; MELD 'WAF')",
        ),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, LabelTruth]:
        if _is_meld_csv(path):
            return {r["id"]: LabelTruth(r["label"]) for r in read_meld(path)}
        out = {}
        for r in read_records(path):
            rid = record_id(r)
            label = next((r[k] for k in ("label", "class", "answer", "emotion") if r.get(k) not in (None, "")), None)
            if label is None:
                raise GroundTruthError(f"{path}: {rid} has no label")
            if rid in out:
                raise GroundTruthError(f"{path}: duplicate id {rid!r}")
            out[rid] = LabelTruth(str(label))
        return out

    def prepare(self, gts: dict[str, Any], ctx: RunContext) -> LabelMatcher:
        labels = list(dict.fromkeys([*(g.label for g in gts.values()), *ctx.options.labels]))
        return LabelMatcher.from_labels(labels, emotion_aliases(labels) if self.emotions else None)

    def parse(self, prediction: Prediction, gt: LabelTruth, ctx: RunContext) -> dict[str, str]:
        label, how = parse_label(prediction.text, ctx.state)
        return {"label": label, "how": how}

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        y_true = [normalise(it.gt.label) for it in items]
        y_pred = [None if it.parsed is None else normalise(it.parsed["label"]) for it in items]
        war, uar = war_uar(y_true, y_pred)
        values = {"accuracy": war, "war": war, "uar": uar, "weighted_f1": weighted_f1(y_true, y_pred)}
        per_sample = {it.id: {"correct": t == p} for it, t, p in zip(items, y_true, y_pred, strict=True)}
        return TaskScores({k: values[k] for k in self.report}, per_sample)


class KineticsSoundsTask(LabelTask):
    name = "ks"
    title = "Kinetics-Sounds action recognition"


class UcfTask(LabelTask):
    name = "ucf"
    title = "UCF51 action recognition"


class CremaDTask(LabelTask):
    name = "cremad"
    title = "CREMA-D emotion"
    emotions = True
    report = ("accuracy", "uar")


class DfewTask(LabelTask):
    name = "dfew"
    title = "DFEW emotion"
    emotions = True
    primary = "war"
    report = ("war", "uar")


class MafwTask(LabelTask):
    name = "mafw"
    title = "MAFW emotion"
    emotions = True
    primary = "war"
    report = ("war", "uar")


class MeldTask(LabelTask):
    name = "meld"
    title = "MELD emotion"
    gt_formats = "MELD test_sent_emo.csv, or JSONL / CSV {id, label}"
    emotions = True
    report = ("accuracy", "weighted_f1")


@dataclass(frozen=True)
class PairTruth:
    direction: str  # "a2v" or "v2a"
    answer: int  # 1 or 2


class VggCmTask(Task):
    name = "vggcm"
    title = "VGG-CM cross-modal matching (a2v / v2a)"
    family = "recognition"
    gt_formats = "JSONL {id, direction: a2v|v2a, answer: 1|2}"
    primary = "accuracy"
    metrics = (
        MetricSpec("accuracy", "#correct two-way choices / #samples, both directions"),
        MetricSpec("accuracy_a2v", "accuracy on audio->video samples (Crab+ 'A→V')"),
        MetricSpec("accuracy_v2a", "accuracy on video->audio samples (Crab+ 'V→A')"),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, PairTruth]:
        out = {}
        for r in read_records(path):
            rid = record_id(r)
            direction = str(r.get("direction", r.get("task", ""))).lower().replace("->", "2")
            answer = _VGGCM_ANSWERS.get(str(r.get("answer", "")).strip().lower())
            if direction not in ("a2v", "v2a") or answer is None:
                raise GroundTruthError(f"{path}: {rid} needs direction a2v|v2a and answer 1|2")
            out[rid] = PairTruth(direction, answer)
        return out

    def parse(self, prediction: Prediction, gt: PairTruth, ctx: RunContext) -> dict[str, Any]:
        choice, how = parse_pair_choice(prediction.text)
        return {"choice": choice, "how": how}

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        correct = {it.id: it.parsed is not None and it.parsed["choice"] == it.gt.answer for it in items}
        metrics = {"accuracy": accuracy(list(correct.values()))}
        for direction in ("a2v", "v2a"):
            subset = [correct[it.id] for it in items if it.gt.direction == direction]
            if subset:
                metrics[f"accuracy_{direction}"] = accuracy(subset)
        return TaskScores(metrics, {k: {"correct": v} for k, v in correct.items()})
