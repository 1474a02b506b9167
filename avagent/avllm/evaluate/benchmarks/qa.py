"""Question answering: MUSIC-AVQA (closed vocabulary), AVQA (multiple choice) and judged open QA."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avagent.avllm.evaluate.base import EvalOptions, Item, MetricSpec, RunContext, Task, TaskScores
from avagent.avllm.evaluate.errors import GroundTruthError
from avagent.avllm.evaluate.judge import ExactMatchJudge
from avagent.avllm.evaluate.metrics.classification import accuracy, grouped_accuracy
from avagent.avllm.evaluate.parsing import UnparsableAnswer, extract_answer_span, parse_label, parse_option
from avagent.avllm.evaluate.predictions import Prediction
from avagent.avllm.evaluate.readers import index_records, read_music_avqa, read_records, record_id
from avagent.avllm.evaluate.text import LabelMatcher, clean_output, normalise


def slug(text: str) -> str:
    """Metric-name form of a group label ("Audio-Visual" -> "audio_visual")."""
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")


def group_metrics(correct: list[bool], groups: list[tuple[str, ...]]) -> dict[str, float]:
    """``accuracy`` plus ``acc_<group>`` for every group label a sample carries."""
    metrics = {"accuracy": accuracy(correct)}
    flat_correct, flat_groups = [], []
    for ok, labels in zip(correct, groups, strict=True):
        for label in labels:
            flat_correct.append(ok)
            flat_groups.append(label)
    for label, value in grouped_accuracy(flat_correct, flat_groups).items():
        metrics[f"acc_{label}"] = value
    return metrics


@dataclass(frozen=True)
class QaTruth:
    answer: str
    groups: tuple[str, ...]  # metric group labels, e.g. ("audio", "audio_counting")
    question: str = ""


class MusicAvqaTask(Task):
    name = "music_avqa"
    title = "MUSIC-AVQA"
    family = "qa"
    gt_formats = "MUSIC-AVQA avqa-test.json, or JSONL {id, answer, type: [modality, kind], question}"
    primary = "accuracy"
    metrics = (
        MetricSpec("accuracy", "#exact matches of the normalised answer / #questions (MUSIC-AVQA net_grd_avst test)"),
        MetricSpec(
            "acc_*",
            "accuracy within a question type: modality (audio, visual, audio_visual) or "
            "modality_kind (e.g. audio_counting), as MUSIC-AVQA prints them",
        ),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, QaTruth]:
        out = {}
        for r in read_music_avqa(path):
            kind = [str(k) for k in r["type"]]
            groups = (slug(kind[0]), slug("_".join(kind))) if len(kind) >= 2 else tuple(slug(k) for k in kind)
            if r["id"] in out:
                raise GroundTruthError(f"{path}: duplicate question id {r['id']!r}")
            out[r["id"]] = QaTruth(r["answer"], groups, r.get("question", ""))
        return out

    def prepare(self, gts: dict[str, Any], ctx: RunContext) -> LabelMatcher:
        return LabelMatcher.from_labels([*{g.answer for g in gts.values()}, *ctx.options.labels])

    def parse(self, prediction: Prediction, gt: QaTruth, ctx: RunContext) -> dict[str, str]:
        label, how = parse_label(prediction.text, ctx.state)
        return {"answer": label, "how": how}

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        correct = [it.parsed is not None and normalise(it.parsed["answer"]) == normalise(it.gt.answer) for it in items]
        per_sample = {it.id: {"correct": ok} for it, ok in zip(items, correct, strict=True)}
        return TaskScores(group_metrics(correct, [it.gt.groups for it in items]), per_sample)


@dataclass(frozen=True)
class ChoiceTruth:
    options: tuple[str, ...]
    answer: int  # index into options
    groups: tuple[str, ...]


class AvqaTask(Task):
    name = "avqa"
    title = "AVQA (Yang et al., multiple choice)"
    family = "qa"
    gt_formats = (
        "AVQA val_qa.json (multi_choice, answer index, question_type, question_relation), or JSONL "
        "{id, options, answer: index or option text, type, relation}"
    )
    primary = "accuracy"
    metrics = (
        MetricSpec(
            "accuracy",
            "#questions whose chosen option (letter, 'option N' or option text) is the answer / #questions",
        ),
        MetricSpec(
            "acc_*",
            "accuracy within a question type (type_<question_type>) or question relation "
            "(relation_<question_relation>)",
        ),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, ChoiceTruth]:
        out = {}
        for rid, r in index_records(read_records(path), path).items():
            choices = tuple(str(c) for c in (r.get("multi_choice") or r.get("options") or ()))
            answer = r.get("answer")
            if not choices or answer is None:
                raise GroundTruthError(f"{path}: AVQA record {rid} needs options and an answer")
            if not isinstance(answer, int) and not str(answer).isdigit():
                matches = [i for i, c in enumerate(choices) if normalise(c) == normalise(str(answer))]
                if len(matches) != 1:
                    raise GroundTruthError(f"{path}: AVQA record {rid}: answer {answer!r} is not one option")
                answer = matches[0]
            if not 0 <= int(answer) < len(choices):
                raise GroundTruthError(f"{path}: AVQA record {rid}: answer index {answer} out of range")
            groups = [f"type_{slug(r[k])}" for k in ("question_type", "type") if r.get(k)][:1]
            groups += [f"relation_{slug(r[k])}" for k in ("question_relation", "relation") if r.get(k)][:1]
            out[rid] = ChoiceTruth(choices, int(answer), tuple(groups))
        return out

    def parse(self, prediction: Prediction, gt: ChoiceTruth, ctx: RunContext) -> dict[str, Any]:
        index, how = parse_option(prediction.text, gt.options)
        return {"choice": index, "option": gt.options[index], "how": how}

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        correct = [it.parsed is not None and it.parsed["choice"] == it.gt.answer for it in items]
        per_sample = {it.id: {"correct": ok} for it, ok in zip(items, correct, strict=True)}
        return TaskScores(group_metrics(correct, [it.gt.groups for it in items]), per_sample)


class OpenQaTask(Task):
    name = "openqa"
    title = "Open-ended QA (judged)"
    family = "qa"
    gt_formats = "JSONL {id, question, answer}"
    primary = "accuracy"
    uses_judge = True
    metrics = (
        MetricSpec("accuracy", "#answers the judge calls correct / #questions (judge in the results' 'judge')"),
        MetricSpec(
            "mean_score",
            "mean judge score 0-5 (Video-ChatGPT / AVU-Bench scale); unparsable = 0",
            percent=False,
        ),
        MetricSpec(
            "judge_fallback_rate",
            "fraction of judged answers where the judge's reply had no verdict and normalised match decided",
            higher_is_better=False,
        ),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, QaTruth]:
        out = {}
        for r in read_records(path):
            rid = record_id(r)
            if r.get("answer") in (None, ""):
                raise GroundTruthError(f"{path}: open-QA record {rid} needs an answer")
            out[rid] = QaTruth(str(r["answer"]), (), str(r.get("question", "")))
        return out

    def parse(self, prediction: Prediction, gt: QaTruth, ctx: RunContext) -> dict[str, str]:
        span = extract_answer_span(prediction.text)
        answer = span.text if span.how != "plain" else clean_output(prediction.text)
        if not answer:
            raise UnparsableAnswer("empty answer")
        return {"answer": answer, "how": span.how}

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        judge = ctx.judge or ExactMatchJudge()
        per_sample, judged, fallbacks = {}, 0, 0
        for it in items:
            if it.parsed is None:
                per_sample[it.id] = {"correct": False, "score": 0.0, "judge_reply": None, "fallback": False}
                continue
            verdict = judge.judge(it.gt.question, it.gt.answer, it.parsed["answer"])
            judged += 1
            fallbacks += verdict.fallback
            per_sample[it.id] = {
                "correct": verdict.correct,
                "score": verdict.score,
                "judge_reply": verdict.raw,
                "fallback": verdict.fallback,
            }
        scores = [s["score"] for s in per_sample.values() if s["score"] is not None]
        metrics = {
            "accuracy": accuracy([s["correct"] for s in per_sample.values()]),
            "mean_score": sum(scores) / len(scores) if scores else 0.0,
            "judge_fallback_rate": fallbacks / judged if judged else 0.0,
        }
        return TaskScores(metrics, per_sample)
