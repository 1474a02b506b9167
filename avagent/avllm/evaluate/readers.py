"""Ground-truth readers: the public benchmarks' own annotation files, and the normalised JSONL.

Official formats read here (each task's docstring says which it accepts):

- AVE: ``testSet.txt`` / ``Annotations.txt`` lines ``Category&VideoID&Quality&StartTime&EndTime``.
- AVVP (LLP): ``AVVP_eval_audio.csv`` and ``AVVP_eval_visual.csv`` (tab-separated ``filename onset offset
  event_labels``) and, if present, ``AVVP_test_pd.csv`` for the video list, given as their folder or the audio
  CSV.
- MUSIC-AVQA: ``avqa-test.json`` (``question_id``, ``type`` such as ``'["Audio", "Counting"]'``, ``anser``).
- AVQA (Yang et al., MM 2022): ``val_qa.json`` (``id``, ``multi_choice``, ``answer`` index,
  ``question_type``, ``question_relation``).
- MELD: ``test_sent_emo.csv`` (``Dialogue_ID``, ``Utterance_ID``, ``Emotion``); ids ``dia{D}_utt{U}``.
- Captions: COCO-style ``{"annotations": [{"image_id", "caption"}]}``.
- Masks (AVSBench): a folder tree whose leaf folders hold one video's PNG frames (``gt_masks/test/...``).

The normalised format is JSONL, one object per sample with an ``id`` and the task's fields (see each task).
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from avagent.avllm.evaluate.errors import GroundTruthError

ID_KEYS = ("id", "sample_id", "question_id", "uid", "video_id", "vid", "filename", "name")
_NATURAL = re.compile(r"(\d+)")
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".npy")


def _require_file(path: Path) -> Path:
    if not path.exists():
        raise GroundTruthError(f"annotation file not found: {path}")
    return path


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GroundTruthError(f"{path}: not valid JSON: {e}") from e


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Objects of a JSONL file (blank lines skipped); the error names the bad line."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise GroundTruthError(f"cannot read {path}: {e}") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise GroundTruthError(f"{path}:{number}: not valid JSON: {e}") from e
        if not isinstance(record, dict):
            raise GroundTruthError(f"{path}:{number}: expected a JSON object")
        records.append(record)
    return records


def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV / TSV file with a header (delimiter sniffed among tab, comma, semicolon)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise GroundTruthError(f"cannot read {path}: {e}") from e
    header = text.split("\n", 1)[0]
    delimiter = max(("\t", ",", ";"), key=header.count)
    return list(csv.DictReader(text.splitlines(), delimiter=delimiter))


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL, JSON (a list, a dict holding a list, or an id -> record dict) or CSV / TSV file."""
    path = _require_file(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix in (".csv", ".tsv"):
        return read_table(path)
    data = _load_json(path)
    if isinstance(data, dict):
        for key in ("annotations", "data", "samples", "questions", "items"):
            if isinstance(data.get(key), list):
                return data[key]
        if all(isinstance(v, dict) for v in data.values()):
            return [{"id": k, **v} for k, v in data.items()]
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    raise GroundTruthError(f"{path}: expected a list of objects")


def record_id(record: dict[str, Any], *, keys: tuple[str, ...] = ID_KEYS) -> str:
    """The sample id of a record: the first of `keys` present, as a string."""
    for key in keys:
        if record.get(key) not in (None, ""):
            return str(record[key])
    raise GroundTruthError(f"record without an id (looked for {', '.join(keys)}): {str(record)[:120]}")


def index_records(records: list[dict[str, Any]], path: Path) -> dict[str, dict[str, Any]]:
    """Records by id; duplicate ids are an error."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        rid = record_id(record)
        if rid in out:
            raise GroundTruthError(f"{path}: duplicate id {rid!r}")
        out[rid] = record
    return out


# --- official formats ---------------------------------------------------------------------------------------


def read_ave_annotations(path: Path) -> dict[str, dict[str, Any]]:
    """AVE ``Category&VideoID&Quality&StartTime&EndTime`` lines -> id -> {event, segments: [(s, e), ...]}.

    A video listed on several lines (several intervals of its event) gets all its intervals.
    """
    out: dict[str, dict[str, Any]] = {}
    lines = _require_file(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        parts = line.strip().split("&")
        if len(parts) != 5:
            if line.strip():
                raise GroundTruthError(f"{path}:{number}: expected Category&VideoID&Quality&Start&End")
            continue
        category, vid, _, start, end = parts
        if number == 1 and start.strip() == "StartTime":
            continue  # Annotations.txt starts with a header line
        try:
            interval = (float(start), float(end))
        except ValueError as e:
            raise GroundTruthError(f"{path}:{number}: bad start/end: {e}") from e
        entry = out.setdefault(vid, {"event": category, "segments": []})
        if entry["event"] != category:
            raise GroundTruthError(f"{path}:{number}: video {vid} has two events ({entry['event']}, {category})")
        entry["segments"].append(interval)
    return out


def _avvp_files(path: Path) -> tuple[Path, Path, Path | None]:
    if path.is_dir():
        audio, visual, videos = (path / f"AVVP_{n}.csv" for n in ("eval_audio", "eval_visual", "test_pd"))
    else:
        audio, visual = path, path.with_name(path.name.replace("audio", "visual"))
        videos = path.with_name("AVVP_test_pd.csv")
    for needed in (audio, visual):
        if not needed.is_file():
            raise GroundTruthError(f"AVVP annotations need {needed.name} next to each other: {needed} missing")
    return audio, visual, videos if videos.is_file() else None


def read_avvp_annotations(path: Path) -> dict[str, dict[str, list[tuple[str, float, float]]]]:
    """LLP evaluation CSVs -> id -> {"audio": [(class, onset, offset)], "visual": [...]}."""
    audio, visual, videos = _avvp_files(_require_file(path))
    out: dict[str, dict[str, list[tuple[str, float, float]]]] = defaultdict(lambda: {"audio": [], "visual": []})
    if videos is not None:
        for row in read_table(videos):
            out[row["filename"]] = {"audio": [], "visual": []}  # a listed video may have no event at all
    for modality, csv_path in (("audio", audio), ("visual", visual)):
        for row in read_table(csv_path):
            try:
                out[row["filename"]][modality].append((row["event_labels"], float(row["onset"]), float(row["offset"])))
            except (KeyError, ValueError) as e:
                raise GroundTruthError(f"{csv_path}: expected filename/onset/offset/event_labels: {e}") from e
    return dict(out)


def _music_avqa_question(record: dict[str, Any]) -> str:
    question = str(record.get("question_content", ""))
    try:
        values = ast.literal_eval(record.get("templ_values") or "[]")
    except (ValueError, SyntaxError):
        values = []
    for value in values:
        question = re.sub(r"<[^>]+>", str(value), question, count=1)
    return question


def read_music_avqa(path: Path) -> list[dict[str, Any]]:
    """MUSIC-AVQA ``avqa-*.json`` -> normalised records {id, answer, type: [modality, kind], question}."""
    out = []
    for record in read_records(path):
        if "anser" not in record and "answer" not in record:
            raise GroundTruthError(f"{path}: MUSIC-AVQA record without 'anser': {str(record)[:120]}")
        kind = record.get("type", [])
        if isinstance(kind, str):
            try:
                kind = ast.literal_eval(kind)
            except (ValueError, SyntaxError) as e:
                raise GroundTruthError(f"{path}: bad question type {kind!r}") from e
        out.append(
            {
                "id": record_id(record, keys=("question_id", "id")),
                "answer": str(record.get("anser", record.get("answer"))),
                "type": list(kind),
                "question": _music_avqa_question(record),
            }
        )
    return out


def read_meld(path: Path) -> list[dict[str, Any]]:
    """MELD ``*_sent_emo.csv`` -> records {id: "dia{D}_utt{U}", label: Emotion}."""
    rows = read_table(_require_file(path))
    try:
        return [{"id": f"dia{r['Dialogue_ID']}_utt{r['Utterance_ID']}", "label": r["Emotion"]} for r in rows]
    except KeyError as e:
        raise GroundTruthError(f"{path}: MELD CSV needs Dialogue_ID, Utterance_ID and Emotion: {e}") from e


def read_coco_captions(path: Path) -> dict[str, list[str]]:
    """COCO-style caption annotations -> id -> captions."""
    out: dict[str, list[str]] = defaultdict(list)
    for record in read_records(path):
        if "caption" not in record:
            raise GroundTruthError(f"{path}: caption record without 'caption'")
        out[record_id(record, keys=("image_id", "video_id", "id"))].append(str(record["caption"]))
    return dict(out)


def natural_key(path: Path) -> list[Any]:
    """Sort key that orders ``x_2.png`` before ``x_10.png``."""
    return [int(t) if t.isdigit() else t for t in _NATURAL.split(path.name)]


def read_mask_tree(root: Path) -> dict[str, list[Path]]:
    """Leaf folders of `root` holding mask images -> folder name -> frames in natural order."""
    if not root.is_dir():
        raise GroundTruthError(f"mask folder not found: {root}")
    frames: dict[Path, list[Path]] = defaultdict(list)
    for file in root.rglob("*"):
        if file.is_file() and file.suffix.lower() in MASK_SUFFIXES:
            frames[file.parent].append(file)
    out: dict[str, list[Path]] = {}
    for folder, files in sorted(frames.items()):
        if folder.name in out:
            raise GroundTruthError(f"{root}: two mask folders named {folder.name!r}")
        out[folder.name] = sorted(files, key=natural_key)
    if not out:
        raise GroundTruthError(f"{root}: no mask images found")
    return out
