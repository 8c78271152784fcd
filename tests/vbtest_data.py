"""Test data builders shared by several test modules (importable: tests/ is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_image_folder(
    root: Path, n_per_class: int = 6, classes: tuple[str, ...] = ("0", "1", "2"), size: int = 8
) -> Path:
    """A tiny ImageFolder tree of real digits images (PNG) under root."""
    from PIL import Image

    from visionbench.tasks.data.digits import load_digits_split

    images, labels = load_digits_split("test")
    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        picks = np.flatnonzero(labels == int(cls))[:n_per_class] if cls.isdigit() else range(n_per_class)
        for k, idx in enumerate(picks):
            Image.fromarray(images[idx]).resize((size, size)).save(root / cls / f"img{k}.png")
    return root
