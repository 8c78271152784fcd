"""Pictures for the per-example gallery: thumbnails, box overlays and coloured class maps, as PNG bytes.

Detection overlays colour each box by COCO's matching at IoU 0.5
(:func:`visionbench.tasks.box_matching.match_boxes`). Colours:
matched ground truth green, missed ground truth orange (dashed), true-positive detections
blue, false-positive detections red (those scoring ``DRAW_SCORE`` or more; all are counted).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from visionbench.tasks.box_matching import match_boxes

THUMB = 192  # longest side of a gallery picture, in pixels
DRAW_SCORE = 0.3  # false positives below this score are counted but not drawn
COLOURS = {"matched": (46, 160, 67), "missed": (255, 140, 0), "tp": (31, 119, 180), "fp": (214, 39, 40)}


def png(image: Any) -> bytes:
    buffer = io.BytesIO()
    # zlib level 1: on the noisy 192-pixel pictures ``optimize=True`` took about 25x as long and the
    # default level 4x, for files 10-15% smaller; every run (reruns too) writes a gallery
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def thumbnail(image: Any, *, size: int = THUMB) -> tuple[Any, float]:
    """``image`` as RGB with its longest side ``size`` (enlarged with nearest neighbour when small); the scale."""
    from PIL import Image

    rgb = image.convert("RGB")
    scale = size / max(rgb.size)
    target = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BILINEAR
    return rgb.resize(target, resample), scale


def detection_overlay(
    image: Any, annotations: list[dict[str, Any]], detections: list[dict[str, Any]]
) -> tuple[bytes, dict[str, int]]:
    """The image with ground-truth and detected boxes coloured by their match; the counts drawn."""
    from PIL import ImageDraw

    thumb, scale = thumbnail(image)
    draw = ImageDraw.Draw(thumb)
    gt_status, det_status = match_boxes(annotations, detections)

    def box(bbox: Any) -> list[float]:
        x, y, w, h = (float(v) * scale for v in bbox)
        return [x, y, x + max(w, 1.0), y + max(h, 1.0)]

    for ann, status in zip(annotations, gt_status, strict=True):
        if status == "crowd":
            continue
        x1, y1, x2, y2 = box(ann["bbox"])
        colour = COLOURS[status]
        if status == "missed":
            _dashed(draw, (x1, y1, x2, y2), colour)
        else:
            draw.rectangle((x1, y1, x2, y2), outline=colour, width=3)
    for det, status in zip(detections, det_status, strict=True):
        if status == "tp" or (status == "fp" and float(det["score"]) >= DRAW_SCORE):
            draw.rectangle(box(det["bbox"]), outline=COLOURS[status], width=1)
    counts = {
        "matched": gt_status.count("matched"),
        "missed": gt_status.count("missed"),
        "tp": det_status.count("tp"),
        "fp": det_status.count("fp"),
    }
    return png(thumb), counts


def _dashed(draw: Any, rect: tuple[float, float, float, float], colour: tuple[int, int, int]) -> None:
    x1, y1, x2, y2 = rect
    step = 6.0
    for a, b, fixed, horizontal in (
        (x1, x2, y1, True),
        (x1, x2, y2, True),
        (y1, y2, x1, False),
        (y1, y2, x2, False),
    ):
        pos = a
        while pos < b:
            end = min(pos + step / 2 + 1, b)
            line = (pos, fixed, end, fixed) if horizontal else (fixed, pos, fixed, end)
            draw.line(line, fill=colour, width=3)
            pos += step


def palette(k: int) -> np.ndarray:
    """``k`` distinct RGB colours; class 0 (background in most sets) is black."""
    rng = np.random.default_rng(7)
    colours = rng.integers(60, 256, size=(max(k, 1), 3), dtype=np.uint8)
    colours[0] = 0
    base = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180)]
    for i, colour in enumerate(base[: max(k - 1, 0)]):
        colours[i + 1] = colour
    return colours


def class_map(mask: Any, k: int, ignore_index: int | None, *, size: int = THUMB) -> bytes:
    """A class map coloured by class (ignored pixels white), resized with nearest neighbour."""
    from PIL import Image

    values = np.asarray(mask).astype(np.int64)
    colours = palette(k)
    rgb = np.zeros((*values.shape, 3), dtype=np.uint8)
    valid = (values >= 0) & (values < k)
    rgb[valid] = colours[values[valid]]
    if ignore_index is not None:
        rgb[values == ignore_index] = 255
    image = Image.fromarray(rgb)
    scale = size / max(image.size)
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return png(image.resize(target, Image.Resampling.NEAREST))
