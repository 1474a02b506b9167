"""The loop's options, its checkpointed state and the per-run context (tools, planner, event bus).

The state holds only JSON-able data (captions, scores, plans, paths), so a checkpoint is small and a killed run
resumes from its last finished node. Heavy objects (the decoded clip, models, video features) live in the
`RepairContext`, which is rebuilt on resume and never checkpointed.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from avagent.agent.events import EventBus
from avagent.tools.scoring import DEFAULT_THRESHOLD
from avagent.tools.toolset import Toolset

Acceptance = Literal["pareto", "strict"]


@dataclass(frozen=True)
class RepairOptions:
    planner: str = "rules"  # rules | llm | random
    threshold: float = DEFAULT_THRESHOLD  # both scores must reach it
    max_iterations: int = 4  # plans tried at most
    patience: int = 2  # stop after this many iterations in a row without an accepted candidate
    acceptance: Acceptance = "pareto"  # pareto: none falls, one rises; strict: both rise (paper Algorithm 1)
    min_gain: float = 0.005  # a score "rises" only by more than this; smaller changes are scorer noise
    fall_tolerance: float = 0.02  # a score "falls" only by more than this (measurement noise of the scorer)
    allowed_actions: tuple[str, ...] | None = None  # None: all eight
    seed: int = 0

    def __post_init__(self) -> None:
        from avagent.core.errors import ParameterError

        if not 0.0 < self.threshold <= 1.0:
            raise ParameterError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 1 <= self.max_iterations <= 50:
            raise ParameterError(f"max_iterations must be in 1..50, got {self.max_iterations}")
        if self.patience < 1:
            raise ParameterError(f"patience must be >= 1, got {self.patience}")
        if self.acceptance not in ("pareto", "strict"):
            raise ParameterError(f"acceptance must be 'pareto' or 'strict', got {self.acceptance!r}")


class RepairState(TypedDict, total=False):
    run_id: str
    audio_description: dict[str, Any]
    video_description: dict[str, Any]
    original_scores: dict[str, Any]
    best: dict[str, Any]  # {"iteration", "scores", "actions", "audio_path"}; iteration 0 is the original
    iteration: int  # index of the plan being tried (1-based)
    plan: dict[str, Any] | None
    plan_started: float
    candidate: dict[str, Any] | None  # {"iteration", "audio_path", "scores"}
    iterations: Annotated[list[dict[str, Any]], operator.add]
    since_progress: int
    stop_reason: str


@dataclass
class RepairContext:
    """What nodes need besides the state; rebuilt (never checkpointed) when a run resumes."""

    clip: Any  # avagent.core.media.Clip with the ORIGINAL audio
    tools: Toolset
    planner: Any  # avagent.agent.planners.Planner
    options: RepairOptions
    work_dir: Path
    bus: EventBus
    _video: dict[str, Any] = field(default_factory=dict)

    def video_description(self) -> Any:
        if "description" not in self._video:
            self._video["description"] = self.tools.video_describer.describe_clip(self.clip)
        return self._video["description"]

    def video_features(self) -> Any:
        """The scorer's video-side features, computed once per run (only the audio changes between iterations)."""
        if "features" not in self._video:
            self._video["features"] = self.tools.scorer.prepare_video(self.clip, self.video_description())
        return self._video["features"]
