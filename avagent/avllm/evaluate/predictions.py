"""Predictions: the JSONL a model's inference writes, one object per sample.

Keys (the first present wins): id from ``id``, ``sample_id``, ``question_id``, ``uid``, ``video_id``, ``vid``
(or ``--id-key``); the answer text from ``predict`` (Crab / Crab+ inference), ``prediction``, ``output``,
``response``, ``answer``, ``text``; masks from ``masks`` / ``pred_masks`` (one source per frame) or ``mask`` /
``pred_mask`` (one frame). Mask sources are paths (relative to the predictions file) or COCO RLE dicts.
Other keys are kept in ``extra`` (e.g. ``image_size`` for box coordinates).

A folder instead of a file is read as an AVSBench-style tree of predicted mask PNGs (leaf folder = sample id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avagent.avllm.evaluate.errors import GroundTruthError, PredictionsError
from avagent.avllm.evaluate.readers import read_mask_tree

PRED_ID_KEYS = ("id", "sample_id", "question_id", "uid", "video_id", "vid")
TEXT_KEYS = ("predict", "prediction", "output", "response", "answer", "text")
MASK_LIST_KEYS = ("masks", "pred_masks")
MASK_KEYS = ("mask", "pred_mask")


@dataclass(frozen=True)
class Prediction:
    """One model output."""

    id: str
    text: str  # raw decoded generation ("" for mask-only predictions)
    masks: tuple[Any, ...] | None = None  # mask sources, one per frame, or None
    extra: dict[str, Any] = field(default_factory=dict)  # every other key of the record
    base_dir: Path | None = None  # folder relative mask paths resolve against


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if key in record and record[key] is not None:
            return key, record[key]
    return None, None


def prediction_from_record(record: dict[str, Any], *, id_key: str | None, base_dir: Path | None) -> Prediction:
    """Build a `Prediction` from one JSON object (key conventions in the module docstring)."""
    keys = (id_key,) if id_key else PRED_ID_KEYS
    key_id, rid = _first(record, keys)
    if key_id is None:
        raise PredictionsError(f"prediction without an id (looked for {', '.join(keys)}): {str(record)[:120]}")
    key_text, text = _first(record, TEXT_KEYS)
    key_masks, masks = _first(record, MASK_LIST_KEYS)
    if key_masks is None:
        key_masks, single = _first(record, MASK_KEYS)
        masks = None if key_masks is None else [single]
    if masks is not None and not isinstance(masks, list):
        raise PredictionsError(f"prediction {rid}: {key_masks!r} must be a list of mask sources")
    used = {key_id, key_text, key_masks}
    extra = {k: v for k, v in record.items() if k not in used}
    text = text if isinstance(text, str) else ("" if text is None else json.dumps(text))
    return Prediction(str(rid), text, None if masks is None else tuple(masks), extra, base_dir)


def _read_lines(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PredictionsError(f"cannot read {path}: {e}") from e
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise PredictionsError(f"{path}: not valid JSON: {e}") from e
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise PredictionsError(f"{path}: expected a list of objects")
        return data
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise PredictionsError(f"{path}:{number}: not valid JSON: {e}") from e
            if not isinstance(record, dict):
                raise PredictionsError(f"{path}:{number}: expected a JSON object")
            records.append(record)
    return records


def load_predictions(path: Path, *, id_key: str | None = None) -> dict[str, Prediction]:
    """Predictions by id from a JSONL / JSON file or a mask folder; duplicate ids are an error."""
    path = Path(path)
    if path.is_dir():
        try:
            tree = read_mask_tree(path)
        except GroundTruthError as e:
            raise PredictionsError(str(e)) from e
        return {k: Prediction(k, "", tuple(str(f) for f in v)) for k, v in tree.items()}
    if not path.is_file():
        raise PredictionsError(f"predictions file not found: {path}")
    out: dict[str, Prediction] = {}
    for record in _read_lines(path):
        pred = prediction_from_record(record, id_key=id_key, base_dir=path.parent)
        if pred.id in out:
            raise PredictionsError(f"{path}: duplicate prediction id {pred.id!r}")
        out[pred.id] = pred
    return out
