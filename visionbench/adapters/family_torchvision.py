"""torchvision models: ``torchvision:<name>`` for classification, detection and segmentation.

``--weights NAME|DEFAULT|Enum.MEMBER`` loads named weights the torchvision way (downloaded into
the torch hub cache on first use, read with ``weights_only=True``); ``--weights FILE.pt`` loads a
local state_dict (never unpickling code, :mod:`visionbench.adapters.weights_file`). Named
weights bring their category names and their transforms, which
are decomposed into data: resize size, crop, interpolation (geometric, ``x / 255`` as
``convert_image_dtype``) and mean/std (applied in the forward). Without weights the model is
randomly initialised, its backbone too unless ``--model-arg weights_backbone=Enum.MEMBER``
(nothing downloads by surprise), and preprocessing is ImageNet-style (classification: shorter
side 256, crop 224; segmentation: shorter side 520) or ``--model-arg preprocess={...}``.
A 1000-class classifier knows the ImageNet-1k names and WordNet ids.

Detectors take pixels in [0, 1] and resize and normalise inside (``GeneralizedRCNNTransform``);
their random-weight labels ``1..num_classes-1`` are unnamed; ``mask_threshold`` (0.5)
binarises Mask R-CNN's soft masks. Other ``--model-arg`` options go to the model builder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from visionbench.adapters.core import Model, torch_model
from visionbench.adapters.labels import imagenet_label_space, model_label_space
from visionbench.adapters.objects import model_preprocess
from visionbench.adapters.pixels import ToPixels, describe_preprocess, state_dict_digest
from visionbench.contracts import ImageMeta, ModelSpec
from visionbench.errors import ModelError, SpecError
from visionbench.schema import Option

LICENCE = "BSD-3-Clause (torchvision code); weights per their source"
# --model-arg options the adapter reads itself; any other key goes to the model builder
_BACKBONE = {"weights_backbone": Option("str", nullable=True)}
OWN_OPTIONS = {
    "classification": {"preprocess": Option("json")},
    "segmentation": {"preprocess": Option("json"), **_BACKBONE},
    "detection": {**_BACKBONE, "mask_threshold": Option("float", minimum=0, maximum=1)},
}


def weights_enum(name: str, value: Any, what: str = "weights") -> Any:
    """``None``/``none`` -> None; ``MEMBER``, ``DEFAULT`` or ``Enum.MEMBER`` -> the weights enum member."""
    from torchvision import models

    if not value or str(value).lower() == "none":
        return None
    try:
        if "." in str(value):
            return models.get_weight(str(value))
        return models.get_weight(f"{models.get_model_weights(name).__name__}.{value}")
    except (ValueError, AttributeError, KeyError):
        try:
            members = ", ".join(w.name for w in models.get_model_weights(name)) + ", DEFAULT"
        except (ValueError, KeyError):
            members = "none known"
        raise SpecError(f"unknown {what} '{value}' for torchvision:{name} (known: {members})") from None


def decompose(transforms: Any) -> tuple[ToPixels, tuple[float, ...], tuple[float, ...]]:
    """torchvision's ``ImageClassification``/``SemanticSegmentation`` preset -> (geometric part, mean, std)."""
    resize = list(transforms.resize_size) if transforms.resize_size is not None else None
    crop = getattr(transforms, "crop_size", None)
    pixels = ToPixels(
        mode="RGB",
        resize=None if not resize else (resize[0] if len(resize) == 1 else tuple(resize)),
        crop=None if not crop else (crop[0], crop[0]) if len(crop) == 1 else tuple(crop),
        interpolation=transforms.interpolation.value,
        divide=True,
    )
    return pixels, tuple(transforms.mean), tuple(transforms.std)


def _build(name: str, kind: str, weights: Any, options: dict[str, Any], spec: ModelSpec) -> Any:
    from torchvision import models

    from visionbench.adapters.model_options import builder_error
    from visionbench.adapters.weights_file import weights_only_loads

    try:
        with weights_only_loads(f"torchvision:{name}"):
            return models.get_model_builder(name)(weights=weights, **options)
    except (TypeError, ValueError, KeyError, AssertionError) as exc:
        raise builder_error(exc, spec, spec.option_dict, OWN_OPTIONS[kind]) from None
    except (OSError, RuntimeError) as exc:
        if weights is None and isinstance(exc, RuntimeError):  # nothing was loaded: the options were bad
            raise builder_error(exc, spec, spec.option_dict, OWN_OPTIONS[kind]) from None
        raise ModelError(f"torchvision:{name}: cannot load weights {spec.weights}: {exc}") from None


