"""The LLaVA video-caption backend, with a tiny randomly initialised LLaVA-OneVision built here from a config.

The checkpoint (config, safetensors, a word-level tokenizer with the <image>/<video> tokens, the video
preprocessing config) is written to tmp_path with save_pretrained and loaded back through the backend's own
from_pretrained path, offline. Its captions are gibberish: the tests check the interface, not the words.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from avagent.core.errors import BackendUnavailableError, ParameterError
from avagent.tools.llava_video import (
    LlavaVideoCaptioner,
    LlavaVideoDescriber,
    pick_frames,
    preprocess_video,
)
from avagent.tools.video import get_video_describer

SPECIALS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
WORDS = [*SPECIALS, "user", "assistant", "Describe", *[f"w{i}" for i in range(40)]]
IMAGE_SIZE, PATCH = 32, 8  # 4 x 4 patches per frame, pooled to 2 x 2 = 4 video tokens per frame


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, monkeypatch_module):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        PreTrainedTokenizerFast,
        Qwen2Config,
        SiglipVisionConfig,
    )

    monkeypatch_module.setenv("HF_HUB_OFFLINE", "1")
    vocab = {w: i for i, w in enumerate(WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<|im_end|>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=IMAGE_SIZE,
            patch_size=PATCH,
            vision_use_head=False,
        ),
        text_config=Qwen2Config(
            vocab_size=len(WORDS),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=512,
        ),
        image_token_index=vocab["<image>"],
        video_token_index=vocab["<video>"],
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    model = LlavaOnevisionForConditionalGeneration(config).eval()
    path = tmp_path_factory.mktemp("tiny-llava-onevision")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    video_config = {
        "video_processor_type": "LlavaOnevisionVideoProcessor",
        "size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "rescale_factor": 1 / 255,
    }
    (path / "video_preprocessor_config.json").write_text(json.dumps(video_config))
    return path


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _frames(n: int) -> list[tuple[float, np.ndarray]]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (36, 64, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    return [(k / 10, np.roll(base, 3 * k, axis=1)) for k in range(n)]


def test_captioner_loads_the_saved_checkpoint_and_generates(tiny_checkpoint):
    captioner = LlavaVideoCaptioner(str(tiny_checkpoint), num_frames=3, max_new_tokens=5)
    caption = captioner.caption([f for _, f in _frames(6)])
    # this machine has no torchvision, so transformers' video processor can't load: the tokenizer path runs
    assert captioner.input_mode in {"processor", "tokenizer"}
    assert isinstance(caption, str) and len(caption.split()) >= 1
    assert all(word in WORDS for word in caption.split())
    assert captioner.model_version.startswith(str(tiny_checkpoint))


def test_describer_fills_the_fields_and_records_the_backend(tiny_checkpoint):
    describer = get_video_describer("llava", model_id=str(tiny_checkpoint), num_frames=2, max_new_tokens=4)
    assert isinstance(describer, LlavaVideoDescriber)
    d = describer.describe(_frames(30), fps=10.0)
    assert d.backend == "llava"
    assert d.model_version.startswith(str(tiny_checkpoint))
    assert d.caption and "shot" not in d.caption  # the model's sentence, not the offline template
    assert len(d.motion_energy) == 30 and d.fps_analysed == 10.0  # offline fields still there
    assert len(d.labels) == 5 and d.scene_cuts == []
    assert d.timings_s["caption"] > 0 and d.timings_s["total"] >= d.timings_s["caption"]
    assert d.to_dict()["backend"] == "llava"


def test_missing_checkpoint_is_a_backend_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    captioner = LlavaVideoCaptioner(str(tmp_path / "no-such-model"))
    with pytest.raises(BackendUnavailableError):
        captioner.load()


def test_preprocess_video_matches_the_processor_transform():
    frames = [np.full((10, 20, 3), 255, np.uint8), np.zeros((10, 20, 3), np.uint8)]
    config = {"size": {"height": 8, "width": 6}, "image_mean": [0.5] * 3, "image_std": [0.25] * 3}
    x = preprocess_video(frames, config)
    assert x.shape == (2, 3, 8, 6) and x.dtype == np.float32
    assert x[0].max() == pytest.approx((1 - 0.5) / 0.25) and x[1].min() == pytest.approx(-0.5 / 0.25)
    assert preprocess_video(frames, {}).shape == (2, 3, 384, 384)  # OneVision's defaults


@pytest.mark.parametrize(("n", "expected"), [(1, [0]), (3, [0, 5, 10]), (20, list(range(11)))])
def test_pick_frames_spreads_over_the_clip(n, expected):
    frames = [np.full((1, 1, 3), i, np.uint8) for i in range(11)]
    assert [int(f[0, 0, 0]) for f in pick_frames(frames, n)] == expected


def test_bad_arguments():
    with pytest.raises(ParameterError):
        LlavaVideoCaptioner("x", num_frames=0)
    with pytest.raises(ParameterError):
        LlavaVideoCaptioner("")
    with pytest.raises(ParameterError):
        pick_frames([], 0)
