"""The rules planner: expert rules over the diagnostics (the offline default).

It diagnoses the problems the descriptions and the original scores show, builds an ordered ladder of candidate
plans for them (best guess first, then alternatives), and on each iteration proposes the first candidate not yet
tried, keeping what earlier accepted plans fixed (reflection feedback). An empty plan means nothing is left worth
trying. Pitch is never proposed: nothing here measures a pitch error without a reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avagent.actions.registry import get_action
from avagent.agent.plan import Plan, PlannedAction, format_actions, plan_from_mapping
from avagent.agent.planners import PlanningInput

# Below this estimated SNR the audio counts as noisy (clean real clips measure 25 dB or more).
NOISY_SNR_DB = 18.0
# An offset is worth repairing above this (perceptible at ~45 ms audio-early, ITU-R BT.1359), if the scorer found
# a sync cue with at least this confidence.
OFFSET_TOLERANCE_S = 0.04
MIN_OFFSET_CONFIDENCE = 0.3
# Drift (playback rate error) worth repairing: 0.2 % accumulates 20 ms over 10 s.
DRIFT_TOLERANCE = 0.002
# Loudness is repaired (normalised to TARGET_LUFS, EBU R128) when the scorer's level factor says it costs
# alignment; scorers without that factor fall back to this window (LUFS). Quiet content is not a defect.
QUIET_LUFS, LOUD_LUFS, TARGET_LUFS = -52.0, -9.0, -23.0
LEVEL_FACTOR_MIN = 0.85

# Denoisers to try per noise type, best first (bench/actions: real speech in noise, ΔSI-SDR).
DENOISERS_BY_NOISE = {
    "broadband": ("wiener", "spectral_subtraction", "wavelet_denoise"),
    "hum": ("spectral_subtraction", "wiener"),
    "tonal": ("spectral_subtraction", "wiener"),
    "low_frequency_rumble": ("spectral_subtraction", "wiener"),
    "non_stationary": ("wiener", "spectral_gating"),
    "unknown": ("wiener", "spectral_subtraction"),
}


@dataclass(frozen=True)
class Diagnosis:
    noise: str | None  # noise type to filter, None when clean enough
    snr_db: float | None
    offset_s: float  # audio late (+) or early (-), 0 when none is repairable
    drift_rate: float  # 1.0 when none
    blanks: int
    loudness_lufs: float | None
    reasons: tuple[str, ...]


class RulesPlanner:
    name = "rules"
    version = "1"

    def plan(self, inp: PlanningInput) -> Plan:
        diagnosis = diagnose(inp.audio, sync_evidence(inp))
        tried = {_key(plan_from_mapping(r["plan"]).actions) for r in inp.history}
        for actions in candidate_plans(diagnosis, inp.history):
            actions = [a for a in actions if not inp.allowed_actions or a.name in inp.allowed_actions]
            if actions and _key(actions) not in tried:
                return Plan(actions=actions, reasoning=_reasoning(diagnosis, actions), planner=self.name)
        why = "; ".join(diagnosis.reasons) or "no defect an action can repair was diagnosed"
        return Plan(actions=[], reasoning=f"nothing left to try ({why})", planner=self.name)


def sync_evidence(inp: PlanningInput) -> dict[str, Any]:
    """The most confident sync measurement so far (reflection feedback).

    Noise can hide the sync cue in the original; once a candidate is denoised, the scorer may measure the offset
    on it. Offsets are measured on candidates made from the ORIGINAL timing only: a candidate that itself shifted
    the audio measures the residual, not the original offset.
    """
    best = inp.original_scores
    for record in inp.history:
        shifted = any(a["name"] == "speed" for a in record["plan"]["actions"])
        if not shifted and _confidence(record["scores"]) > _confidence(best):
            best = record["scores"]
    return best


def _confidence(scores: dict[str, Any]) -> float:
    details = scores.get("details", {})
    return float(details.get("offset_confidence") or 0.0) if details.get("sync_cue", True) else 0.0


def diagnose(audio: dict[str, Any], scores: dict[str, Any]) -> Diagnosis:
    details = scores.get("details", {})
    reasons = []
    snr = audio.get("snr_db")
    noise = None
    if snr is not None and audio.get("snr_reliable", True) and snr < NOISY_SNR_DB:
        noise = audio.get("noise_type") if audio.get("noise_type") in DENOISERS_BY_NOISE else "unknown"
        reasons.append(f"{noise} noise at about {snr:.0f} dB SNR")
    offset = float(details.get("offset_s") or 0.0)
    confident = details.get("sync_cue", True) and (details.get("offset_confidence") or 0.0) >= MIN_OFFSET_CONFIDENCE
    if not (confident and abs(offset) > OFFSET_TOLERANCE_S):
        offset = 0.0
    else:
        reasons.append(f"audio {abs(offset):.2f} s {'late' if offset > 0 else 'early'}")
    drift = float(details.get("drift_rate") or 1.0)
    if not (confident and abs(drift - 1.0) > DRIFT_TOLERANCE):
        drift = 1.0
    else:
        reasons.append(f"audio runs {abs(drift - 1) * 100:.1f} % {'fast' if drift > 1 else 'slow'}")
    blanks = len(audio.get("blanks") or [])
    if blanks:
        reasons.append(f"{blanks} dropout{'s' if blanks > 1 else ''}")
    lufs = audio.get("loudness_lufs")
    level_factor = details.get("alignment_factors", {}).get("level")
    too_quiet_or_loud = (
        (level_factor < LEVEL_FACTOR_MIN)
        if level_factor is not None
        else (lufs is not None and not QUIET_LUFS <= lufs <= LOUD_LUFS)
    )
    if lufs is not None and too_quiet_or_loud:
        reasons.append(f"loudness {lufs:.0f} LUFS")
    else:
        lufs = None
    return Diagnosis(noise, snr, offset, drift, blanks, lufs, tuple(reasons))


def candidate_plans(d: Diagnosis, history: list[dict[str, Any]]) -> list[list[PlannedAction]]:
    """Ordered candidates: best guess first; later ones keep the accepted half of the best plan so far."""
    noise_options = [denoise_action(name, d.snr_db) for name in DENOISERS_BY_NOISE.get(d.noise or "", ())]
    coordination = coordination_options(d)
    kept = _best_accepted(history)
    kept_noise = [a for a in kept if a.name in _NOISE_NAMES]
    kept_coord = [a for a in kept if a.name not in _NOISE_NAMES]
    noise_choices = (kept_noise or []) + [a for a in noise_options if a not in kept_noise] or [None]
    coord_choices = (kept_coord or []) + [a for a in coordination if a not in kept_coord] or [None]
    plans = [[a for a in (n, c) if a is not None] for n in noise_choices for c in coord_choices]
    if noise_options and coordination:  # also try each half alone: a denoiser can hurt, an offset can be wrong
        plans += [[c] for c in coordination] + [[n] for n in noise_options]
    return plans


def denoise_action(name: str, snr_db: float | None) -> PlannedAction:
    """Parameters scaled by the estimated SNR: the noisier the clip, the harder the filter works."""
    snr = 10.0 if snr_db is None else snr_db
    if name == "spectral_subtraction":
        alpha = min(6.0, max(1.0, 4.0 - 3.0 * snr / 20.0))  # Berouti: 4 at 0 dB falling to 1 at 20 dB
        return _action(name, over_subtraction=round(alpha, 2))
    if name == "wiener":
        return _action(name, gain_floor_db=-25.0 if snr < 5 else -20.0)
    if name == "spectral_gating":
        return _action(name, stationary=False)
    return _action(name)


def coordination_options(d: Diagnosis) -> list[PlannedAction]:
    """Priority: timing (offset/drift) > dropouts > loudness, as only one coordination action fits a plan."""
    options = []
    if d.offset_s or d.drift_rate != 1.0:
        rate = round(1.0 / d.drift_rate, 5)
        options.append(_action("speed", rate=rate, offset_s=round(-d.offset_s, 3)))
    if d.blanks:
        options.append(_action("fill_blanks"))
    if d.loudness_lufs is not None:
        options.append(_action("volume", target_lufs=TARGET_LUFS))
    return options


_NOISE_NAMES = frozenset({"spectral_subtraction", "wiener", "wavelet_denoise", "spectral_gating"})


def _action(name: str, **params: Any) -> PlannedAction:
    """An action with its parameters normalised (defaults filled), so equal plans compare and print equal."""
    return PlannedAction(name=name, params=get_action(name).parse(params).model_dump())


def _best_accepted(history: list[dict[str, Any]]) -> list[PlannedAction]:
    accepted = [r for r in history if r["accepted"]]
    if not accepted:
        return []
    best = max(accepted, key=lambda r: r["scores"]["alignment"] + r["scores"]["sync"])
    return plan_from_mapping(best["plan"]).actions


def _key(actions: list[PlannedAction]) -> str:
    return format_actions(sorted(actions, key=lambda a: a.name))


def _reasoning(d: Diagnosis, actions: list[PlannedAction]) -> str:
    names = {a.name for a in actions}
    parts = []
    if names & _NOISE_NAMES and d.noise:
        parts.append(f"{d.noise} noise at about {d.snr_db:.0f} dB SNR masks the content")
    if "speed" in names:
        parts.append("the audio is out of step with the visual events")
    if "fill_blanks" in names:
        parts.append(f"{d.blanks} dropout(s) leave silent holes")
    if "volume" in names:
        parts.append(f"loudness {d.loudness_lufs:.0f} LUFS is far from broadcast level")
    return "; ".join(parts) + "."
