"""Declarative image preprocessing that travels with a model and is recorded in its results.

A :class:`Preprocess` says how a PIL image becomes a normalised tensor: colour mode,
channel order, resize (shorter side or exact size), centre crop, interpolation, mean
and std. Adapters that get a transform from their library (torchvision weights, timm
data configs, Hugging Face processors) use that instead and record its description.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from visionbench.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")
MAX_SIDE = 4096  # a resize or crop beyond this is a typo, and would allocate gigabytes a batch


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _side(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SIDE


def _pair(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and all(_side(v) for v in value)


@dataclass(frozen=True)
class Preprocess:
    """How to turn a PIL image into a model input tensor ``[C, H, W]``.

    ``resize`` is the shorter side when an int, an exact ``(h, w)`` when a pair, or
    None; ``crop`` is a centre crop ``(h, w)`` or None. ``mode`` is ``RGB``, ``BGR``
    (RGB decoded, channels reversed: OpenCV-trained models) or ``L``.
    """

    mode: str = "RGB"
    resize: int | tuple[int, int] | None = None
    crop: tuple[int, int] | None = None
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    scale: float = 1.0 / 255.0

    def __post_init__(self) -> None:
        if self.mode not in ("RGB", "BGR", "L"):
            raise ConfigError(f"preprocess mode must be RGB, BGR or L, not '{self.mode}'")
        if self.interpolation not in _INTERPOLATIONS:
            raise ConfigError(
                f"interpolation must be one of {', '.join(_INTERPOLATIONS)}, not '{self.interpolation}'"
            )
        channels = 1 if self.mode == "L" else 3
        for key in ("mean", "std"):
            values = getattr(self, key)
            if not isinstance(values, tuple) or not all(_finite(v) for v in values):
                raise ConfigError(f"preprocess {key} must be a list of finite numbers, got {values!r}")
        if len(self.mean) != channels or len(self.std) != channels:
            raise ConfigError(f"mean/std need {channels} values for mode {self.mode}")
        if min(self.std) <= 0:
            raise ConfigError(f"preprocess std must be positive, got {list(self.std)}")
        if not _finite(self.scale) or self.scale <= 0:
            raise ConfigError(f"preprocess scale must be a positive number, got {self.scale!r}")
        if self.resize is not None and not (_side(self.resize) or _pair(self.resize)):
            raise ConfigError(
                f"preprocess resize/size must be a side or [height, width] in 1..{MAX_SIDE}, got {self.resize!r}"
            )
        if self.crop is not None and not _pair(self.crop):
            raise ConfigError(f"preprocess crop must be [height, width] in 1..{MAX_SIDE}, got {self.crop!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocess:
        if not isinstance(data, dict):
            raise ConfigError(f"preprocess must be a mapping of options, got {data!r}"[:200])
        data = dict(data)
        for key in ("crop", "size", "resize"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        if isinstance(data.get("crop"), int) and not isinstance(data["crop"], bool):
            data["crop"] = (data["crop"], data["crop"])
        if "size" in data:  # exact size, no crop
            data["resize"] = data.pop("size")
        for key in ("mean", "std"):
            if key in data:
                if not isinstance(data[key], list | tuple) or not all(_finite(v) for v in data[key]):
                    raise ConfigError(
                        f"preprocess {key} must be a list of finite numbers, got {data[key]!r}"[:200]
                    )
                data[key] = tuple(float(v) for v in data[key])
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown preprocess option(s): {', '.join(sorted(map(str, unknown)))}")
        for key in ("mode", "interpolation"):
            if key in data and not isinstance(data[key], str):
                raise ConfigError(f"preprocess {key} must be a string, got {data[key]!r}"[:200])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def input_size(self) -> tuple[int, int] | None:
        if self.crop:
            return tuple(self.crop)  # type: ignore[return-value]
        if isinstance(self.resize, tuple):
            return self.resize
        return None


class ImageTransform:
    """Picklable callable applying a :class:`Preprocess` to a PIL image (runs in DataLoader workers)."""

    def __init__(self, spec: Preprocess) -> None:
        self.spec = spec

    def __call__(self, image: Any) -> Any:
        from torchvision.transforms import functional as F

        spec = self.spec
        tensor = pil_pixels(image, spec.mode, spec.resize, spec.crop, spec.interpolation, spec.scale)
        return F.normalize(tensor, list(spec.mean), list(spec.std))

    def __repr__(self) -> str:
        return f"ImageTransform({self.spec})"


def pil_pixels(
    image: Any,
    mode: str,
    resize: int | tuple[int, int] | None,
    crop: tuple[int, int] | None,
    interpolation: str,
    scale: float,
    divide: bool = False,
) -> Any:
    """The geometric part of preprocessing: PIL image -> float32 ``[C, H, W]`` in [0, 1], before mean/std.

    Convert to ``mode``, resize (shorter side or exact), centre crop, then ``x * scale``
    (or ``x / 255`` with ``divide``, as torchvision's ``convert_image_dtype``); ``BGR``
    reverses the channels.
    """
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    image = image.convert("L" if mode == "L" else "RGB")
    if resize is not None:
        size = list(resize) if isinstance(resize, tuple) else resize
        image = F.resize(image, size, interpolation=InterpolationMode(interpolation), antialias=True)
    if crop is not None:
        image = F.center_crop(image, list(crop))
    tensor = F.pil_to_tensor(image).to(torch.float32)
    tensor = tensor / 255.0 if divide else tensor * scale
    return tensor.flip(0) if mode == "BGR" else tensor
