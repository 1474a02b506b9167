"""The `avagent` command line: thin wrappers over the library, errors as one line and an exit code.

Exit codes: 0 success; 1 unexpected error; 2 invalid parameter or option; 3 unusable media; 4 could not write output;
5 a configured model backend is unavailable; 6 a bundled sample is missing. See `avagent.core.errors`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from avagent.core.errors import AvagentError

app = typer.Typer(
    name="avagent",
    help="Agentic audio repair for audio-visual data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def _mount_optional_apps() -> None:
    """Sub-apps that live with their feature (the service and the evaluator ship their own commands)."""
    from avagent.service.cli import register as register_service_commands

    register_service_commands(app)  # avagent serve, avagent batch
    try:
        from avagent.avllm.evaluate.cli import app as eval_app
    except ImportError:  # the evaluator's optional dependencies are missing
        return
    app.add_typer(eval_app, name="eval", help="Score AV-LLM predictions against benchmark annotations.")


@app.command("actions")
def list_actions() -> None:
    """List the eight audio actions with their parameters and ranges."""
    from avagent.actions.registry import ACTIONS, CANONICAL_ORDER

    table = Table(title="avagent actions (applied in this order within a plan)")
    for column in ("action", "category", "parameter", "default", "range", "meaning"):
        table.add_column(column, overflow="fold")
    for name in CANONICAL_ORDER:
        spec = ACTIONS[name]
        table.add_row(f"[bold]{name}[/]", spec.category.value, "", "", "", spec.description)
        for field_name, info in spec.params_model.model_fields.items():
            table.add_row("", "", field_name, repr(info.default), _range_text(info), info.description or "")
    console.print(table)


ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML or JSON settings file")]


@app.command("repair")
def repair_cmd(
    input_path: Annotated[Path, typer.Argument(metavar="IN", help="video with sound")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="repaired video (default IN.repaired.EXT)")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="report JSON path")] = None,
    planner: Annotated[str | None, typer.Option(help="rules | llm | random")] = None,
    max_iterations: Annotated[int | None, typer.Option("--max-iterations", help="plans tried at most")] = None,
    threshold: Annotated[float | None, typer.Option(help="both scores must reach it (0-1)")] = None,
    seed: Annotated[int | None, typer.Option(help="seed (random planner, fills)")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="resume key (default: hash of input+options)")] = None,
    config: ConfigOption = None,
) -> None:
    """Repair the audio of a video so it matches the picture; write video, WAV and report."""
    from avagent.agent.run import options_from_settings, planner_from_settings, repair, toolset_from_settings
    from avagent.core.config import load_settings

    settings = load_settings(
        config,
        agent__planner=planner,
        agent__max_iterations=max_iterations,
        agent__threshold=threshold,
        agent__seed=seed,
    )
    result = repair(
        input_path,
        output,
        options=options_from_settings(settings),
        tools=toolset_from_settings(settings),
        planner=planner_from_settings(settings),
        run_id=run_id,
        report_path=report,
        limits=settings.media,
        on_event=print_event,
    )
    print_summary(result.report)


@app.command("describe")
def describe_cmd(
    input_path: Annotated[Path, typer.Argument(metavar="IN")],
    as_json: Annotated[bool, typer.Option("--json", help="print the full descriptions as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Describe the audio and the video of a file separately (captions and diagnostics)."""
    import json

    from avagent.agent.run import toolset_from_settings
    from avagent.core.config import load_settings
    from avagent.core.media import load_clip

    settings = load_settings(config)
    clip = load_clip(input_path, limits=settings.media, require_audio=False)
    tools = toolset_from_settings(settings)
    out = {}
    if clip.audio is not None:
        out["audio"] = tools.audio_describer.describe(clip.audio, clip.sample_rate).to_dict()
    if clip.video is not None:
        out["video"] = tools.video_describer.describe_clip(clip).to_dict()
    if as_json:
        console.print_json(json.dumps(out))
        return
    for role, description in out.items():
        console.print(f"[bold]{role}[/]: {description['caption']}")


