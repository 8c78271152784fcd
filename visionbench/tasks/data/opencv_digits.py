"""The 5,000 handwritten digits of OpenCV's ``digits.png``: a shifted counterpart of the built-in digits.

OpenCV ships one 2000x1000 grey image of 20x20 cells, 100 cells a row and 50 rows; each digit
fills five consecutive rows (500 samples), in digit order 0..9. They were written by other hands,
at another resolution and with thicker strokes than scikit-learn's 8x8 digits, which makes them a
natural distribution shift for models trained on those. Debian's ``opencv-doc`` package installs
the file; nothing is downloaded. Strokes are bright on black, as in the built-in digits.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from visionbench.errors import DataError

DEFAULT_OPENCV_DIGITS = "/usr/share/doc/opencv-doc/examples/data/digits.png"
OPENCV_DIGITS_INSTALL_HINT = (
    f"on Debian/Ubuntu `apt-get install opencv-doc` provides it as {DEFAULT_OPENCV_DIGITS}"
)
CELL = 20
COLUMNS = 100
ROWS = 50
PER_DIGIT = 500
WIDTH, HEIGHT = CELL * COLUMNS, CELL * ROWS


def load_opencv_digits(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [5000, 20, 20], labels int64 [5000])`` cut from ``digits.png``, row by row.

    A missing file, an unreadable image or one of another size is a :class:`DataError` naming the file.
    """
    return _load(str(Path(path or DEFAULT_OPENCV_DIGITS)))


@lru_cache(maxsize=2)
def _load(path: str) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    file = Path(path)
    if not file.is_file():
        hint = f" ({OPENCV_DIGITS_INSTALL_HINT})" if path == DEFAULT_OPENCV_DIGITS else ""
        raise DataError(f"OpenCV digits image not found: {path}{hint}")
    try:
        with Image.open(file) as image:
            grey = np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"OpenCV digits image {path} cannot be read: {exc}") from None
    if grey.shape != (HEIGHT, WIDTH):
        raise DataError(
            f"OpenCV digits image {path} is {grey.shape[1]}x{grey.shape[0]} pixels; expected {WIDTH}x{HEIGHT} "
            f"({COLUMNS}x{ROWS} cells of {CELL}x{CELL})"
        )
    cells = grey.reshape(ROWS, CELL, COLUMNS, CELL).transpose(0, 2, 1, 3).reshape(ROWS * COLUMNS, CELL, CELL)
    images = np.ascontiguousarray(cells)
    labels = np.repeat(np.arange(10, dtype=np.int64), PER_DIGIT)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def opencv_digits_fingerprint(path: str | Path | None = None) -> str:
    """SHA-256 (hex) over the cut cells and labels: it changes whenever the file's pixels do."""
    images, labels = load_opencv_digits(path)
    digest = hashlib.sha256(f"{images.shape}|{labels.shape}|".encode())
    digest.update(images.tobytes())
    digest.update(labels.astype("<i8").tobytes())
    return digest.hexdigest()
