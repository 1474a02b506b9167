"""Qwen2-Audio backend, run for real on a tiny randomly initialised model built here and saved to tmp_path.

The tokenizer is a word-level `tokenizers` model with Qwen2-Audio's special tokens, wrapped in
PreTrainedTokenizerFast; the processor is Qwen2AudioProcessor(WhisperFeatureExtractor, tokenizer, chat
template), so the backend's own `from_pretrained` loading path runs. The caption is gibberish: the tests check
the plumbing.
"""

from __future__ import annotations

import numpy as np
import pytest

from avagent.core.errors import BackendUnavailableError, ParameterError
from avagent.tools import audio
from avagent.tools.qwen_audio import Qwen2AudioConfig, parse_caption

SR = 16000
SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|audio_bos|>",
    "<|AUDIO|>",
    "<|audio_eos|>",
    "[UNK]",
]
WORDS = "you are a helpful assistant . system user describe the sounds in this recording one sentence : audio 1"


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {token: i for i, token in enumerate(SPECIAL + sorted(set(WORDS.split())))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL[1:6],
    )
    processor = transformers.Qwen2AudioProcessor(
        feature_extractor=transformers.WhisperFeatureExtractor(feature_size=128),
        tokenizer=tokenizer,
        chat_template=transformers.Qwen2AudioProcessor.default_chat_template.fget(None),
    )
    config = transformers.Qwen2AudioConfig(
        audio_config={
            "d_model": 16,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(vocab),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "eos_token_id": vocab["<|im_end|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        audio_token_index=vocab["<|AUDIO|>"],
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-qwen2-audio")
    transformers.Qwen2AudioForConditionalGeneration(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def describer(tiny_model_dir):
    return audio.get_audio_describer("qwen2-audio", model_id=str(tiny_model_dir), max_new_tokens=6)


def _signal() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.03 * rng.standard_normal(t.size)).astype(np.float32)


def test_describes_end_to_end_with_the_tiny_model(describer, tiny_model_dir) -> None:
    d = describer.describe(_signal(), SR)
    assert isinstance(d, audio.AudioDescription)
    assert d.backend == "qwen2-audio" and str(tiny_model_dir) in d.model_version
    assert isinstance(d.model_text, str)
    # Structured fields come from the offline analysis whatever the model said.
    assert d.tags and d.snr_db is not None and d.noise_type in {"none", "broadband", "tonal", "hum"}
    assert d.duration_s == pytest.approx(3.0) and d.peak_dbfs < 0
    assert d.caption.endswith(d.facts) and d.caption != d.facts
    assert d.timings_s["model"] > 0
    assert d.to_dict()["model_text"] == d.model_text


def test_stereo_44k_input_and_determinism(describer) -> None:
    import soxr

    x = soxr.resample(_signal(), SR, 44100).astype(np.float32)
    stereo = np.stack([x, x])
    first, second = describer.describe(stereo, 44100), describer.describe(stereo, 44100)
    assert first.channels == 2 and first.sample_rate == 44100
    assert first.model_text == second.model_text and first.caption == second.caption


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A dog barks twice. Then a car passes.", "A dog barks twice"),
        ("assistant: Speech over   light rain", "Speech over light rain"),
        ("  \n ", ""),
        ("... 1 2 3 ...", ""),
        ("x" * 500, "x" * 200),
    ],
)
def test_parse_caption(text: str, expected: str) -> None:
    assert parse_caption(text) == expected


@pytest.mark.parametrize("kwargs", [{"model_id": ""}, {"dtype": "int8"}, {"max_new_tokens": 0}, {"prompt": "  "}])
def test_config_is_validated(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        Qwen2AudioConfig(**kwargs)


def test_missing_model_is_backend_unavailable(tmp_path) -> None:
    with pytest.raises(BackendUnavailableError):
        audio.get_audio_describer("qwen2-audio", model_id=str(tmp_path / "absent"), local_files_only=True)
