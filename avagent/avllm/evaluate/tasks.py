"""Task registry: benchmark name -> `Task` (ground-truth reader, answer parser, metrics)."""

from __future__ import annotations

from avagent.avllm.evaluate.base import Task
from avagent.avllm.evaluate.benchmarks.captioning import CaptionTask
from avagent.avllm.evaluate.benchmarks.localisation import ArigTask
from avagent.avllm.evaluate.benchmarks.qa import AvqaTask, MusicAvqaTask, OpenQaTask
from avagent.avllm.evaluate.benchmarks.recognition import (
    CremaDTask,
    DfewTask,
    KineticsSoundsTask,
    MafwTask,
    MeldTask,
    UcfTask,
    VggCmTask,
)
from avagent.avllm.evaluate.benchmarks.segmentation import (
    AvssTask,
    Ms3Task,
    RefAvsNullTask,
    RefAvsTask,
    S4Task,
)
from avagent.avllm.evaluate.benchmarks.temporal import AveTask, AvvpTask
from avagent.avllm.evaluate.errors import UnknownTaskError

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        AveTask(),
        AvvpTask(),
        MusicAvqaTask(),
        AvqaTask(),
        OpenQaTask(),
        ArigTask(),
        S4Task(),
        Ms3Task(),
        AvssTask(),
        RefAvsTask(),
        RefAvsNullTask(),
        VggCmTask(),
        KineticsSoundsTask(),
        UcfTask(),
        CremaDTask(),
        DfewTask(),
        MafwTask(),
        MeldTask(),
        CaptionTask(),
    )
}


def get_task(name: str) -> Task:
    """The registered task `name` (raises `UnknownTaskError` listing the valid names)."""
    try:
        return TASKS[name.lower()]
    except KeyError:
        raise UnknownTaskError(f"unknown task {name!r}; choose one of: {', '.join(sorted(TASKS))}") from None
