"""Open-QA judges: a transformers causal-LM judge and the exact / normalised-match fallback.

Dolphin's AVU-Bench and the Video-ChatGPT protocol score open answers with a GPT judge that returns a yes/no
correctness label and an integer score (../shared/notes/dolphin.md §4); the judge model and prompt are not
published. Here any local causal LM can judge, and the model path, prompt template and generation settings are
recorded in the results, so numbers are reproducible and comparable only between runs with the same judge.

A judgment the model's reply does not state (no "correct: yes/no" or Video-ChatGPT ``{'pred': 'yes'}``) falls
back to the normalised-match judge for that sample and is flagged ``fallback``; the results report how often.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from avagent.avllm.evaluate.errors import JudgeUnavailableError
from avagent.avllm.evaluate.text import normalise

DEFAULT_JUDGE_PROMPT = (
    "You judge answers to questions about a video with its sound.\n"
    "Question: {question}\n"
    "Correct answer: {reference}\n"
    "Predicted answer: {prediction}\n"
    "Does the predicted answer mean the same as the correct answer? Reply on one line exactly as\n"
    "correct: yes or no; score: an integer from 0 (wrong) to 5 (perfect)\n"
)
JUDGE_MAX_NEW_TOKENS = 24  # enough for "correct: yes; score: 5" and some slack
MAX_SCORE = 5.0  # Video-ChatGPT / AVU-Bench score scale upper bound

_CORRECT = re.compile(r"correct\s*[:=]\s*['\"]?(yes|no|true|false)", re.I)
_PRED_DICT = re.compile(r"['\"]pred['\"]\s*:\s*['\"](yes|no)['\"]", re.I)
_LEADING = re.compile(r"^\W*(yes|no)\b", re.I)
_SCORE = re.compile(r"score['\"]?\s*[:=]\s*['\"]?(\d+(?:\.\d+)?)", re.I)


@dataclass(frozen=True)
class JudgeInfo:
    """What produced the judgments; stored in the results."""

    kind: str  # "exact_match" or "transformers"
    model: str | None = None  # model path or hub name
    prompt: str | None = None  # prompt template with {question}, {reference}, {prediction}
    settings: dict[str, Any] = field(default_factory=dict)  # generation settings, matching rule


@dataclass(frozen=True)
class Judgment:
    """One judged answer."""

    correct: bool
    score: float | None  # 0..5 when the judge gives one
    raw: str  # the judge's reply ("" for exact match)
    fallback: bool = False  # True when the model's reply was unusable and exact match decided


class Judge(Protocol):
    info: JudgeInfo

    def judge(self, question: str, reference: str, prediction: str) -> Judgment: ...


@dataclass
class ExactMatchJudge:
    """Correct iff the normalised prediction equals the normalised reference (or contains it, if
    `contains`)."""

    contains: bool = False  # also accept a prediction that contains the reference as whole words

    @property
    def info(self) -> JudgeInfo:
        rule = "normalised prediction contains normalised reference" if self.contains else "normalised equality"
        return JudgeInfo("exact_match", settings={"rule": rule})

    def judge(self, question: str, reference: str, prediction: str) -> Judgment:
        ref, pred = normalise(reference), normalise(prediction)
        correct = bool(ref) and (pred == ref or (self.contains and f" {ref} " in f" {pred} "))
        return Judgment(correct, MAX_SCORE if correct else 0.0, "")


def parse_judgment(text: str) -> tuple[bool, float | None] | None:
    """(correct, score) from a judge reply, or None when it states no verdict."""
    verdict = _CORRECT.search(text) or _PRED_DICT.search(text) or _LEADING.search(text)
    if verdict is None:
        return None
    score = _SCORE.search(text)
    value = min(float(score.group(1)), MAX_SCORE) if score else None
    return verdict.group(1).lower() in ("yes", "true"), value


@dataclass
class TransformersJudge:
    """A local causal LM (transformers ``AutoModelForCausalLM``) as judge; greedy decoding on CPU by
    default."""

    model_path: str  # folder or hub name; only local files are read
    prompt: str = DEFAULT_JUDGE_PROMPT  # template with {question}, {reference}, {prediction}
    max_new_tokens: int = JUDGE_MAX_NEW_TOKENS
    device: str = "cpu"
    fallback: ExactMatchJudge = field(default_factory=ExactMatchJudge)
    _model: Any = field(default=None, init=False, repr=False)
    _tokenizer: Any = field(default=None, init=False, repr=False)

    @property
    def info(self) -> JudgeInfo:
        settings = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": False,
            "device": self.device,
            "fallback": self.fallback.info.settings["rule"],
        }
        return JudgeInfo("transformers", str(self.model_path), self.prompt, settings)

    def load(self) -> None:
        """Load tokenizer and model once (raises `JudgeUnavailableError`)."""
        if self._model is not None:
            return
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            local = Path(self.model_path).exists()
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=local)
            self._model = AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=local)
        except (ImportError, OSError, ValueError, KeyError) as e:
            raise JudgeUnavailableError(f"cannot load judge model {self.model_path}: {e}") from e
        self._model.to(self.device).eval()

    def _prompt_ids(self, text: str) -> Any:
        tok = self._tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(
                [{"role": "user", "content": text}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )["input_ids"]
        return tok(text, return_tensors="pt")["input_ids"]

    def reply(self, question: str, reference: str, prediction: str) -> str:
        """The judge model's raw reply to the filled-in prompt."""
        import torch

        self.load()
        text = self.prompt.format(question=question, reference=reference, prediction=prediction)
        ids = self._prompt_ids(text).to(self.device)
        pad = self._tokenizer.pad_token_id
        pad = pad if pad is not None else self._tokenizer.eos_token_id
        with torch.no_grad():
            out = self._model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
            )
        return self._tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()

    def judge(self, question: str, reference: str, prediction: str) -> Judgment:
        raw = self.reply(question, reference, prediction)
        verdict = parse_judgment(raw)
        if verdict is None:
            backup = self.fallback.judge(question, reference, prediction)
            return Judgment(backup.correct, backup.score, raw, fallback=True)
        return Judgment(verdict[0], verdict[1], raw)
