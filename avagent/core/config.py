"""Configuration: one pydantic-settings object, read from the environment (AVAGENT_*) and an optional file.

Library functions take explicit arguments (e.g. `MediaLimits`); only the CLI, the service and the workers read
`Settings` and pass the relevant parts down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVAGENT_", env_nested_delimiter="__", extra="ignore")

    media: MediaLimits = Field(default_factory=MediaLimits)
    cache_dir: Path = Field(default_factory=default_cache_dir)
    seed: int = 0
