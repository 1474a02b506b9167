"""COCO RLE codec, mask loading and box rasters.

The compressed-string cases are an independent public table of counts <-> COCO strings (a JavaScript port's
``rleCountsToStringCOCO`` tests) and pycocotools' "zero leading RLE" regression; decoding follows cocoapi
``maskApi.c`` (column-major runs starting with 0s).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avagent.avllm.evaluate.errors import EvaluationError
from avagent.avllm.evaluate.masks import (
    box_to_mask,
    load_label_map,
    load_mask,
    resize_nearest,
    rle_counts_to_string,
    rle_decode,
    rle_encode,
    rle_string_to_counts,
    voc_palette,
)


@pytest.mark.parametrize(
    ("counts", "string"),
    [
        ([0, 6, 1, 3], "061M"),
        ([0, 6, 1], "061"),
        ([0, 6, 1, 1], "061K"),
        ([0, 6, 1, 5], "061O"),
        ([0, 6, 1, 6], "0610"),
        ([0, 1, 1, 2, 1, 3, 1, 4, 1], "011101010"),
        ([0, 1024], "0PP1"),
    ],
)
def test_rle_string_codec_matches_public_table(counts: list[int], string: str) -> None:
    assert rle_counts_to_string(counts) == string
    assert rle_string_to_counts(string) == counts


def test_decode_is_column_major() -> None:
    # 2 x 3 mask, runs: 1 zero, 3 ones, 2 zeros over pixels in column order (0,0),(1,0),(0,1),(1,1),(0,2),(1,2)
    mask = rle_decode({"size": [2, 3], "counts": [1, 3, 2]})
    np.testing.assert_array_equal(mask, [[False, True, False], [True, True, False]])


def test_zero_leading_run() -> None:
    mask = rle_decode({"size": [2, 2], "counts": [0, 4]})
    assert mask.all()
    assert rle_encode(mask, compressed=False)["counts"] == [0, 4]


@pytest.mark.parametrize("seed", range(5))
def test_rle_round_trip(seed: int) -> None:
    mask = np.random.default_rng(seed).random((17, 23)) < 0.3
    for compressed in (True, False):
        rle = rle_encode(mask, compressed=compressed)
        np.testing.assert_array_equal(rle_decode(rle), mask)
    assert isinstance(rle_encode(mask)["counts"], str)


def test_rle_errors() -> None:
    with pytest.raises(EvaluationError, match="cover"):
        rle_decode({"size": [2, 2], "counts": [1, 2]})
    with pytest.raises(EvaluationError, match="size"):
        rle_decode({"counts": "061"})


def test_load_mask_png_rle_empty(tmp_path: Path) -> None:
    mask = np.zeros((6, 8), dtype=bool)
    mask[1:3, 2:6] = True
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "m.png")
    np.testing.assert_array_equal(load_mask("m.png", base_dir=tmp_path), mask)
    np.testing.assert_array_equal(load_mask(rle_encode(mask)), mask)
    assert not load_mask({"empty": True, "size": [3, 4]}).any()
    with pytest.raises(EvaluationError, match="not found"):
        load_mask("missing.png", base_dir=tmp_path)


def test_label_maps_palette_and_voc_rgb(tmp_path: Path) -> None:
    labels = np.array([[0, 1, 2], [15, 2, 0]], dtype=np.uint8)
    palette = voc_palette()
    assert palette[1].tolist() == [128, 0, 0] and palette[15].tolist() == [192, 128, 128]  # VOC colours
    Image.fromarray(palette[labels]).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_label_map("rgb.png", base_dir=tmp_path), labels)
    indexed = Image.new("P", (labels.shape[1], labels.shape[0]))
    indexed.putdata(labels.ravel().tolist())
    indexed.putpalette(palette.ravel().tolist())
    indexed.save(tmp_path / "p.png")
    np.testing.assert_array_equal(load_label_map(tmp_path / "p.png"), labels)


def test_box_to_mask_lvs_convention() -> None:
    mask = box_to_mask((16, 32, 48, 64), size=(224, 224), coord_size=(256, 256))
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (14, 42, 28, 56)  # int(224 * x / 256)


def test_resize_nearest() -> None:
    mask = np.zeros((2, 2), dtype=bool)
    mask[0, 0] = True
    up = resize_nearest(mask, (4, 4))
    assert up.shape == (4, 4) and up[:2, :2].all() and up.sum() == 4
