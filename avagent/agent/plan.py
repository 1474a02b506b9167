"""Plans: what a planner proposes, validated against the action registry (paper Fig. 4 contract).

A plan holds at most one noise-filtering action and at most one coordination action, each with validated
parameters, plus the planner's reasoning. An empty plan means "no edit".

The text form is what the LLM planner writes and what planner training data teaches (paper Fig. 5 style):

    Actions: wiener(gain_floor_db=-20) and speed(offset_s=-0.32)
    Reasoning: broadband noise at 3 dB SNR hides the speech; the audio is 0.32 s late.

`Actions: none` is the no-edit answer. Display names ("Wiener Filtering", "Speed Modification") are accepted for
registry names; parameters are `key=value` pairs (numbers, true/false, none, or bare/quoted strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from avagent.actions.registry import ACTIONS, CANONICAL_ORDER, Category, get_action
from avagent.core.errors import ParameterError

# Display names of the paper's Fig. 3 / Fig. 5, mapped to registry names.
DISPLAY_NAMES: dict[str, str] = {
    "spectral_subtraction": "Spectral Subtraction",
    "wiener": "Wiener Filtering",
    "wavelet_denoise": "Wavelet Denoising",
    "spectral_gating": "Spectral Gating",
    "speed": "Speed Modification",
    "pitch": "Pitch Modification",
    "volume": "Volume Adjustment",
    "fill_blanks": "Filling Blanks",
}
_NAME_LOOKUP = {**{k: k for k in ACTIONS}, **{v.lower(): k for k, v in DISPLAY_NAMES.items()}}
_NAME_LOOKUP.update({k.replace("_", " "): k for k in ACTIONS})


class PlanError(ParameterError):
    """A plan that breaks the contract (unknown action, two of a category, bad parameters, unparsable text)."""

    code = "invalid_plan"


class PlannedAction(BaseModel):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class Plan(BaseModel):
    actions: list[PlannedAction] = Field(default_factory=list)
    reasoning: str = ""
    planner: str = ""
    note: str | None = None  # e.g. "llm answer invalid twice; fell back to rules"

    @property
    def is_empty(self) -> bool:
        return not self.actions

    def names(self) -> list[str]:
        return [a.name for a in self.actions]

    def as_pairs(self) -> list[tuple[str, dict[str, Any]]]:
        return [(a.name, a.params) for a in self.actions]

    def to_text(self) -> str:
        """The answer text the LLM planner is trained to produce for this plan."""
        return f"Actions: {format_actions(self.actions)}\nReasoning: {self.reasoning}".strip()


def validate_plan(plan: Plan, allowed: Iterable[str] | None = None) -> Plan:
    """Check the plan contract and return a copy with parameters normalised (defaults filled, canonical order).

    Raises `PlanError` naming what is wrong.
    """
    allowed_set = set(allowed) if allowed is not None else set(ACTIONS)
    seen: dict[Category, str] = {}
    normalised = []
    for action in plan.actions:
        try:
            spec = get_action(action.name)
            params = spec.parse(action.params).model_dump()
        except ParameterError as e:
            raise PlanError(str(e)) from e
        if spec.name not in allowed_set:
            raise PlanError(f"action {spec.name!r} is not allowed here; allowed: {', '.join(sorted(allowed_set))}")
        if spec.category in seen:
            raise PlanError(
                f"two {spec.category.value} actions ({seen[spec.category]}, {spec.name}); a plan holds at most one"
            )
        seen[spec.category] = spec.name
        normalised.append(PlannedAction(name=spec.name, params=params))
    normalised.sort(key=lambda a: CANONICAL_ORDER.index(a.name))
    return plan.model_copy(update={"actions": normalised})


def format_actions(actions: Iterable[PlannedAction]) -> str:
    parts = []
    for a in actions:
        args = ", ".join(f"{k}={_format_value(v)}" for k, v in a.params.items())
        parts.append(f"{a.name}({args})")
    return " and ".join(parts) if parts else "none"


def _format_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


_ACTIONS_LINE = re.compile(r"actions?\s*:\s*(?P<body>.+?)(?=\n|reasoning\s*:|$)", re.IGNORECASE)
_REASONING = re.compile(r"reasoning\s*:\s*(?P<body>.+)", re.IGNORECASE | re.DOTALL)
_CALL = re.compile(r"(?P<name>[A-Za-z][A-Za-z _-]*?)\s*(?:\((?P<args>[^()]*)\))?\s*$")


def parse_plan_text(text: str, planner: str = "llm") -> Plan:
    """Parse the planner's answer text (format in the module docstring). Raises `PlanError` with the reason."""
    match = _ACTIONS_LINE.search(text or "")
    if match is None:
        raise PlanError("no 'Actions:' line in the answer")
    body = match.group("body").strip().rstrip(".").strip()
    reasoning_match = _REASONING.search(text[match.end() :] if match else "")
    reasoning = " ".join(reasoning_match.group("body").split()) if reasoning_match else ""
    if body.lower() in {"none", "no edit", "no edits", "no action", "no actions"}:
        return Plan(actions=[], reasoning=reasoning, planner=planner)
    actions = [_parse_call(part) for part in _split_actions(body)]
    return Plan(actions=actions, reasoning=reasoning, planner=planner)


def _split_actions(body: str) -> list[str]:
    parts, depth, current = [], 0, []
    i = 0
    while i < len(body):
        ch = body[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and (body.startswith(" and ", i) or ch in ";,"):
            parts.append("".join(current))
            current = []
            i += 5 if body.startswith(" and ", i) else 1
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _parse_call(part: str) -> PlannedAction:
    match = _CALL.match(part.strip())
    if match is None:
        raise PlanError(f"cannot read action {part!r}")
    key = " ".join(match.group("name").replace("-", " ").split()).lower()
    name = _NAME_LOOKUP.get(key) or _NAME_LOOKUP.get(key.replace(" ", "_"))
    if name is None:
        raise PlanError(f"unknown action {match.group('name').strip()!r}")
    return PlannedAction(name=name, params=_parse_args(match.group("args") or "", name))


def _parse_args(args: str, action: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in filter(None, (a.strip() for a in args.split(","))):
        if "=" not in item:
            raise PlanError(f"{action}: parameter {item!r} is not key=value")
        key, raw = (s.strip() for s in item.split("=", 1))
        params[key] = _parse_value(raw)
    return params


def _parse_value(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"none", "null"}:
        return None
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw.rstrip("s") if re.fullmatch(r"-?[\d.]+s", raw) else raw)
    except ValueError:
        return raw.strip("'\"")


def plan_from_mapping(data: Mapping[str, Any], planner: str = "") -> Plan:
    """Build a plan from JSON-like data (reports, API payloads)."""
    return Plan.model_validate({"planner": planner, **dict(data)})
