"""`avagent batch`: repair many clips and write the cleaned-pair manifest, locally or through a server.

Locally (the default) every clip runs in this process with one resident toolset; outputs go to
`<out>/clips/<stem>-<hash>/` (repaired video, repaired.wav, original.wav, report.json) and the manifest to
`<out>/manifest.jsonl`. A clip whose report is already there is not redone, so an interrupted batch re-run
picks up where it stopped. With a server the clips are submitted as one batch (uploaded, or as server-side paths
with `server_paths`), followed until done, and their outputs downloaded into the same layout.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avagent.agent.report import ManifestLine, Report
from avagent.core.config import Settings
from avagent.core.errors import AvagentError, ParameterError

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
OUTPUT_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})  # containers the remux can write
POLL_S = 1.0  # how often a remote batch is polled
HTTP_TIMEOUT_S = 600.0
Progress = Callable[[int, int, str], None]  # (done, total, what is happening)


def collect_inputs(source: Path) -> list[Path]:
    """The clips of a directory (recursively, by video suffix) or of a manifest file.

    A manifest is JSONL (objects with `video_path` or `path`, or strings), a JSON list of the same, or plain text
    with one path per line (# comments allowed). Relative paths are relative to the manifest's directory.
    """
    source = Path(source)
    if source.is_dir():
        clips = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not clips:
            raise ParameterError(f"no video files ({', '.join(sorted(VIDEO_SUFFIXES))}) in {source}")
        return clips
    if not source.is_file():
        raise ParameterError(f"{source} is neither a directory nor a manifest file")
    entries = _manifest_entries(source)
    if not entries:
        raise ParameterError(f"the manifest {source} lists no clips")
    return [p if p.is_absolute() else source.parent / p for p in map(Path, entries)]


def _manifest_entries(path: Path) -> list[str]:
    text = path.read_text()
    if path.suffix == ".json":
        items = json.loads(text)
        if not isinstance(items, list):
            raise ParameterError(f"{path}: a JSON manifest is a list of paths or objects")
    elif path.suffix == ".jsonl":
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    out = []
    for item in items:
        value = item if isinstance(item, str) else (item.get("video_path") or item.get("path"))
        if not isinstance(value, str):
            raise ParameterError(f"{path}: every entry needs a 'video_path' or 'path' string, got {item!r}")
        out.append(value)
    return out


def clip_dir(out_dir: Path, source: str | Path) -> Path:
    """Where one clip's outputs go: its stem plus a hash of its full path (two a.mp4 in different folders differ)."""
    tag = hashlib.sha256(str(source).encode()).hexdigest()[:10]
    return out_dir / "clips" / f"{Path(source).stem[:80] or 'clip'}-{tag}"


# --- local ---------------------------------------------------------------------------------------------------


def run_local(inputs: list[Path], out_dir: Path, settings: Settings, progress: Progress) -> list[ManifestLine]:
    from avagent.agent.run import options_from_settings, planner_from_settings, toolset_from_settings

    options = options_from_settings(settings)
    tools, planner = toolset_from_settings(settings), planner_from_settings(settings)
    lines = []
    for i, path in enumerate(inputs):
        progress(i, len(inputs), path.name)
        lines.append(_repair_one(path, clip_dir(out_dir, path), settings, options, tools, planner))
    progress(len(inputs), len(inputs), "done")
    write_manifest(out_dir / "manifest.jsonl", lines)
    return lines


def _repair_one(path: Path, target: Path, settings: Settings, options, tools, planner) -> ManifestLine:
    from avagent.agent.run import repair
    from avagent.core.media import load_clip, write_audio

    report_path = target / "report.json"
    try:
        report = _existing_report(report_path, path)
        if report is None:
            suffix = path.suffix.lower() if path.suffix.lower() in OUTPUT_SUFFIXES else ".mkv"
            result = repair(
                path,
                target / f"repaired{suffix}",
                options=options,
                tools=tools,
                planner=planner,
                work_dir=target / "work",
                report_path=report_path,
                limits=settings.media,
            )
            clip = load_clip(path, limits=settings.media, require_audio=True)
            write_audio(target / "original.wav", clip.audio, clip.sample_rate)
            shutil.rmtree(target / "work", ignore_errors=True)
            report = result.report
    except AvagentError as e:
        return _failed_line(path, f"{e.code}: {e.message}")
    return line_from_report(
        report, video_path=str(path), original_audio=target / "original.wav", report_path=report_path
    )


def _existing_report(report_path: Path, source: Path) -> Report | None:
    if not report_path.is_file() or not (report_path.parent / "original.wav").is_file():
        return None
    try:
        report = Report.model_validate_json(report_path.read_text())
    except ValueError:
        return None
    return report if report.input.path == str(source) else None


def line_from_report(report: Report, *, video_path: str, original_audio: Path, report_path: Path) -> ManifestLine:
    return ManifestLine(
        id=report.run_id,
        video_path=video_path,
        original_audio_path=str(original_audio),
        repaired_audio_path=report.final.audio_path,
        repaired_video_path=report.final.video_path,
        applied_actions=report.final.actions,
        initial_scores=_scores(report.initial_scores),
        final_scores=_scores(report.final.scores),
        report_path=str(report_path),
        status=report.final.status,
    )


def _scores(scores: Any) -> dict[str, float]:
    return {"alignment": scores.alignment, "sync": scores.sync}


def _failed_line(path: Path | str, error: str, line_id: str | None = None) -> ManifestLine:
    return ManifestLine(
        id=line_id or hashlib.sha256(str(path).encode()).hexdigest()[:16],
        video_path=str(path),
        original_audio_path=None,
        repaired_audio_path=None,
        repaired_video_path=None,
        status="failed",
        error=error,
    )


def write_manifest(path: Path, lines: list[ManifestLine]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(line.model_dump_json(by_alias=True) + "\n" for line in lines))
    tmp.replace(path)


# --- through a server ----------------------------------------------------------------------------------------


def run_remote(
    inputs: list[Path],
    out_dir: Path,
    *,
    server: str,
    key: str,
    options: dict[str, Any],
    server_paths: bool,
    progress: Progress,
    poll_s: float = POLL_S,
    client: Any = None,
) -> list[ManifestLine]:
    """Submit the clips as one batch, follow it, download each clip's outputs, write the manifest."""
    import httpx

    client = client or httpx.Client(base_url=server.rstrip("/"), timeout=HTTP_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {key}"}
    batch = _submit_remote(client, headers, inputs, options, server_paths)
    while not batch["done"]:
        counts = batch["counts"]
        final = sum(counts[k] for k in ("succeeded", "failed", "cancelled", "rejected"))
        progress(final, batch["total"], f"{counts['running']} running, {counts['queued']} queued")
        time.sleep(poll_s)
        batch = _check(client.get(f"/v1/batches/{batch['id']}", headers=headers))
    progress(batch["total"], batch["total"], "downloading")
    lines = [_download_item(client, headers, item, inputs[item["position"]], out_dir) for item in batch["items"]]
    write_manifest(out_dir / "manifest.jsonl", lines)
    return lines


def _submit_remote(client, headers, inputs: list[Path], options: dict[str, Any], server_paths: bool) -> dict:
    if server_paths:
        body = {"paths": [str(p) for p in inputs], "options": options or None}
        return _check(client.post("/v1/batches", json=body, headers=headers))
    handles = [open(p, "rb") for p in inputs]  # noqa: SIM115 - closed below; httpx streams them
    try:
        files = [("files", (p.name, h, "application/octet-stream")) for p, h in zip(inputs, handles, strict=True)]
        return _check(client.post("/v1/batches", files=files, data={"options": json.dumps(options)}, headers=headers))
    finally:
        for h in handles:
            h.close()


def _download_item(client, headers, item: dict, source: Path, out_dir: Path) -> ManifestLine:
    if item["status"] != "succeeded":
        error = item.get("error") or {}
        return _failed_line(source, f"{error.get('code', item['status'])}: {error.get('message', '')}", item["job_id"])
    target = clip_dir(out_dir, source)
    target.mkdir(parents=True, exist_ok=True)
    base = f"/v1/jobs/{item['job_id']}"
    report = Report.model_validate_json(_check(client.get(f"{base}/report", headers=headers), raw=True))
    video = target / f"repaired{Path(report.final.video_path or '.mkv').suffix}"
    for route, dest in (
        ("result", video),
        ("audio", target / "repaired.wav"),
        ("original-audio", target / "original.wav"),
    ):
        dest.write_bytes(_check(client.get(f"{base}/{route}", headers=headers), raw=True))
    report.final.video_path, report.final.audio_path = str(video), str(target / "repaired.wav")
    (target / "report.json").write_text(report.to_json())
    return line_from_report(
        report, video_path=str(source), original_audio=target / "original.wav", report_path=target / "report.json"
    )


class RemoteError(AvagentError):
    exit_code = 1
    code = "server_error"


def _check(response, *, raw: bool = False):
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise RemoteError(f"server answered {response.status_code} to {response.request.url.path}: {message}")
    return response.content if raw else response.json()
