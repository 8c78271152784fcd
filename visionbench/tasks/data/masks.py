"""Read semantic segmentation data: VOC-style image + mask folders, prediction mask folders,
and Hugging Face ``datasets`` folders written by ``save_to_disk``.

Masks come back as ``int64 [H, W]`` class maps. Palette ("P") PNGs give their
palette indices (as VOC stores them), grayscale PNGs their values; RGB masks need
an explicit colour -> class map, because guessing a colour scheme silently
produces wrong labels.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ConfigError, DataError

DEFAULT_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MASK_COLUMN_CANDIDATES = ("label", "annotation", "semantic_segmentation", "mask")
ColorMap = Mapping[tuple[int, int, int], int]


# ---------------------------------------------------------------------- masks
def _pil_to_classes(img: Any, source: str, color_map: ColorMap | None) -> np.ndarray:
    mode = img.mode
    if mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
        return np.asarray(img).astype(np.int64)
    if mode in ("RGB", "RGBA"):
        if color_map is None:
            raise DataError(
                f"{source}: mask is {mode}, not a palette or grayscale PNG; "
                "save masks as class indices or pass a colour -> class map"
            )
        return _map_colors(np.asarray(img.convert("RGB")), color_map, source)
    raise DataError(f"{source}: unsupported mask mode {mode!r} (expected a palette, grayscale or RGB PNG)")


def _map_colors(rgb: np.ndarray, color_map: ColorMap, source: str) -> np.ndarray:
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    keys = np.array([(r << 16) | (g << 8) | b for (r, g, b) in color_map], dtype=np.int64)
    values = np.array(list(color_map.values()), dtype=np.int64)
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    pos = np.clip(np.searchsorted(keys, codes), 0, max(len(keys) - 1, 0))
    hit = keys[pos] == codes if len(keys) else np.zeros(codes.shape, dtype=bool)
    if not hit.all():
        missing = [int(c) for c in np.unique(codes[~hit])[:5]]
        shown = ", ".join(str(((c >> 16) & 255, (c >> 8) & 255, c & 255)) for c in missing)
        raise DataError(f"{source}: colours not in the colour map: {shown}")
    return values[pos]


def _finish_mask(
    mask: np.ndarray,
    source: str,
    *,
    num_classes: int | None,
    ignore_index: int | None,
    reduce_zero_label: bool,
) -> np.ndarray:
    if mask.ndim != 2:
        raise DataError(f"{source}: mask must be 2-D [H, W], got shape {mask.shape}")
    mask = mask.astype(np.int64, copy=False)
    if reduce_zero_label:
        if ignore_index is None:
            raise ConfigError("reduce_zero_label needs an ignore_index")
        drop = (mask == 0) | (mask == ignore_index)
        mask = mask - 1
        mask[drop] = ignore_index
    if num_classes is not None:
        bad = (mask < 0) | (mask >= num_classes)
        if ignore_index is not None:
            bad &= mask != ignore_index
        if bad.any():
            vals = ", ".join(str(int(v)) for v in np.unique(mask[bad])[:10])
            raise DataError(f"{source}: mask values outside [0, {num_classes}) and not ignore_index: {vals}")
    return mask


def read_mask(
    path: str | Path,
    *,
    num_classes: int | None = None,
    ignore_index: int | None = 255,
    reduce_zero_label: bool = False,
    color_map: ColorMap | None = None,
) -> np.ndarray:
    """Read a mask image as an ``int64 [H, W]`` class map.

    ``reduce_zero_label`` (as mmseg does for ADE20K) turns 0 into ``ignore_index``
    and shifts every other class down by one. With ``num_classes`` values other
    than ``ignore_index`` outside ``[0, num_classes)`` are an error.
    """
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            mask = _pil_to_classes(img, str(path), color_map)
    except DataError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read mask ({exc})") from exc
    return _finish_mask(
        mask,
        str(path),
        num_classes=num_classes,
        ignore_index=ignore_index,
        reduce_zero_label=reduce_zero_label,
    )


def _read_lines(path: str | Path, what: str) -> list[str]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read {what} ({exc})") from exc
    names = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    if not names:
        raise DataError(f"{path}: no {what} in file")
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise DataError(f"{path}: duplicate {what}: {', '.join(dupes[:10])}")
    return names


def read_class_names(path: str | Path) -> list[str]:
    """One class name per line; blank lines and ``#`` comments are skipped."""
    return _read_lines(path, "class names")


def _resolve_class_names(
    class_names: Sequence[str] | str | Path | None, default_file: Path | None
) -> list[str] | None:
    if class_names is None:
        if default_file is not None and default_file.is_file():
            return read_class_names(default_file)
        return None
    if isinstance(class_names, str | Path):
        return read_class_names(class_names)
    return [str(n) for n in class_names]


