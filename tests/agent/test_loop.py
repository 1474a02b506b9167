"""The repair loop end to end with the real offline tools, on clips assembled from real recordings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avagent.actions.registry import apply_actions
from avagent.agent.plan import plan_from_mapping
from avagent.agent.report import REPORT_SCHEMA, Report
from avagent.agent.run import repair
from avagent.agent.state import RepairOptions
from avagent.core.media import load_audio, load_clip, write_video_with_audio
from avagent.core.metrics import estimate_offset, si_sdr
from avagent.core.simulate import Noise, Offset, simulate
from avagent.core.synthetic_av import make_clip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tools():
    from avagent.tools.toolset import make_toolset

    return make_toolset()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loop_clips")
    clean = make_clip(root / "clean.mp4", seed=3, duration_s=8.0, size=(320, 240)).path
    clip = load_clip(clean)
    out = {"clean": clean}
    for name, corruptions in {
        "noisy": [Noise("pink", 5.0)],
        "late": [Offset(0.4)],
        "noisy_late": [Noise("pink", 5.0), Offset(0.4)],
    }.items():
        result = simulate(clip.audio, clip.sample_rate, corruptions, seed=1)
        out[name] = write_video_with_audio(clean, result.audio, clip.sample_rate, root / f"{name}.mp4")
    return out


def _reference(clips) -> tuple[np.ndarray, int]:
    audio, sr = load_audio(clips["clean"], mono=True)
    return audio[0], sr


def test_clean_clip_is_returned_untouched(clips, tools, tmp_path) -> None:
    result = repair(clips["clean"], tmp_path / "out.mp4", tools=tools)
    assert result.status == "untouched" and result.report.final.stop_reason == "aligned"
    assert result.report.iterations == []
    assert (tmp_path / "out.mp4").read_bytes() == clips["clean"].read_bytes()


def test_noise_is_filtered(clips, tools, tmp_path) -> None:
    result = repair(clips["noisy"], tmp_path / "out.mp4", tools=tools)
    assert result.status == "repaired"
    assert {a["name"] for a in result.report.final.actions} & {"wiener", "spectral_subtraction"}
    reference, _ = _reference(clips)
    noisy, _ = load_audio(clips["noisy"], mono=True)
    repaired, _ = load_audio(result.audio_path, mono=True)
    n = min(len(reference), noisy.shape[1], repaired.shape[1])
    assert si_sdr(reference[:n], repaired[0, :n]) > si_sdr(reference[:n], noisy[0, :n]) + 5.0


@pytest.mark.parametrize("name", ["late", "noisy_late"])
def test_offset_is_repaired(clips, tools, tmp_path, name: str) -> None:
    result = repair(clips[name], tmp_path / "out.mp4", tools=tools)
    assert result.status == "repaired"
    assert "speed" in {a["name"] for a in result.report.final.actions}
    reference, sr = _reference(clips)
    repaired, _ = load_audio(result.audio_path, mono=True)
    assert abs(estimate_offset(reference, repaired[0], sr, max_lag_s=2.0).seconds) < 0.08


def test_every_plan_edits_the_original_audio(clips, tools, tmp_path) -> None:
    result = repair(clips["noisy_late"], tmp_path / "out.mp4", tools=tools, work_dir=tmp_path / "work")
    original = load_clip(clips["noisy_late"])
    assert result.report.iterations
    for record in result.report.iterations:
        plan = plan_from_mapping(record.plan.model_dump())
        expected = apply_actions(original.audio, original.sample_rate, plan.as_pairs())
        candidate, _ = sf.read(tmp_path / "work" / f"candidate_{record.index:02d}.wav", dtype="float32", always_2d=True)
        np.testing.assert_array_equal(candidate.T, expected)


def test_report_follows_the_schema(clips, tools, tmp_path) -> None:
    result = repair(clips["noisy"], tmp_path / "out.mp4", tools=tools)
    data = json.loads(result.report_path.read_text())
    assert data["schema"] == REPORT_SCHEMA
    report = Report.model_validate(data)
    assert report.input.sha256 and report.input.fps == pytest.approx(25.0)
    assert report.captions["audio"]["caption"] and report.captions["video"]["caption"]
    assert set(report.backends) >= {"audio_describer", "video_describer", "scorer", "planner"}
    for it in report.iterations:
        assert it.plan.planner == "rules" and it.plan.reasoning and it.seconds >= 0
        assert 0.0 <= it.scores.alignment <= 1.0 and 0.0 <= it.scores.sync <= 1.0
    assert report.config["threshold"] == 0.85 and report.config["max_iterations"] == 4


def test_iteration_cap_and_strict_rule_are_honoured(clips, tools, tmp_path) -> None:
    options = RepairOptions(max_iterations=1, acceptance="strict")
    result = repair(clips["noisy_late"], tmp_path / "out.mp4", tools=tools, options=options)
    assert len(result.report.iterations) == 1
    assert result.report.final.stop_reason in {"max_iterations", "repaired"}


def test_events_cover_every_node_in_order(clips, tools, tmp_path) -> None:
    events = []
    repair(clips["noisy"], tmp_path / "out.mp4", tools=tools, on_event=events.append)
    nodes = [e.node for e in events]
    assert nodes[:2] == ["perceive", "reflect_original"] and nodes[-1] == "finalize"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len({e.run_id for e in events}) == 1
    assert nodes.count("plan") == nodes.count("act") == nodes.count("reflect") == nodes.count("decide")


KILLABLE = """
import json, sys
from avagent.agent.run import repair
def on_event(e):
    with open(sys.argv[3], "a") as f:
        f.write(json.dumps({"node": e.node, "iteration": e.iteration}) + "\\n")
    if e.node == "decide":
        import time; time.sleep(60)  # the parent kills us here, mid-loop
repair(sys.argv[1], sys.argv[2], run_id="killed-run", on_event=on_event)
"""


def test_killed_run_resumes_to_the_same_result(clips, tools, tmp_path) -> None:
    """Kill a real process mid-loop with SIGKILL; resuming with the same run id finishes without redoing the
    finished nodes and ends with the result of an uninterrupted run."""
    out, log = tmp_path / "resumed.mp4", tmp_path / "events.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, str(clips["noisy_late"]), str(out), str(log)],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and '"decide"' in log.read_text()):
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert '"decide"' in log.read_text() and not out.exists()

    resumed_events = []
    resumed = repair(clips["noisy_late"], out, run_id="killed-run", tools=tools, on_event=resumed_events.append)
    assert "perceive" not in [e.node for e in resumed_events]  # finished nodes are not redone
    fresh = repair(clips["noisy_late"], tmp_path / "fresh.mp4", run_id="fresh-run", tools=tools)
    assert resumed.report.final.actions == fresh.report.final.actions
    assert resumed.report.final.scores.alignment == pytest.approx(fresh.report.final.scores.alignment)
    assert resumed.report.final.scores.sync == pytest.approx(fresh.report.final.scores.sync)
    assert [i.plan.actions for i in resumed.report.iterations] == [i.plan.actions for i in fresh.report.iterations]
    a, _ = load_audio(resumed.audio_path)
    b, _ = load_audio(fresh.audio_path)
    np.testing.assert_array_equal(a, b)
