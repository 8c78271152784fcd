"""COCO instances ground truth: read, check and normalise it (see :mod:`visionbench.tasks.coco_validate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import DataError
from visionbench.tasks._coco_checks import Table, check_segmentation, checked_exactly, is_int, to_rle


class CocoGroundTruth(dict):
    """A COCO instances dict that passed :func:`load_coco_gt`; treat it as read-only.

    ``missing_segmentation`` is the index of the first annotation without a
    segmentation (``None`` when all have one); segm evaluation refuses such data.
    """

    name: str = "<ground truth>"
    missing_segmentation: int | None = None


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
    return checked_exactly(source, name, _check_ground_truth)


def _check_ground_truth(data: Any, name: str) -> CocoGroundTruth:
    if not isinstance(data, dict):
        raise DataError(f"{name}: expected a COCO instances object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(f"{name}: missing top-level '{key}'")

    images = Table(name, "images", data["images"], "image objects")
    image_ids = images.ints("id")
    images.unique("id", image_ids)
    sizes: dict[int, tuple[int, int] | None] = {}
    for i, img in enumerate(images.entries):
        h, w = img.get("height"), img.get("width")
        if h is None and w is None:
            sizes[int(image_ids[i])] = None
            continue
        if not (is_int(h) and is_int(w) and h > 0 and w > 0):
            raise DataError(
                f"{images.where(i)}: 'height' and 'width' must be positive integers, got {h!r}, {w!r}"
            )
        sizes[int(image_ids[i])] = (int(h), int(w))

    cats = Table(name, "categories", data["categories"], "category objects")
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

    anns = Table(name, "annotations", data["annotations"], "annotation objects")
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
            seg = ann["segmentation"] = check_segmentation(anns.where(i), seg, sizes[ann["image_id"]])
        if areas[i] is None:
            if seg is None:
                ann["area"] = float(boxes[i, 2] * boxes[i, 3])
            else:
                from pycocotools import mask as mask_utils

                ann["area"] = float(mask_utils.area(to_rle(seg, sizes[ann["image_id"]])))
        out_anns.append(ann)

    gt = CocoGroundTruth(data)
    gt["images"] = [dict(img, id=int(image_ids[i])) for i, img in enumerate(images.entries)]
    gt["categories"] = [dict(c, id=int(cat_ids[i])) for i, c in enumerate(cats.entries)]
    gt["annotations"] = out_anns
    gt.name, gt.missing_segmentation = name, missing_segm
    return gt
