"""Audio-visual captioning (AVCap, the VALOR subset Crab / Crab+ train on): BLEU, ROUGE-L and CIDEr-D."""

from __future__ import annotations

from pathlib import Path

from avagent.avllm.evaluate.base import EvalOptions, Item, MetricSpec, RunContext, Task, TaskScores
from avagent.avllm.evaluate.errors import GroundTruthError
from avagent.avllm.evaluate.metrics.captioning import bleu, cider_d, rouge_l, tokenize
from avagent.avllm.evaluate.parsing import UnparsableAnswer
from avagent.avllm.evaluate.predictions import Prediction
from avagent.avllm.evaluate.readers import read_coco_captions, read_records, record_id
from avagent.avllm.evaluate.text import clean_output

_REF = "pycocoevalcap port in metrics/captioning.py, PTB-like tokenisation"


class CaptionTask(Task):
    name = "avcap"
    title = "AVCap audio-visual captioning"
    family = "captioning"
    gt_formats = "JSONL {id, captions: [...]} or {id, caption}, or COCO-style {annotations: [{image_id, caption}]}"
    primary = "cider_d"
    metrics = (
        *(MetricSpec(f"bleu_{n}", f"corpus BLEU-{n}, closest reference length ({_REF})") for n in range(1, 5)),
        MetricSpec("rouge_l", f"mean ROUGE-L, β = 1.2 ({_REF})"),
        MetricSpec(
            "cider_d",
            f"CIDEr-D, σ = 6, x10, the number pycocoevalcap prints as CIDEr ({_REF})",
            percent=False,
        ),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, list[str]]:
        records = read_records(path)
        if records and "captions" not in records[0] and "image_id" in records[0]:
            return read_coco_captions(path)
        out: dict[str, list[str]] = {}
        for r in records:
            rid = record_id(r)
            captions = r.get("captions") or ([r["caption"]] if r.get("caption") else None)
            if not captions:
                raise GroundTruthError(f"{path}: {rid} has no captions")
            out.setdefault(rid, []).extend(str(c) for c in captions)
        return out

    def parse(self, prediction: Prediction, gt: list[str], ctx: RunContext) -> str:
        caption = clean_output(prediction.text)
        if not tokenize(caption):
            raise UnparsableAnswer("empty caption")
        return caption

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        hyps = [tokenize(it.parsed) if it.parsed is not None else [] for it in items]
        refs = [[tokenize(c) for c in it.gt] for it in items]
        corpus_bleu, sample_bleu = bleu(hyps, refs) if items else ([0.0] * 4, [])
        corpus_cider, sample_cider = cider_d(hyps, refs)
        sample_rouge = [rouge_l(h, r) for h, r in zip(hyps, refs, strict=True)]
        metrics = {f"bleu_{n + 1}": value for n, value in enumerate(corpus_bleu)}
        metrics["rouge_l"] = sum(sample_rouge) / len(sample_rouge) if sample_rouge else 0.0
        metrics["cider_d"] = corpus_cider
        per_sample = {
            it.id: {"bleu_4": b[3], "rouge_l": r, "cider_d": c}
            for it, b, r, c in zip(items, sample_bleu, sample_rouge, sample_cider, strict=True)
        }
        return TaskScores(metrics, per_sample)
