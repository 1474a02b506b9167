"""Configuration: one pydantic-settings object, read from the environment (AVAGENT_*) and an optional file.

Library functions take explicit arguments (e.g. `MediaLimits`); only the CLI, the service and the workers read
`Settings` and pass the relevant parts down.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from avagent.core.errors import ConfigError


class MediaLimits(BaseModel):
    """Bounds on what the media reader accepts, so no input can exhaust memory or hang a worker."""

    max_file_bytes: int = Field(4 * 1024**3, gt=0, description="largest input file, bytes")
    max_duration_s: float = Field(3 * 3600.0, gt=0, description="longest input, seconds")
    max_pixels: int = Field(7680 * 4320, gt=0, description="largest video frame, width*height (8K)")
    decode_timeout_s: float = Field(600.0, gt=0, description="wall-clock limit for decoding one file, seconds")


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "avagent"


class AgentSettings(BaseModel):
    """The repair loop (see `avagent.agent.state.RepairOptions`, which these fill)."""

    planner: Literal["rules", "llm", "random"] = "rules"
    threshold: float = Field(0.85, gt=0.0, le=1.0, description="both scores must reach it")
    max_iterations: int = Field(4, ge=1, le=50)
    patience: int = Field(2, ge=1, description="stop after this many plans in a row without progress")
    acceptance: Literal["pareto", "strict"] = "pareto"
    allowed_actions: list[str] | None = None
    seed: int = 0


class BackendSettings(BaseModel):
    """Which perception backends and models a run uses; the defaults run offline on this machine."""

    audio_describer: Literal["offline", "qwen2-audio"] = "offline"
    video_describer: Literal["offline", "llava"] = "offline"
    scorer: Literal["offline", "imagebind", "pe-av"] = "offline"
    audio_model: str = "Qwen/Qwen2-Audio-7B-Instruct"
    video_model: str = "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"
    imagebind_checkpoint: Path | None = None
    peav_model: str = "facebook/pe-av-base"
    planner_model: str = "lmsys/vicuna-7b-v1.5"
    planner_adapter: str | None = None
    device: str = "cpu"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVAGENT_", env_nested_delimiter="__", extra="ignore")

    media: MediaLimits = Field(default_factory=MediaLimits)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    backends: BackendSettings = Field(default_factory=BackendSettings)
    cache_dir: Path = Field(default_factory=default_cache_dir)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, then `config_file` (TOML or JSON) on top, then explicit overrides."""
    data: dict[str, Any] = {}
    if config_file is not None:
        data = _read_config_file(Path(config_file))
    for key, value in overrides.items():  # "agent__threshold=0.9" sets data["agent"]["threshold"]
        if value is None:
            continue
        section, _, name = key.partition("__")
        if name:
            data.setdefault(section, {})[name] = value
        else:
            data[section] = value
    try:
        return Settings(**data)
    except ValidationError as e:
        where = f" in {config_file}" if config_file else ""
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {field}{where}: {first['msg']}") from e


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from e
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {e}") from e
