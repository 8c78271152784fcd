"""Read and check COCO instance ground truth and COCO results files.

The COCO APIs (pycocotools, faster-coco-eval) trust their input: a missing key
surfaces as a ``KeyError`` deep inside ``evaluate()``, a negative width or an
unknown image id silently changes the score. These loaders turn every such
problem into a :class:`~visionbench.errors.DataError` that names the file, the
entry's index and ids and the field, and they hand back fresh dicts in the
exact shape the COCO APIs expect.

Predictions are checked column by column with numpy (one list comprehension
per key, one pass over the set of Python types seen), so that validating half a
million detections costs a small fraction of evaluating them.
"""

from __future__ import annotations

import contextlib
import gc
import json
import numbers
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ConfigError, DataError

IOU_TYPES = ("bbox", "segm")


class CocoGroundTruth(dict):
    """A COCO instances dict that passed :func:`load_coco_gt`; treat it as read-only.

    ``missing_segmentation`` is the index of the first annotation without a
    segmentation (``None`` when all have one); segm evaluation refuses such data.
    """

    name: str = "<ground truth>"
    missing_segmentation: int | None = None


class CocoPredictions(list):
    """COCO results entries that passed :func:`load_coco_predictions`; treat it as read-only.

    Each entry is a fresh dict with ``image_id``, ``category_id``, ``bbox``, ``score``
    (and a compressed-RLE ``segmentation`` for segm) plus the ``id`` (1-based
    index), ``area`` and ``iscrowd`` keys that ``COCO.loadRes`` would add.
    """

    iou_type: str = "bbox"
    gt: CocoGroundTruth | None = None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around bulk dict building.

    Building or indexing half a million acyclic dicts otherwise triggers repeated
    full collections that traverse every live object (about a third of the
    validation time at COCO scale); the previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_iou_type(iou_type: str) -> None:
    if iou_type not in IOU_TYPES:
        raise ConfigError(f"iou_type must be one of {', '.join(IOU_TYPES)}; got {iou_type!r}")


def _read_json(source: Any, name: str) -> tuple[Any, str]:
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            with path.open("rb") as fh:
                return json.load(fh), str(path)
        except FileNotFoundError:
            raise DataError(f"{path}: file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return source, name


def _where(name: str, section: str, index: int, entry: Any) -> str:
    """'file: section[i] (id 5, image_id 7)' -- the address of one entry in messages."""
    ids = ""
    if isinstance(entry, dict):
        parts = [f"{k} {entry[k]!r}" for k in ("id", "image_id", "category_id") if k in entry]
        ids = f" ({', '.join(parts)})" if parts else ""
    return f"{name}: {section}[{index}]{ids}"


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _types_are(values: Any, kind: type) -> bool:
    """True when every value is a ``kind`` (bools excluded); looks at each distinct type once."""
    return all(issubclass(t, kind) and not issubclass(t, bool) for t in set(map(type, values)))


class _Table:
    """A list of dict entries of one section, with the helpers that check its columns."""

    def __init__(self, name: str, section: str, entries: Any, what: str) -> None:
        if not isinstance(entries, list):
            raise DataError(
                f"{name}: {section or 'the top level'} must be a list of {what}, got {type(entries).__name__}"
            )
        if not _types_are(entries, dict):
            i = next(i for i, e in enumerate(entries) if not isinstance(e, dict))
            raise DataError(f"{name}: {section}[{i}] must be an object, got {type(entries[i]).__name__}")
        self.name, self.section, self.entries = name, section, entries

    def where(self, i: int) -> str:
        return _where(self.name, self.section, int(i), self.entries[int(i)])

    def column(self, key: str) -> list:
        try:
            return [e[key] for e in self.entries]
        except KeyError:
            i = next(i for i, e in enumerate(self.entries) if key not in e)
            raise DataError(f"{self.where(i)}: missing '{key}'") from None

    def ints(self, key: str, values: list | None = None) -> np.ndarray:
        values = self.column(key) if values is None else values
        if not _types_are(values, numbers.Integral):
            i = next(i for i, v in enumerate(values) if not _is_int(v))
            raise DataError(f"{self.where(i)}: '{key}' must be an integer, got {values[i]!r}")
        try:
            return np.fromiter(values, dtype=np.int64, count=len(values))
        except OverflowError:
            i = next(i for i, v in enumerate(values) if not -(2**63) <= v < 2**63)
            raise DataError(f"{self.where(i)}: '{key}' {values[i]} does not fit in 64 bits") from None

    def reals(self, key: str, values: list) -> np.ndarray:
        if not _types_are(values, numbers.Real):
            i = next(i for i, v in enumerate(values) if not _is_real(v))
            raise DataError(f"{self.where(i)}: '{key}' must be a number, got {values[i]!r}")
        arr = np.fromiter(values, dtype=np.float64, count=len(values))
        self.finite(key, arr)
        return arr

    def finite(self, key: str, arr: np.ndarray) -> None:
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad.reshape(len(arr), -1).any(axis=1))[0])
            raise DataError(f"{self.where(i)}: '{key}' must be finite, got {self.entries[i][key]!r}")

    def boxes(self, values: list) -> tuple[np.ndarray, bool]:
        """([N, 4] float64, plain) from [x, y, w, h] lists: numbers, finite, w and h >= 0.

        ``plain`` is True when every box is a list of Python ints/floats, so callers
        may keep the original lists instead of building new ones.
        """
        n = len(values)
        box_types = set(map(type, values))
        if not (all(issubclass(t, list | tuple) for t in box_types) and set(map(len, values)) <= {4}):
            i = next(i for i, v in enumerate(values) if not (isinstance(v, list | tuple) and len(v) == 4))
            raise DataError(
                f"{self.where(i)}: 'bbox' must be a list [x, y, w, h] of 4 numbers, got {values[i]!r}"
            )
        num_types = set(map(type, chain.from_iterable(values)))
        if not all(issubclass(t, numbers.Real) and not issubclass(t, bool) for t in num_types):
            i = next(i for i, v in enumerate(values) if not all(map(_is_real, v)))
            raise DataError(f"{self.where(i)}: 'bbox' must hold 4 numbers, got {values[i]!r}")
        arr = np.fromiter(chain.from_iterable(values), dtype=np.float64, count=4 * n).reshape(n, 4)
        self.finite("bbox", arr)
        neg = (arr[:, 2] < 0) | (arr[:, 3] < 0)
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            raise DataError(f"{self.where(i)}: 'bbox' width and height must be >= 0, got {values[i]!r}")
        return arr, box_types <= {list} and num_types <= {float, int}

    def known(self, key: str, arr: np.ndarray, valid: np.ndarray, what: str) -> None:
        bad = ~np.isin(arr, valid)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{self.where(i)}: {key} {int(arr[i])} is not {what}")

    def unique(self, key: str, arr: np.ndarray) -> None:
        order = np.argsort(arr, kind="stable")
        dup = np.flatnonzero(arr[order][1:] == arr[order][:-1])
        if dup.size:
            first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
            raise DataError(
                f"{self.where(second)}: duplicate {key} {int(arr[second])} (also {self.section}[{first}])"
            )


