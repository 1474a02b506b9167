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
    """Sub-apps that live with their feature (the evaluator ships its own commands)."""
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


@app.command("demo")
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="where outputs go")] = Path("out/demo"),
    seed: Annotated[int, typer.Option(help="seed of the simulated corruption")] = 0,
) -> None:
    """Corrupt a real clip shipped by an installed package, repair it, and print before/after figures."""
    from avagent.demo import run_demo

    run_demo(out_dir, seed=seed, console=console)


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
