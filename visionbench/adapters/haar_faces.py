"""OpenCV's Haar-cascade frontal-face detector as a callable detector: the worked example of a non-torch model.

``visionbench run --model callable:visionbench.adapters.haar_faces:build --task detection:coco:faces.json``
(``--model-arg scale_factor=1.05`` and the like tune it). The model declares one class,
``face``, which matches a dataset category named ``face`` (or use ``--label-map``). Each
detection's score is the cascade's level weight (``detectMultiScale3`` with reject levels):
larger means more confident, which is all COCO's ranking needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

CASCADE = "haarcascade_frontalface_default.xml"


class HaarFaceDetector:
    """Callable: list of RGB uint8 images -> list of ``{boxes, scores, labels}`` (label 0 = face)."""

    visionbench_classes = ("face",)

    def __init__(
        self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24, equalize: bool = True
    ) -> None:
        import cv2

        self.path = cv2.data.haarcascades + CASCADE
        self.cascade = cv2.CascadeClassifier(self.path)
        if self.cascade.empty():
            raise RuntimeError(f"cannot load the OpenCV cascade {self.path}")
        self.scale_factor, self.min_neighbors = float(scale_factor), int(min_neighbors)
        self.min_size, self.equalize = int(min_size), bool(equalize)
        with open(self.path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()[:16]
        self.visionbench_fingerprint = (
            f"{digest}:{self.scale_factor}:{self.min_neighbors}:{self.min_size}:{self.equalize}"
        )

    def __call__(self, images: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        import cv2

        out = []
        for image in images:
            gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
            if self.equalize:
                gray = cv2.equalizeHist(gray)
            rects, _levels, weights = self.cascade.detectMultiScale3(
                gray,
                scaleFactor=self.scale_factor,
                minNeighbors=self.min_neighbors,
                minSize=(self.min_size, self.min_size),
                outputRejectLevels=True,
            )
            xywh = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
            boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
            scores = np.asarray(weights, dtype=np.float64).reshape(-1)
            out.append({"boxes": boxes, "scores": scores, "labels": np.zeros(len(boxes), dtype=np.int64)})
        return out


def build(
    scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24, equalize: bool = True
) -> HaarFaceDetector:
    """The factory for ``callable:visionbench.adapters.haar_faces:build``."""
    return HaarFaceDetector(scale_factor, min_neighbors, min_size, equalize)
