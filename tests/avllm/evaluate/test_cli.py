"""`avagent eval` through typer's CliRunner, on the sub-app alone and mounted as the lead will mount it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from avagent.avllm.evaluate.cli import app

runner = CliRunner()


def _files(tmp_path: Path, preds: list[dict]) -> tuple[Path, Path]:
    gt = tmp_path / "gt.jsonl"
    gt.write_text(
        "".join(json.dumps(r) + "\n" for r in [{"id": "1", "label": "dog barking"}, {"id": "2", "label": "car"}]),
        encoding="utf-8",
    )
    pred = tmp_path / f"preds_{len(list(tmp_path.glob('preds_*')))}.jsonl"
    pred.write_text("".join(json.dumps(r) + "\n" for r in preds), encoding="utf-8")
    return pred, gt


def test_eval_default_command_writes_results_and_summary(tmp_path: Path) -> None:
    pred, gt = _files(tmp_path, [{"id": "1", "predict": "<answer>dog barking</answer>"}, {"id": "2", "predict": "?"}])
    out = tmp_path / "res" / "crab.json"
    result = runner.invoke(app, ["--task", "ks", "--pred", str(pred), "--gt", str(gt), "--out", str(out),
                                 "--model", "crab"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| accuracy ★ | 50.00 | 100.00 |" in result.stdout
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["model"] == "crab" and saved["n_unparsable"] == 1 and len(saved["samples"]) == 2
    assert out.with_suffix(".md").read_text(encoding="utf-8").startswith("### Kinetics-Sounds")


def test_mounted_as_avagent_eval(tmp_path: Path) -> None:
    main = typer.Typer()

    @main.command()
    def demo() -> None:  # the real CLI has other commands next to eval
        """Stand-in."""

    main.add_typer(app, name="eval")
    pred, gt = _files(tmp_path, [{"id": "1", "predict": "dog barking"}, {"id": "2", "predict": "car"}])
    result = runner.invoke(main, ["eval", "--task", "ks", "--pred", str(pred), "--gt", str(gt)])
    assert result.exit_code == 0, result.output
    assert "100.00" in result.stdout
    listing = runner.invoke(main, ["eval", "tasks"])
    assert listing.exit_code == 0 and "music_avqa" in listing.stdout and "refavs_null" in listing.stdout


def test_compare_side_by_side_with_probe_drop(tmp_path: Path) -> None:
    runs = [
        ("crab", "original", [{"id": "1", "predict": "dog barking"}, {"id": "2", "predict": "car"}]),
        ("crab", "white_noise", [{"id": "1", "predict": "car"}, {"id": "2", "predict": "car"}]),
        ("ours", "original", [{"id": "1", "predict": "dog barking"}, {"id": "2", "predict": "dog barking"}]),
    ]
    paths = []
    for model, variant, preds in runs:
        pred, gt = _files(tmp_path, preds)
        out = tmp_path / f"{model}_{variant}.json"
        args = ["--task", "ks", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--model", model,
                "--variant", variant]  # fmt: skip
        assert runner.invoke(app, args).exit_code == 0
        paths.append(str(out))
    table_path = tmp_path / "table.md"
    result = runner.invoke(app, ["compare", *paths, "--out", str(table_path)])
    assert result.exit_code == 0, result.output
    table = table_path.read_text(encoding="utf-8")
    assert "| metric | crab [original] | crab [white_noise] | ours [original] |" in table
    assert "| accuracy | 100.00 | 50.00 | 50.00 |" in table
    assert "### Audio reliance: Kinetics-Sounds action recognition, crab" in table
    assert "| white_noise | 50.00 | 50.00 | 0.0 |" in table  # drop = 100 - 50


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--task", "nope", "--pred", "p", "--gt", "g"], "unknown task 'nope'", 2),
        (["--task", "ks"], "give --task, --pred and --gt", 2),
        (["--task", "ks", "--pred", "missing.jsonl", "--gt", "missing_gt.jsonl"], "annotation file not found", 2),
        (["--task", "arig", "--pred", "p", "--gt", "g", "--image-size", "big"], "--image-size must look like", 2),
        (["--task", "arig", "--pred", "p", "--gt", "g", "--consensus", "max"], "consensus must be", 2),
        (["compare", "nothing.json"], "cannot read results", 2),
        (["probes", "nothing.txt", "--out", "o"], "cannot read manifest", 3),
        (["probes", "nothing.txt", "--out", "o", "--variants", "reverse"], "unknown probe variants", 2),
    ],
)
def test_errors_are_one_line_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str, code: int
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_probes_command(tmp_path: Path) -> None:
    import av
    import numpy as np

    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{video}\n", encoding="utf-8")
    result = runner.invoke(
        app, ["probes", str(listing), "--out", str(tmp_path / "p"), "--variants", "no_audio,swapped"]
    )
    assert result.exit_code == 0, result.output
    assert "no_audio: 1 clips" in result.stdout and "skipped clip (swapped): no audio stream" in result.stdout
