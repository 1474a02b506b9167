"""The random planner: the paper's Table 5 baseline ("random actions ... without the guidance of LLMs").

Each plan draws, independently with probability `p_action`, one noise-filtering and one coordination action, and
draws every numeric parameter uniformly within its declared range. Seeded by (seed, iteration), so a resumed run
proposes the same plans.
"""

from __future__ import annotations

import typing
from typing import Any

import numpy as np

from avagent.actions.params import field_bounds
from avagent.actions.registry import ACTIONS, Category
from avagent.agent.plan import Plan, PlannedAction
from avagent.agent.planners import PlanningInput
from avagent.core.errors import ParameterError


class RandomPlanner:
    name = "random"

    def __init__(self, p_action: float = 0.75) -> None:
        self.p_action = p_action

    def plan(self, inp: PlanningInput) -> Plan:
        rng = np.random.default_rng([inp.seed, inp.iteration])
        allowed = set(inp.allowed_actions or ACTIONS)
        actions = []
        for category in Category:
            names = [n for n, s in ACTIONS.items() if s.category is category and n in allowed]
            if names and rng.random() < self.p_action:
                name = names[int(rng.integers(len(names)))]
                actions.append(PlannedAction(name=name, params=random_params(name, rng)))
        return Plan(actions=actions, reasoning="random baseline", planner=self.name)


def random_params(name: str, rng: np.random.Generator, attempts: int = 50) -> dict[str, Any]:
    """Uniform draws within each numeric field's range; random choice for literals and booleans.

    Draws that break a cross-field rule (e.g. max_gap_ms < min_gap_ms) are drawn again; defaults after
    `attempts` failures.
    """
    for _ in range(attempts):
        params = _draw(name, rng)
        try:
            ACTIONS[name].parse(params)
        except ParameterError:
            continue
        return params
    return {}


def _draw(name: str, rng: np.random.Generator) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for field_name, info in ACTIONS[name].params_model.model_fields.items():
        if field_name.startswith("noise_") or info.default is None:
            continue  # optional segment/window fields keep their default
        annotation = info.annotation
        if annotation is bool:
            params[field_name] = bool(rng.integers(2))
        elif typing.get_origin(annotation) is typing.Literal:
            choices = typing.get_args(annotation)
            params[field_name] = choices[int(rng.integers(len(choices)))]
        elif annotation in (float, int):
            lo, hi = field_bounds(info)
            if lo is None or hi is None:
                continue
            value = rng.uniform(lo, hi)
            params[field_name] = round(value) if annotation is int else float(value)
    return params