def _check_rle(where: str, seg: dict, image_hw: tuple[int, int]) -> dict:
    """Validate a COCO RLE dict and return it with bytes counts turned into str."""
    if not {"counts", "size"} <= set(seg):
        raise DataError(f"{where}: RLE 'segmentation' needs 'counts' and 'size', got keys {sorted(seg)}")
    size, counts = seg["size"], seg["counts"]
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(_is_int(v) and v >= 0 for v in size)):
        raise DataError(f"{where}: 'segmentation' size must be [height, width] integers, got {size!r}")
    h, w = int(size[0]), int(size[1])
    if (h, w) != image_hw:
        raise DataError(
            f"{where}: 'segmentation' size [{h}, {w}] does not match the image's "
            f"[height, width] [{image_hw[0]}, {image_hw[1]}]"
        )
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, list):
        if not (_types_are(counts, numbers.Integral) and all(c >= 0 for c in counts)):
            raise DataError(f"{where}: 'segmentation' counts must be non-negative integers")
        if sum(counts) != h * w:
            raise DataError(
                f"{where}: 'segmentation' counts sum to {sum(counts)}, expected height*width = {h * w}"
            )
    elif not isinstance(counts, str):
        raise DataError(
            f"{where}: 'segmentation' counts must be a string or a list, got {type(counts).__name__}"
        )
    return {"size": [h, w], "counts": counts}


def _check_polygons(where: str, seg: list) -> list:
    for j, poly in enumerate(seg):
        if not (isinstance(poly, list | tuple) and len(poly) >= 6 and len(poly) % 2 == 0):
            raise DataError(
                f"{where}: 'segmentation' polygon {j} must be a flat list of >= 6 coordinates "
                f"(an even count), got {str(poly)[:60]}"
            )
        if not _types_are(poly, numbers.Real) or not np.isfinite(np.asarray(poly, dtype=np.float64)).all():
            raise DataError(f"{where}: 'segmentation' polygon {j} must hold finite numbers")
    return seg


