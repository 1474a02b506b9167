"""Audio describer backend that captions with Qwen2-Audio-Instruct through transformers.

The structured fields (tags, speech activity, SNR and noise type, loudness, clipping, blanks, onsets) still come
from the offline analysis in `audio.py`, so the planner always has them; the model only writes the content part
of the caption. `AudioDescription.caption` is "<model sentence>; <DSP facts>", `facts` holds the DSP part alone
and `model_text` the model's raw answer. If the answer holds no words, the offline content phrase is used.

Loading: `Qwen2AudioForConditionalGeneration` and `AutoProcessor` from `model_id` (a hub id or a local
directory; set HF_HUB_OFFLINE=1 where there is no network). The processor's Whisper feature extractor takes at
most 30 s, so longer clips are captioned from their first 30 s (the DSP fields cover the whole clip).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from avagent.core.errors import BackendUnavailableError, ParameterError
from avagent.tools.audio import (
    QWEN_BACKEND,
    AudioDescriberOptions,
    AudioDescription,
    OfflineAudioDescriber,
    assemble,
    content_phrase,
)
from avagent.tools.yamnet import to_mono_16k

BACKEND = QWEN_BACKEND
DEFAULT_MODEL_ID = "Qwen/Qwen2-Audio-7B-Instruct"
DEFAULT_PROMPT = "Describe the sounds in this recording in one sentence: what is heard, and any background noise."
DEFAULT_MAX_NEW_TOKENS = 48
MAX_CAPTION_CHARS = 200
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Qwen2AudioConfig:
    """Where the model comes from and how it is asked."""

    model_id: str = field(default=DEFAULT_MODEL_ID, metadata={"help": "hub id or local directory"})
    device: str = field(default="cpu", metadata={"help": "torch device, e.g. 'cpu' or 'cuda:0'"})
    dtype: str = field(default="auto", metadata={"help": "weights dtype: auto, float32, bfloat16 or float16"})
    max_new_tokens: int = field(default=DEFAULT_MAX_NEW_TOKENS, metadata={"help": "caption length cap, tokens"})
    prompt: str = field(default=DEFAULT_PROMPT, metadata={"help": "instruction sent with the audio"})
    local_files_only: bool = field(default=False, metadata={"help": "never contact the hub"})

    def __post_init__(self) -> None:
        if not self.model_id:
            raise ParameterError("model_id must name a hub model or a local directory")
        if self.dtype not in DTYPES:
            raise ParameterError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.max_new_tokens < 1:
            raise ParameterError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.prompt.strip():
            raise ParameterError("prompt must not be empty")


class Qwen2AudioDescriber:
    """Offline analysis plus a Qwen2-Audio caption; the model loads in the constructor."""

    name = BACKEND

    def __init__(
        self,
        config: Qwen2AudioConfig | None = None,
        *,
        options: AudioDescriberOptions | None = None,
        **overrides: Any,
    ) -> None:
        config = config or Qwen2AudioConfig()
        self.config = replace(config, **overrides) if overrides else config
        self.options = options or AudioDescriberOptions()
        self._offline = OfflineAudioDescriber(self.options)
        self._lock = threading.Lock()
        self.processor, self.model = _load(self.config)
        import transformers

        self.model_version = f"{self.config.model_id} (transformers {transformers.__version__})"

    def describe(self, audio: np.ndarray, sr: int) -> AudioDescription:
        """Describe `audio`, shape (channels, samples) or (samples,), at `sr` Hz."""
        started = time.perf_counter()
        analysis = self._offline.analyse(audio, sr)
        tick = time.perf_counter()
        text = self.generate(np.asarray(audio, dtype=np.float32), sr)
        seconds = time.perf_counter() - tick
        content = parse_caption(text) or content_phrase(analysis, self.options)
        description = assemble(
            analysis,
            content,
            self.options,
            backend=self.name,
            model_version=self.model_version,
            started=started,
            extra_timings={"model": seconds},
        )
        return replace(description, model_text=text)

    def describe_clip(self, clip: Any) -> AudioDescription:
        """Describe the audio stream of an `avagent.core.media.Clip`."""
        if getattr(clip, "audio", None) is None:
            raise ParameterError("the clip has no audio stream to describe")
        return self.describe(clip.audio, clip.sample_rate)

    def generate(self, audio: np.ndarray, sr: int) -> str:
        """The model's raw answer to the prompt for this audio (greedy decoding)."""
        import torch

        extractor = self.processor.feature_extractor
        rate = int(extractor.sampling_rate)
        mono = to_mono_16k(audio, sr) if rate == 16000 else _resample_mono(audio, sr, rate)
        mono = mono[: int(extractor.n_samples)]
        conversation = [
            {
                "role": "user",
                "content": [
                    {"type": "audio", "audio_url": "clip"},
                    {"type": "text", "text": self.config.prompt},
                ],
            }
        ]
        text = self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=text, audio=[mono], sampling_rate=rate, return_tensors="pt")
        inputs = inputs.to(self.model.device)
        with self._lock, torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.config.max_new_tokens, do_sample=False)
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)[0]


def _resample_mono(audio: np.ndarray, sr: int, rate: int) -> np.ndarray:
    import soxr

    x = np.asarray(audio, dtype=np.float32)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    return soxr.resample(mono, sr, rate).astype(np.float32)


def _load(config: Qwen2AudioConfig) -> tuple[Any, Any]:
    try:
        import torch
        from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration
    except ImportError as e:
        raise BackendUnavailableError(f"the qwen2-audio backend needs torch and transformers: {e}") from e
    dtype = "auto" if config.dtype == "auto" else getattr(torch, config.dtype)
    try:
        processor = AutoProcessor.from_pretrained(config.model_id, local_files_only=config.local_files_only)
        model = Qwen2AudioForConditionalGeneration.from_pretrained(
            config.model_id, dtype=dtype, local_files_only=config.local_files_only
        )
    except (OSError, ValueError) as e:
        raise BackendUnavailableError(f"cannot load Qwen2-Audio from {config.model_id!r}: {e}") from e
    return processor, model.to(config.device).eval()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_ROLE_PREFIX = re.compile(r"^\s*(assistant|answer|caption)\s*[:\n]\s*", re.IGNORECASE)


def parse_caption(text: str) -> str:
    """The first sentence of a model answer, whitespace collapsed, role prefixes and trailing stops removed.

    Returns "" when the answer holds no letters (the caller then falls back to the offline phrase).
    """
    cleaned = " ".join(_ROLE_PREFIX.sub("", text or "").split())
    first = _SENTENCE_END.split(cleaned, maxsplit=1)[0] if cleaned else ""
    first = first[:MAX_CAPTION_CHARS].rstrip(" .;,")
    return first if re.search(r"[^\W\d_]", first) else ""
