"""Motion energy, regional motion and scene cuts on synthetic frame sequences with known events."""

from __future__ import annotations

import numpy as np
import pytest

from avagent.core.errors import ParameterError
from avagent.tools.motion import (
    MotionAnalyzer,
    detect_scene_cuts,
    merge_close_cuts,
    motion_energy,
    regional_motion_energy,
)

W, H = 320, 180  # frames are shrunk to 160 px wide inside, as the describer does


def textured(seed: int, noise: float = 0.0, n: int = 1) -> list[np.ndarray]:
    """n frames of one fixed random texture (a "shot"), plus per-frame sensor noise of std `noise`."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (H // 8, W // 8, 3)).repeat(8, 0).repeat(8, 1).astype(np.float32)
    return [np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def test_flash_peaks_at_its_frame():
    frames = textured(0, noise=3.0, n=40)
    frames[17] = np.full_like(frames[17], 255)  # a one-frame white flash
    energy = motion_energy(frames)
    assert energy.shape == (40,) and energy[0] == 0.0
    # value k compares frames k-1 and k: the flash shows at 17 (on) and 18 (off), nowhere else
    assert int(np.argmax(energy)) in (17, 18)
    assert energy[17] > 10 * np.median(energy[1:])
    assert energy[16] < 0.1 * energy[17]


def test_moving_block_peaks_when_it_moves_and_is_localised():
    frames = textured(1, noise=2.0, n=30)
    for k in range(12, 16):  # a bright block moves inside grid cell (row 2, col 3) during frames 12-15
        x = int(W * 0.78) + 6 * (k - 12)
        frames[k] = frames[k].copy()
        frames[k][int(H * 0.55) : int(H * 0.70), x : x + 20] = 255
    energy = motion_energy(frames)
    regional = regional_motion_energy(frames, grid=(4, 4))
    assert regional.shape == (30, 16)
    assert 12 <= int(np.argmax(energy)) <= 16
    moving = regional[12:17].mean(axis=0)
    assert int(np.argmax(moving)) == 2 * 4 + 3  # row-major: row 2, column 3
    assert moving[2 * 4 + 3] > 5 * np.delete(moving, 11).max()


def test_scene_cut_found_at_the_cut_frame():
    fps = 25.0
    frames = textured(2, noise=3.0, n=50) + textured(3, noise=3.0, n=50)  # cut between frames 49 and 50
    cuts = detect_scene_cuts(frames, fps=fps, start_s=1.0)
    assert cuts == [pytest.approx(1.0 + 50 / fps)]


def test_one_frame_flash_and_steady_shot_are_not_cuts():
    frames = textured(4, noise=3.0, n=60)
    frames[30] = np.full_like(frames[30], 250)
    assert detect_scene_cuts(frames, fps=25.0) == []


def test_cuts_between_similar_shots_use_the_local_level():
    # two shots with the same palette: only the layout changes (a flipped texture), as in dialogue reverse
    # shots
    shot = textured(5, noise=2.0, n=40)
    flipped = [np.ascontiguousarray(f[:, ::-1]) for f in textured(5, noise=2.0, n=40)]
    analyzer = MotionAnalyzer()
    for f in shot + flipped:
        analyzer.update(f)
    assert analyzer.histogram_distance.shape == (80,)
    assert analyzer.energy[40] > 10 * np.median(analyzer.energy[1:40])
    # identical colour histograms: the histogram test rightly sees no cut, so no false positives either
    assert analyzer.cut_frames() == []


def test_merge_close_cuts_keeps_the_first():
    assert merge_close_cuts([1.0, 1.2, 3.0, 3.4, 5.0], min_gap_s=0.5) == [1.0, 3.0, 5.0]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"grid": (0, 4)}, ParameterError),
        ({"grid": (2, 2), "width": 4}, ParameterError),
        ({"grid": (3, 5)}, None),
    ],
)
def test_analyzer_validates_its_grid(kwargs, error):
    if error is None:
        a = MotionAnalyzer(**kwargs)
        a.update(textured(6)[0])
        assert a.regional.shape == (1, 15)
    else:
        with pytest.raises(error):
            MotionAnalyzer(**kwargs)


def test_detect_scene_cuts_rejects_bad_fps():
    with pytest.raises(ParameterError):
        detect_scene_cuts(textured(7, n=3), fps=0)
