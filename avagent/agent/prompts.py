"""The planner prompt (paper Fig. 5, extended with diagnostics and reflection feedback), built on each call.

The same text is used at inference and in planner training data, so the two never drift apart.
"""

from __future__ import annotations

from typing import Any

from avagent.actions.registry import ACTIONS, Category
from avagent.agent.plan import format_actions, plan_from_mapping
from avagent.agent.planners import PlanningInput

INSTRUCTION = (
    "Given video and audio captions, what actions would you choose from the given action set for editing audio "
    "to achieve noise filtering and improve audio-video synchronization?"
)
ANSWER_FORMAT = (
    "Choose at most one noise filtering action and at most one coordination action, with parameters. "
    "Answer in exactly this form:\n"
    "Actions: name(param=value, ...) and name(param=value, ...)\n"
    "Reasoning: one sentence grounded in the captions and diagnostics.\n"
    "If the audio needs no edit, answer 'Actions: none'."
)
# Diagnostics shown to the planner, in this order, when present in the descriptions or scores.
AUDIO_FIELDS = ("snr_db", "noise_type", "hum_hz", "loudness_lufs", "peak_dbfs", "clipping_ratio", "speech_ratio")
SCORE_FIELDS = ("offset_s", "offset_confidence", "drift_rate", "sync_cue")


def action_catalogue(allowed: tuple[str, ...] = ()) -> str:
    """The action set with the registry's one-line descriptions, grouped as in the paper's Fig. 5."""
    lines = []
    for category, title in (
        (Category.NOISE_FILTERING, "Noise Filtering Actions"),
        (Category.COORDINATION, "Coordination Actions"),
    ):
        names = [n for n, s in ACTIONS.items() if s.category is category and (not allowed or n in allowed)]
        lines.append(f"{title}:")
        lines.extend(f"- {n}: {ACTIONS[n].description}" for n in names)
    return "\n".join(lines)


def diagnostics_text(audio: dict[str, Any], scores: dict[str, Any]) -> str:
    details = scores.get("details", {})
    items = [f"{k}={_fmt(audio[k])}" for k in AUDIO_FIELDS if audio.get(k) is not None]
    items += [f"{k}={_fmt(details[k])}" for k in SCORE_FIELDS if details.get(k) is not None]
    blanks = audio.get("blanks") or []
    if blanks:
        items.append(f"blanks={len(blanks)}")
    return ", ".join(items)


def feedback_text(history: list[dict[str, Any]]) -> str:
    """Reflection feedback: each earlier plan with the scores it reached and whether it was kept."""
    lines = []
    for record in history:
        plan = plan_from_mapping(record["plan"])
        s = record["scores"]
        verdict = "kept" if record["accepted"] else "rejected"
        lines.append(
            f"{record['index']}. Actions: {format_actions(plan.actions)} -> alignment {s['alignment']:.2f}, "
            f"sync {s['sync']:.2f} ({verdict})"
        )
    return "\n".join(lines)


def build_prompt(inp: PlanningInput) -> str:
    s = inp.original_scores
    parts = [
        INSTRUCTION,
        f"Video caption: {inp.video.get('caption', '')}",
        f"Audio caption: {inp.audio.get('caption', '')}",
        f"Diagnostics: {diagnostics_text(inp.audio, s)}",
        f"Scores of the original: alignment {s['alignment']:.2f}, sync {s['sync']:.2f} "
        f"(threshold {inp.threshold:.2f}).",
    ]
    if inp.history:
        parts.append("Earlier plans and their reflection scores:\n" + feedback_text(inp.history))
    parts += [action_catalogue(inp.allowed_actions), ANSWER_FORMAT]
    return "\n".join(parts) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
