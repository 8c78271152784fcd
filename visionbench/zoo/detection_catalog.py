"""Zoo entries of kind ``detection``: the CenterNet-style shapes detectors (merged into ``ZOO``).

Their labels are 0-based indices into ``classes`` (the shapes classes); the zoo adapter maps
them to the dataset's category ids by name. Metrics are the held-out shapes test figures
recorded by ``python -m visionbench.zoo.train_detection`` (documentation only).
"""

from __future__ import annotations

from typing import Any

from visionbench.zoo.catalog import ZooEntry

# Mirrors visionbench.tasks.data.shapes.CLASSES (the model side does not import the task side).
SHAPES_LABELS: tuple[str, ...] = ("circle", "square", "triangle", "ellipse", "star")
SHAPES_PREPROCESS: dict[str, Any] = {
    "mode": "RGB",
    "size": [128, 128],
    "mean": [0.5, 0.5, 0.5],
    "std": [0.25, 0.25, 0.25],
    "interpolation": "bilinear",
}


def _detector(name: str, description: str, factory: str, metrics: dict[str, float]) -> ZooEntry:
    return ZooEntry(
        name=name,
        kind="detection",
        dataset="shapes-detection",
        description=description,
        factory=factory,
        weights=f"{name}.pt",
        classes=SHAPES_LABELS,
        preprocess=dict(SHAPES_PREPROCESS),
        metrics=metrics,
    )


DETECTION_ENTRIES: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        _detector(
            "shapes-centernet",
            "CenterNet-style detector (heatmap + box edges at stride 4) on a 16-32-48-64 conv backbone.",
            "visionbench.zoo.detection_models:shapes_centernet",
            {"map": 0.6769, "map_50": 0.8850},
        ),
        _detector(
            "shapes-centernet-tiny",
            "The same detector at half the width (8-16-24-32) and 6 instead of 10 epochs.",
            "visionbench.zoo.detection_models:shapes_centernet_tiny",
            {"map": 0.1623, "map_50": 0.2506},
        ),
    )
}
