"""The zoo catalogue: small demo models with committed weights, each with the preprocessing it was trained with.

``ZOO`` is a plain dict from name to :class:`ZooEntry`; detection and segmentation entries
are added to it the same way (``kind`` tells them apart). Importing this module does not
import torch: factories are ``"module:function"`` strings resolved on first use.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visionbench.errors import ModelError, SpecError

if TYPE_CHECKING:
    from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST_NAME = "manifest.json"

# The class orders of the built-in datasets. They mirror DIGITS_CLASSES and FASHION_MNIST_CLASSES in
# visionbench.tasks.data so that model-side code need not import the task side; a test keeps them equal.
DIGITS_LABELS: tuple[str, ...] = tuple(str(i) for i in range(10))
FASHION_MNIST_LABELS: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# Pixel statistics of each training split after scaling to [0, 1].
DIGITS_PREPROCESS: dict[str, Any] = {
    "mode": "L",
    "size": [8, 8],
    "mean": [0.3056],
    "std": [0.3760],
    "interpolation": "bilinear",
}
FASHION_MNIST_PREPROCESS: dict[str, Any] = {
    "mode": "L",
    "size": [28, 28],
    "mean": [0.2860],
    "std": [0.3530],
    "interpolation": "bilinear",
}


@dataclass(frozen=True)
class ZooEntry:
    """One zoo model: how to build it, where its weights are, and what its inputs and outputs mean.

    ``preprocess`` is what an adapter must do to a PIL image: convert to ``mode``, resize to
    ``size`` ([height, width]) with ``interpolation``, scale to [0, 1], normalise by ``mean``/``std``.
    ``metrics`` are the held-out figures measured when the weights were trained (top-1 on the dataset's
    test split, from ``weights/manifest.json``); they document the weights and are never used as results.
    """

    name: str
    kind: str
    dataset: str
    description: str
    factory: Callable[[], nn.Module] | str
    weights: str
    classes: tuple[str, ...]
    preprocess: dict[str, Any]
    licence: str = "MIT"
    metrics: dict[str, float] = field(default_factory=dict)

    def build(self) -> nn.Module:
        """Instantiate the architecture with freshly initialised weights."""
        factory = self.factory
        if isinstance(factory, str):
            module_name, _, attr = factory.partition(":")
            try:
                factory = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise ModelError(
                    f"zoo model {self.name!r}: cannot resolve factory {self.factory!r}: {exc}"
                ) from None
        return factory()


def _classification(
    name: str, dataset: str, description: str, factory: str, metrics: dict[str, float]
) -> ZooEntry:
    digits = dataset == "digits"
    return ZooEntry(
        name=name,
        kind="classification",
        dataset=dataset,
        description=description,
        factory=factory,
        weights=f"{name}.pt",
        classes=DIGITS_LABELS if digits else FASHION_MNIST_LABELS,
        preprocess=copy.deepcopy(DIGITS_PREPROCESS if digits else FASHION_MNIST_PREPROCESS),
        metrics=metrics,
    )


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        _classification(
            "digits-linear",
            "digits",
            "Softmax regression on the 64 pixels of an 8x8 digit (650 parameters).",
            "visionbench.zoo.models:digits_linear",
            {"top1": 0.9574},
        ),
        _classification(
            "digits-mlp",
            "digits",
            "Multilayer perceptron 64-128-64-10 with dropout.",
            "visionbench.zoo.models:digits_mlp",
            {"top1": 0.9833},
        ),
        _classification(
            "digits-cnn",
            "digits",
            "Three-layer conv net (32-32-64 channels, batch norm) for 8x8 digits.",
            "visionbench.zoo.models:digits_cnn",
            {"top1": 0.9889},
        ),
        _classification(
            "fashion-cnn",
            "fashion-mnist",
            "Two conv blocks (16-32 channels, batch norm) and a 128-unit head for 28x28 Fashion-MNIST.",
            "visionbench.zoo.models:fashion_cnn",
            {"top1": 0.8994},
        ),
    )
}


def get_entry(name: str) -> ZooEntry:
    """Look up a zoo model by name; an unknown name raises :class:`SpecError` listing the known ones."""
    try:
        return ZOO[name]
    except KeyError:
        raise SpecError(f"unknown zoo model {name!r}; known: {', '.join(sorted(ZOO))}") from None


def weights_path(name: str) -> Path:
    """Where the committed weights of ``name`` live (the file may be absent in a broken install)."""
    return WEIGHTS_DIR / get_entry(name).weights


def weights_sha256(name: str) -> str:
    """SHA-256 (hex) of the committed weights file: the model's fingerprint."""
    path = weights_path(name)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelError(f"zoo model {name!r}: cannot read weights {path}: {exc.strerror or exc}") from None


def load_model(name: str, *, device: str = "cpu") -> nn.Module:
    """Build ``name``, load its committed weights (``weights_only=True``), move to ``device``, set eval mode."""
    entry = get_entry(name)
    path = weights_path(name)
    if not path.is_file():
        raise ModelError(
            f"zoo model {name!r}: weights file {path} is missing; `python -m visionbench.zoo.train --only {name}` "
            "recreates it"
        )
    from visionbench.adapters.weights_file import load_into

    model = entry.build()
    load_into(model, path, f"zoo model {name!r}")  # torch.load(weights_only=True): no code runs
    return model.to(device).eval()


from visionbench.zoo.detection_catalog import DETECTION_ENTRIES  # noqa: E402  (its entries need ZooEntry)

ZOO.update(DETECTION_ENTRIES)

from visionbench.zoo.segmentation_catalog import SEGMENTATION_ENTRIES  # noqa: E402  (its entries need ZooEntry)

ZOO.update(SEGMENTATION_ENTRIES)

from visionbench.zoo.captioning_catalog import CAPTIONING_ENTRIES  # noqa: E402  (its entries need ZooEntry)

ZOO.update(CAPTIONING_ENTRIES)

from visionbench.zoo.language_catalog import LANGUAGE_ENTRIES  # noqa: E402  (its entries need ZooEntry)

ZOO.update(LANGUAGE_ENTRIES)
