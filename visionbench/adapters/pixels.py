"""Preprocessing in two parts, and the digests that identify weights.

* The **geometric** part (:class:`ToPixels`, :class:`ToArray`): decode, convert the colour
  mode, resize, crop and turn into a float tensor in [0, 1]. It is picklable and runs in
  DataLoader workers.
* The **normalising** part (:class:`Normalize`, inside :class:`PixelModel`): ``(x01 - mean) / std``
  in float32, applied in the model's forward so that the model is differentiable in pixel space.

The element-wise float32 operations are the ones :class:`~visionbench.preprocessing.ImageTransform`
and the library transforms perform, in the same order, so logits are bit-identical to
normalising in the workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from visionbench.preprocessing import Preprocess, pil_pixels


@dataclass(frozen=True)
class ToPixels:
    """PIL image -> float32 ``[C, H, W]`` in [0, 1]: mode, resize (shorter side or exact), centre crop, rescale.

    ``divide`` rescales as ``x / 255`` (torchvision's ``convert_image_dtype``, ``to_tensor``);
    otherwise ``x * scale`` (:class:`~visionbench.preprocessing.ImageTransform`). ``BGR``
    reverses the channels after rescaling.
    """

    mode: str = "RGB"
    resize: int | tuple[int, int] | None = None
    crop: tuple[int, int] | None = None
    interpolation: str = "bilinear"
    scale: float = 1.0 / 255.0
    divide: bool = False

    @classmethod
    def of(cls, spec: Preprocess, *, divide: bool = False) -> ToPixels:
        return cls(spec.mode, spec.resize, spec.crop, spec.interpolation, spec.scale, divide)

    def __call__(self, image: Any) -> Any:
        return pil_pixels(
            image, self.mode, self.resize, self.crop, self.interpolation, self.scale, self.divide
        )

    def batch(self, images: np.ndarray) -> Any:
        """uint8 ``[B, H, W]`` (grey) or ``[B, H, W, 3]`` (RGB) -> float32 ``[B, C, H, W]``, or None.

        The same element-wise float32 operations as :meth:`__call__` on each image, done on the
        whole batch at once; None whenever they would not be the same: a colour conversion other
        than grey -> grey, grey -> RGB/BGR or RGB -> RGB/BGR, or a resize or crop that changes the
        size (PIL's resampling). Callers then transform image by image.
        """
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            return None
        grey = images.ndim == 3
        if not grey and (images.shape[-1] != 3 or self.mode == "L"):
            return None
        height, width = images.shape[1:3]
        if isinstance(self.resize, int):
            if self.resize != min(height, width):
                return None
        elif self.resize is not None and tuple(self.resize) != (height, width):
            return None
        if self.crop is not None and tuple(self.crop) != (height, width):
            return None
        tensor = torch.from_numpy(np.ascontiguousarray(images))
        tensor = tensor.unsqueeze(1) if grey else tensor.permute(0, 3, 1, 2)
        if grey and self.mode != "L":  # PIL's L -> RGB copies the grey value into each channel
            tensor = tensor.expand(-1, 3, -1, -1)
        tensor = tensor.to(torch.float32)
        tensor = tensor / 255.0 if self.divide else tensor * self.scale
        return (tensor.flip(1) if self.mode == "BGR" else tensor).contiguous()

    def to_dict(self) -> dict[str, Any]:
        rescale = "x / 255" if self.divide else f"x * {self.scale!r}"
        return {
            "mode": self.mode,
            "resize": self.resize,
            "crop": self.crop,
            "interpolation": self.interpolation,
            "scale": self.scale,
            "rescale": rescale,
        }


class ToArray:
    """PIL image -> RGB uint8 array ``[H, W, 3]`` (picklable): the input of non-torch callables."""

    def __call__(self, image: Any) -> np.ndarray:
        return np.asarray(image.convert("RGB"))

    def __repr__(self) -> str:
        return "ToArray(RGB uint8 HWC)"


def describe_preprocess(
    pixels: ToPixels | None, mean: Sequence[float] | None, std: Sequence[float] | None, **extra: Any
) -> dict[str, Any]:
    """The recorded preprocessing: geometric fields, then mean/std (None when the model normalises itself)."""
    out = pixels.to_dict() if pixels is not None else {}
    out.update({"mean": tuple(mean) if mean else None, "std": tuple(std) if std else None})
    out["normalize"] = "in forward: (x01 - mean) / std, float32" if mean else "none (model input is x01)"
    out.update(extra)
    return out


def normalize_tensor(x01: Any, mean: Sequence[float], std: Sequence[float]) -> Any:
    """``(x01 - mean) / std`` with float32 mean/std per channel (as ``F.normalize``), not in place."""
    m = torch.as_tensor(mean, dtype=x01.dtype, device=x01.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=x01.dtype, device=x01.device).view(-1, 1, 1)
    return (x01 - m) / s


def zero_padding(x: Any, sizes: Sequence[Sequence[int]] | None) -> Any:
    """Zero everything outside each image's own ``(h, w)`` (padding is added after normalising)."""
    if sizes is None:
        return x
    valid = torch.zeros(x.shape[0], 1, *x.shape[-2:], dtype=torch.bool, device=x.device)
    for i, (h, w) in enumerate(sizes):
        valid[i, :, : int(h), : int(w)] = True
    return torch.where(valid, x, torch.zeros((), dtype=x.dtype, device=x.device))


class PixelModel(torch.nn.Module):
    """x01 (``[N, C, H, W]`` in [0, 1]) -> the network's raw output: normalise, then ``call(net, x)``.

    Normalisation lives inside the forward, so the model is differentiable in pixel space.
    ``sizes`` (per image ``(h, w)``) zeroes the padding of a padded batch after normalising.
    """

    def __init__(
        self,
        net: Any,
        mean: Sequence[float] | None,
        std: Sequence[float] | None,
        call: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.mean = None if mean is None else tuple(float(v) for v in mean)
        self.std = None if std is None else tuple(float(v) for v in std)
        self.call = call

    def forward(self, x01: Any, sizes: Sequence[Sequence[int]] | None = None) -> Any:
        x = x01
        if self.mean is not None:
            x = zero_padding(normalize_tensor(x01, self.mean, self.std), sizes)
        return self.call(self.net, x) if self.call is not None else self.net(x)


def state_dict_digest(module: Any) -> str:
    """sha256 over parameter and buffer names, shapes and bytes: identical weights give identical ids."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def file_digest(path: Any) -> str:
    """sha256 of a model file (first 16 hex digits)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def stack(items: list[Any]) -> Any:
    return torch.stack(items)
