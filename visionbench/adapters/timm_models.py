"""timm models: ``timm:<name>`` (``--model-arg pretrained=true`` to load hub weights).

The model's resolved data config (input size, crop, interpolation, mean/std) drives
preprocessing, so it travels with the weights and is recorded in the results.
"""

from __future__ import annotations

from typing import Any

from visionbench.adapters.base import ClassifierAdapter
from visionbench.errors import ModelError, SpecError
from visionbench.registry import register_adapter


@register_adapter("timm")
class TimmClassifier(ClassifierAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        try:
            import timm
            from timm.data import create_transform, resolve_data_config
        except ImportError:
            raise ModelError("timm is not installed: pip install 'visionbench[timm]'") from None
        options = spec.option_dict
        pretrained = bool(options.pop("pretrained", False))
        name = spec.target
        if not timm.is_model(name.split(".")[0]):
            raise SpecError(f"unknown timm model '{name}'")
        try:
            self.model = timm.create_model(name, pretrained=pretrained, **options)
        except (RuntimeError, OSError) as exc:
            raise ModelError(f"timm:{name}: cannot create model (pretrained={pretrained}): {exc}") from None
        config = resolve_data_config({}, model=self.model)
        self.preprocess = create_transform(**config, is_training=False)
        self.preprocess_description = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}

    def licence(self) -> str:
        return "Apache-2.0 (timm code); weights per their source"
