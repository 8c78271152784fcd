"""CIFAR-10/100 from their python-pickle batches, and Hugging Face classification datasets saved to disk.

CIFAR's "python version" is a folder of pickled dicts (``data_batch_1..5`` and ``test_batch`` with
``batches.meta`` for CIFAR-10; ``train`` and ``test`` with ``meta`` for CIFAR-100): ``data`` is
uint8 ``[N, 3072]`` (the red plane, then green, then blue, each 32x32 row-major) and the labels
are ``labels`` (CIFAR-10) or ``fine_labels`` / ``coarse_labels`` (CIFAR-100). The files are read
with a restricted unpickler that accepts plain containers and numpy arrays only: a file naming
any other Python global is refused, never executed.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ConfigError, DataError

# The globals a numpy array in a pickle needs (numpy 1.x and 2.x spellings), and the codec call
# protocol 2 uses for bytes written by Python 3; nothing else loads.
_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}
CIFAR_FILES = {
    "cifar10": {
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
    },
    "cifar100": {"train": ["train"], "test": ["test"], "meta": "meta"},
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing the global {module}.{name}")


def read_batch(path: Path) -> dict[str, Any]:
    """One CIFAR pickle as a dict with str keys; DataError naming the file when it is not one."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read CIFAR batch: {exc.strerror or exc}") from None
    try:
        data = _ArraysOnly(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(f"{path}: not a CIFAR python batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a CIFAR python batch (a {type(data).__name__}, expected a dict)")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in data.items()}


def _names(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def load_cifar(
    root: str | Path, variant: str, split: str, label: str = "fine"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(images uint8 [N, 32, 32, 3], labels int64 [N], class names)`` of one split."""
    folder = Path(root)
    if not folder.is_dir():
        raise DataError(f"classification:{variant}: {folder} is not a folder")
    files = CIFAR_FILES[variant]
    meta = read_batch(folder / files["meta"])
    if variant == "cifar10":
        label_key, names_key = "labels", "label_names"
    else:
        label_key, names_key = f"{label}_labels", f"{label}_label_names"
    if names_key not in meta:
        raise DataError(f"{folder / files['meta']}: no '{names_key}' list")
    classes = _names(meta[names_key])
    images, labels = [], []
    for name in files[split]:
        batch = read_batch(folder / name)
        if "data" not in batch or label_key not in batch:
            raise DataError(f"{folder / name}: needs 'data' and '{label_key}' (has {', '.join(batch)})")
        data = np.asarray(batch["data"])
        target = np.asarray(batch[label_key], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(target):
            raise DataError(
                f"{folder / name}: 'data' must be uint8 [N, 3072] with one label each, got {data.dtype} "
                f"{list(data.shape)} and {len(target)} labels"
            )
        if len(target) and (target.min() < 0 or target.max() >= len(classes)):
            raise DataError(f"{folder / name}: a label is outside 0..{len(classes) - 1}")
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(target)
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels), classes


class HFClassificationDataset:
    """A Hugging Face dataset written by ``save_to_disk``: an image column and an integer label column.

    Class names come from the label column's ``ClassLabel`` feature (or ``classes=FILE``, one a line).
    """

    kind = "classification"

    def __init__(
        self,
        path: str | Path,
        *,
        split: str | None = None,
        image_column: str = "image",
        label_column: str = "label",
        classes: str | None = None,
    ) -> None:
        try:
            import datasets
        except ImportError as exc:
            raise ConfigError("reading Hugging Face datasets needs: pip install 'visionbench[hf]'") from exc
        self.path = Path(path)
        try:
            ds = datasets.load_from_disk(str(self.path))
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise DataError(f"{self.path}: not a dataset saved with save_to_disk ({exc})") from None
        if isinstance(ds, datasets.DatasetDict):
            if split is None:
                if len(ds) != 1:
                    raise DataError(f"{self.path}: has splits {', '.join(ds)}; choose one with split=")
                split = next(iter(ds))
            if split not in ds:
                raise DataError(f"{self.path}: no split {split!r} (has {', '.join(ds)})")
            ds = ds[split]
        self.split, self.source = split, f"{self.path}[{split}]" if split else str(self.path)
        for column in (image_column, label_column):
            if column not in ds.column_names:
                raise DataError(
                    f"{self.source}: no column {column!r} (columns: {', '.join(ds.column_names)})"
                )
        feature = ds.features[label_column]
        if classes:
            self.classes = tuple(
                line.strip() for line in Path(classes).read_text().splitlines() if line.strip()
            )
        elif hasattr(feature, "names"):
            self.classes = tuple(feature.names)
        else:
            raise DataError(
                f"{self.source}: label column {label_column!r} is not a ClassLabel; pass classes=FILE"
            )
        self.image_column, self.label_column, self._ds = image_column, label_column, ds
        self.name = self.path.resolve().name + (f"-{split}" if split else "")

    def __len__(self) -> int:
        return len(self._ds)

    def load(self, index: int) -> Any:
        from PIL import Image

        from visionbench.contracts import Sample

        row = self._ds[int(index)]
        image, label = row[self.image_column], row[self.label_column]
        where = f"{self.source} sample {index}"
        if not isinstance(image, Image.Image):
            raise DataError(f"{where}: column {self.image_column!r} is not an image")
        if not isinstance(label, (int, np.integer)) or not 0 <= int(label) < len(self.classes):
            raise DataError(f"{where}: label {label!r} is not a class index in 0..{len(self.classes) - 1}")
        return Sample(f"{self.name}-{index:06d}", image, int(label))

    def fingerprint(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        for path in sorted(self.path.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(self.path)).encode())
                digest.update(path.read_bytes())
        digest.update(repr((self.split, self.image_column, self.label_column, self.classes)).encode())
        return digest.hexdigest()[:16]
