"""torchvision classification models: ``torchvision:<name>`` with ``--weights NAME|DEFAULT|none``.

Weights named by their enum member (``IMAGENET1K_V1``) or ``DEFAULT`` are loaded the
torchvision way (downloaded into the torch hub cache on first use) and bring their own
transforms and category names; without weights the model is randomly initialised and
uses ImageNet-style preprocessing (or ``--model-arg preprocess=...``).
"""

from __future__ import annotations

from typing import Any

from visionbench.adapters.base import ClassifierAdapter
from visionbench.errors import ModelError, SpecError
from visionbench.preprocessing import Preprocess
from visionbench.registry import register_adapter


@register_adapter("torchvision")
class TorchvisionClassifier(ClassifierAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        from torchvision import models

        name = spec.target
        try:
            builder = models.get_model_builder(name)
        except ValueError:
            known = ", ".join(sorted(models.list_models(module=models))[:12])
            raise SpecError(
                f"unknown torchvision classification model '{name}' (e.g. {known}, ...)"
            ) from None
        options = spec.option_dict
        preprocess = options.pop("preprocess", None)
        weights = None
        if spec.weights and spec.weights.lower() != "none":
            try:
                weights = models.get_weight(f"{models.get_model_weights(name).__name__}.{spec.weights}")
            except (ValueError, AttributeError, KeyError):
                raise SpecError(f"unknown weights '{spec.weights}' for torchvision:{name}") from None
        try:
            self.model = builder(weights=weights, **options)
        except TypeError as exc:
            raise ModelError(f"torchvision:{name}: bad model argument: {exc}") from None
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"torchvision:{name}: cannot load weights {spec.weights}: {exc}") from None
        if weights is not None:
            self.preprocess = weights.transforms()
            self.preprocess_description = {
                "torchvision_weights": str(weights),
                "transforms": repr(self.preprocess),
            }
            self.model_classes = weights.meta.get("categories")
        else:
            self.preprocess = (
                Preprocess.from_dict(preprocess) if preprocess else Preprocess(resize=256, crop=(224, 224))
            )

    def licence(self) -> str:
        return "BSD-3-Clause (torchvision code); weights per their source"
