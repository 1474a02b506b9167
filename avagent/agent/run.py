"""`repair()`: run the loop on one video, durably, and write the outputs and the report.

A run is keyed by its run id (the service uses the job id). With a checkpointer, a run that was killed resumes from
its last finished node and ends with the same result as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

import avagent
from avagent.agent.events import AgentEvent, EventBus
from avagent.agent.graph import build_graph
from avagent.agent.planners import make_planner
from avagent.agent.report import (
    FinalOut,
    InputInfo,
    IterationOut,
    Report,
    ScoresOut,
    final_status,
)
from avagent.agent.state import RepairContext, RepairOptions
from avagent.core.config import MediaLimits, Settings
from avagent.core.media import load_clip, write_audio, write_video_with_audio
from avagent.tools.toolset import Toolset


@dataclass(frozen=True)
class RepairResult:
    run_id: str
    report: Report
    report_path: Path
    video_path: Path
    audio_path: Path

    @property
    def status(self) -> str:
        return self.report.final.status


def repair(
    input_path: str | Path,
    output_path: str | Path | None = None,
    *,
    options: RepairOptions | None = None,
    tools: Toolset | None = None,
    planner: Any = None,
    run_id: str | None = None,
    checkpoint_db: str | Path | None = None,
    work_dir: str | Path | None = None,
    report_path: str | Path | None = None,
    limits: MediaLimits | None = None,
    on_event: Callable[[AgentEvent], None] | None = None,
) -> RepairResult:
    """Repair the audio of `input_path` so it matches its video; return the outputs and the report.

    Parameters
    ----------
    output_path : the repaired video (original video stream, new audio); default `<input>.repaired<suffix>`.
    options : loop options (planner name, threshold, iteration cap, acceptance rule, allowed actions, seed).
    tools, planner : prebuilt tools/planner (e.g. kept resident by a worker); default: the offline ones.
    run_id : resume key; default: a hash of the input bytes and the options, so re-running resumes.
    checkpoint_db : SQLite file for the LangGraph checkpointer; default `<work_dir>/checkpoints.sqlite`.
    """
    started = time.perf_counter()
    options = options or RepairOptions()
    input_path = Path(input_path)
    clip = load_clip(input_path, limits=limits or MediaLimits(), require_audio=True, require_video=True)
    digest = sha256_file(input_path)
    run_id = run_id or default_run_id(digest, options)
    default_output = input_path.with_name(f"{input_path.stem}.repaired{input_path.suffix}")
    output_path = Path(output_path) if output_path else default_output
    work = Path(work_dir) if work_dir else output_path.parent / f".avagent-{run_id}"
    work.mkdir(parents=True, exist_ok=True)
    tools = tools or default_toolset()
    planner = planner or make_planner(options.planner)
    bus = EventBus(run_id)
    if on_event is not None:
        bus.subscribe(on_event)
    ctx = RepairContext(clip=clip, tools=tools, planner=planner, options=options, work_dir=work, bus=bus)
    loop_started = time.perf_counter()
    state = _run_graph(ctx, run_id, Path(checkpoint_db) if checkpoint_db else work / "checkpoints.sqlite")
    loop_s = time.perf_counter() - loop_started
    audio_out = output_path.with_suffix(".wav")
    _write_outputs(clip, input_path, state["best"], output_path, audio_out)
    report = build_report(
        run_id,
        input_path,
        digest,
        clip,
        options,
        tools,
        planner,
        state,
        output_path,
        audio_out,
        timings={"load_s": loop_started - started, "loop_s": loop_s, "total_s": time.perf_counter() - started},
    )
    report_path = Path(report_path) if report_path else output_path.with_suffix(".report.json")
    _atomic_write_text(report_path, report.to_json())
    return RepairResult(run_id, report, report_path, output_path, audio_out)


def default_toolset() -> Toolset:
    """The embedded offline default: YAMNet + VAD + DSP audio describer, EfficientNet + faces + motion video
    describer, offline sync/alignment scorer."""
    from avagent.tools.toolset import make_toolset

    return make_toolset()


def default_run_id(input_sha256: str, options: RepairOptions) -> str:
    key = json.dumps(
        {"input": input_sha256, "options": asdict(options), "version": avagent.__version__}, sort_keys=True
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def _run_graph(ctx: RepairContext, run_id: str, db_path: Path) -> dict[str, Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(db_path, check_same_thread=False)) as conn:
        graph = build_graph(SqliteSaver(conn))
        config = {"configurable": {"thread_id": run_id}}
        snapshot = graph.get_state(config)
        if snapshot.values and not snapshot.next:  # finished earlier: nothing to redo
            return dict(snapshot.values)
        initial = None if snapshot.next else {"run_id": run_id, "iterations": []}
        return dict(graph.invoke(initial, config, context=ctx))


def _write_outputs(clip: Any, input_path: Path, best: dict[str, Any], video_out: Path, audio_out: Path) -> None:
    """Untouched clips are copied byte for byte; repaired ones get the original video stream and the new audio."""
    video_out.parent.mkdir(parents=True, exist_ok=True)
    if best["iteration"] == 0:
        if video_out.resolve() != input_path.resolve():
            shutil.copyfile(input_path, video_out)
        write_audio(audio_out, clip.audio, clip.sample_rate)
        return
    audio, sr = sf.read(best["audio_path"], dtype="float32", always_2d=True)
    write_video_with_audio(input_path, np.ascontiguousarray(audio.T), sr, video_out)
    write_audio(audio_out, audio.T, sr)


def build_report(
    run_id, input_path, digest, clip, options, tools, planner, state, video_out, audio_out, timings
) -> Report:
    best = state["best"]
    threshold = options.threshold
    meets = best["scores"]["alignment"] >= threshold and best["scores"]["sync"] >= threshold
    return Report(
        run_id=run_id,
        avagent_version=avagent.__version__,
        input=InputInfo(
            path=str(input_path),
            sha256=digest,
            duration_s=clip.duration_s,
            sample_rate=clip.sample_rate,
            channels=int(clip.audio.shape[0]),
            fps=clip.video.fps if clip.video else None,
        ),
        config=asdict(options),
        backends={**tools.versions(), "planner": f"{planner.name}/{getattr(planner, 'version', '1')}"},
        captions={"audio": state["audio_description"], "video": state["video_description"]},
        initial_scores=ScoresOut(**state["original_scores"]),
        iterations=[IterationOut(**record) for record in state.get("iterations", [])],
        final=FinalOut(
            status=final_status(best["iteration"], meets),
            stop_reason=state.get("stop_reason", ""),
            best_iteration=best["iteration"],
            actions=best["actions"],
            scores=ScoresOut(**best["scores"]),
            video_path=str(video_out),
            audio_path=str(audio_out),
        ),
        timings={k: round(v, 3) for k, v in timings.items()},
    )


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


# --- from configuration (the CLI, the service and the workers build runs this way) -------------------------------


def options_from_settings(settings: Settings) -> RepairOptions:
    a = settings.agent
    allowed = tuple(a.allowed_actions) if a.allowed_actions else None
    return RepairOptions(
        planner=a.planner,
        threshold=a.threshold,
        max_iterations=a.max_iterations,
        patience=a.patience,
        acceptance=a.acceptance,
        allowed_actions=allowed,
        seed=a.seed,
    )


def toolset_from_settings(settings: Settings) -> Toolset:
    from avagent.tools.toolset import make_toolset

    b = settings.backends
    model_config = {"device": b.device}
    scorer_config = {
        "offline": {},
        "imagebind": {"checkpoint": b.imagebind_checkpoint, **model_config},
        "pe-av": {"model_id": b.peav_model, **model_config},
    }[b.scorer]
    return make_toolset(
        b.audio_describer,
        b.video_describer,
        b.scorer,
        audio_config={"model_id": b.audio_model, **model_config} if b.audio_describer != "offline" else None,
        video_config={"model_id": b.video_model, **model_config} if b.video_describer != "offline" else None,
        scorer_config=scorer_config,
    )


def planner_from_settings(settings: Settings) -> Any:
    b = settings.backends
    if settings.agent.planner == "llm":
        return make_planner("llm", model=b.planner_model, adapter=b.planner_adapter, device=b.device)
    return make_planner(settings.agent.planner)
