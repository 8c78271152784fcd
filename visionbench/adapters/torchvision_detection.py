"""torchvision detectors: ``torchvision:<name>`` (Faster R-CNN, RetinaNet, FCOS, SSD, SSDlite, Mask R-CNN).

``--weights NAME|DEFAULT`` loads the named weights the torchvision way (downloaded into the
torch hub cache on first use) and brings their COCO category names (the 91-index label
space, 0 = background), matched to the dataset's categories by name. Without weights the
model is randomly initialised and its labels 1..num_classes-1 are unnamed (``--model-arg
num_classes=K+1`` for a K-class dataset maps them by position; else ``--label-map``).
The backbone stays random unless ``--model-arg weights_backbone=<Enum.MEMBER>`` names
weights. Other ``--model-arg`` options go to the model builder (``min_size``,
``box_score_thresh``, ``box_detections_per_img``...); ``mask_threshold`` (0.5) binarises
Mask R-CNN's soft masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from visionbench.adapters.detection_base import DetectionAdapter, model_label_space
from visionbench.contracts import ImageMeta
from visionbench.errors import ModelError, SpecError
from visionbench.registry import register_adapter


class ToFloatTensor:
    """PIL image -> float tensor ``[3, H, W]`` in [0, 1]; torchvision detectors normalise and resize inside."""

    def __call__(self, image: Any) -> Any:
        import torch
        from torchvision.transforms.functional import pil_to_tensor

        return pil_to_tensor(image.convert("RGB")).to(torch.float32).div_(255.0)

    def __repr__(self) -> str:
        return "ToFloatTensor(RGB, [0, 1]; the model's GeneralizedRCNNTransform resizes and normalises)"


def _weights(name: str, value: str | None, what: str) -> Any:
    from torchvision import models

    if not value or str(value).lower() == "none":
        return None
    try:
        if "." in str(value):
            return models.get_weight(str(value))
        return models.get_weight(f"{models.get_model_weights(name).__name__}.{value}")
    except (ValueError, AttributeError, KeyError):
        raise SpecError(f"unknown {what} '{value}' for torchvision:{name}") from None


@register_adapter("torchvision", kinds=("detection",))
class TorchvisionDetector(DetectionAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        from torchvision import models

        name = spec.target
        known = models.list_models(module=models.detection)
        if name not in known:
            raise SpecError(
                f"unknown torchvision detection model '{name}' (known: {', '.join(sorted(known))})"
            )
        options = spec.option_dict
        self.mask_threshold = float(options.pop("mask_threshold", 0.5))
        weights = _weights(name, spec.weights, "weights")
        backbone = options.pop("weights_backbone", None)
        backbone = models.get_weight(str(backbone)) if backbone and str(backbone).lower() != "none" else None
        try:
            self.model = models.get_model_builder(name)(weights=weights, weights_backbone=backbone, **options)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"torchvision:{name}: bad model argument: {exc}") from None
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"torchvision:{name}: cannot load weights {spec.weights}: {exc}") from None
        if weights is not None:
            self.model_labels = model_label_space(weights.meta["categories"])
            self.preprocess_description = {"torchvision_weights": str(weights)}
        else:
            num_classes = int(options.get("num_classes", 91))
            self.model_labels = dict.fromkeys(range(1, num_classes))
        self.preprocess_description["transform"] = repr(ToFloatTensor())

    def transform(self) -> Any:
        return ToFloatTensor()

    def collate(self, items: list[Any]) -> list[Any]:
        return list(items)

    def detect(self, batch: Any, metas: Sequence[ImageMeta]) -> list[dict[str, Any]]:
        outputs = self.model([image.to(self.device, non_blocking=True) for image in batch])
        for out in outputs:
            if "masks" in out:
                out["masks"] = out["masks"][:, 0] > self.mask_threshold
        return outputs

    def licence(self) -> str:
        return "BSD-3-Clause (torchvision code); weights per their source"
