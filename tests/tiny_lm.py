"""Tiny randomly initialised causal LMs built from a config and saved to a directory, so tests exercise the same
`from_pretrained` loading code as production models without downloading anything."""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["[UNK]", "[PAD]", "<s>", "</s>"]


def save_tiny_causal_lm(path: Path, corpus: list[str], arch: str = "llama", seed: int = 0) -> Path:
    """A word-level tokenizer trained on `corpus` and a 1-2 layer `arch` ("llama" or "gemma3") model in `path`."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    backend = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.save_pretrained(path)
    ids = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
           "eos_token_id": tokenizer.eos_token_id}
    sizes = {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 2048}
    if arch == "llama":
        config = transformers.LlamaConfig(**sizes, **ids)
        model_cls = transformers.LlamaForCausalLM
    elif arch == "gemma3":
        config = transformers.Gemma3TextConfig(**sizes, head_dim=16, sliding_window=64, **ids)
        model_cls = transformers.Gemma3ForCausalLM
    else:
        raise ValueError(f"unknown arch {arch!r}")
    torch.manual_seed(seed)
    model_cls(config).save_pretrained(path)
    return path
