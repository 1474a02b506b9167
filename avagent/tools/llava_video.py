"""Video describer backend that captions with LLaVA-OneVision (or LLaVA-NeXT-Video) through transformers.

The structured fields (labels, faces and mouths, motion, cuts) still come from the offline analysis in
`video.py`; the model only writes the caption, from up to `num_frames` keyframes the analysis sampled (~1 per
second).

Inputs are built in one of two ways, and `LlavaVideoCaptioner.input_mode` says which one ran:

- "processor": `AutoProcessor.from_pretrained(model_id)` and `processor(videos=..., text=...)`. This is the
  normal path, but transformers' video processors need torchvision, which has no CPU build for our torch 2.13.
- "tokenizer" (LLaVA-OneVision only; used when the processor cannot be loaded): the tokenizer from the same
  checkpoint, plus the video preprocessing LlavaOnevisionVideoProcessor does, in numpy: resize every frame to
  the configured size (bicubic), scale to [0, 1], normalise with the configured mean and std. The `<video>`
  token is expanded to `frames * ceil(grid / 2)**2 + 1` tokens, `grid = image_size // patch_size` from the
  model config: the model pools each frame's patch grid 2x and appends one newline embedding
  (`LlavaOnevisionModel.get_video_features`).

The default checkpoint is "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"; weights load from the Hugging Face
cache or a local directory (set HF_HUB_OFFLINE=1 where there is no network).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from avagent.core.errors import BackendUnavailableError, ParameterError
from avagent.tools.video import (
    Analysis,
    OfflineVideoDescriber,
    VideoDescriberOptions,
    VideoDescription,
    clip_frames,
)

BACKEND = "llava"
DEFAULT_MODEL_ID = "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"
DEFAULT_PROMPT = (
    "Describe what happens in this video in one sentence: the scene, who or what is visible and moving."
)
DEFAULT_NUM_FRAMES = (
    8  # keyframes sent to the model (OneVision pools each 384 px frame to 14 x 14 = 196 tokens)
)
DEFAULT_MAX_NEW_TOKENS = 48
VIDEO_CONFIG_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")
# LlavaOnevisionVideoProcessor defaults (OpenAI CLIP statistics, 384 x 384), used when the checkpoint has no
# config.
DEFAULT_VIDEO_SIZE = (384, 384)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Qwen2 chat format (what the OneVision checkpoints' chat template renders), for tokenizers without a
# template.
FALLBACK_TEMPLATE = "<|im_start|>user\n{video}\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def pick_frames(frames: list[np.ndarray], n: int) -> list[np.ndarray]:
    """Up to `n` frames evenly spread over `frames` (first and last included)."""
    if n < 1:
        raise ParameterError("num_frames must be >= 1")
    if len(frames) <= n:
        return list(frames)
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    return [frames[i] for i in idx]


class LlavaVideoCaptioner:
    """A LLaVA video-language model that writes one caption for a list of RGB frames.

    Parameters
    ----------
    model_id : str
        Hub id or local directory of a LLaVA-OneVision or LLaVA-NeXT-Video checkpoint.
    num_frames : int >= 1
        Frames per caption.
    max_new_tokens : int >= 1
        Caption length limit, tokens (greedy decoding).
    prompt : str
        The user instruction.
    device : str
        torch device, e.g. "cpu" or "cuda".
    """

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        *,
        num_frames: int = DEFAULT_NUM_FRAMES,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        prompt: str = DEFAULT_PROMPT,
        device: str = "cpu",
    ) -> None:
        if num_frames < 1 or max_new_tokens < 1:
            raise ParameterError("num_frames and max_new_tokens must be >= 1")
        if not model_id:
            raise ParameterError("model_id must name a checkpoint")
        self.model_id, self.num_frames, self.max_new_tokens = model_id, num_frames, max_new_tokens
        self.prompt, self.device = prompt, device
        self.input_mode: str | None = None  # "processor" or "tokenizer", once loaded
        self.model_version = model_id
        self._model = self._processor = self._tokenizer = None
        self._video_config: dict[str, Any] = {}
        self._lock = threading.Lock()

    def load(self) -> LlavaVideoCaptioner:
        """Load the model and the inputs builder once (BackendUnavailableError if the checkpoint fails)."""
        with self._lock:
            if self._model is None:
                self._load()
        return self

    def _load(self) -> None:
        try:
            import torch
            from transformers import AutoModelForImageTextToText
        except ImportError as e:
            raise BackendUnavailableError("the llava backend needs torch and transformers") from e
        dtype = torch.float32 if self.device == "cpu" else "auto"
        try:
            model = AutoModelForImageTextToText.from_pretrained(self.model_id, dtype=dtype)
        except (OSError, ValueError) as e:
            raise BackendUnavailableError(f"cannot load video-language model {self.model_id!r}: {e}") from e
        self._model = model.to(self.device).eval()
        commit = getattr(model.config, "_commit_hash", None)
        self.model_version = f"{self.model_id}@{commit}" if commit else self.model_id
        self._load_inputs_builder()

    def _load_inputs_builder(self) -> None:
        from transformers import AutoProcessor, AutoTokenizer

        try:
            processor = AutoProcessor.from_pretrained(self.model_id)
            if getattr(processor, "video_processor", None) is None:
                raise TypeError("processor has no video processor")
            self._processor, self.input_mode = processor, "processor"
            return
        except (ImportError, AttributeError, TypeError, ValueError, OSError):
            pass  # no torchvision here: build the inputs ourselves (OneVision only)
        if self._model.config.model_type != "llava_onevision":
            raise BackendUnavailableError(
                f"{self.model_id!r} needs its transformers processor (torchvision missing?); only "
                "LLaVA-OneVision checkpoints have the processor-free path"
            )
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_id)
        except (OSError, ValueError) as e:
            raise BackendUnavailableError(f"cannot load the tokenizer of {self.model_id!r}: {e}") from e
        self._video_config = _read_video_config(self.model_id)
        self.input_mode = "tokenizer"

    def caption(self, frames: list[np.ndarray]) -> str:
        """One caption for RGB uint8 frames (H, W, 3); at most `num_frames` of them are used."""
        if not frames:
            raise ParameterError("caption needs at least one frame")
        import torch

        self.load()
        frames = pick_frames(frames, self.num_frames)
        inputs = (
            self._processor_inputs(frames) if self.input_mode == "processor" else self._own_inputs(frames)
        )
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        with torch.inference_mode():
            out = self._model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new_tokens = out[0, inputs["input_ids"].shape[1] :]
        decoder = self._processor if self._processor is not None else self._tokenizer
        return " ".join(decoder.decode(new_tokens, skip_special_tokens=True).split())

    def _processor_inputs(self, frames: list[np.ndarray]) -> dict:
        conversation = [
            {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": self.prompt}]}
        ]
        if getattr(self._processor, "chat_template", None):
            text = self._processor.apply_chat_template(conversation, add_generation_prompt=True)
        else:
            text = FALLBACK_TEMPLATE.format(video=self._processor.video_token, prompt=self.prompt)
        return dict(self._processor(videos=[np.stack(frames)], text=text, return_tensors="pt"))

    def _own_inputs(self, frames: list[np.ndarray]) -> dict:
        import torch

        vision = self._model.config.vision_config
        pooled = math.ceil((vision.image_size // vision.patch_size) / 2)
        n_tokens = len(frames) * pooled * pooled + 1  # + 1 newline embedding per video
        video_token = getattr(self._tokenizer, "video_token", None) or "<video>"
        text = FALLBACK_TEMPLATE.format(video=video_token * n_tokens, prompt=self.prompt)
        if getattr(self._tokenizer, "chat_template", None):
            conversation = [{"role": "user", "content": f"{video_token * n_tokens}\n{self.prompt}"}]
            text = self._tokenizer.apply_chat_template(
                conversation, add_generation_prompt=True, tokenize=False
            )
        encoded = self._tokenizer(text, return_tensors="pt")
        pixels = preprocess_video(frames, self._video_config)
        return {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "pixel_values_videos": torch.from_numpy(pixels)[None],
        }


def _read_video_config(model_id: str) -> dict[str, Any]:
    from transformers.utils import cached_file

    for name in VIDEO_CONFIG_FILES:
        path = cached_file(model_id, name, _raise_exceptions_for_missing_entries=False)
        if path:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    return {}


def preprocess_video(frames: list[np.ndarray], config: dict[str, Any]) -> np.ndarray:
    """LlavaOnevisionVideoProcessor's transform in numpy: float32, shape = (frames, 3, height, width)."""
    size = config.get("size") or {}
    height, width = size.get("height", DEFAULT_VIDEO_SIZE[0]), size.get("width", DEFAULT_VIDEO_SIZE[1])
    mean = np.asarray(config.get("image_mean", CLIP_MEAN), np.float32)
    std = np.asarray(config.get("image_std", CLIP_STD), np.float32)
    scale = float(config.get("rescale_factor", 1 / 255))
    out = []
    for frame in frames:
        resized = cv2.resize(frame, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        out.append(((resized * scale - mean) / std).transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


class LlavaVideoDescriber:
    """Offline analysis for the fields, a LLaVA caption for the sentence."""

    name = BACKEND

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        *,
        options: VideoDescriberOptions | None = None,
        captioner: LlavaVideoCaptioner | None = None,
        **captioner_kwargs: Any,
    ) -> None:
        self.offline = OfflineVideoDescriber(options)
        self.options = self.offline.options
        self.captioner = captioner or LlavaVideoCaptioner(model_id, **captioner_kwargs)

    def describe(
        self, frames: Iterable[tuple[float, np.ndarray]], *, fps: float, duration_s: float | None = None
    ) -> VideoDescription:
        """Describe `(timestamp_s, RGB uint8 frame)` pairs; the caption comes from the model."""
        return self._caption(self.offline.analyse(frames, fps=fps, duration_s=duration_s))

    def describe_clip(self, clip: Any) -> VideoDescription:
        frames, fps, duration = clip_frames(clip, self.options)
        return self.describe(frames, fps=fps, duration_s=duration)

    def _caption(self, analysis: Analysis) -> VideoDescription:
        d = analysis.description
        tick = time.perf_counter()
        caption = self.captioner.caption([f for _, f in analysis.keyframes]) if analysis.keyframes else ""
        timings = {**d.timings_s, "caption": time.perf_counter() - tick}
        timings["total"] = d.timings_s.get("total", 0.0) + timings["caption"]
        return replace(
            d,
            caption=caption or d.caption,  # an empty generation keeps the offline sentence
            backend=BACKEND,
            model_version=self.captioner.model_version,
            timings_s=timings,
        )
