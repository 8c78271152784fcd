"""Declared options of the built-in dataset sources (``kind:source?name=value``), checked at parse time.

Bounds keep a typo from allocating: a shapes scene of ``size=100000`` would be 30 GB, a
segmentation ``num_classes`` beyond :data:`MAX_SEGMENTATION_CLASSES` a confusion matrix of
gigabytes per image.
"""

from __future__ import annotations

from visionbench.schema import Option

# A num_classes x num_classes int64 confusion matrix: 4096 classes are 128 MiB (ADE20K-full has 3688).
MAX_SEGMENTATION_CLASSES = 4096
MAX_SHAPES_SIZE = 2048

DIGITS = {"split": Option(choices=("test", "train", "all"), help="held-out split")}
FASHION_MNIST = {"split": Option(choices=("test", "train"))}
# Manifest entries (CSV paths, COCO file_name) must stay inside their dataset root unless this is true.
ALLOW_OUTSIDE_ROOT = Option("bool", help="let manifest paths leave the dataset root")
# Where mask mAP takes a detection's area from (a scoring option the detection task reads).
SEGM_AREA = Option(choices=("mask", "box", "pycocotools"), help="segm detection area from")
CSV_MANIFEST = {"allow_outside_root": ALLOW_OUTSIDE_ROOT}
COCO_DETECTION = {
    "images": Option("str", help="image folder"),
    "allow_outside_root": ALLOW_OUTSIDE_ROOT,
    "segm_area": SEGM_AREA,
}
_SHAPES = {
    "split": Option(choices=("test", "val", "train")),
    "n": Option("int", minimum=0, maximum=2000, nullable=True, help="first n scenes"),
    "size": Option("int", minimum=32, maximum=MAX_SHAPES_SIZE, help="image side in pixels"),
    "style": Option(
        choices=("default", "shifted"), help="shifted: new colours on a light checkered background"
    ),
}
SHAPES_DETECTION = {**_SHAPES, "segm_area": SEGM_AREA}
SHAPES_SEGMENTATION = dict(_SHAPES)
_SEGMENTATION_COMMON = {
    "classes": Option("str", help="file with one class name per line"),
    "num_classes": Option("int", minimum=1, maximum=MAX_SEGMENTATION_CLASSES),
    "ignore_index": Option("int", minimum=-1, maximum=65535, nullable=True),
    "reduce_zero_label": Option("bool"),
    "split": Option("str"),
}
SEGMENTATION_FOLDER = {
    "images": Option("str"),
    "masks": Option("str"),
    **_SEGMENTATION_COMMON,
    "split_file": Option("str"),
    "mask_suffix": Option("str"),
}
SEGMENTATION_HF = {
    **_SEGMENTATION_COMMON,
    "image_column": Option("str"),
    "mask_column": Option("str"),
    "id_column": Option("str"),
}
