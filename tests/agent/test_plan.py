"""Plans: the text form the LLM planner writes, parsing, and validation against the registry."""

from __future__ import annotations

import pytest

from avagent.agent.plan import Plan, PlanError, PlannedAction, parse_plan_text, validate_plan


@pytest.mark.parametrize(
    ("text", "names", "params"),
    [
        (
            "Actions: wiener(gain_floor_db=-20) and speed(offset_s=-0.32)\nReasoning: noisy and late.",
            ["wiener", "speed"],
            [{"gain_floor_db": -20}, {"offset_s": -0.32}],
        ),
        ("Actions: Wiener Filtering and Speed Modification. Reasoning: paper style.", ["wiener", "speed"], [{}, {}]),
        ("Actions: spectral subtraction(over_subtraction=3.5)", ["spectral_subtraction"], [{"over_subtraction": 3.5}]),
        (
            "Actions: spectral_gating(stationary=false, n_fft=2048)",
            ["spectral_gating"],
            [{"stationary": False, "n_fft": 2048}],
        ),
        ("Actions: volume(target_lufs=none, gain_db=6)", ["volume"], [{"target_lufs": None, "gain_db": 6}]),
        (
            "Actions: wavelet_denoise(method='VisuShrink'); fill_blanks(min_gap_ms=30)",
            ["wavelet_denoise", "fill_blanks"],
            [{"method": "VisuShrink"}, {"min_gap_ms": 30}],
        ),
        ("Sure! Here is my plan.\nActions: none\nReasoning: clean and in sync.", [], []),
        ("actions: Filling Blanks\nreasoning: dropouts", ["fill_blanks"], [{}]),
    ],
)
def test_parse_accepts_every_documented_form(text: str, names: list[str], params: list[dict]) -> None:
    plan = parse_plan_text(text)
    assert plan.names() == names
    assert [a.params for a in plan.actions] == params


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I would denoise it.", "no 'Actions:' line"),
        ("Actions: reverb(amount=3)", "unknown action 'reverb'"),
        ("Actions: wiener(gain_floor_db)", "is not key=value"),
        ("Actions: wiener((", "cannot read action"),
    ],
)
def test_parse_rejects_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(PlanError, match=reason.replace("(", r"\(")):
        parse_plan_text(text)


def test_reasoning_is_kept_and_normalised() -> None:
    plan = parse_plan_text("Actions: wiener\nReasoning:  broadband noise\n  under speech.")
    assert plan.reasoning == "broadband noise under speech."


def test_validate_fills_defaults_and_orders_canonically() -> None:
    plan = Plan(actions=[PlannedAction(name="volume"), PlannedAction(name="wiener", params={"dd_alpha": 0.9})])
    valid = validate_plan(plan)
    assert valid.names() == ["wiener", "volume"]  # noise filtering first
    assert valid.actions[0].params["dd_alpha"] == 0.9
    assert "gain_floor_db" in valid.actions[0].params


@pytest.mark.parametrize(
    ("actions", "allowed", "message"),
    [
        ([("wiener", {}), ("spectral_subtraction", {})], None, "two noise_filtering actions"),
        ([("speed", {}), ("volume", {})], None, "two coordination actions"),
        ([("speed", {"rate": 3.0})], None, r"rate.*allowed range 0.5 to 2.0"),
        ([("wiener", {"nonsense": 1})], None, "nonsense"),
        ([("pitch", {})], ("wiener", "speed"), "not allowed"),
        ([("echo", {})], None, "unknown action"),
    ],
)
def test_validate_rejects_contract_breaches(actions, allowed, message: str) -> None:
    plan = Plan(actions=[PlannedAction(name=n, params=p) for n, p in actions])
    with pytest.raises(PlanError, match=message):
        validate_plan(plan, allowed)


def test_text_round_trip() -> None:
    plan = validate_plan(Plan(actions=[PlannedAction(name="speed", params={"offset_s": -0.25})], reasoning="late"))
    again = validate_plan(parse_plan_text(plan.to_text()))
    assert again.actions == plan.actions
    assert again.reasoning == "late"
