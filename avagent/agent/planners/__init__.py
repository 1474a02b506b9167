"""Planners: given captions, diagnostics and the history of earlier plans, propose the next plan.

- `rules`: expert rules over the diagnostics (the offline default).
- `llm`: any transformers causal LM (Vicuna-7B in production), optionally with a LoRA adapter; its answer is
  parsed and validated against the registry, retried once, and otherwise replaced by the rules planner's plan.
- `random`: random actions with random parameters (the paper's Table 5 baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from avagent.agent.plan import Plan
from avagent.core.errors import ParameterError


@dataclass(frozen=True)
class PlanningInput:
    iteration: int  # 1 for the first plan
    audio: dict[str, Any]  # the audio description (caption + diagnostics)
    video: dict[str, Any]  # the video description
    original_scores: dict[str, Any]  # alignment, sync, details of the unedited clip
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier iterations: plan, scores, accepted
    allowed_actions: tuple[str, ...] = ()  # empty: all actions
    threshold: float = 0.85
    seed: int = 0


class Planner(Protocol):
    name: str

    def plan(self, inp: PlanningInput) -> Plan: ...


PLANNERS = ("rules", "llm", "random")


def make_planner(name: str, **config: Any) -> Planner:
    """Build a planner by name; `config` goes to its constructor (e.g. model path and adapter for `llm`)."""
    if name == "rules":
        from avagent.agent.planners.rules import RulesPlanner

        return RulesPlanner(**config)
    if name == "random":
        from avagent.agent.planners.random import RandomPlanner

        return RandomPlanner(**config)
    if name == "llm":
        from avagent.agent.planners.llm import LLMPlanner

        return LLMPlanner(**config)
    raise ParameterError(f"unknown planner {name!r}; choose one of {', '.join(PLANNERS)}")
