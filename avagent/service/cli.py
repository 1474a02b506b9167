"""`avagent serve` and `avagent batch`: typer commands; `register(app)` adds them to the main CLI.

Imports of the service stack (FastAPI, SQLAlchemy, uvicorn) happen inside the commands, so the main CLI loads
without the service extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML or JSON settings file")]


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    config: ConfigOption = None,
    broker: Annotated[
        str | None, typer.Option("--broker", help="Celery broker URL (redis://...); default: embedded executor")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="embedded executor threads")] = None,
    create_key: Annotated[
        str | None, typer.Option("--create-key", metavar="NAME", help="create an API key, print it once, and exit")
    ] = None,
    role: Annotated[str, typer.Option("--role", help="role of --create-key: read | submit | admin")] = "read",
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level")] = "info",
) -> None:
    """Run the jobs API (with the embedded executor unless --broker is given)."""
    from avagent.core.config import load_settings

    settings = load_settings(config, service__broker_url=broker, service__workers=workers)
    if create_key is not None:
        _create_key(settings, create_key, role)
        return
    import uvicorn

    from avagent.service import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


def _create_key(settings, name: str, role: str) -> None:
    from avagent.service.security import create_key
    from avagent.workers.store import JobStore

    store = JobStore.from_settings(settings)
    try:
        store.create_all()
        row, key = create_key(store, name, role)
    finally:
        store.dispose()
    console.print(f"API key [bold]{row.name}[/] ({row.role}), shown once, store it now:", highlight=False)
    print(key)


def batch(
    source: Annotated[Path, typer.Argument(metavar="DIR_OR_MANIFEST", help="a folder of videos, or a manifest")],
    out: Annotated[Path, typer.Option("--out", help="outputs and manifest.jsonl go here")],
    server: Annotated[str | None, typer.Option("--server", help="submit to this avagent server (URL)")] = None,
    key: Annotated[str | None, typer.Option("--key", envvar="AVAGENT_API_KEY", help="API key for --server")] = None,
    server_paths: Annotated[
        bool, typer.Option("--server-paths", help="with --server: send the paths (under the server's roots)")
    ] = False,
    planner: Annotated[str | None, typer.Option(help="rules | llm | random")] = None,
    max_iterations: Annotated[int | None, typer.Option("--max-iterations", help="plans tried at most")] = None,
    threshold: Annotated[float | None, typer.Option(help="both scores must reach it (0-1)")] = None,
    config: ConfigOption = None,
) -> None:
    """Repair every clip of a folder or manifest; write the outputs and the cleaned-pair manifest.jsonl."""
    from avagent.core.config import load_settings
    from avagent.core.errors import ParameterError
    from avagent.service.batch import collect_inputs, run_local, run_remote

    settings = load_settings(
        config, agent__planner=planner, agent__max_iterations=max_iterations, agent__threshold=threshold
    )
    inputs = collect_inputs(source)
    console.print(f"{len(inputs)} clips from {source}")
    with _progress() as bar:
        task = bar.add_task("repairing", total=len(inputs))

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what[:40])

        if server is None:
            lines = run_local(inputs, out, settings, progress)
        else:
            if not key:
                raise ParameterError("--server needs --key (or AVAGENT_API_KEY)")
            options = {
                k: v
                for k, v in {"planner": planner, "max_iterations": max_iterations, "threshold": threshold}.items()
                if v is not None
            }
            lines = run_remote(
                inputs, out, server=server, key=key, options=options, server_paths=server_paths, progress=progress
            )
    _summary(lines, out / "manifest.jsonl")
    if lines and all(line.status == "failed" for line in lines):
        raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _summary(lines, manifest: Path) -> None:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    table = Table(title="avagent batch")
    table.add_column("status")
    table.add_column("clips", justify="right")
    for status, n in sorted(counts.items()):
        table.add_row(status, str(n))
    console.print(table)
    for line in lines:
        if line.status == "failed":
            console.print(f"[red]failed[/] {line.video_path}: {line.error}", highlight=False)
    console.print(f"manifest: {manifest}")


def register(app: typer.Typer) -> None:
    """Add `serve` and `batch` to the main `avagent` app."""
    app.command("serve")(serve)
    app.command("batch")(batch)
