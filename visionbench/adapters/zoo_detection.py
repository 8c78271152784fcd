"""The project's own small detectors: ``zoo:<name>`` for zoo entries of kind ``detection``.

The model's ``detect(x)`` returns boxes in the pixels of its fixed-size input; they are
scaled back to each original image. Labels are indices into the entry's ``classes`` and are
matched to the dataset's categories by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from visionbench.adapters.detection_base import DetectionAdapter, model_label_space
from visionbench.contracts import ImageMeta
from visionbench.errors import ModelError
from visionbench.preprocessing import ImageTransform, Preprocess
from visionbench.registry import register_adapter


@register_adapter("zoo", kinds=("detection",))
class ZooDetector(DetectionAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        from visionbench.zoo.catalog import get_entry, load_model, weights_sha256

        self.entry = get_entry(spec.target)
        if self.entry.kind != "detection":
            raise ModelError(f"zoo model '{self.entry.name}' is a {self.entry.kind} model, not a detector")
        self.model = load_model(spec.target)
        self.preprocess = Preprocess.from_dict(self.entry.preprocess)
        self.preprocess_description = self.preprocess.to_dict()
        self.model_labels = model_label_space(self.entry.classes)
        self._sha = weights_sha256(spec.target)[:16]

    def transform(self) -> Any:
        return ImageTransform(self.preprocess)

    def detect(self, batch: Any, metas: Sequence[ImageMeta]) -> list[dict[str, Any]]:
        height, width = batch.shape[-2:]
        out = []
        for det, meta in zip(self.model.detect(batch.to(self.device)), metas, strict=True):
            boxes = det["boxes"].double().cpu()
            boxes[:, 0::2] *= meta.width / width
            boxes[:, 1::2] *= meta.height / height
            out.append({"boxes": boxes, "scores": det["scores"], "labels": det["labels"]})
        return out

    def fingerprint(self) -> str:
        return self._sha

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "name": self.entry.name, "description": self.entry.description}

    def licence(self) -> str:
        return self.entry.licence
