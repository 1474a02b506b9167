"""`python -m bench.agent --quick` end to end into a temporary directory, plus its pure helpers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avagent.core.samples import ASTERISK_DIR, FREEDESKTOP_DIR
from avagent.core.simulate import Noise, Offset, simulate
from bench import agent


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    if not (ASTERISK_DIR.is_dir() and FREEDESKTOP_DIR.is_dir()):
        pytest.skip("needs Debian asterisk-core-sounds-en-wav and sound-theme-freedesktop")
    out = tmp_path_factory.mktemp("bench") / "agent.json"
    assert agent.main(["--quick", "--quiet", "--out", str(out)]) == 0
    return json.loads(out.read_text()), out.with_suffix(".md").read_text()


def _numbers(value: Any) -> list[Any]:
    """Every leaf that is a number or None (non-finite numbers are written as null)."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if value is None or (isinstance(value, int | float) and not isinstance(value, bool)) else []


@pytest.mark.slow
def test_json_has_every_section(run: tuple[dict[str, Any], str]) -> None:
    doc, _ = run
    sections = {"meta", "options", "skipped", "dataset", "speed", "summary", "targets", "failures", "rows"}
    assert sections <= set(doc)
    assert doc["meta"]["benchmark"] == "agent" and doc["options"]["quick"] is True
    assert doc["options"]["planners"] == ["rules", "random"]
    n_cases = len(agent.QUICK.synthetic_seeds) * len(agent.QUICK.families)
    assert doc["dataset"]["cases"] == n_cases
    assert len(doc["rows"]) == n_cases * 3  # rules, random and the noisereduce baseline
    assert {r["method"] for r in doc["rows"]} == {"rules", "random", agent.BASELINE}
    assert 0.0 < doc["runtime_s"] < 600.0


@pytest.mark.slow
def test_summary_numbers_are_finite(run: tuple[dict[str, Any], str]) -> None:
    doc, _ = run
    assert all(n is None or math.isfinite(n) for n in _numbers(doc))
    for s in doc["summary"]:
        assert s["n"] > 0
        assert s["seconds_mean"] is not None and s["seconds_mean"] > 0
        assert s["delta_si_sdr_db"] is not None and math.isfinite(s["delta_si_sdr_db"])
        if s["method"] != agent.BASELINE:
            assert s["detected"] is not None and 0.0 <= s["detected"] <= 1.0
            assert s["plan_exact"] is not None and 0.0 <= s["plan_exact"] <= 1.0
    offsets = [r for r in doc["rows"] if r["family"] == "noise+offset" and r["status"] != "error"]
    assert offsets and all(r["residual_offset_s"] is not None and r["residual_offset_s"] >= 0 for r in offsets)


@pytest.mark.slow
def test_speed_and_targets(run: tuple[dict[str, Any], str]) -> None:
    doc, md = run
    speed = doc["speed"]
    assert speed["cold"]["first_call_s"] > 0 and speed["cold"]["toolset_build_s"] >= 0
    runs = speed["resident"]["runs"]
    assert len(runs) == len(agent.QUICK.speed_seeds) * len(agent.SPEED_VARIANTS) * agent.QUICK.speed_repeats
    assert all(r["seconds"] > 0 for r in runs)
    assert len(doc["targets"]) == 5
    for t in doc["targets"]:
        assert t["value"] is not None and math.isfinite(t["value"]) and isinstance(t["passed"], bool)
    for heading in ("## Targets", "## Per corruption family", "## Speed", "## Cases missing a target"):
        assert heading in md


def test_cases_rotate_noise_kinds_and_are_seeded() -> None:
    source = agent.Source("s", "synthetic", 5, Path("s.mp4"), np.zeros(8), 16000)
    cases = agent.cases_for(source, agent.FULL)
    assert [c.family for c in cases].count("noise") == agent.FULL.noise_cases
    assert {c.group.split()[0] for c in cases if c.family == "noise"} == set(agent.NOISE_KINDS)
    assert len({c.seed for c in cases}) == len(cases)
    again = agent.cases_for(source, agent.FULL)
    assert [c.corruptions for c in again] == [c.corruptions for c in cases]
    for c in cases:
        if c.family in agent.OFFSET_FAMILIES:
            seconds = c.corruptions[-1].seconds
            assert agent.OFFSET_RANGE_S[0] <= abs(seconds) <= agent.OFFSET_RANGE_S[1]


def _prepared(corruptions: list[Any], sr: int = 8000) -> agent.Prepared:
    clean = np.random.default_rng(1).standard_normal(2 * sr).astype(np.float32)
    source = agent.Source("s", "synthetic", 0, Path("s.mp4"), clean, sr)
    case = agent.Case(source, "noise+offset", "g", 3, tuple(corruptions))
    result = simulate(clean, sr, corruptions, seed=3)
    return agent.Prepared(case, Path("x.mp4"), result, corruptions[-1].seconds, result.audio)


@pytest.mark.parametrize(
    ("plan", "exact", "noise_ok", "coordination"),
    [
        (["spectral_subtraction", "speed"], True, True, True),
        (["wiener", "speed"], False, True, True),  # wiener is an alternative for white noise at 0 dB
        (["spectral_subtraction"], False, True, False),
        ([], False, False, False),
    ],
)
def test_plan_accuracy(plan: list[str], exact: bool, noise_ok: bool, coordination: bool) -> None:
    prep = _prepared([Noise("white", 0.0), Offset(0.3)])
    got = agent.plan_accuracy(prep, [{"name": n, "params": {}} for n in plan])
    assert got["ideal_plan"] == ["spectral_subtraction", "speed"]
    assert (got["plan_exact"], got["noise_ok"], got["coordination_exact"]) == (exact, noise_ok, coordination)


def test_quality_of_a_perfect_and_an_unrepaired_offset() -> None:
    prep = _prepared([Noise("white", 40.0), Offset(0.25)])
    clean = prep.case.source.reference
    perfect = agent.quality(prep, clean)
    assert perfect["residual_offset_s"] < 1e-3 and perfect["delta_si_sdr_db"] > 20.0
    left = agent.quality(prep, prep.simulation.audio)
    assert left["residual_offset_s"] == pytest.approx(0.25, abs=1e-3)
    assert left["delta_si_sdr_db"] == 0.0
    assert agent.SI_SDR_LIMITS_DB[0] <= left["si_sdr_after_db"] < 0.0  # a 0.25 s offset costs directly...
    assert agent._aligned_si_sdr(clean, prep.simulation.audio, 8000) > 30.0  # ...but not once aligned


def test_guarded_turns_an_exception_into_an_error_record() -> None:
    def boom() -> dict[str, Any]:
        raise ValueError("bad plan")

    record = agent.guarded("random", boom)
    assert record["status"] == "error" and "bad plan" in record["error"]
    assert record["delta_si_sdr_db"] is None and record["detected"] is None
