"""Built-in classification data: scikit-learn's real handwritten digits (8x8, 10 classes).

The 1,797 images ship inside scikit-learn, so everything runs offline. Pixel values
(0..16 in scikit-learn) are rescaled to uint8 0..255 so the images look like any other
8-bit grey image to an adapter. The train/test split is fixed: stratified, 70/30,
``random_state=0``; changing it would change every published figure.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from visionbench.errors import ConfigError

DIGITS_CLASSES: tuple[str, ...] = tuple(str(i) for i in range(10))
DIGITS_SPLITS: tuple[str, ...] = ("train", "test", "all")
DIGITS_TEST_SIZE = 0.3
DIGITS_SPLIT_SEED = 0


@lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    raw = np.asarray(bunch.images, dtype=np.float64)
    # v * 255 / 16 is exactly .5 only for v == 8 (127.5); round half up, to 128.
    images = np.floor(raw * 255.0 / 16.0 + 0.5).astype(np.uint8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@lru_cache(maxsize=1)
def _split_indices() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    _, labels = _all_digits()
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)),
        test_size=DIGITS_TEST_SIZE,
        random_state=DIGITS_SPLIT_SEED,
        stratify=labels,
    )
    return train_idx, test_idx


def load_digits_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images uint8 [N, 8, 8], labels int64 [N])`` for ``"train"``, ``"test"`` or ``"all"``.

    The arrays are fresh copies, so callers may modify them.
    """
    if split not in DIGITS_SPLITS:
        raise ConfigError(f"unknown digits split {split!r}; expected one of {', '.join(DIGITS_SPLITS)}")
    images, labels = _all_digits()
    if split == "all":
        return images.copy(), labels.copy()
    train_idx, test_idx = _split_indices()
    idx = train_idx if split == "train" else test_idx
    return images[idx], labels[idx]


def digits_fingerprint(split: str) -> str:
    """SHA-256 (hex) of a split's shapes, image bytes and label bytes: it changes whenever the data does."""
    images, labels = load_digits_split(split)
    h = hashlib.sha256()
    h.update(f"{images.dtype.str}{images.shape}|{labels.dtype.str}{labels.shape}|".encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(np.ascontiguousarray(labels.astype("<i8")).tobytes())
    return h.hexdigest()
