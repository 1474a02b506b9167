"""AVE (event localisation) and AVVP / LLP (video parsing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avagent.avllm.evaluate.base import EvalOptions, Item, MetricSpec, RunContext, Task, TaskScores
from avagent.avllm.evaluate.errors import GroundTruthError
from avagent.avllm.evaluate.metrics.temporal import ave_segment_accuracy, avvp_summary, avvp_video_scores
from avagent.avllm.evaluate.parsing import AVE_SECONDS, AveAnswer, AvvpAnswer, parse_ave, parse_avvp
from avagent.avllm.evaluate.predictions import Prediction
from avagent.avllm.evaluate.readers import (
    index_records,
    read_ave_annotations,
    read_avvp_annotations,
    read_records,
)
from avagent.avllm.evaluate.text import LabelMatcher

# AVE's 28 event classes (Tian et al., ECCV 2018), in the dataset's category order.
AVE_CLASSES = (
    "Church bell",
    "Male speech, man speaking",
    "Bark",
    "Fixed-wing aircraft, airplane",
    "Race car, auto racing",
    "Female speech, woman speaking",
    "Helicopter",
    "Violin, fiddle",
    "Flute",
    "Ukulele",
    "Frying (food)",
    "Truck",
    "Shofar",
    "Motorcycle",
    "Acoustic guitar",
    "Train horn",
    "Clock",
    "Banjo",
    "Goat",
    "Baby cry, infant cry",
    "Bus",
    "Chainsaw",
    "Cat",
    "Horse",
    "Toilet flush",
    "Rodents, rats, mice",
    "Accordion",
    "Mandolin",
)
AVE_ALIASES = {
    "Bark": ("barking", "barks", "dog barking"),
    "Male speech, man speaking": ("man speaks", "man talking"),
    "Female speech, woman speaking": ("woman speaks", "woman talking"),
    "Baby cry, infant cry": ("baby crying",),
    "Fixed-wing aircraft, airplane": ("aircraft", "plane"),
    "Toilet flush": ("toilet flushing",),
}
AVE_BACKGROUND = len(AVE_CLASSES)  # label index of background segments
INVALID_LABEL = -1  # segment label of an unparsable answer: equals no ground truth

# LLP's 25 classes (AVVP-ECCV20 main_avvp.py), in the order of the reference's matrices.
LLP_CLASSES = (
    "Speech",
    "Car",
    "Cheering",
    "Dog",
    "Cat",
    "Frying_(food)",
    "Basketball_bounce",
    "Fire_alarm",
    "Chainsaw",
    "Cello",
    "Banjo",
    "Singing",
    "Chicken_rooster",
    "Violin_fiddle",
    "Vacuum_cleaner",
    "Baby_laughter",
    "Accordion",
    "Lawn_mower",
    "Motorcycle",
    "Helicopter",
    "Acoustic_guitar",
    "Telephone_bell_ringing",
    "Baby_cry_infant_cry",
    "Blender",
    "Clapping",
)
LLP_ALIASES = {
    "Frying_(food)": ("frying",),
    "Chicken_rooster": ("chicken", "rooster"),
    "Violin_fiddle": ("violin", "fiddle"),
    "Baby_cry_infant_cry": ("baby cry", "infant cry", "baby crying"),
    "Telephone_bell_ringing": ("telephone",),
    "Basketball_bounce": ("basketball",),
    "Vacuum_cleaner": ("vacuum",),
    "Fire_alarm": ("alarm",),
}


def segment_vector(ranges: tuple[tuple[float, float], ...], label: int, background: int) -> np.ndarray:
    """Per-second labels of a 10-s clip: `label` inside the half-open ranges, background elsewhere."""
    out = np.full(AVE_SECONDS, background, dtype=int)
    for start, end in ranges:
        lo, hi = max(0, round(start)), min(AVE_SECONDS, round(end))
        out[lo:hi] = label
    return out


@dataclass(frozen=True)
class AveTruth:
    event: str
    segments: tuple[tuple[float, float], ...]


class AveTask(Task):
    name = "ave"
    title = "AVE event localisation"
    family = "temporal"
    gt_formats = "AVE testSet.txt / Annotations.txt, or JSONL {id, event, segments: [[start_s, end_s], ...]}"
    primary = "segment_accuracy"
    metrics = (
        MetricSpec(
            "segment_accuracy",
            "#one-second segments whose label (28 AVE events + background) equals the ground truth "
            "/ #segments, over all clips (AVE, Tian et al. ECCV 2018); an unparsable answer gets none right",
        ),
    )

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, AveTruth]:
        if path.suffix.lower() == ".txt":
            raw = read_ave_annotations(path)
        else:
            raw = {}
            for rid, r in index_records(read_records(path), path).items():
                segments = r.get("segments") or ([[r["start"], r["end"]]] if "start" in r else None)
                if not r.get("event") or not segments:
                    raise GroundTruthError(f"{path}: AVE record {rid} needs 'event' and 'segments'")
                raw[rid] = {"event": r["event"], "segments": segments}
        matcher = LabelMatcher.from_labels(AVE_CLASSES, AVE_ALIASES)
        out = {}
        for rid, r in raw.items():
            label = matcher.match(r["event"]).label
            if label is None:
                raise GroundTruthError(f"{path}: {rid}: unknown AVE class {r['event']!r}")
            out[rid] = AveTruth(label, tuple((float(s), float(e)) for s, e in r["segments"]))
        return out

    def prepare(self, gts: dict[str, Any], ctx: RunContext) -> LabelMatcher:
        return LabelMatcher.from_labels(AVE_CLASSES, AVE_ALIASES)

    def parse(self, prediction: Prediction, gt: AveTruth, ctx: RunContext) -> AveAnswer:
        return parse_ave(prediction.text, ctx.state)

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        index = {c: i for i, c in enumerate(AVE_CLASSES)}
        per_sample = {}
        for it in items:
            gt = segment_vector(it.gt.segments, index[it.gt.event], AVE_BACKGROUND)
            if it.parsed is None:
                pred = np.full(AVE_SECONDS, INVALID_LABEL)
            else:
                label = index.get(it.parsed.event, AVE_BACKGROUND)  # event None: background only
                pred = segment_vector(it.parsed.ranges, label, AVE_BACKGROUND)
            per_sample[it.id] = {"segment_accuracy": float(ave_segment_accuracy(pred[None], gt[None])[0])}
        values = [s["segment_accuracy"] for s in per_sample.values()]
        return TaskScores({"segment_accuracy": float(np.mean(values)) if values else 0.0}, per_sample)


@dataclass(frozen=True)
class AvvpTruth:
    audio: tuple[tuple[str, float, float], ...]
    visual: tuple[tuple[str, float, float], ...]


def event_matrix(events: tuple[tuple[str, float, float], ...], index: dict[str, int]) -> np.ndarray:
    """25 x 10 binary matrix, ``[class, onset:offset] = 1`` as the reference fills its GT (s rounded)."""
    out = np.zeros((len(index), AVE_SECONDS))
    for label, onset, offset in events:
        out[index[label], round(onset) : round(offset)] = 1
    return out


_AVVP_LEVELS = (("segment", "segment-level"), ("event", "event-level (IoU >= 0.5)"))


def _avvp_specs() -> tuple[MetricSpec, ...]:
    ref = "AVVP-ECCV20 utils/eval_metrics.py + main_avvp.py (metrics/temporal.py docstring)"
    specs = []
    for key, level in _AVVP_LEVELS:
        specs += [
            MetricSpec(f"{key}_audio_f1", f"{level} F1 of audio events, mean over videos; {ref}"),
            MetricSpec(f"{key}_visual_f1", f"{level} F1 of visual events, mean over videos; {ref}"),
            MetricSpec(f"{key}_av_f1", f"{level} F1 of audio-visual events (a AND v), mean over videos; {ref}"),
            MetricSpec(f"{key}_type_at_av", f"{level} Type@AV = mean of the audio, visual and av F1; {ref}"),
            MetricSpec(f"{key}_event_at_av", f"{level} Event@AV = F1 of audio and visual counts pooled; {ref}"),
        ]
    return tuple(specs)


class AvvpTask(Task):
    name = "avvp"
    title = "AVVP / LLP audio-visual video parsing"
    family = "temporal"
    gt_formats = (
        "AVVP_eval_audio.csv + AVVP_eval_visual.csv (+ AVVP_test_pd.csv) folder, or JSONL "
        "{id, audio_events: [[class, onset_s, offset_s], ...], visual_events: [...]}"
    )
    primary = "segment_type_at_av"
    metrics = _avvp_specs()

    def read_ground_truth(self, path: Path, options: EvalOptions) -> dict[str, AvvpTruth]:
        if path.is_dir() or path.suffix.lower() == ".csv":
            raw = read_avvp_annotations(path)
        else:
            raw = {
                rid: {"audio": r.get("audio_events", []), "visual": r.get("visual_events", [])}
                for rid, r in index_records(read_records(path), path).items()
            }
        matcher = LabelMatcher.from_labels(LLP_CLASSES, LLP_ALIASES)
        out = {}
        for rid, r in raw.items():
            events = {}
            for modality in ("audio", "visual"):
                rows = []
                for label, onset, offset in r[modality]:
                    canonical = matcher.match(label).label
                    if canonical is None:
                        raise GroundTruthError(f"{path}: {rid}: unknown LLP class {label!r}")
                    rows.append((canonical, float(onset), float(offset)))
                events[modality] = tuple(rows)
            out[rid] = AvvpTruth(events["audio"], events["visual"])
        return out

    def prepare(self, gts: dict[str, Any], ctx: RunContext) -> LabelMatcher:
        return LabelMatcher.from_labels(LLP_CLASSES, LLP_ALIASES)

    def parse(self, prediction: Prediction, gt: AvvpTruth, ctx: RunContext) -> AvvpAnswer:
        return parse_avvp(prediction.text, ctx.state)

    def score(self, items: list[Item], ctx: RunContext) -> TaskScores:
        index = {c: i for i, c in enumerate(LLP_CLASSES)}
        per_sample = {}
        for it in items:
            gt_a, gt_v = event_matrix(it.gt.audio, index), event_matrix(it.gt.visual, index)
            if it.parsed is None:
                scores = {k: 0.0 for k in avvp_video_scores(gt_a, gt_v, gt_a, gt_v)}
            else:
                so_a, so_v = event_matrix(it.parsed.audio, index), event_matrix(it.parsed.visual, index)
                scores = avvp_video_scores(so_a, so_v, gt_a, gt_v)
            per_sample[it.id] = scores
        return TaskScores(avvp_summary(list(per_sample.values())), per_sample)
