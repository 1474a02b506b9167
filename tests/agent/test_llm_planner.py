"""The LLM planner: real loading and generation with a tiny random model, the retry, and the rules fallback."""

from __future__ import annotations

import os

import pytest

from avagent.agent.planners import PlanningInput
from avagent.agent.planners.llm import LLMPlanner
from avagent.agent.prompts import build_prompt
from avagent.core.errors import BackendUnavailableError
from tests.tiny_lm import save_tiny_causal_lm

os.environ.setdefault("HF_HUB_OFFLINE", "1")

NOISY = PlanningInput(
    iteration=1,
    audio={
        "caption": "speech; broadband noise at about 3 dB SNR",
        "snr_db": 3.0,
        "snr_reliable": True,
        "noise_type": "broadband",
        "blanks": [],
        "loudness_lufs": -20.0,
    },
    video={"caption": "one face, mouth moving"},
    original_scores={"alignment": 0.1, "sync": 0.9, "backend": "test", "details": {"sync_cue": False}},
)


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def tiny_planner_dir(request, tmp_path_factory):
    corpus = [build_prompt(NOISY), "Actions: wiener and speed none Reasoning: noise ( ) = , . -0.3"]
    return save_tiny_causal_lm(tmp_path_factory.mktemp(f"planner_{request.param}"), corpus, arch=request.param)


def test_garbage_answers_fall_back_to_rules_and_say_so(tiny_planner_dir) -> None:
    planner = LLMPlanner(model=str(tiny_planner_dir), max_new_tokens=12)
    plan = planner.plan(NOISY)
    assert plan.planner == "llm->rules"
    assert plan.note and "invalid twice" in plan.note and "fell back to rules" in plan.note
    assert plan.names() == ["wiener"]  # what the rules planner proposes for this diagnosis
    assert planner.last_latency_s > 0


def test_a_valid_second_answer_is_used(tiny_planner_dir, monkeypatch) -> None:
    planner = LLMPlanner(model=str(tiny_planner_dir), max_new_tokens=4)
    answers = iter(["I think it needs help", "Actions: spectral_subtraction(over_subtraction=4)\nReasoning: noisy."])
    prompts = []
    monkeypatch.setattr(planner, "generate", lambda prompt: prompts.append(prompt) or next(answers))
    plan = planner.plan(NOISY)
    assert plan.planner == "llm" and plan.note is None
    assert plan.names() == ["spectral_subtraction"] and plan.actions[0].params["over_subtraction"] == 4
    assert "Previous answer invalid: no 'Actions:' line" in prompts[1]


def test_prompt_lists_the_action_set_with_registry_descriptions() -> None:
    from avagent.actions.registry import ACTIONS

    prompt = build_prompt(NOISY)
    for name, spec in ACTIONS.items():
        assert f"- {name}: {spec.description}" in prompt
    assert "Noise Filtering Actions:" in prompt and "Coordination Actions:" in prompt
    assert "snr_db=3" in prompt and "Actions: none" in prompt


def test_missing_model_is_backend_unavailable(tmp_path) -> None:
    with pytest.raises(BackendUnavailableError, match="cannot load planner model"):
        LLMPlanner(model=str(tmp_path / "nowhere"))
