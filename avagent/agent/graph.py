"""The repair loop as a LangGraph StateGraph (paper Algorithm 1, with its gaps closed).

    perceive -> reflect_original -(aligned)-> finalize
                                 -(repair)--> plan -> act -> reflect -> decide -(continue)-> plan
                                                                              -(stop)-----> finalize

Every plan edits the ORIGINAL audio (never the previous output). A candidate is accepted when it improves on the
best so far (Pareto by default: no score falls, one rises; the paper's strict rule is an option). The loop stops
when the best candidate meets the threshold on both scores, after `max_iterations` plans, after `patience` plans in
a row without progress, or when the planner has nothing left to try.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import soundfile as sf
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from avagent.actions.registry import apply_actions
from avagent.agent.plan import Plan, validate_plan
from avagent.agent.planners import PlanningInput
from avagent.agent.state import RepairContext, RepairState
from avagent.tools.scoring import Scores


def perceive(state: RepairState, runtime: Runtime[RepairContext]) -> dict[str, Any]:
    """Describe the audio and the video separately (paper §3.2: discrepancies surface between the two)."""
    ctx = runtime.context
    audio = ctx.tools.audio_describer.describe(ctx.clip.audio, ctx.clip.sample_rate).to_dict()
    video = ctx.video_description().to_dict()
    ctx.bus.emit("perceive", 0, audio_caption=audio.get("caption"), video_caption=video.get("caption"))
    return {"audio_description": audio, "video_description": video}


def reflect_original(state: RepairState, runtime: Runtime[RepairContext]) -> dict[str, Any]:
    """Score the original pair; a clip that already meets the threshold is returned untouched."""
    ctx = runtime.context
    scores = _score(ctx, ctx.clip.audio)
    ctx.bus.emit("reflect_original", 0, scores=scores)
    best = {"iteration": 0, "scores": scores, "actions": [], "audio_path": None}
    return {"original_scores": scores, "best": best, "iteration": 0, "since_progress": 0}


def plan(state: RepairState, runtime: Runtime[RepairContext]) -> dict[str, Any]:
    """Ask the planner for the next edit, given captions, diagnostics and the history of earlier plans."""
    ctx = runtime.context
    iteration = state["iteration"] + 1
    proposal = ctx.planner.plan(_planning_input(state, ctx, iteration))
    proposal = validate_plan(proposal, ctx.options.allowed_actions)
    ctx.bus.emit("plan", iteration, plan=proposal.model_dump())
    return {"iteration": iteration, "plan": proposal.model_dump(), "plan_started": time.time()}


def act(state: RepairState, runtime: Runtime[RepairContext]) -> dict[str, Any]:
    """Apply the plan to the ORIGINAL audio and keep the candidate on disk (checkpoints stay small)."""
    ctx = runtime.context
    proposal = Plan.model_validate(state["plan"])
    audio = apply_actions(ctx.clip.audio, ctx.clip.sample_rate, proposal.as_pairs())
    path = ctx.work_dir / f"candidate_{state['iteration']:02d}.wav"
    _write_float_wav(path, audio, ctx.clip.sample_rate)
    ctx.bus.emit("act", state["iteration"], actions=proposal.names(), audio_path=str(path))
    return {"candidate": {"iteration": state["iteration"], "audio_path": str(path)}}


def reflect(state: RepairState, runtime: Runtime[RepairContext]) -> dict[str, Any]:
    """Score the candidate against the (cached) video features."""
    ctx = runtime.context
    audio, _ = sf.read(state["candidate"]["audio_path"], dtype="float32", always_2d=True)
    scores = _score(ctx, audio.T)
    ctx.bus.emit("reflect", state["iteration"], scores=scores)
    return {"candidate": {**state["candidate"], "scores": scores}}


def decide(state: RepairState, runtime: Runtime[RepairContext]) -> dict[str, Any]:
    """Keep the candidate if it improves on the best so far; record the iteration for the report."""
    ctx = runtime.context
    candidate, best = state["candidate"], state["best"]
    opts = ctx.options
    accepted = improves(candidate["scores"], best["scores"], opts.acceptance, opts.min_gain, opts.fall_tolerance)
    record = {
        "index": state["iteration"],
        "plan": state["plan"],
        "scores": candidate["scores"],
        "accepted": accepted,
        "seconds": round(time.time() - state["plan_started"], 3),
    }
    update: dict[str, Any] = {"iterations": [record], "candidate": None}
    if accepted:
        actions = [{"name": a["name"], "params": a["params"]} for a in state["plan"]["actions"]]
        update["best"] = {**candidate, "actions": actions}
        update["since_progress"] = 0
    else:
        update["since_progress"] = state["since_progress"] + 1
    ctx.bus.emit("decide", state["iteration"], accepted=accepted, scores=candidate["scores"])
    return update


def finalize(state: RepairState, runtime: Runtime[RepairContext]) -> dict[str, Any]:
    """Name why the loop ended; the runner writes the outputs from the best candidate."""
    ctx = runtime.context
    reason = state.get("stop_reason") or stop_reason(state, ctx)
    ctx.bus.emit("finalize", state.get("iteration", 0), stop_reason=reason, best=state["best"])
    return {"stop_reason": reason}


# --- routing -------------------------------------------------------------------------------------------------------


def route_after_original(state: RepairState, runtime: Runtime[RepairContext]) -> Literal["aligned", "repair"]:
    return "aligned" if _meets(state["original_scores"], runtime.context.options.threshold) else "repair"


def route_after_plan(state: RepairState) -> Literal["act", "nothing_to_do"]:
    return "nothing_to_do" if not state["plan"]["actions"] else "act"


def route_after_decide(state: RepairState, runtime: Runtime[RepairContext]) -> Literal["continue", "stop"]:
    return "stop" if stop_reason(state, runtime.context) else "continue"


def stop_reason(state: RepairState, ctx: RepairContext) -> str | None:
    if _meets(state["best"]["scores"], ctx.options.threshold):
        return "aligned" if state["best"]["iteration"] == 0 else "repaired"
    if state.get("plan") is not None and not state["plan"]["actions"]:
        return "planner_has_no_edit"
    if state.get("iteration", 0) >= ctx.options.max_iterations:
        return "max_iterations"
    if state.get("since_progress", 0) >= ctx.options.patience:
        return "no_progress"
    return None


def build_graph(checkpointer: Any = None):
    """Compile the loop. Pass a checkpointer (e.g. SqliteSaver) for durable, resumable runs."""
    graph = StateGraph(RepairState, context_schema=RepairContext)
    for node in (perceive, reflect_original, plan, act, reflect, decide, finalize):
        graph.add_node(node.__name__, node)
    graph.add_edge(START, "perceive")
    graph.add_edge("perceive", "reflect_original")
    graph.add_conditional_edges("reflect_original", route_after_original, {"aligned": "finalize", "repair": "plan"})
    graph.add_conditional_edges("plan", route_after_plan, {"act": "act", "nothing_to_do": "finalize"})
    graph.add_edge("act", "reflect")
    graph.add_edge("reflect", "decide")
    graph.add_conditional_edges("decide", route_after_decide, {"continue": "plan", "stop": "finalize"})
    graph.add_edge("finalize", END)
    return graph.compile(checkpointer=checkpointer)


# --- helpers -------------------------------------------------------------------------------------------------------


def improves(
    candidate: dict[str, Any], best: dict[str, Any], rule: str, min_gain: float, fall_tolerance: float = 0.0
) -> bool:
    """Pareto: no score falls by more than `fall_tolerance` and at least one rises by more than `min_gain`.
    Strict (paper Algorithm 1): both rise by more than `min_gain`.

    A sync score measured without a sync cue is a placeholder, not a measurement (the scorer's `no_sync_cue`):
    when only one of the two has a cue, sync is not compared and the decision rests on alignment. This is what
    lets a denoised candidate that reveals a hidden offset be kept, so the next plan can repair that offset.
    """
    keys = ("alignment", "sync") if _sync_cue(candidate) == _sync_cue(best) else ("alignment",)
    gains = [candidate[k] - best[k] for k in keys]
    if rule == "strict":
        return all(g > min_gain for g in gains)
    return all(g >= -fall_tolerance for g in gains) and any(g > min_gain for g in gains)


def _sync_cue(scores: dict[str, Any]) -> bool:
    return not scores.get("details", {}).get("no_sync_cue", False)


def _meets(scores: dict[str, Any], threshold: float) -> bool:
    return scores["alignment"] >= threshold and scores["sync"] >= threshold


def _score(ctx: RepairContext, audio: np.ndarray) -> dict[str, Any]:
    result: Scores = ctx.tools.scorer.score(audio, ctx.clip.sample_rate, ctx.video_features())
    return result.to_dict()


def _planning_input(state: RepairState, ctx: RepairContext, iteration: int) -> PlanningInput:
    return PlanningInput(
        iteration=iteration,
        audio=state["audio_description"],
        video=state["video_description"],
        original_scores=state["original_scores"],
        history=list(state.get("iterations", [])),
        allowed_actions=tuple(ctx.options.allowed_actions or ()),
        threshold=ctx.options.threshold,
        seed=ctx.options.seed,
    )


def _write_float_wav(path, audio: np.ndarray, sample_rate: int) -> None:
    """Write exactly the float32 samples (no quantisation), atomically, so a resumed run reads what was written."""
    tmp = path.with_suffix(".tmp.wav")
    sf.write(tmp, np.asarray(audio, dtype=np.float32).reshape(-1, np.shape(audio)[-1]).T, sample_rate, subtype="FLOAT")
    tmp.replace(path)
