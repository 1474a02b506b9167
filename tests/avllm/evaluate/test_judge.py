"""Open-QA judges: exact / normalised match, and a real transformers causal LM loaded from disk.

The LM is a randomly initialised one-layer Llama with a word-level tokenizer, built from a config and saved to
tmp_path, so the judge's loading and generation code runs unchanged; its replies are garbage, which is what
the fallback is for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avagent.avllm.evaluate import evaluate
from avagent.avllm.evaluate.errors import JudgeUnavailableError
from avagent.avllm.evaluate.judge import (
    DEFAULT_JUDGE_PROMPT,
    ExactMatchJudge,
    Judgment,
    TransformersJudge,
    parse_judgment,
)

# The judge's vocabulary has no verdict words, so the random model can never write "correct: yes".
CORPUS = ["question about video sound answer predicted mean same integer from wrong perfect reply line exactly",
          "dog cat guitar violin man woman car barks plays sings drives two three left right the a is"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    path = tmp_path_factory.mktemp("tiny_judge")
    backend = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "<s>", "</s>"]))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.save_pretrained(path)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    return path


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("correct: yes; score: 4", (True, 4.0)),
        ("Correct = no, score=1", (False, 1.0)),
        ("{'pred': 'yes', 'score': 5}", (True, 5.0)),
        ("No. The prediction is wrong.", (False, None)),
        ("correct: true; score: 9", (True, 5.0)),  # scores are capped at 5
        ("the dog barks", None),
        ("", None),
    ],
)
def test_parse_judgment(reply: str, verdict: tuple | None) -> None:
    assert parse_judgment(reply) == verdict


@pytest.mark.parametrize(
    ("reference", "prediction", "contains", "correct"),
    [
        ("Two violins", "two violins.", False, True),
        ("the guitar", "Guitar", False, True),
        ("guitar", "an acoustic guitar", False, False),
        ("guitar", "an acoustic guitar", True, True),
        ("", "", False, False),
    ],
)
def test_exact_match_judge(reference: str, prediction: str, contains: bool, correct: bool) -> None:
    judgment = ExactMatchJudge(contains=contains).judge("q", reference, prediction)
    assert judgment.correct is correct and judgment.fallback is False
    assert judgment.score == (5.0 if correct else 0.0)


def test_transformers_judge_records_model_and_prompt_and_falls_back(tiny_lm: Path) -> None:
    judge = TransformersJudge(str(tiny_lm))
    assert judge.info.kind == "transformers" and judge.info.model == str(tiny_lm)
    assert judge.info.prompt == DEFAULT_JUDGE_PROMPT and judge.info.settings["do_sample"] is False
    raw = judge.reply("What barks?", "a dog", "the dog")
    assert isinstance(raw, str)
    assert parse_judgment(raw) is None  # no verdict word exists in the vocabulary
    judgment = judge.judge("What barks?", "a dog", "the dog")
    assert judgment == Judgment(True, 5.0, raw, fallback=True)  # exact match decided
    assert judge.judge("What barks?", "a dog", "a cat").correct is False


def test_chat_template_prompts_are_used(tiny_lm: Path) -> None:
    judge = TransformersJudge(str(tiny_lm), max_new_tokens=4)
    judge.load()
    judge._tokenizer.chat_template = "{% for m in messages %}<s> {{ m['content'] }}{% endfor %}"
    ids = judge._prompt_ids("dog barks")
    assert ids.shape[0] == 1 and int(ids[0, 0]) == judge._tokenizer.bos_token_id
    assert isinstance(judge.reply("What barks?", "a dog", "a dog"), str)


def test_openqa_results_record_judge_and_fallback_rate(tiny_lm: Path, tmp_path: Path) -> None:
    gt = tmp_path / "gt.jsonl"
    gt.write_text(
        json.dumps({"id": "1", "question": "What barks?", "answer": "a dog"}) + "\n"
        + json.dumps({"id": "2", "question": "What plays?", "answer": "guitar"}) + "\n"
        + json.dumps({"id": "3", "question": "Who sings?", "answer": "a woman"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        json.dumps({"id": "1", "predict": "So the answer is <answer> the dog </answer>"}) + "\n"
        + json.dumps({"id": "2", "predict": "A violin."}) + "\n"
        + json.dumps({"id": "3", "predict": "</s>"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    prompt = "Q: {question}\nGold: {reference}\nModel: {prediction}\nVerdict:"
    result = evaluate("openqa", preds, gt, judge=TransformersJudge(str(tiny_lm), prompt=prompt))
    assert result.judge["model"] == str(tiny_lm) and result.judge["prompt"] == prompt
    assert result.metrics["accuracy"] == pytest.approx(1 / 3)
    assert result.metrics["judge_fallback_rate"] == 1.0  # both judged answers fell back
    assert result.n_unparsable == 1 and result.samples[2].scores["score"] == 0.0
    assert isinstance(result.samples[0].scores["judge_reply"], str)


def test_openqa_default_judge_is_exact_match(tmp_path: Path) -> None:
    gt = tmp_path / "gt.jsonl"
    gt.write_text(json.dumps({"id": "1", "question": "q", "answer": "Two"}) + "\n", encoding="utf-8")
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "1", "predict": "2"}) + "\n", encoding="utf-8")
    result = evaluate("openqa", preds, gt)
    assert result.judge["kind"] == "exact_match" and result.metrics["accuracy"] == 1.0


class _ScriptedJudge(TransformersJudge):
    """A TransformersJudge whose model replies from a script (tests the verdict path without a model)."""

    replies: tuple[str, ...] = ()

    def reply(self, question: str, reference: str, prediction: str) -> str:
        return self.replies[int(reference)]


def test_model_verdicts_are_used_when_stated() -> None:
    judge = _ScriptedJudge("scripted")
    judge.replies = ("correct: no; score: 2", "correct: yes; score: 5")
    assert judge.judge("q", "0", "0") == Judgment(False, 2.0, "correct: no; score: 2")
    assert judge.judge("q", "1", "x").correct is True


def test_missing_judge_model_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(JudgeUnavailableError, match="cannot load judge model"):
        TransformersJudge(str(tmp_path / "nothing")).load()
