"""The project's own small segmenters: ``zoo:<name>`` for zoo entries of kind ``segmentation``."""

from __future__ import annotations

from typing import Any

from visionbench.adapters.segmentation_base import SegmenterAdapter, segmentation_preprocess
from visionbench.errors import ModelError
from visionbench.registry import register_adapter


@register_adapter("zoo", kinds=("segmentation",))
class ZooSegmenter(SegmenterAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        from visionbench.zoo.catalog import get_entry, load_model

        self.entry = get_entry(spec.target)
        if self.entry.kind != "segmentation":
            raise ModelError(f"zoo:{spec.target} is a {self.entry.kind} model, not a segmenter")
        self.model = load_model(spec.target)
        self.preprocess = segmentation_preprocess(self.entry.preprocess)
        self.model_classes = list(self.entry.classes)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "name": self.entry.name, "description": self.entry.description}

    def licence(self) -> str:
        return self.entry.licence
