"""Deliberately broken models for the trust checks, built around a working zoo classifier.

Each wraps ``zoo:digits-cnn`` (whose inputs are 8x8 grey images normalised in the forward) and
breaks one thing a real pipeline gets wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from visionbench.zoo.catalog import DIGITS_PREPROCESS

DIGITS_CLASSES = [str(i) for i in range(10)]


def digits_net() -> torch.nn.Module:
    """The zoo's trained digits CNN, taking normalised ``[N, 1, 8, 8]`` inputs."""
    from visionbench.zoo.catalog import load_model

    return load_model("digits-cnn").eval()


class Wrapped(torch.nn.Module):
    """A working digits classifier with ``break_output`` applied to its logits (identity here)."""

    visionbench_preprocess = DIGITS_PREPROCESS

    def __init__(self) -> None:
        super().__init__()
        self.net = digits_net()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.break_output(x, self.net(x))

    def break_output(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return logits


class IgnoresInput(Wrapped):
    """Returns the logits of one fixed image whatever it is shown."""

    def break_output(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        fixed = self.net(torch.zeros_like(x[:1]))
        return fixed.expand(len(x), -1).clone()


class DoubleSoftmax(Wrapped):
    """Applies a softmax twice and hands back the result as its logits."""

    def break_output(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(torch.softmax(logits, dim=1), dim=1)


class PermutedLabels(Wrapped):
    """Outputs its classes in another order than the one it declares."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        order = rng.permutation(10)
        while (order == np.arange(10)).any():  # every class moved
            order = rng.permutation(10)
        self.order = torch.as_tensor(order)

    def break_output(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, self.order]


class BatchDependent(Wrapped):
    """Normalises each batch by its own statistics (BatchNorm left in training mode does this)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = (x - x.mean(dim=0, keepdim=True)) / (x.std(dim=0, keepdim=True, unbiased=False) + 1e-3)
        return self.net(centred)


class ResizedClassifier(Wrapped):
    """A working classifier that takes 16x16 inputs (resized, so the interpolation matters)."""

    visionbench_preprocess = {**DIGITS_PREPROCESS, "size": [16, 16], "interpolation": "bilinear"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.nn.functional.avg_pool2d(x, 2))


class BoxesOutside:
    """A detector (plain callable on RGB arrays) whose boxes are in a frame three times the image's."""

    def __call__(self, images: list[Any]) -> list[dict[str, Any]]:
        out = []
        for image in images:
            height, width = image.shape[:2]
            grey = image.mean(axis=2)
            ys, xs = np.nonzero(grey > grey.mean())
            if not len(xs):
                xs, ys = np.array([0, width - 1]), np.array([0, height - 1])
            box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=np.float64) * 3.0
            out.append({"boxes": box, "scores": np.array([grey.mean() / 255.0]), "labels": np.array([1])})
        return out
