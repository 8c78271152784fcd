"""Zoo entries of kind ``captioning``: the shapes captioners (merged into ``ZOO``).

They read a 96x96 RGB image and write one caption (``classes`` is empty: the vocabulary is
inside the weights file). Metrics are the held-out shapes test figures recorded by
``python -m visionbench.zoo.train_captioning`` (documentation only).
"""

from __future__ import annotations

from typing import Any

from visionbench.zoo.catalog import ZooEntry

# Pixel statistics of the shapes train split after scaling to [0, 1] (the segmenters' figures).
SHAPES_CAPTIONING_PREPROCESS: dict[str, Any] = {
    "mode": "RGB",
    "size": [96, 96],
    "mean": [0.4588, 0.4503, 0.4443],
    "std": [0.1699, 0.1418, 0.1608],
    "interpolation": "bilinear",
}


def _captioner(name: str, description: str, factory: str, metrics: dict[str, float]) -> ZooEntry:
    return ZooEntry(
        name=name,
        kind="captioning",
        dataset="shapes-captions",
        description=description,
        factory=factory,
        weights=f"{name}.pt",
        classes=(),
        preprocess=dict(SHAPES_CAPTIONING_PREPROCESS),
        metrics=metrics,
    )


CAPTIONING_ENTRIES: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        _captioner(
            "shapes-captioner",
            "Seven conv layers (16-24-40-64 channels), 2x2 grid plus global max, 112-unit GRU, greedy decoding.",
            "visionbench.zoo.captioning_models:shapes_captioner",
            {"cider": 1.1525},
        ),
        _captioner(
            "shapes-captioner-tiny",
            "Two conv blocks averaged over the whole image (no layout) and a 48-unit GRU, greedy decoding.",
            "visionbench.zoo.captioning_models:shapes_captioner_tiny",
            {"cider": 0.161},
        ),
    )
}
