"""Segmentation datasets behind the ``segmentation:<source>`` specs.

Each wraps a reader from :mod:`visionbench.tasks.data` that yields ``(sample_id, PIL image,
int64 [H, W] mask)`` and adapts it to the :class:`~visionbench.contracts.Dataset` contract.
Masks are decoded and checked (size against the image, values against the class range) in
``load``, which runs inside DataLoader workers; every failure is a :class:`DataError` naming
the file or sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionbench.contracts import Dataset, Sample
from visionbench.errors import ConfigError

DEFAULT_IGNORE_INDEX = 255
# Folder layouts tried, in order, when images= and masks= are not given.
FOLDER_LAYOUTS = (("images", "masks"), ("JPEGImages", "SegmentationClass"))


class SegmentationDataset(Dataset):
    """Any ``(sample_id, image, mask)`` indexable with a ``fingerprint()``, plus class names and an ignore index."""

    kind = "segmentation"

    def __init__(self, name: str, items: Any, classes: tuple[str, ...], ignore_index: int | None) -> None:
        self.name = name
        self.items = items
        self.classes = tuple(classes)
        self.ignore_index = ignore_index

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> Sample:
        sample_id, image, mask = self.items[index]
        return Sample(sample_id, image, mask)

    def fingerprint(self) -> str:
        return self.items.fingerprint()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "ignore_index": self.ignore_index}


class ShapesMasks:
    """The built-in shapes scenes as ``(sample_id, image, semantic mask)``; 0 is background."""

    def __init__(self, split: str, n: int | None, size: int, style: str = "default") -> None:
        from visionbench.tasks.data.shapes import ShapesDataset

        self.scenes = ShapesDataset(split, n=n, size=size, style=style)
        self.label = split if style == "default" else f"{style}-{split}"

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> tuple[str, Any, Any]:
        import numpy as np

        scene = self.scenes[index]
        return (
            f"shapes-{self.label}-{scene.image_id:06d}",
            scene.image,
            scene.semantic.astype(np.int64),
        )

    def fingerprint(self) -> str:
        return self.scenes.fingerprint()


# ---------------------------------------------------------------------- option parsing
def as_int(value: Any, option: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"segmentation option {option}={value!r} must be an integer") from None


def as_bool(value: Any, option: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"segmentation option {option}={value!r} must be true or false")


def as_ignore_index(value: Any) -> int | None:
    if value is None or str(value).strip().lower() in ("none", "null", ""):
        return None
    return as_int(value, "ignore_index")


def _class_names(
    classes: Any, num_classes: Any, root: Path, defaults: tuple[Path, ...], source: str
) -> list[str]:
    """Class names from ``classes=FILE`` (relative to the dataset root), ``num_classes=K``, or a default file."""
    from visionbench.tasks.data.masks import read_class_names

    if classes is not None:
        path = Path(str(classes))
        names = read_class_names(path if path.is_absolute() or path.exists() else root / path)
    elif num_classes is not None:
        names = [str(i) for i in range(as_int(num_classes, "num_classes"))]
    else:
        found = next((p for p in defaults if p.is_file()), None)
        if found is None:
            looked = ", ".join(str(p) for p in defaults)
            raise ConfigError(
                f"{source}: no class names; add classes=FILE (one name per line), num_classes=K, or a file at {looked}"
            )
        names = read_class_names(found)
    if num_classes is not None and len(names) != as_int(num_classes, "num_classes"):
        raise ConfigError(f"{source}: {len(names)} class names but num_classes={num_classes}")
    if not names:
        raise ConfigError(f"{source}: num_classes must be at least 1")
    return names


def _check_ignore(ignore_index: int | None, names: list[str], source: str) -> None:
    if ignore_index is not None and 0 <= ignore_index < len(names):
        raise ConfigError(
            f"{source}: ignore_index {ignore_index} is also a class id (classes 0..{len(names) - 1}); "
            "pick one outside the class range, e.g. 255"
        )


def _unknown(options: dict[str, Any], known: set[str], source: str) -> None:
    extra = sorted(set(options) - known)
    if extra:
        raise ConfigError(
            f"unknown option(s) for {source}: {', '.join(extra)} (known: {', '.join(sorted(known))})"
        )


# ---------------------------------------------------------------------- factories
def folder_dataset(path: str | None, **options: Any) -> SegmentationDataset:
    """Images + masks folders under ``path`` (VOC style), paired by file stem."""
    from visionbench.tasks.data.masks import MaskFolder

    if not path:
        raise ConfigError("segmentation:folder needs a path: segmentation:folder:ROOT[?images=DIR&masks=DIR]")
    known = {
        "images",
        "masks",
        "classes",
        "num_classes",
        "ignore_index",
        "reduce_zero_label",
        "split",
        "split_file",
        "mask_suffix",
    }
    _unknown(options, known, "segmentation:folder")
    root = Path(path)
    if not root.is_dir():
        from visionbench.errors import DataError

        raise DataError(f"segmentation folder not found: {root}")
    images, masks = options.get("images"), options.get("masks")
    if images is None and masks is None:
        images, masks = next(
            ((i, m) for i, m in FOLDER_LAYOUTS if (root / i).is_dir() and (root / m).is_dir()),
            FOLDER_LAYOUTS[0],
        )
    images_dir, masks_dir = root / str(images or "images"), root / str(masks or "masks")
    split_file = options.get("split_file")
    if split_file is not None:
        split_file = root / str(split_file)
    elif options.get("split") is not None:
        split_file = root / "ImageSets" / "Segmentation" / f"{options['split']}.txt"
    ignore_index = as_ignore_index(options.get("ignore_index", DEFAULT_IGNORE_INDEX))
    names = _class_names(
        options.get("classes"),
        options.get("num_classes"),
        root,
        (masks_dir / "classes.txt", root / "classes.txt"),
        f"segmentation:folder:{root}",
    )
    _check_ignore(ignore_index, names, f"segmentation:folder:{root}")
    folder = MaskFolder(
        images_dir,
        masks_dir,
        mask_suffix=str(options.get("mask_suffix", ".png")),
        class_names=names,
        ignore_index=ignore_index,
        reduce_zero_label=as_bool(options.get("reduce_zero_label", False), "reduce_zero_label"),
        split_file=split_file,
    )
    name = root.resolve().name + (f"-{options['split']}" if options.get("split") else "")
    return SegmentationDataset(name, folder, tuple(names), ignore_index)


def hf_dataset(path: str | None, **options: Any) -> SegmentationDataset:
    """A Hugging Face dataset saved with ``save_to_disk`` (an image column and a mask column)."""
    from visionbench.tasks.data.masks import HFSegmentationDataset

    if not path:
        raise ConfigError("segmentation:hf needs a path: segmentation:hf:DIR[?split=validation]")
    known = {
        "split",
        "image_column",
        "mask_column",
        "id_column",
        "classes",
        "num_classes",
        "ignore_index",
        "reduce_zero_label",
    }
    _unknown(options, known, "segmentation:hf")
    root = Path(path)
    ignore_index = as_ignore_index(options.get("ignore_index", DEFAULT_IGNORE_INDEX))
    names = _class_names(
        options.get("classes"),
        options.get("num_classes"),
        root,
        (root / "classes.txt",),
        f"segmentation:hf:{root}",
    )
    _check_ignore(ignore_index, names, f"segmentation:hf:{root}")
    data = HFSegmentationDataset(
        root,
        split=options.get("split"),
        image_column=str(options.get("image_column", "image")),
        mask_column=options.get("mask_column"),
        id_column=options.get("id_column"),
        class_names=names,
        ignore_index=ignore_index,
        reduce_zero_label=as_bool(options.get("reduce_zero_label", False), "reduce_zero_label"),
    )
    name = root.resolve().name + (f"-{data.split}" if data.split else "")
    return SegmentationDataset(name, data, tuple(names), ignore_index)


def shapes_dataset(path: str | None = None, **options: Any) -> SegmentationDataset:
    """The built-in shapes scenes with semantic masks (background + five shape classes)."""
    from visionbench.tasks.data.shapes import CLASSES, DEFAULT_SIZE, IGNORE_INDEX

    _unknown(options, {"split", "n", "size", "style"}, "segmentation:shapes")
    split = str(options.get("split", "test"))
    n = options.get("n")
    items = ShapesMasks(
        split,
        None if n is None else as_int(n, "n"),
        as_int(options.get("size", DEFAULT_SIZE), "size"),
        str(options.get("style", "default")),
    )
    return SegmentationDataset(f"shapes-{items.label}", items, ("background", *CLASSES), IGNORE_INDEX)
