"""The LLM planner: any transformers causal LM (Vicuna-7B-v1.5 in production), optionally with a PEFT LoRA adapter.

The answer is parsed and validated against the action registry. An invalid answer gets one retry with the reason
appended; a second invalid answer falls back to the rules planner, and the plan's `note` says so (the report
records it).
"""

from __future__ import annotations

import time
from typing import Any

from avagent.agent.plan import Plan, PlanError, parse_plan_text, validate_plan
from avagent.agent.planners import PlanningInput
from avagent.agent.prompts import build_prompt
from avagent.core.errors import BackendUnavailableError

PRODUCTION_MODEL = "lmsys/vicuna-7b-v1.5"


class LLMPlanner:
    name = "llm"

    def __init__(
        self,
        model: str = PRODUCTION_MODEL,
        adapter: str | None = None,
        max_new_tokens: int = 96,
        device: str = "cpu",
        fallback: Any = None,
    ) -> None:
        from avagent.agent.planners.rules import RulesPlanner

        self.model_id, self.adapter = model, adapter
        self.max_new_tokens = max_new_tokens
        self.tokenizer, self.model = load_causal_lm(model, adapter=adapter, device=device)
        self.fallback = fallback or RulesPlanner()
        self.last_latency_s = 0.0

    @property
    def version(self) -> str:
        return f"{self.model_id}+{self.adapter}" if self.adapter else self.model_id

    def plan(self, inp: PlanningInput) -> Plan:
        prompt = build_prompt(inp)
        errors = []
        for _attempt in range(2):
            text = self.generate(prompt if not errors else f"{prompt}\n(Previous answer invalid: {errors[-1]}.)\n")
            try:
                plan = parse_plan_text(text, planner=self.name)
                return validate_plan(plan, inp.allowed_actions or None)
            except PlanError as e:
                errors.append(str(e))
        plan = self.fallback.plan(inp)
        note = f"llm answer invalid twice ({'; '.join(errors)}); fell back to {self.fallback.name}"
        return plan.model_copy(update={"note": note, "planner": f"{self.name}->{self.fallback.name}"})

    def generate(self, prompt: str) -> str:
        import torch

        started = time.perf_counter()
        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.model.device)
        with torch.no_grad():
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            )
        self.last_latency_s = time.perf_counter() - started
        return self.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def load_causal_lm(model: str, adapter: str | None = None, device: str = "cpu"):
    """Load a tokenizer and causal LM from a hub id or local directory, plus an optional PEFT adapter."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendUnavailableError("the llm planner needs the 'llm' extra: pip install 'avagent[llm]'") from e
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        lm = AutoModelForCausalLM.from_pretrained(model).to(device).eval()
    except (OSError, ValueError) as e:
        raise BackendUnavailableError(f"cannot load planner model {model!r}: {e}") from e
    if adapter:
        from peft import PeftModel

        lm = PeftModel.from_pretrained(lm, adapter).eval()
    return tokenizer, lm