def _to_rle(seg: Any, hw: tuple[int, int]) -> dict:
    """Checked polygon / RLE segmentation -> one compressed RLE with str counts."""
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects([list(map(float, p)) for p in seg], hw[0], hw[1]))
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, hw[0], hw[1])
    else:
        return seg
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def _check_segmentation(where: str, seg: Any, image_hw: tuple[int, int] | None) -> Any:
    if image_hw is None:
        raise DataError(f"{where}: a 'segmentation' needs its image's 'height' and 'width'")
    if isinstance(seg, dict):
        return _check_rle(where, seg, image_hw)
    if isinstance(seg, list):
        return _check_polygons(where, seg)
    raise DataError(
        f"{where}: 'segmentation' must be polygons (a list) or an RLE object, got {type(seg).__name__}"
    )


def load_coco_gt(source: str | Path | dict, *, name: str = "<ground truth>") -> CocoGroundTruth:
    """Read and validate a COCO instances file (or dict) into a :class:`CocoGroundTruth`.

    Accepted: any integer image / category / annotation ids (unique per kind),
    images without annotations, categories without annotations, ``iscrowd`` 0/1
    (default 0), segmentations as polygons or RLE (counts str or list) sized like
    their image. ``segmentation: []`` counts as "no segmentation" (fine for bbox
    scoring, refused for segm). A missing ``area`` is computed from the mask when
    there is a segmentation, else as ``w * h``, because the COCO area ranges need it.
    Every problem raises :class:`DataError` naming the entry and the field.
    """
    if isinstance(source, CocoGroundTruth):
        return source
    data, name = _read_json(source, name)
    if not isinstance(data, dict):
        raise DataError(f"{name}: expected a COCO instances object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(f"{name}: missing top-level '{key}'")

    images = _Table(name, "images", data["images"], "image objects")
    image_ids = images.ints("id")
    images.unique("id", image_ids)
    sizes: dict[int, tuple[int, int] | None] = {}
    for i, img in enumerate(images.entries):
        h, w = img.get("height"), img.get("width")
        if h is None and w is None:
            sizes[int(image_ids[i])] = None
            continue
        if not (_is_int(h) and _is_int(w) and h > 0 and w > 0):
            raise DataError(
                f"{images.where(i)}: 'height' and 'width' must be positive integers, got {h!r}, {w!r}"
            )
        sizes[int(image_ids[i])] = (int(h), int(w))

    cats = _Table(name, "categories", data["categories"], "category objects")
    cat_ids = cats.ints("id")
    cats.unique("id", cat_ids)
    names = cats.column("name")
    seen: dict[str, int] = {}
    for i, cname in enumerate(names):
        if not isinstance(cname, str) or not cname:
            raise DataError(f"{cats.where(i)}: 'name' must be a non-empty string, got {cname!r}")
        if cname in seen:
            raise DataError(f"{cats.where(i)}: duplicate name {cname!r} (also categories[{seen[cname]}])")
        seen[cname] = i

    anns = _Table(name, "annotations", data["annotations"], "annotation objects")
    ann_ids = anns.ints("id")
    anns.unique("id", ann_ids)
    ann_img = anns.ints("image_id")
    anns.known("image_id", ann_img, image_ids, "an image id in 'images'")
    ann_cat = anns.ints("category_id")
    anns.known("category_id", ann_cat, cat_ids, "a category id in 'categories'")
    boxes, _ = anns.boxes(anns.column("bbox"))
    crowd = [e.get("iscrowd", 0) for e in anns.entries]
    if not set(crowd) <= {0, 1}:
        i = next(i for i, v in enumerate(crowd) if v not in (0, 1))
        raise DataError(f"{anns.where(i)}: 'iscrowd' must be 0 or 1, got {crowd[i]!r}")
    areas = [e.get("area") for e in anns.entries]
    area_arr = anns.reals("area", [0.0 if a is None else a for a in areas])
    if (area_arr < 0).any():
        i = int(np.flatnonzero(area_arr < 0)[0])
        raise DataError(f"{anns.where(i)}: 'area' must be >= 0, got {areas[i]!r}")

    out_anns = []
    missing_segm = None
    for i, e in enumerate(anns.entries):
        ann = dict(e)
        ann.update(
            id=int(ann_ids[i]), image_id=int(ann_img[i]), category_id=int(ann_cat[i]), iscrowd=int(crowd[i])
        )
        seg = e.get("segmentation")
        if seg is None or (isinstance(seg, list) and not seg):
            missing_segm = i if missing_segm is None else missing_segm
            seg = None
        else:
            seg = ann["segmentation"] = _check_segmentation(anns.where(i), seg, sizes[ann["image_id"]])
        if areas[i] is None:
            if seg is None:
                ann["area"] = float(boxes[i, 2] * boxes[i, 3])
            else:
                from pycocotools import mask as mask_utils

                ann["area"] = float(mask_utils.area(_to_rle(seg, sizes[ann["image_id"]])))
        out_anns.append(ann)

    gt = CocoGroundTruth(data)
    gt["images"] = [dict(img, id=int(image_ids[i])) for i, img in enumerate(images.entries)]
    gt["categories"] = [dict(c, id=int(cat_ids[i])) for i, c in enumerate(cats.entries)]
    gt["annotations"] = out_anns
    gt.name, gt.missing_segmentation = name, missing_segm
    return gt


def load_coco_predictions(
    source: str | Path | list, gt: dict, *, iou_type: str, name: str = "<predictions>"
) -> CocoPredictions:
    """Read and validate COCO results (``[{image_id, category_id, bbox, score, ...}]``) against ``gt``.

    ``bbox`` is required for ``iou_type="bbox"``; for ``"segm"`` a ``segmentation``
    (RLE or polygons, sized like the image) is required, and ``bbox`` and ``area``
    are the mask's box and area, whatever box was given (the detectron2 convention;
    plain ``loadRes`` would take the area of a given box). Segmentations come back
    as compressed RLE. Scores must
    be finite numbers; ids must name an image / category of ``gt``. An empty list
    is valid and scores 0 everywhere. Keys other than those above are dropped.
    """
    check_iou_type(iou_type)
    gt = load_coco_gt(gt)
    data, name = _read_json(source, name)
    with gc_paused():
        return _check_predictions(data, gt, iou_type, name)


def _check_predictions(data: Any, gt: CocoGroundTruth, iou_type: str, name: str) -> CocoPredictions:
    if isinstance(data, dict) and "annotations" in data:
        raise DataError(
            f"{name}: this looks like a ground-truth file; COCO results are a JSON list of detections"
        )
    table = _Table(name, "", data, "detections")
    out = CocoPredictions()
    out.iou_type, out.gt = iou_type, gt
    n = len(table.entries)
    if n == 0:
        return out

    image_ids = table.ints("image_id")
    table.known(
        "image_id",
        image_ids,
        np.fromiter((im["id"] for im in gt["images"]), np.int64),
        "an image of the ground truth",
    )
    cat_ids = table.ints("category_id")
    table.known(
        "category_id",
        cat_ids,
        np.fromiter((c["id"] for c in gt["categories"]), np.int64),
        "a category of the ground truth",
    )
    scores = table.reals("score", table.column("score")).tolist()
    img_list, cat_list = image_ids.tolist(), cat_ids.tolist()

    if iou_type == "bbox":
        raw = table.column("bbox")
        boxes, plain = table.boxes(raw)
        box_list = raw if plain else boxes.tolist()
        areas = (boxes[:, 2] * boxes[:, 3]).tolist()
        out.extend(
            {"id": k, "image_id": i, "category_id": c, "bbox": b, "score": s, "area": a, "iscrowd": 0}
            for k, i, c, b, s, a in zip(
                range(1, n + 1), img_list, cat_list, box_list, scores, areas, strict=True
            )
        )
        return out

    from pycocotools import mask as mask_utils

    sizes = {im["id"]: (im["height"], im["width"]) if "height" in im else None for im in gt["images"]}
    segs = table.column("segmentation")
    rles = []
    for k, (seg, img) in enumerate(zip(segs, img_list, strict=True)):
        where = table.where(k)
        rles.append(_to_rle(_check_segmentation(where, seg, sizes[img]), sizes[img]))
    # pycocotools' area() overflows a uint8 for lists longer than 255 under numpy 2: go in chunks.
    areas = (
        np.concatenate([mask_utils.area(rles[i : i + 255]) for i in range(0, n, 255)])
        .astype(np.float64)
        .tolist()
    )
    box_list = mask_utils.toBbox(rles).tolist()
    out.extend(
        {
            "id": k,
            "image_id": i,
            "category_id": c,
            "segmentation": r,
            "bbox": b,
            "score": s,
            "area": a,
            "iscrowd": 0,
        }
        for k, i, c, r, b, s, a in zip(
            range(1, n + 1), img_list, cat_list, rles, box_list, scores, areas, strict=True
        )
    )
    return out


def ensure_predictions(predictions: Sequence[dict], gt: CocoGroundTruth, iou_type: str) -> CocoPredictions:
    """Validated predictions for (gt, iou_type): reuse a matching :class:`CocoPredictions`, else validate."""
    if isinstance(predictions, CocoPredictions) and predictions.gt is gt and predictions.iou_type == iou_type:
        return predictions
    return load_coco_predictions(list(predictions), gt, iou_type=iou_type)
