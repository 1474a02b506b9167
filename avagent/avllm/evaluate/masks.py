"""Masks: COCO run-length encoding (pure Python, no pycocotools), PNG masks, label maps and box rasters.

COCO RLE (cocoapi `maskApi.c`): ``{"size": [h, w], "counts": ...}`` where counts alternate runs of 0 and 1
over the pixels in column-major (Fortran) order, starting with a run of 0s. ``counts`` is either a list of
ints (uncompressed) or a string in COCO's 6-bit variable-length code with the run two places back as
predictor.

A mask *source* in a predictions or annotations file is one of: a PNG/JPEG/NPY path (relative paths resolve
against the file's folder), an RLE dict, or ``{"empty": true, "size": [h, w]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from avagent.avllm.evaluate.errors import EvaluationError

VOC_PALETTE_SIZE = 256  # AVSBench v2 (AVSS) colours its 71 class masks with the PASCAL VOC bit-shuffle palette


def rle_string_to_counts(s: str) -> list[int]:
    """Decode COCO's compressed counts string (cocoapi ``rleFrString``)."""
    counts: list[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_counts_to_string(counts: Sequence[int]) -> str:
    """Encode counts as COCO's compressed string (cocoapi ``rleToString``)."""
    out: list[str] = []
    for i, value in enumerate(counts):
        x = int(value) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """Binary mask, shape (h, w), dtype bool, from a COCO RLE dict (compressed or uncompressed counts)."""
    try:
        h, w = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError) as e:
        raise EvaluationError(f"RLE needs 'size' [h, w] and 'counts': {e}") from e
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = rle_string_to_counts(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if any(r < 0 for r in runs) or sum(runs) != h * w:
        raise EvaluationError(f"RLE counts cover {sum(runs)} pixels, the size {h}x{w} needs {h * w}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    return flat.reshape((w, h)).T


def rle_encode(mask: np.ndarray, *, compressed: bool = True) -> dict[str, Any]:
    """COCO RLE dict of a 2-D mask (nonzero = foreground)."""
    mask = np.asarray(mask).astype(bool)
    if mask.ndim != 2:
        raise EvaluationError(f"a mask must be 2-D, got shape {mask.shape}")
    flat = mask.T.reshape(-1)
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    counts: Any = rle_counts_to_string(runs) if compressed else runs
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def voc_palette(n: int = VOC_PALETTE_SIZE) -> np.ndarray:
    """PASCAL VOC colour map, shape (n, 3) uint8 (AVSBench ``get_v2_pallete`` builds the same)."""
    palette = np.zeros((n, 3), dtype=np.uint8)
    for j in range(n):
        lab, i = j, 0
        while lab > 0:
            for channel in range(3):
                palette[j, channel] |= ((lab >> channel) & 1) << (7 - i)
            i += 1
            lab >>= 3
    return palette


def _open_image(path: Path) -> Any:
    from PIL import Image

    try:
        return Image.open(path)
    except (OSError, ValueError) as e:
        raise EvaluationError(f"cannot read mask image {path}: {e}") from e


def _resolve(source: Any, base_dir: Path | None) -> Path:
    path = Path(str(source)).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise EvaluationError(f"mask file not found: {path}")
    return path


def load_mask(source: Any, *, base_dir: Path | None = None) -> np.ndarray:
    """Binary mask, shape (h, w), dtype bool, from a mask source (see module docstring).

    Image masks are converted to grey level and thresholded at > 0, as Crab+'s ``load_mask`` does.
    """
    if isinstance(source, dict):
        if source.get("empty"):
            h, w = (int(v) for v in source.get("size", (0, 0)))
            return np.zeros((h, w), dtype=bool)
        return rle_decode(source)
    path = _resolve(source, base_dir)
    if path.suffix.lower() == ".npy":
        return np.load(path).astype(bool)
    with _open_image(path) as image:
        return np.asarray(image.convert("L")) > 0


def load_label_map(source: Any, *, base_dir: Path | None = None) -> np.ndarray:
    """Class-index map, shape (h, w), int64, from a palette ('P'), grey ('L') or VOC RGB PNG, or NPY."""
    path = _resolve(source, base_dir)
    if path.suffix.lower() == ".npy":
        return np.load(path).astype(np.int64)
    with _open_image(path) as image:
        if image.mode in ("P", "L", "I", "I;16"):
            return np.asarray(image).astype(np.int64)
        rgb = np.asarray(image.convert("RGB")).astype(np.int64)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    palette = voc_palette().astype(np.int64)
    lookup = {int((r << 16) | (g << 8) | b): i for i, (r, g, b) in enumerate(palette)}
    unique = np.unique(codes)
    unknown = [hex(c) for c in unique if int(c) not in lookup]
    if unknown:
        raise EvaluationError(f"{path}: colours {unknown[:3]} are not in the VOC palette")
    labels = np.zeros(codes.shape, dtype=np.int64)
    for code in unique:
        labels[codes == code] = lookup[int(code)]
    return labels


def resize_nearest(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D mask or label map to `shape` (h, w), as PIL NEAREST does."""
    if mask.shape == tuple(shape):
        return mask
    from PIL import Image

    h, w = shape
    if mask.dtype == bool:
        image = Image.fromarray(mask.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)
        return np.asarray(image) > 0
    image = Image.fromarray(mask.astype(np.int32)).resize((w, h), Image.Resampling.NEAREST)
    return np.asarray(image).astype(mask.dtype)


def box_to_mask(
    box: Sequence[float], *, size: tuple[int, int], coord_size: tuple[float, float] | None = None
) -> np.ndarray:
    """Binary raster, shape `size` (h, w), of a box ``(x1, y1, x2, y2)``.

    Coordinates are first scaled from `coord_size` (w, h) to the raster and truncated to ints, then
    ``mask[y1:y2, x1:x2] = 1``, the LVS / EZ-VSL ``testset_gt`` convention (``int(224 * x / W)``).
    """
    h, w = size
    cw, ch = coord_size if coord_size is not None else (w, h)
    x1, y1, x2, y2 = (float(v) for v in box)
    xs = [int(max(0.0, v) * w / cw) for v in (x1, x2)]
    ys = [int(max(0.0, v) * h / ch) for v in (y1, y2)]
    mask = np.zeros((h, w), dtype=bool)
    mask[ys[0] : ys[1], xs[0] : xs[1]] = True
    return mask
