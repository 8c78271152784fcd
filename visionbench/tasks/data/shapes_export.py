"""COCO and folder exports of the shapes scenes: instances and captions JSON, palette masks.

The exported folder (images/, masks/, instances.json, captions.json, classes.txt) is what the
generic COCO and mask-folder loaders read back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from visionbench.tasks.data.shapes import (
    CLASSES,
    COLOURS,
    GENERATOR_VERSION,
    IGNORE_INDEX,
    Scene,
    ShapesDataset,
)


def _image_entry(scene: Scene) -> dict[str, Any]:
    return {"id": scene.image_id, "file_name": scene.file_name, "width": scene.width, "height": scene.height}


def _instance_entries(scene: Scene, first_id: int, with_masks: bool) -> list[dict[str, Any]]:
    from pycocotools import mask as mask_utils

    entries = []
    for k in range(len(scene.labels)):
        x1, y1, x2, y2 = (float(v) for v in scene.boxes[k])
        entry: dict[str, Any] = {
            "id": first_id + k,
            "image_id": scene.image_id,
            "category_id": int(scene.labels[k]),
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "area": int(scene.masks[k].sum()),
            "iscrowd": 0,
        }
        if with_masks:
            rle = mask_utils.encode(np.asfortranarray(scene.masks[k].astype(np.uint8)))
            entry["segmentation"] = {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}
        entries.append(entry)
    return entries


def _caption_entries(scene: Scene, first_id: int) -> list[dict[str, Any]]:
    return [
        {"id": first_id + k, "image_id": scene.image_id, "caption": c} for k, c in enumerate(scene.captions)
    ]


def _info(dataset: Sequence[Scene]) -> dict[str, Any]:
    info: dict[str, Any] = {"description": "visionbench procedural shapes", "version": GENERATOR_VERSION}
    if isinstance(dataset, ShapesDataset):
        info["fingerprint"] = dataset.fingerprint()
    return info


def coco_categories() -> list[dict[str, Any]]:
    """COCO ``categories``: ids 1..N in :data:`CLASSES` order, supercategory ``shape``."""
    return [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(CLASSES)]


def to_coco_instances(dataset: Sequence[Scene], *, with_masks: bool = True) -> dict[str, Any]:
    """COCO instances dict; ``area`` is the visible pixel count, ``segmentation`` a compressed RLE.

    Without masks the ``segmentation`` key is left out (bbox evaluation does not read it).
    """
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for scene in dataset:
        images.append(_image_entry(scene))
        annotations += _instance_entries(scene, len(annotations) + 1, with_masks)
    return {
        "info": _info(dataset),
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }


def to_coco_captions(dataset: Sequence[Scene]) -> dict[str, Any]:
    """COCO captions dict: one annotation per caption, five per image."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for scene in dataset:
        images.append(_image_entry(scene))
        annotations += _caption_entries(scene, len(annotations) + 1)
    return {"info": _info(dataset), "images": images, "annotations": annotations}


def mask_palette() -> list[int]:
    """768-entry PNG palette: black background, each class in a palette colour, white for ignore (255)."""
    palette = [0, 0, 0] * 256
    colours = list(COLOURS.values())
    for i in range(len(CLASSES)):
        palette[3 * (i + 1) : 3 * (i + 2)] = colours[i % len(colours)]
    palette[3 * IGNORE_INDEX : 3 * IGNORE_INDEX + 3] = [255, 255, 255]
    return palette


def export(dataset: Sequence[Scene], out_dir: str | Path) -> Path:
    """Write a COCO + VOC style folder and return its path; scenes are generated and written one at a time.

    Layout: ``images/<file_name>`` (RGB PNG), ``masks/<file_name>`` (palette PNG of class ids,
    0 background, 255 reserved for ignore and unused), ``instances.json`` and ``captions.json``
    (``file_name`` relative to ``images/``), ``classes.txt`` (``background`` then the classes).
    """
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    palette = mask_palette()
    images: list[dict[str, Any]] = []
    instances: list[dict[str, Any]] = []
    captions: list[dict[str, Any]] = []
    for scene in dataset:
        scene.image.save(out / "images" / scene.file_name)
        semantic = np.ascontiguousarray(scene.semantic, dtype=np.uint8)
        mask = Image.frombytes("P", (scene.width, scene.height), semantic.tobytes())
        mask.putpalette(palette)
        mask.save(out / "masks" / scene.file_name)
        images.append(_image_entry(scene))
        instances += _instance_entries(scene, len(instances) + 1, True)
        captions += _caption_entries(scene, len(captions) + 1)
    info = _info(dataset)
    coco = {"info": info, "images": images, "annotations": instances, "categories": coco_categories()}
    (out / "instances.json").write_text(json.dumps(coco))
    (out / "captions.json").write_text(json.dumps({"info": info, "images": images, "annotations": captions}))
    (out / "classes.txt").write_text("\n".join(("background", *CLASSES)) + "\n")
    return out