@app.command("score")
def score_cmd(
    input_path: Annotated[Path, typer.Argument(metavar="IN")],
    config: ConfigOption = None,
) -> None:
    """Score how well a file's audio matches its video (alignment and sync, calibrated to 0.85)."""
    import json

    from avagent.agent.run import toolset_from_settings
    from avagent.core.config import load_settings
    from avagent.core.media import load_clip

    settings = load_settings(config)
    clip = load_clip(input_path, limits=settings.media, require_audio=True, require_video=True)
    scorer = toolset_from_settings(settings).scorer
    scores = scorer.score(clip.audio, clip.sample_rate, scorer.prepare_video(clip))
    console.print_json(json.dumps(scores.to_dict(), default=str))


@app.command("demo")
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="where outputs go")] = Path("out/demo"),
    seed: Annotated[int, typer.Option(help="seed of the simulated corruption")] = 0,
) -> None:
    """Corrupt a real clip shipped by an installed package, repair it, and print before/after figures."""
    from avagent.demo import run_demo

    run_demo(out_dir, seed=seed, console=console)


def print_event(event) -> None:
    """Live progress, one line per loop step."""
    p = event.payload
    if event.node == "perceive":
        console.print(f"[dim]audio:[/] {p.get('audio_caption')}\n[dim]video:[/] {p.get('video_caption')}")
    elif event.node in ("reflect_original", "reflect"):
        s = p["scores"]
        label = "original" if event.node == "reflect_original" else f"iteration {event.iteration}"
        console.print(f"  {label:>12}: alignment {s['alignment']:.3f}  sync {s['sync']:.3f}")
    elif event.node == "plan":
        plan = p["plan"]
        actions = ", ".join(a["name"] for a in plan["actions"]) or "no edit"
        console.print(f"[bold]plan {event.iteration}[/] ({plan['planner']}): {actions} - {plan['reasoning']}")
    elif event.node == "decide":
        console.print(f"  {'':>12}  {'[green]accepted[/]' if p['accepted'] else '[yellow]rejected[/]'}")


def print_summary(report) -> None:
    table = Table(title=f"avagent repair: {report.final.status} ({report.final.stop_reason})")
    for column in ("iteration", "actions", "alignment", "sync", "accepted", "s"):
        table.add_column(column)
    s0 = report.initial_scores
    table.add_row("original", "-", f"{s0.alignment:.3f}", f"{s0.sync:.3f}", "", "")
    for it in report.iterations:
        names = ", ".join(f"{a['name']}" for a in it.plan.actions) or "none"
        table.add_row(
            str(it.index),
            names,
            f"{it.scores.alignment:.3f}",
            f"{it.scores.sync:.3f}",
            "yes" if it.accepted else "no",
            f"{it.seconds:.2f}",
        )
    console.print(table)
    console.print(f"video: {report.final.video_path}\naudio: {report.final.audio_path}")


def _range_text(info) -> str:
    from avagent.actions.params import field_bounds

    lo, hi = field_bounds(info)
    annotation = getattr(info.annotation, "__args__", None)
    if lo is None and hi is None:
        return " | ".join(map(str, annotation)) if annotation else ""
    return f"{lo if lo is not None else ''}..{hi if hi is not None else ''}"


def main() -> None:
    """Console-script entry point: typed errors become one line on stderr and their exit code."""
    _mount_optional_apps()
    try:
        app(standalone_mode=False)
    except AvagentError as e:
        err_console.print(f"avagent: error: {e}", highlight=False, markup=False)
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("avagent: interrupted", markup=False)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # usage errors and the unexpected: still one line
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # click/typer usage errors
            err_console.print(f"avagent: usage error: {e.format_message()}", highlight=False, markup=False)
            sys.exit(2)
        err_console.print(f"avagent: internal error: {type(e).__name__}: {e}", highlight=False, markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
