"""timm models: ``timm:<name>`` for classification (``--model-arg pretrained=true`` loads hub weights).

The model's resolved data config (input size, crop percentage, interpolation, mean/std) gives
timm's eval transform, which is decomposed into data: shorter-side resize, centre crop, ``x / 255``
(geometric, in the workers) and mean/std (in the forward). A 1000-class head knows the ImageNet-1k
names and WordNet ids.
"""

from __future__ import annotations

from typing import Any

from visionbench.adapters.core import Model, torch_model
from visionbench.adapters.labels import imagenet_label_space
from visionbench.adapters.pixels import ToPixels
from visionbench.contracts import ModelSpec
from visionbench.errors import ModelError, SpecError


def decompose(transform: Any) -> tuple[ToPixels, tuple[float, ...], tuple[float, ...]]:
    """timm's eval ``Compose(Resize, CenterCrop, (Maybe)ToTensor, Normalize)`` -> (geometric part, mean, std)."""
    fields: dict[str, Any] = {"mode": "RGB", "divide": True}
    mean = std = None
    for step in transform.transforms:
        kind = type(step).__name__
        if kind == "Resize":
            size = step.size
            fields["resize"] = size if isinstance(size, int) else (size[0] if len(size) == 1 else tuple(size))
            fields["interpolation"] = step.interpolation.value
        elif kind == "CenterCrop":
            fields["crop"] = tuple(step.size)
        elif kind == "Normalize":
            mean, std = tuple(float(v) for v in step.mean), tuple(float(v) for v in step.std)
        elif kind not in ("ToTensor", "MaybeToTensor"):
            raise ModelError(
                f"timm eval transform step {kind} cannot be decomposed into resize/crop/normalise"
            )
    return ToPixels(**fields), mean, std  # type: ignore[return-value]


def load(spec: ModelSpec, kind: str) -> Model:
    try:
        import timm
        from timm.data import create_transform, resolve_data_config
    except ImportError:
        raise ModelError("timm is not installed: pip install 'visionbench[timm]'") from None
    from visionbench.adapters.model_options import builder_error, check_own_options
    from visionbench.schema import Option

    own = {"pretrained": Option("bool")}
    options = {**spec.option_dict, **check_own_options(spec, own)}
    pretrained = bool(options.pop("pretrained", False))
    name = spec.target
    if not timm.is_model(name.split(".")[0]):
        raise SpecError(f"unknown timm model '{name}'")
    from visionbench.adapters.weights_file import is_weights_file, load_into, weights_only_loads

    try:
        with weights_only_loads(f"timm:{name}"):
            net = timm.create_model(name, pretrained=pretrained, **options)
    except (RuntimeError, OSError) as exc:
        raise ModelError(f"timm:{name}: cannot create model (pretrained={pretrained}): {exc}") from None
    except (TypeError, ValueError, KeyError, AssertionError) as exc:
        raise builder_error(exc, spec, spec.option_dict, own) from None
    if is_weights_file(spec.weights):  # --weights FILE: a local state_dict, read without unpickling code
        load_into(net, spec.weights, spec.spec)
    config = resolve_data_config({}, model=net)
    pixels, mean, std = decompose(create_transform(**config, is_training=False))
    if "mean" in config:  # the same float32 values as the transform's tensors, recorded as the config says
        mean, std = tuple(config["mean"]), tuple(config["std"])
    classes, aliases = imagenet_label_space(int(getattr(net, "num_classes", 0) or 0), None)
    cfg = getattr(net, "pretrained_cfg", {}) or {}
    model = torch_model(
        net,
        name=spec.spec,
        pixels=pixels,
        mean=mean,
        std=std,
        classes=classes,
        aliases=aliases,
        licence=f"Apache-2.0 (timm code); weights: {cfg.get('license', 'per their source')}",
        source={
            "library": "timm",
            "architecture": name,
            "pretrained": pretrained,
            "hf_hub_id": cfg.get("hf_hub_id"),
        },
    )
    model.preprocess["data_config"] = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
    return model


load.kinds = ("classification",)  # type: ignore[attr-defined]
