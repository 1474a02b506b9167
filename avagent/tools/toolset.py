"""Build the perception tools of a run by name: the one place that maps configuration to backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avagent.core.errors import ConfigError
from avagent.tools.scoring import Scorer

SCORERS = ("offline", "imagebind", "pe-av")


@dataclass
class Toolset:
    """The perception tools of one run, chosen by configuration."""

    audio_describer: Any  # .describe(audio, sample_rate) -> AudioDescription (with .to_dict())
    video_describer: Any  # .describe_clip(clip) -> VideoDescription (with .to_dict())
    scorer: Scorer

    def versions(self) -> dict[str, str]:
        return {
            role: f"{getattr(tool, 'name', type(tool).__name__)}/{_version_of(tool)}"
            for role, tool in (
                ("audio_describer", self.audio_describer),
                ("video_describer", self.video_describer),
                ("scorer", self.scorer),
            )
        }


def _version_of(tool: Any) -> str:
    return str(getattr(tool, "model_version", None) or getattr(tool, "version", None) or "unversioned")


def make_scorer(name: str = "offline", **config: Any):
    """The reflection scorer `name` (see SCORERS); `config` goes to its constructor."""
    if name == "offline":
        from avagent.tools.offline_scorer import OfflineScorer

        return OfflineScorer(**config)
    if name == "imagebind":
        from avagent.tools.imagebind import ImageBindScorer

        return ImageBindScorer(**config)
    if name == "pe-av":
        from avagent.tools.peav import PeAvScorer

        return PeAvScorer(**config)
    raise ConfigError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")


def make_toolset(
    audio: str = "offline",
    video: str = "offline",
    scorer: str = "offline",
    *,
    audio_config: dict[str, Any] | None = None,
    video_config: dict[str, Any] | None = None,
    scorer_config: dict[str, Any] | None = None,
):
    """The describers and scorer of one run; the defaults are the embedded offline tools."""
    from avagent.tools.audio import get_audio_describer
    from avagent.tools.video import get_video_describer

    return Toolset(
        audio_describer=get_audio_describer(audio, **(audio_config or {})),
        video_describer=get_video_describer(video, **(video_config or {})),
        scorer=make_scorer(scorer, **(scorer_config or {})),
    )
