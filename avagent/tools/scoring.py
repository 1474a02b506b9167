"""The reflection scorer's contract: calibrated `alignment` and `sync` in [0, 1] with diagnostics.

Calibration (ARCHITECTURE.md): the paper's threshold 0.85 means "good enough": clean real clips score >= 0.85 and
corrupted ones below. Raw model similarities are never compared with 0.85 directly; each backend maps its raw
outputs through a calibration documented in its module.

A scorer is used in two steps, because only the audio changes between loop iterations:
`features = scorer.prepare_video(clip)` once per job (the expensive video side), then
`scorer.score(audio, sample_rate, features)` once per candidate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

DEFAULT_THRESHOLD = 0.85


@dataclass(frozen=True)
class Scores:
    alignment: float  # does the audio belong to this video (little unexplained noise, coherent events), in [0, 1]
    sync: float  # is the audio in time with the video, in [0, 1]
    backend: str  # which scorer produced the numbers, with its version, e.g. "offline/1"
    details: dict[str, Any] = field(default_factory=dict)  # offset_s, offset_confidence, snr_db, sync_cue, ...

    def meets(self, threshold: float = DEFAULT_THRESHOLD) -> bool:
        return self.alignment >= threshold and self.sync >= threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Scorer(Protocol):
    name: str
    version: str

    def prepare_video(self, clip: Any, description: Any = None) -> Any:
        """Compute and return the video-side features of `clip` (an `avagent.core.media.Clip`), once per job.

        `description` is the video describer's output for the same clip, when the scorer can reuse its analysis.
        """
        ...

    def score(self, audio: np.ndarray, sample_rate: int, video_features: Any) -> Scores:
        """Score candidate audio `(channels, samples)` float32 against prepared video features."""
        ...
