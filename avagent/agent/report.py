"""The repair report (`report.json`, schema "avagent.report/1", ARCHITECTURE.md) and the cleaned-pair manifest line.

Both are pydantic models: they are the contract with the service, the dashboard, the planner-data converter and
the AV-LLM trainer, which read them back with `Report.model_validate_json`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

REPORT_SCHEMA = "avagent.report/1"
MANIFEST_SCHEMA = "avagent.pairs/1"


class InputInfo(BaseModel):
    path: str
    sha256: str
    duration_s: float
    sample_rate: int
    channels: int
    fps: float | None


class ScoresOut(BaseModel):
    alignment: float
    sync: float
    backend: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class PlanOut(BaseModel):
    actions: list[dict[str, Any]]
    reasoning: str = ""
    planner: str = ""
    note: str | None = None


class IterationOut(BaseModel):
    index: int
    plan: PlanOut
    scores: ScoresOut
    accepted: bool
    seconds: float


class FinalOut(BaseModel):
    status: str  # untouched | repaired | improved | unrepaired
    stop_reason: str
    best_iteration: int  # 0: the original audio was kept
    actions: list[dict[str, Any]]
    scores: ScoresOut
    video_path: str | None
    audio_path: str | None


class Report(BaseModel):
    schema_: str = Field(REPORT_SCHEMA, alias="schema")
    run_id: str
    avagent_version: str
    input: InputInfo
    config: dict[str, Any]
    backends: dict[str, str]
    captions: dict[str, Any]
    initial_scores: ScoresOut
    iterations: list[IterationOut]
    final: FinalOut
    timings: dict[str, float]

    model_config = {"populate_by_name": True}

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)


class ManifestLine(BaseModel):
    """One cleaned pair (JSONL line) of a batch; the trainer reads these directly."""

    schema_: str = Field(MANIFEST_SCHEMA, alias="schema")
    id: str
    video_path: str  # the original video (its video stream is unchanged in the repaired file)
    original_audio_path: str | None
    repaired_audio_path: str | None
    repaired_video_path: str | None
    applied_actions: list[dict[str, Any]] = Field(default_factory=list)
    initial_scores: dict[str, float] = Field(default_factory=dict)
    final_scores: dict[str, float] = Field(default_factory=dict)
    report_path: str | None = None
    status: str  # untouched | repaired | improved | unrepaired | failed
    error: str | None = None

    model_config = {"populate_by_name": True}


def final_status(best_iteration: int, meets_threshold: bool) -> str:
    if best_iteration == 0:
        return "untouched" if meets_threshold else "unrepaired"
    return "repaired" if meets_threshold else "improved"