# ---------------------------------------------------------------------- folders
def _list_files(folder: Path, suffixes: Iterable[str], role: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: {role} folder does not exist")
    wanted = {s.lower() for s in suffixes}
    by_stem: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        if f.name.startswith(".") or not f.is_file() or f.suffix.lower() not in wanted:
            continue
        if f.stem in by_stem:
            raise DataError(
                f"{folder}: two {role} files share the name {f.stem!r}: {by_stem[f.stem].name}, {f.name}"
            )
        by_stem[f.stem] = f
    return by_stem


def _unmatched(names: Sequence[str], files: Mapping[str, Path], limit: int = 5) -> str:
    shown = ", ".join(str(files[n]) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _hash_file(h: Any, path: Path, chunk: int = 1 << 20) -> None:
    h.update(path.name.encode("utf-8") + b"\0")
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    h.update(b"\0")


class MaskFolder:
    """Images in one folder, masks in another, paired by file stem (VOC's JPEGImages + SegmentationClass).

    Every image needs a mask and every mask an image; ``split_file`` (one stem per
    line, like VOC's ``ImageSets/Segmentation/val.txt``) restricts both folders to
    the listed samples. Class names come from ``class_names`` (a list or a file,
    one name per line) or from ``classes.txt`` next to the masks.
    """

    def __init__(
        self,
        images_dir: str | Path,
        masks_dir: str | Path,
        *,
        image_suffixes: Sequence[str] = DEFAULT_IMAGE_SUFFIXES,
        mask_suffix: str = ".png",
        class_names: Sequence[str] | str | Path | None = None,
        ignore_index: int | None = 255,
        reduce_zero_label: bool = False,
        color_map: ColorMap | None = None,
        split_file: str | Path | None = None,
    ) -> None:
        self.images_dir = Path(images_dir)
        self.masks_dir = Path(masks_dir)
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.color_map = color_map
        self.class_names = _resolve_class_names(class_names, self.masks_dir / "classes.txt")
        if reduce_zero_label and ignore_index is None:
            raise ConfigError("reduce_zero_label needs an ignore_index")

        images = _list_files(self.images_dir, image_suffixes, "image")
        masks = _list_files(self.masks_dir, [mask_suffix], "mask")
        if split_file is not None:
            wanted = _read_lines(split_file, "sample ids")
            missing = [s for s in wanted if s not in images]
            if missing:
                raise DataError(f"{split_file}: no image for {', '.join(missing[:5])} in {self.images_dir}")
            images = {s: images[s] for s in wanted}
            masks = {s: masks[s] for s in wanted if s in masks}
        no_mask = sorted(set(images) - set(masks))
        if no_mask:
            raise DataError(f"images without a mask in {self.masks_dir}: {_unmatched(no_mask, images)}")
        no_image = sorted(set(masks) - set(images))
        if no_image:
            raise DataError(f"masks without an image in {self.images_dir}: {_unmatched(no_image, masks)}")
        if not images:
            raise DataError(f"{self.images_dir}: no images with suffixes {', '.join(image_suffixes)}")
        self._ids = sorted(images)
        self._images = images
        self._masks = masks
        self._fingerprint: str | None = None

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names is not None else None

    @property
    def sample_ids(self) -> list[str]:
        return list(self._ids)

    def image_path(self, i: int) -> Path:
        return self._images[self._ids[i]]

    def mask_path(self, i: int) -> Path:
        return self._masks[self._ids[i]]

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, i: int) -> tuple[str, Any, np.ndarray]:
        """``(sample_id, PIL RGB image, int64 [H, W] mask)``."""
        from PIL import Image

        sid = self._ids[i]
        img_path, mask_path = self._images[sid], self._masks[sid]
        try:
            with Image.open(img_path) as im:
                image = im.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(f"{img_path}: cannot read image ({exc})") from exc
        mask = read_mask(
            mask_path,
            num_classes=self.num_classes,
            ignore_index=self.ignore_index,
            reduce_zero_label=self.reduce_zero_label,
            color_map=self.color_map,
        )
        if mask.shape != (image.height, image.width):
            raise DataError(
                f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but image {img_path} "
                f"is {image.width}x{image.height}"
            )
        return sid, image, mask

    def fingerprint(self) -> str:
        """sha256 over every image and mask file's name and bytes, in sample order."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for sid in self._ids:
                _hash_file(h, self._images[sid])
                _hash_file(h, self._masks[sid])
            self._fingerprint = h.hexdigest()
        return self._fingerprint


def pair_mask_dirs(
    gt_dir: str | Path, pred_dir: str | Path, suffix: str = ".png"
) -> list[tuple[str, Path, Path]]:
    """Match ground-truth and prediction mask files by name: ``[(stem, gt_path, pred_path)]``, sorted.

    A ground-truth file without a prediction, or a prediction without ground
    truth, is an error: scoring a subset silently would inflate the numbers.
    """
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    gt = _list_files(gt_dir, [suffix], "ground-truth mask")
    pred = _list_files(pred_dir, [suffix], "prediction mask")
    missing = sorted(set(gt) - set(pred))
    if missing:
        raise DataError(f"no prediction in {pred_dir} for ground truth {_unmatched(missing, gt)}")
    extra = sorted(set(pred) - set(gt))
    if extra:
        raise DataError(f"predictions without ground truth in {gt_dir}: {_unmatched(extra, pred)}")
    if not gt:
        raise DataError(f"{gt_dir}: no {suffix} mask files")
    return [(s, gt[s], pred[s]) for s in sorted(gt)]


# ---------------------------------------------------------------------- Hugging Face
class HFSegmentationDataset:
    """A ``datasets`` folder written by ``save_to_disk`` with an image column and a mask column.

    ``mask_column=None`` picks the first of ``label``, ``annotation``,
    ``semantic_segmentation``, ``mask`` that exists. Masks may be images
    (palette/grayscale) or 2-D integer arrays. Needs the ``hf`` extra.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        split: str | None = None,
        image_column: str = "image",
        mask_column: str | None = None,
        id_column: str | None = None,
        class_names: Sequence[str] | str | Path | None = None,
        ignore_index: int | None = 255,
        reduce_zero_label: bool = False,
        color_map: ColorMap | None = None,
    ) -> None:
        try:
            import datasets
        except ImportError as exc:
            raise ConfigError("reading Hugging Face datasets needs: pip install 'visionbench[hf]'") from exc
        self.path = Path(path)
        if reduce_zero_label and ignore_index is None:
            raise ConfigError("reduce_zero_label needs an ignore_index")
        try:
            ds = datasets.load_from_disk(str(self.path))
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise DataError(f"{self.path}: not a dataset saved with save_to_disk ({exc})") from exc
        if isinstance(ds, datasets.DatasetDict):
            if split is None:
                if len(ds) != 1:
                    raise DataError(f"{self.path}: has splits {', '.join(ds)}; choose one with split=")
                split = next(iter(ds))
            if split not in ds:
                raise DataError(f"{self.path}: no split {split!r} (has {', '.join(ds)})")
            ds = ds[split]
        self.split = split
        self.source = f"{self.path}[{split}]" if split else str(self.path)
        cols = list(ds.column_names)
        if image_column not in cols:
            raise DataError(f"{self.source}: no image column {image_column!r} (columns: {', '.join(cols)})")
        if mask_column is None:
            mask_column = next((c for c in MASK_COLUMN_CANDIDATES if c in cols), None)
            if mask_column is None:
                raise DataError(
                    f"{self.source}: no mask column among {', '.join(MASK_COLUMN_CANDIDATES)} "
                    f"(columns: {', '.join(cols)}); pass mask_column="
                )
        elif mask_column not in cols:
            raise DataError(f"{self.source}: no mask column {mask_column!r} (columns: {', '.join(cols)})")
        if id_column is not None and id_column not in cols:
            raise DataError(f"{self.source}: no id column {id_column!r} (columns: {', '.join(cols)})")
        self.image_column, self.mask_column, self.id_column = image_column, mask_column, id_column
        self.class_names = _resolve_class_names(class_names, None)
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.color_map = color_map
        self._ds = ds
        self._fingerprint: str | None = None

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names is not None else None

    def __len__(self) -> int:
        return len(self._ds)

    def __getitem__(self, i: int) -> tuple[str, Any, np.ndarray]:
        """``(sample_id, PIL RGB image, int64 [H, W] mask)``; the id is ``id_column`` or the row index."""
        from PIL import Image

        row = self._ds[int(i)]
        sid = str(row[self.id_column]) if self.id_column else str(i)
        where = f"{self.source} sample {sid!r}"
        image = row[self.image_column]
        if not isinstance(image, Image.Image):
            raise DataError(f"{where}: column {self.image_column!r} is not an image")
        image = image.convert("RGB")
        raw = row[self.mask_column]
        if isinstance(raw, Image.Image):
            mask = _pil_to_classes(raw, where, self.color_map)
        else:
            mask = np.asarray(raw)
            if mask.dtype.kind not in "iu":
                raise DataError(f"{where}: mask column {self.mask_column!r} is not an image or integer array")
        mask = _finish_mask(
            mask,
            where,
            num_classes=self.num_classes,
            ignore_index=self.ignore_index,
            reduce_zero_label=self.reduce_zero_label,
        )
        if mask.shape != (image.height, image.width):
            raise DataError(
                f"{where}: mask is {mask.shape[1]}x{mask.shape[0]} but image is {image.width}x{image.height}"
            )
        return sid, image, mask

    def fingerprint(self) -> str:
        """sha256 over the split name and the bytes of the dataset's Arrow files."""
        if self._fingerprint is None:
            h = hashlib.sha256((self.split or "").encode("utf-8") + b"\0")
            for entry in sorted(self._ds.cache_files, key=lambda e: Path(e["filename"]).name):
                _hash_file(h, Path(entry["filename"]))
            self._fingerprint = h.hexdigest()
        return self._fingerprint
