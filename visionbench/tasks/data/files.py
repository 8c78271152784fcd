"""File-backed classification datasets: ImageFolder trees and CSV manifests, plus in-memory arrays."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.contracts import Dataset, Sample
from visionbench.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def open_image(path: Path, *, sample: str | None = None):
    """Decode an image file fully, raising DataError naming the file when it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        what = f"sample '{sample}' " if sample else ""
        raise DataError(f"cannot read image {what}{path}: {exc}") from None


def outside_root_flag(value: Any, where: str) -> bool:
    """The ``allow_outside_root`` task option as a bool (``true``/``false`` and friends)."""
    from visionbench.tasks.dataset_options import ALLOW_OUTSIDE_ROOT

    return bool(ALLOW_OUTSIDE_ROOT.check("allow_outside_root", value, where))


def inside_root(root: Path, entry: str, *, allow_outside: bool, where: str) -> Path:
    """``root / entry``, refused (DataError naming ``where``) when ``entry`` leaves ``root``.

    A manifest is data a user may have downloaded: an absolute path or ``..`` must not make a
    run read files elsewhere on the machine unless ``allow_outside_root=true`` says so. The check
    is lexical (``..`` collapsed against the absolute root); symbolic links inside the root are
    the dataset owner's and are followed.
    """
    path = Path(entry)
    joined = path if path.is_absolute() else root / path
    if allow_outside:
        return joined
    base = Path(os.path.normpath(root.absolute()))
    if not Path(os.path.normpath(joined.absolute())).is_relative_to(base):
        raise DataError(
            f"{where}: path '{entry}' points outside the dataset root {base}; "
            "pass the task option allow_outside_root=true if that is intended"
        )
    return joined


def hash_files(paths: Sequence[Path], root: Path, extra: Sequence[str] = ()) -> str:
    """sha256 over relative names and file bytes (streamed), plus extra strings such as labels.

    The result is cached against the files' paths, sizes and times (:mod:`.digest_cache`), so an
    unchanged dataset is not read again; a changed file is hashed again.
    """
    from visionbench.tasks.data.digest_cache import cached_digest

    return cached_digest(paths, root, extra, lambda: _hash_file_bytes(paths, root, extra))


def _hash_file_bytes(paths: Sequence[Path], root: Path, extra: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for item in extra:
        digest.update(item.encode())
    for path in paths:
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode())
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror}") from None
    return digest.hexdigest()[:16]


class FileClassificationDataset(Dataset):
    """Images on disk with integer labels into ``classes``."""

    kind = "classification"

    def __init__(self, name: str, root: Path, items: list[tuple[Path, int]], classes: Sequence[str]) -> None:
        self.name, self.root, self.items, self.classes = name, root, items, tuple(classes)
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> Sample:
        path, label = self.items[index]
        sample_id = str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
        return Sample(sample_id, open_image(path, sample=sample_id), label)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = hash_files(
                [p for p, _ in self.items],
                self.root,
                [",".join(self.classes), *(str(lbl) for _, lbl in self.items)],
            )
        return self._fingerprint


class ArrayClassificationDataset(Dataset):
    """Grayscale or RGB uint8 arrays held in memory (built-in digits, Fashion-MNIST)."""

    kind = "classification"

    def __init__(
        self, name: str, images: np.ndarray, labels: np.ndarray, classes: Sequence[str], prefix: str
    ) -> None:
        if len(images) != len(labels):
            raise DataError(f"{name}: {len(images)} images but {len(labels)} labels")
        self.name, self.images, self.labels, self.classes = name, images, labels, tuple(classes)
        self.prefix = prefix
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int) -> Sample:
        from PIL import Image

        array = self.images[index]
        image = (
            Image.fromarray(array, mode="L" if array.ndim == 2 else "RGB")
            if array.dtype == np.uint8
            else None
        )
        if image is None:
            raise DataError(f"{self.name}: sample {index} is {array.dtype}, expected uint8")
        return Sample(f"{self.prefix}{index:05d}", image, int(self.labels[index]))

    def load_arrays(self, indices: Sequence[int]) -> tuple[np.ndarray, list[int], list[str]] | None:
        """Many samples at once, undecoded: uint8 ``[B, H, W]`` or ``[B, H, W, 3]``, targets, ids.

        The runner's batched path uses it instead of one PIL image per sample; None (images that
        are not uint8) sends it back to :meth:`load`, which names the bad sample.
        """
        shape = self.images.shape
        if self.images.dtype != np.uint8 or not (len(shape) == 3 or (len(shape) == 4 and shape[-1] == 3)):
            return None
        positions = np.asarray(indices, dtype=np.int64)
        return (
            self.images[positions],
            [int(v) for v in self.labels[positions]],
            [f"{self.prefix}{int(i):05d}" for i in positions],
        )

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256(self.images.tobytes())
            digest.update(self.labels.astype(np.int64).tobytes())
            digest.update(",".join(self.classes).encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint


def image_folder(root: str | Path) -> FileClassificationDataset:
    """ImageFolder layout: ``root/<class>/<image>``; classes are the sorted sub-folder names."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset directory not found: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"no class sub-folders in {root} (expected root/<class>/<image>)")
    items = [
        (path, label)
        for label, cls in enumerate(classes)
        for path in sorted((root / cls).rglob("*"))
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]
    if not items:
        raise DataError(f"no images under {root} (suffixes: {', '.join(IMAGE_SUFFIXES)})")
    return FileClassificationDataset(f"imagefolder:{root.name}", root, items, classes)


def csv_manifest(
    path: str | Path, classes: Sequence[str] | None = None, *, allow_outside_root: bool = False
) -> FileClassificationDataset:
    """CSV manifest with columns ``path,label``; paths relative to the CSV's folder; classes sorted unless given.

    A path that leaves the CSV's folder (``..``, or an absolute path elsewhere) is a DataError
    naming the line unless ``allow_outside_root``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest not found: {path}")
    rows: list[tuple[Path, str]] = []
    with open_text(path, "CSV manifest") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
            raise DataError(
                f"{path}: the header must have columns 'path' and 'label' (found {reader.fieldnames})"
            )
        for line, row in enumerate(reader, start=2):
            if not row["path"] or row["label"] in (None, ""):
                raise DataError(f"{path}:{line}: empty path or label")
            image_path = inside_root(
                path.parent, row["path"], allow_outside=allow_outside_root, where=f"{path}:{line}"
            )
            rows.append((image_path, row["label"].strip()))
    if not rows:
        raise DataError(f"{path}: no rows")
    names = list(classes) if classes else sorted({lbl for _, lbl in rows}, key=natural_key)
    index = {c: i for i, c in enumerate(names)}
    for image_path, lbl in rows:
        if lbl not in index:
            raise DataError(f"{path}: label '{lbl}' of {image_path} is not one of the classes")
        if not image_path.is_file():
            raise DataError(f"{path}: image not found: {image_path}")
    return FileClassificationDataset(
        f"csv:{path.stem}", path.parent, [(p, index[lbl]) for p, lbl in rows], names
    )


def open_text(path: Path, what: str) -> io.StringIO:
    """A UTF-8 text file (a BOM is dropped) as a stream for ``csv``; DataError naming it if it is not text."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: a {what} must be UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if "\0" in text:
        raise DataError(f"{path}: a {what} must be text, this file holds NUL bytes")
    return io.StringIO(text, newline="")


def natural_key(value: str) -> tuple:
    """Sort key putting integer-like names in numeric order before other names."""
    return (0, int(value), "") if value.lstrip("-").isdigit() else (1, 0, value)
