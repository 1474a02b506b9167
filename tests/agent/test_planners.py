"""Planners: rules over diagnostics, the seeded random baseline, and the LLM planner's parse/retry/fallback path."""

from __future__ import annotations

import pytest

from avagent.agent.graph import improves
from avagent.agent.plan import validate_plan
from avagent.agent.planners import PlanningInput, make_planner
from avagent.agent.planners.random import RandomPlanner
from avagent.agent.planners.rules import RulesPlanner
from avagent.core.errors import ParameterError

CLEAN_AUDIO = {
    "caption": "speech",
    "snr_db": 35.0,
    "snr_reliable": True,
    "noise_type": "none",
    "blanks": [],
    "loudness_lufs": -20.0,
}


def scores(alignment: float = 0.95, sync: float = 0.95, **details) -> dict:
    base = {"offset_s": 0.0, "offset_confidence": 0.0, "sync_cue": False}
    return {"alignment": alignment, "sync": sync, "backend": "test", "details": {**base, **details}}


def inp(audio: dict | None = None, original: dict | None = None, history=(), iteration: int = 1, **kw):
    return PlanningInput(
        iteration=iteration,
        audio={**CLEAN_AUDIO, **(audio or {})},
        video={"caption": "a face"},
        original_scores=original or scores(),
        history=list(history),
        **kw,
    )


@pytest.mark.parametrize(
    ("audio", "original", "expected"),
    [
        ({"snr_db": 3.0, "noise_type": "broadband"}, scores(0.2), ["wiener"]),
        ({"snr_db": 6.0, "noise_type": "hum", "hum_hz": 50.0}, scores(0.3), ["spectral_subtraction"]),
        ({}, scores(0.95, 0.1, offset_s=0.4, offset_confidence=0.9, sync_cue=True), ["speed"]),
        (
            {"snr_db": 2.0, "noise_type": "broadband"},
            scores(0.1, 0.1, offset_s=-0.3, offset_confidence=0.8, sync_cue=True),
            ["wiener", "speed"],
        ),
        ({"blanks": [[1.0, 0.2]]}, scores(0.8), ["fill_blanks"]),
        ({"loudness_lufs": -55.0}, scores(0.7), ["volume"]),
        ({}, scores(0.95, 0.1, offset_s=0.4, offset_confidence=0.1, sync_cue=True), []),  # not confident: no edit
        ({}, scores(0.5), []),  # below threshold but nothing diagnosed: do no harm
    ],
)
def test_rules_first_plan_follows_the_diagnosis(audio, original, expected) -> None:
    plan = RulesPlanner().plan(inp(audio, original))
    assert plan.names() == expected
    validate_plan(plan)  # every rules plan honours the contract
    if expected:
        assert plan.reasoning


def test_rules_offset_parameter_is_the_inverse_of_the_measured_offset() -> None:
    plan = RulesPlanner().plan(inp(original=scores(0.95, 0.1, offset_s=0.4, offset_confidence=0.9, sync_cue=True)))
    assert plan.actions[0].params["offset_s"] == pytest.approx(-0.4)


def test_rules_use_reflection_feedback_and_never_repeat_a_plan() -> None:
    planner = RulesPlanner()
    noisy = {"snr_db": 3.0, "noise_type": "broadband"}
    first = validate_plan(planner.plan(inp(noisy, scores(0.1, 0.9))))
    # the denoised candidate revealed an offset that noise had hidden in the original
    record = {
        "index": 1,
        "plan": first.model_dump(),
        "accepted": True,
        "scores": scores(0.9, 0.2, offset_s=0.35, offset_confidence=0.95, sync_cue=True),
    }
    second = validate_plan(planner.plan(inp(noisy, scores(0.1, 0.9), [record], iteration=2)))
    assert second.names() == ["wiener", "speed"]
    assert second.actions[1].params["offset_s"] == pytest.approx(-0.35)
    rejected = {"index": 2, "plan": second.model_dump(), "accepted": False, "scores": scores(0.9, 0.3)}
    third = validate_plan(planner.plan(inp(noisy, scores(0.1, 0.9), [record, rejected], iteration=3)))
    assert third.actions != second.actions and third.actions != first.actions


