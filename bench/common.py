"""Helpers shared by every benchmark: thread pinning, timing, run metadata, JSON results and markdown tables.

Kept free of numpy at import time so that `pin_threads` can run before numpy (and its BLAS) is loaded.
A results file is `{"meta": {...}, **payload}`: `meta` says what ran, where and on which versions, so that
numbers from different machines or commits are never compared blindly.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
GIT_TIMEOUT_S = 5.0


# --- threads and timing -------------------------------------------------------------------------------------


def pin_threads(n: int = 1) -> dict[str, Any]:
    """Limit BLAS/OpenMP pools to `n` threads; returns what was done (for the run metadata).

    The environment variables only take effect for libraries loaded afterwards, so call this before importing
    numpy; threadpoolctl, when installed, also limits pools that are already loaded.
    """
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n)
    done: dict[str, Any] = {"threads": n, "env": list(THREAD_ENV_VARS), "threadpoolctl": False}
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return done
    threadpool_limits(n)
    done["threadpoolctl"] = True
    return done


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one call, seconds."""

    wall_s: tuple[float, ...]  # wall-clock time of each repeat
    cpu_s: tuple[float, ...]  # CPU time of the process (all threads) of each repeat

    @property
    def median_wall_s(self) -> float:
        return _median(self.wall_s)

    @property
    def median_cpu_s(self) -> float:
        return _median(self.cpu_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "median_wall_s": self.median_wall_s,
            "median_cpu_s": self.median_cpu_s,
            "wall_s": list(self.wall_s),
            "cpu_s": list(self.cpu_s),
        }


def time_call(fn: Callable[[], Any], *, repeats: int, warmup: int = 1) -> Timing:
    """Time `fn()` `repeats` times after `warmup` untimed calls (imports, caches, plans)."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return Timing(tuple(wall), tuple(cpu))


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else 0.5 * (s[mid - 1] + s[mid])


# --- run metadata -------------------------------------------------------------------------------------------


def git_commit(repo: Path = REPO_DIR) -> dict[str, Any] | None:
    """HEAD commit and whether the work tree has uncommitted changes; None outside a git checkout."""
    try:
        head = _git(repo, "rev-parse", "HEAD")
        dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": dirty}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=GIT_TIMEOUT_S
    )
    return done.stdout.strip()


def package_versions(distributions: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each distribution (pip name), None where it is not installed."""
    versions: dict[str, str | None] = {}
    for name in distributions:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine_info() -> dict[str, Any]:
    """CPU count (total and usable by this process), platform, Python, load average at the start."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model() or platform.processor(),
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def run_metadata(
    *,
    benchmark: str,
    packages: Iterable[str] = (),
    seeds: Mapping[str, Any] | None = None,
    argv: Sequence[str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything needed to interpret a results file later.

    Parameters
    ----------
    benchmark : str
        Name of the benchmark (e.g. "actions").
    packages : iterable of str
        Distributions whose versions matter to the numbers (the code measured and its peers).
    seeds : mapping, optional
        Every seed the run used, by role.
    argv : sequence of str, optional
        The command line; defaults to `sys.argv`.
    extra : mapping, optional
        Anything else (thread settings, options).
    """
    return {
        "benchmark": benchmark,
        "timestamp_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *(sys.argv if argv is None else argv)]),
        "avagent_version": package_versions(["avagent"])["avagent"],
        "git": git_commit(),
        "machine": machine_info(),
        "packages": package_versions(sorted({"numpy", "scipy", *packages})),
        "seeds": dict(seeds or {}),
        **dict(extra or {}),
    }


# --- results ------------------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Plain JSON types from numpy scalars/arrays, tuples, dataclass-free dicts; non-finite floats become None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, payload: Mapping[str, Any], meta: Mapping[str, Any]) -> Path:
    """Write `{"meta": meta, **payload}` to `path` (parents made): strict JSON, indented, flat arrays on one line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = jsonable({"meta": meta, **payload})
    text = json.dumps(document, indent=1, allow_nan=False, ensure_ascii=False)
    path.write_text(_INNER_ARRAY.sub(lambda m: _NEWLINE_INDENT.sub(" ", m.group(0)), text) + "\n")
    return path


# An array holding no array or object: written on one line (JSON strings never hold a raw newline, so only
# formatting whitespace is collapsed).
_INNER_ARRAY = re.compile(r"\[[^\[\]{}]*\]")
_NEWLINE_INDENT = re.compile(r"\n\s*")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, align: str | None = None) -> str:
    """A GitHub markdown table; `align` has one of "l", "r", "c" per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    if len(align) != len(headers):
        raise ValueError("align needs one letter per column")
    rule = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule[a] for a in align) + " |"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, expected {len(headers)}")
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.2f}"
    return str(value).replace("|", "\\|")


def fmt(value: float | None, digits: int = 1, *, signed: bool = False) -> str:
    """A number for a table cell: fixed digits, optional sign, an en dash for None or non-finite."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def print_markdown(text: str) -> None:
    """Print markdown as it is (copyable into an issue), to stdout."""
    sys.stdout.write(text.rstrip() + "\n")
    sys.stdout.flush()
