"""The project's own small trained models: ``zoo:<name>`` (weights ship inside the package)."""

from __future__ import annotations

from typing import Any

from visionbench.adapters.base import ClassifierAdapter
from visionbench.preprocessing import Preprocess
from visionbench.registry import register_adapter


@register_adapter("zoo")
class ZooClassifier(ClassifierAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        from visionbench.zoo.catalog import get_entry, load_model

        self.entry = get_entry(spec.target)
        self.model = load_model(spec.target)
        self.preprocess = Preprocess.from_dict(self.entry.preprocess)
        self.model_classes = list(self.entry.classes)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "name": self.entry.name, "description": self.entry.description}

    def licence(self) -> str:
        return self.entry.licence
