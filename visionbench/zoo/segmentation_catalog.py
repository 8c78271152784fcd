"""Zoo entries of kind ``segmentation``: the shapes segmenters (merged into ``ZOO``).

Their outputs are logits over ``background`` and the five shape classes, in that order.
Metrics are the held-out shapes test figures recorded by
``python -m visionbench.zoo.train_segmentation`` (documentation only).
"""

from __future__ import annotations

from typing import Any

from visionbench.zoo.catalog import ZooEntry

# Mirrors ("background", *visionbench.tasks.data.shapes.CLASSES): the model side does not import the task side.
SHAPES_SEGMENTATION_LABELS: tuple[str, ...] = (
    "background",
    "circle",
    "square",
    "triangle",
    "ellipse",
    "star",
)
# Pixel statistics of the shapes train split after scaling to [0, 1].
SHAPES_SEGMENTATION_PREPROCESS: dict[str, Any] = {
    "mode": "RGB",
    "size": [128, 128],
    "mean": [0.4588, 0.4503, 0.4443],
    "std": [0.1699, 0.1418, 0.1608],
    "interpolation": "bilinear",
}


def _segmenter(name: str, description: str, factory: str, metrics: dict[str, float]) -> ZooEntry:
    return ZooEntry(
        name=name,
        kind="segmentation",
        dataset="shapes-segmentation",
        description=description,
        factory=factory,
        weights=f"{name}.pt",
        classes=SHAPES_SEGMENTATION_LABELS,
        preprocess=dict(SHAPES_SEGMENTATION_PREPROCESS),
        metrics=metrics,
    )


SEGMENTATION_ENTRIES: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        _segmenter(
            "shapes-unet",
            "Four-scale U-Net (stride-2 stem, 8-16-32-64 channels, skip connections) for shapes scenes.",
            "visionbench.zoo.segmentation_models:shapes_unet",
            {"miou": 0.8517, "pixel_accuracy": 0.9845},
        ),
        _segmenter(
            "shapes-fcn",
            "Shallow fully convolutional net (three conv blocks, 16 channels, receptive field 23 px).",
            "visionbench.zoo.segmentation_models:shapes_fcn",
            {"miou": 0.2489, "pixel_accuracy": 0.8900},
        ),
    )
}
