"""torchvision semantic segmentation models: ``torchvision:<name>`` (FCN, DeepLabV3, LR-ASPP) for segmentation tasks.

``--weights`` names a weights enum member (``COCO_WITH_VOC_LABELS_V1``) or ``DEFAULT``; such
weights bring their own transforms (shorter side 520, ImageNet mean/std) and VOC category
names. Without weights the model is randomly initialised, its backbone too unless
``--model-arg weights_backbone=NAME`` is given (so nothing is downloaded by surprise), and
``--model-arg num_classes=K`` sets the head. The ``out`` head is used; ``aux`` is ignored.
"""

from __future__ import annotations

from typing import Any

from visionbench.adapters.segmentation_base import SegmenterAdapter, segmentation_preprocess
from visionbench.errors import ModelError, SpecError
from visionbench.registry import register_adapter


@register_adapter("torchvision", kinds=("segmentation",))
class TorchvisionSegmenter(SegmenterAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        from torchvision import models

        name = spec.target
        known = sorted(models.list_models(module=models.segmentation))
        if name not in known:
            raise SpecError(f"unknown torchvision segmentation model '{name}' (known: {', '.join(known)})")
        options = spec.option_dict
        preprocess = options.pop("preprocess", None)
        weights = None
        if spec.weights and spec.weights.lower() != "none":
            try:
                weights = models.get_weight(f"{models.get_model_weights(name).__name__}.{spec.weights}")
            except (ValueError, AttributeError, KeyError):
                members = ", ".join(w.name for w in models.get_model_weights(name))
                raise SpecError(
                    f"unknown weights '{spec.weights}' for torchvision:{name} (known: {members}, DEFAULT)"
                ) from None
        backbone = options.pop("weights_backbone", None)
        if isinstance(backbone, str) and backbone.lower() == "none":
            backbone = None
        try:
            self.model = models.get_model_builder(name)(weights=weights, weights_backbone=backbone, **options)
        except (TypeError, ValueError, KeyError) as exc:
            raise ModelError(f"torchvision:{name}: bad model argument: {exc}") from None
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"torchvision:{name}: cannot load weights: {exc}") from None
        if weights is not None and preprocess is None:
            self.preprocess = weights.transforms()
            self.preprocess_description = {
                "torchvision_weights": str(weights),
                "transforms": repr(self.preprocess),
            }
        else:
            self.preprocess = segmentation_preprocess(preprocess)
        if weights is not None:
            self.model_classes = weights.meta.get("categories")

    def logits(self, pixels: Any) -> Any:
        return self.model(pixels.to(self.device, non_blocking=True))["out"]

    def licence(self) -> str:
        return "BSD-3-Clause (torchvision code); weights per their source"