def load(spec: ModelSpec, kind: str) -> Model:
    from torchvision import models

    name = spec.target
    module = {"classification": models, "detection": models.detection, "segmentation": models.segmentation}
    known = sorted(models.list_models(module=module[kind]))
    if name not in known:
        raise SpecError(f"unknown torchvision {kind} model '{name}' (e.g. {', '.join(known[:12])}, ...)")
    from visionbench.adapters.model_options import check_own_options

    check_own_options(spec, OWN_OPTIONS[kind])
    options = spec.option_dict
    preprocess = options.pop("preprocess", None)
    from visionbench.adapters.weights_file import is_weights_file, load_into

    weights_file = spec.weights if is_weights_file(spec.weights) else None  # a local state_dict
    weights = None if weights_file else weights_enum(name, spec.weights)
    if kind != "classification":
        backbone = options.pop("weights_backbone", None)
        if backbone is None or str(backbone).lower() == "none":
            backbone = None
        elif "." in str(backbone):
            try:
                backbone = models.get_weight(str(backbone))
            except (ValueError, AttributeError, KeyError):
                raise SpecError(
                    f"--model-arg weights_backbone={backbone}: not a torchvision weights enum member "
                    "(e.g. ResNet50_Weights.IMAGENET1K_V1)"
                ) from None
        options["weights_backbone"] = backbone
    mask_threshold = float(options.pop("mask_threshold", 0.5)) if kind == "detection" else 0.5
    net = _build(name, kind, weights, options, spec)
    if weights_file:
        load_into(net, weights_file, spec.spec)
    categories = weights.meta.get("categories") if weights is not None else None
    weights_name = str(weights) if weights else weights_file
    source = {"library": "torchvision", "architecture": name, "weights": weights_name}
    common = {"licence": LICENCE, "source": source, "digest": lambda: state_dict_digest(net)}
    if kind == "detection":
        return _detector(net, spec, categories, int(options.get("num_classes", 91)), mask_threshold, common)
    if weights is not None and preprocess is None:
        pixels, mean, std = decompose(weights.transforms())
        extra = {"torchvision_weights": str(weights), "transforms": repr(weights.transforms())}
    else:
        pre = model_preprocess(kind, preprocess)
        pixels, mean, std, extra = ToPixels.of(pre), pre.mean, pre.std, {}
    classes, aliases = categories, {}
    if kind == "classification":
        outputs = len(categories) if categories else int(options.get("num_classes", 1000))
        classes, aliases = imagenet_label_space(outputs, categories)
    model = torch_model(
        net, name=spec.spec, pixels=pixels, mean=mean, std=std, classes=classes, aliases=aliases, **common
    )
    model.preprocess.update(extra)
    return model


def _detector(
    net: Any, spec: ModelSpec, categories: Any, num_classes: int, threshold: float, common: dict[str, Any]
) -> Model:
    labels = model_label_space(categories) if categories else dict.fromkeys(range(1, num_classes))
    pixels = ToPixels(mode="RGB", divide=True)
    model = Model(
        name=spec.spec,
        transform=pixels,
        run=None,  # type: ignore[arg-type]
        collate=list,
        module=net,
        net=net,
        classes=labels,
        preprocess=describe_preprocess(
            pixels,
            None,
            None,
            inside="GeneralizedRCNNTransform resizes and normalises",
            **({"torchvision_weights": common["source"]["weights"]} if categories else {}),
        ),
        **common,
    )

    def run(batch: Sequence[Any], metas: Sequence[ImageMeta]) -> list[dict[str, Any]]:
        outputs = net([image.to(model.device, non_blocking=True) for image in batch])
        for out in outputs:
            if "masks" in out:
                out["masks"] = out["masks"][:, 0] > threshold
        return outputs

    model.run = run
    model.pixels = lambda x01: net([image.to(model.device) for image in x01])
    return model


load.kinds = ("classification", "detection", "segmentation")  # type: ignore[attr-defined]
