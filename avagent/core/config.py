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


def default_data_dir() -> Path:
    """Where the service keeps its database and artifacts by default: $XDG_DATA_HOME/avagent."""
    import os

    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "avagent"


class ServiceSettings(BaseModel):
    """The HTTP service, its job store and executor (`avagent serve`, `avagent batch`)."""

    data_dir: Path = Field(default_factory=default_data_dir, description="default home of the database and artifacts")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; None: SQLite at <data_dir>/avagent.sqlite (e.g. postgresql+psycopg://...)"
    )
    database_schema: str | None = Field(None, description="PostgreSQL schema holding the tables (None: the default)")
    artifacts_dir: Path | None = Field(None, description="content-addressed artifacts; None: <data_dir>/artifacts")
    manifest_roots: list[Path] = Field(
        default_factory=list, description="server-side directories batch manifests may read from (empty: none)"
    )
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, description="largest request body of POST /v1/jobs, bytes")
    max_batch_upload_bytes: int = Field(8 * 1024**3, gt=0, description="largest request body of POST /v1/batches")
    max_json_bytes: int = Field(1024**2, gt=0, description="largest request body of any other route, bytes")
    max_batch_items: int = Field(1000, ge=1, description="clips per batch")
    submit_rate_per_minute: float = Field(60.0, gt=0, description="job/batch submissions per API key per minute")
    submit_burst: int = Field(20, ge=1, description="submissions a key may make at once before the rate applies")
    read_rate_per_minute: float = Field(1200.0, gt=0, description="other requests per API key per minute")
    read_burst: int = Field(200, ge=1)
    broker_url: str | None = Field(None, description="Celery broker (redis://...); None: the embedded executor")
    workers: int = Field(1, ge=1, le=32, description="embedded executor threads (one resident toolset each)")
    heartbeat_s: float = Field(5.0, gt=0, description="a running job refreshes its heartbeat this often, s")
    stale_after_s: float = Field(60.0, gt=0, description="a running job without heartbeat this long is requeued")
    max_attempts: int = Field(3, ge=1, description="claims of one job before it is failed as a poison pill")
    keep_work_files: bool = Field(False, description="keep candidates and checkpoints of finished jobs")
    sse_poll_s: float = Field(0.5, gt=0, description="how often an event stream looks for new events, s")
    sse_ping_s: float = Field(15.0, gt=0, description="keep-alive comment interval of event streams, s")
    bootstrap_admin_key_sha256: str | None = Field(
        None, description="sha256 hex of SECRET: the key avk_bootstrap_SECRET is an admin key (first start)"
    )
    metrics_public: bool = Field(True, description="serve /metrics without an API key")
    cookie_secure: bool = Field(False, description="mark the dashboard's session cookie Secure (HTTPS only)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVAGENT_", env_nested_delimiter="__", extra="ignore")

    media: MediaLimits = Field(default_factory=MediaLimits)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    backends: BackendSettings = Field(default_factory=BackendSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
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
