"""The reliability diagram of a classifier: accuracy against confidence in equal-width bins.

The bins are the ECE's 15 equal-width bins of the top-1 confidence, each holding the confidences
in ``[low, high)`` (a confidence of exactly 1 joins the last bin, where torchmetrics gives it a
sixteenth bin of its own), so the gaps drawn are the terms the ECE sums. Written as ``reliability.json`` (the bins) and ``reliability_diagram.png``
(drawn with Pillow: bars of accuracy per bin, the diagonal of perfect calibration, the gap shaded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

BINS = 15


def reliability_bins(y_true: np.ndarray, probs: np.ndarray, n_bins: int = BINS) -> list[dict[str, Any]]:
    """Per bin: its edges, sample count, mean confidence and accuracy (NaN for an empty bin)."""
    confidence = np.asarray(probs, dtype=np.float64).max(axis=1)
    correct = np.asarray(probs).argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        inside = which == b
        count = int(inside.sum())
        out.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "confidence": float(confidence[inside].mean()) if count else float("nan"),
                "accuracy": float(correct[inside].mean()) if count else float("nan"),
            }
        )
    return out


def write_bins(bins: list[dict[str, Any]], path: Path) -> None:
    from visionbench.harness.record import clean

    Path(path).write_text(json.dumps({"bins": clean(bins)}, indent=1) + "\n")


def draw_reliability(
    bins: list[dict[str, Any]], path: Path, *, ece: float | None = None, size: int = 420
) -> None:
    """A PNG reliability diagram: accuracy bars per confidence bin over the diagonal of perfect calibration."""
    from PIL import Image, ImageDraw

    margin, top = 48, 28
    plot = size - margin - 16
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)

    def xy(x: float, y: float) -> tuple[float, float]:
        return margin + x * plot, top + (1 - y) * plot

    draw.rectangle([xy(0, 1), xy(1, 0)], outline=(80, 80, 80))
    for b in bins:
        if not b["count"]:
            continue
        left, right = xy(b["low"], 0)[0], xy(b["high"], 0)[0]
        acc, conf = b["accuracy"], b["confidence"]
        draw.rectangle(
            [left + 1, xy(0, acc)[1], right - 1, xy(0, 0)[1]], fill=(66, 113, 196), outline=(40, 70, 130)
        )
        low, high = sorted((acc, conf))
        draw.rectangle([left + 1, xy(0, high)[1], right - 1, xy(0, low)[1]], fill=(235, 120, 110))
    draw.line([xy(0, 0), xy(1, 1)], fill=(120, 120, 120), width=1)
    for tick in (0.0, 0.5, 1.0):
        draw.text((xy(tick, 0)[0] - 8, xy(0, 0)[1] + 4), f"{tick:.1f}", fill="black")
        draw.text((8, xy(0, tick)[1] - 6), f"{tick:.1f}", fill="black")
    title = "accuracy (bars) vs confidence; red: gap"
    if ece is not None and np.isfinite(ece):
        title += f"; ECE {ece:.4f}"
    draw.text((margin, 8), title, fill="black")
    draw.text((margin + plot / 2 - 30, size - 14), "confidence", fill="black")
    image.save(path, format="PNG")