def test_rules_stop_when_nothing_is_left() -> None:
    planner = RulesPlanner()
    noisy = {"snr_db": 3.0, "noise_type": "hum"}
    history = []
    for i in range(1, 10):
        plan = validate_plan(planner.plan(inp(noisy, scores(0.1), history, iteration=i)))
        if plan.is_empty:
            break
        history.append({"index": i, "plan": plan.model_dump(), "accepted": False, "scores": scores(0.1)})
    assert plan.is_empty and "nothing left" in plan.reasoning
    assert len({str(h["plan"]["actions"]) for h in history}) == len(history)


def test_rules_respect_allowed_actions() -> None:
    plan = RulesPlanner().plan(
        inp({"snr_db": 3.0, "noise_type": "broadband"}, scores(0.1), allowed_actions=("spectral_subtraction", "speed"))
    )
    assert plan.names() == ["spectral_subtraction"]


def test_random_planner_is_seeded_and_valid() -> None:
    planner = RandomPlanner()
    plans = [validate_plan(planner.plan(inp(iteration=i, seed=7))) for i in range(1, 30)]
    again = [validate_plan(planner.plan(inp(iteration=i, seed=7))) for i in range(1, 30)]
    assert [p.actions for p in plans] == [p.actions for p in again]
    assert len({tuple(p.names()) for p in plans}) > 5  # it really varies
    other = [validate_plan(planner.plan(inp(iteration=i, seed=8))).actions for i in range(1, 30)]
    assert other != [p.actions for p in plans]


@pytest.mark.parametrize(
    ("candidate", "best", "rule", "accepted"),
    [
        ((0.9, 0.9), (0.5, 0.9), "pareto", True),
        ((0.9, 0.89), (0.5, 0.9), "pareto", True),  # within the fall tolerance
        ((0.9, 0.5), (0.5, 0.9), "pareto", False),
        ((0.5, 0.9), (0.5, 0.9), "pareto", False),  # nothing rose
        ((0.9, 0.9), (0.5, 0.9), "strict", False),  # the paper: both must rise
        ((0.9, 0.95), (0.5, 0.9), "strict", True),
    ],
)
def test_acceptance_rules(candidate, best, rule, accepted) -> None:
    c = {"alignment": candidate[0], "sync": candidate[1]}
    b = {"alignment": best[0], "sync": best[1]}
    assert improves(c, b, rule, min_gain=0.005, fall_tolerance=0.02) is accepted


def test_unknown_planner_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="unknown planner"):
        make_planner("oracle")


def test_sync_without_a_cue_is_not_compared() -> None:
    """A denoised candidate that reveals a hidden offset is kept: the original's sync was a placeholder."""
    original = {"alignment": 0.01, "sync": 0.9, "details": {"no_sync_cue": True}}
    revealed = {"alignment": 0.99, "sync": 0.05, "details": {"no_sync_cue": False}}
    assert improves(revealed, original, "pareto", min_gain=0.005, fall_tolerance=0.02)
    same_cue = {"alignment": 0.99, "sync": 0.05, "details": {"no_sync_cue": True}}
    assert not improves(same_cue, original, "pareto", min_gain=0.005, fall_tolerance=0.02)


def test_random_parameters_always_validate() -> None:
    """Cross-field rules (fill_blanks max_gap_ms >= min_gap_ms, gating n_fft % 4) are honoured by every draw."""
    import numpy as np

    from avagent.actions.registry import ACTIONS
    from avagent.agent.planners.random import random_params

    rng = np.random.default_rng(0)
    for _ in range(200):
        for name, spec in ACTIONS.items():
            spec.parse(random_params(name, rng))
