"""Detection datasets: COCO instances files with their images, and the built-in shapes scenes.

Both yield ``Sample(sample_id, RGB image, target)`` where ``target`` is
``{"image": <COCO image entry>, "annotations": [<COCO annotation dicts of that image>]}``,
so the detection task assembles the ground truth of exactly the images it scored
(``--limit`` included). ``classes`` are the category names in category-id order and
``category_ids`` the matching ids.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from visionbench.contracts import Dataset, Sample
from visionbench.errors import ConfigError, DataError


class DetectionDataset(Dataset):
    """Common fields: ``categories`` (COCO category dicts sorted by id), ``classes``, ``category_ids``."""

    kind = "detection"

    def __init__(self, name: str, categories: list[dict[str, Any]]) -> None:
        self.name = name
        self.categories = sorted(
            ({"id": int(c["id"]), "name": str(c["name"])} for c in categories), key=lambda c: c["id"]
        )
        self.classes = tuple(c["name"] for c in self.categories)
        self.category_ids = tuple(c["id"] for c in self.categories)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "category_ids": list(self.category_ids)}


class CocoDetectionDataset(DetectionDataset):
    """A COCO instances JSON (validated by :func:`~visionbench.tasks.coco.load_coco_gt`) and its image folder.

    ``images`` defaults to the JSON's folder when the first image is there, else ``images/``
    beside the JSON. ``coco_gt`` is the validated ground truth of the whole file. A
    ``file_name`` that leaves the image folder (``..`` or an absolute path elsewhere) is a
    DataError naming the entry unless ``allow_outside_root``.
    """

    def __init__(
        self, path: str | Path, images: str | Path | None = None, *, allow_outside_root: bool = False
    ) -> None:
        from visionbench.tasks.coco import load_coco_gt

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"COCO annotation file not found: {self.path}")
        self.coco_gt = load_coco_gt(self.path)
        super().__init__(self.path.stem, self.coco_gt["categories"])
        self.images = sorted(self.coco_gt["images"], key=lambda im: im["id"])
        for i, image in enumerate(self.images):
            if not isinstance(image.get("file_name"), str) or not image["file_name"]:
                raise DataError(
                    f"{self.path}: images entry with id {image['id']} has no 'file_name' (entry {i})"
                )
        self.root = self._image_root(images)
        from visionbench.tasks.data.files import inside_root

        for i, image in enumerate(self.images):
            where = f"{self.path}: images entry with id {image['id']} (entry {i})"
            inside_root(self.root, image["file_name"], allow_outside=allow_outside_root, where=where)
        self._by_image: dict[int, list[dict[str, Any]]] = {im["id"]: [] for im in self.images}
        for ann in self.coco_gt["annotations"]:
            self._by_image[ann["image_id"]].append(ann)
        self._fingerprint: str | None = None

    def _image_root(self, images: str | Path | None) -> Path:
        if images is not None:
            root = Path(images)
            if not root.is_dir():
                raise DataError(f"image folder not found: {root} (images= option of {self.path})")
            return root
        beside, nested = self.path.parent, self.path.parent / "images"
        if not self.images or (beside / self.images[0]["file_name"]).is_file():
            return beside
        if (nested / self.images[0]["file_name"]).is_file():
            return nested
        raise DataError(
            f"{self.path}: image '{self.images[0]['file_name']}' is neither in {beside} nor in {nested}; "
            f"pass the folder: detection:coco:{self.path}?images=DIR"
        )

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int) -> Sample:
        from visionbench.tasks.data.files import open_image

        entry = self.images[index]
        path = self.root / entry["file_name"]
        image = open_image(path, sample=entry["file_name"]).convert("RGB")
        width, height = entry.get("width"), entry.get("height")
        if width is not None and (image.width, image.height) != (width, height):
            raise DataError(
                f"{path}: image is {image.width}x{image.height} but {self.path.name} says {width}x{height} (image id {entry['id']})"
            )
        target_image = {**entry, "width": image.width, "height": image.height}
        return Sample(
            entry["file_name"], image, {"image": target_image, "annotations": self._by_image[entry["id"]]}
        )

    def fingerprint(self) -> str:
        """sha256 over the annotation file's bytes and every image's bytes, in image-id order."""
        if self._fingerprint is None:
            from visionbench.tasks.data.files import hash_files

            digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
            paths = [self.root / im["file_name"] for im in self.images]
            self._fingerprint = hash_files(paths, self.root, [digest])
        return self._fingerprint


class ShapesDetectionDataset(DetectionDataset):
    """The built-in procedural shapes scenes (boxes and instance masks), generated on demand."""

    def __init__(
        self, split: str = "test", n: int | None = None, size: int = 128, style: str = "default"
    ) -> None:
        from visionbench.tasks.data.shapes import ShapesDataset
        from visionbench.tasks.data.shapes_export import coco_categories

        try:
            self.scenes = ShapesDataset(split, n=None if n is None else int(n), size=int(size), style=style)
        except ValueError:
            raise ConfigError(
                f"shapes options n and size must be integers, got n={n!r}, size={size!r}"
            ) from None
        # a shifted style names its own dataset and samples, so no run can mistake one for the other
        self.split = split if style == "default" else f"{style}-{split}"
        super().__init__(f"shapes-{self.split}", coco_categories())

    def __len__(self) -> int:
        return len(self.scenes)

    def load(self, index: int) -> Sample:
        from visionbench.tasks.data.shapes_export import to_coco_instances

        scene = self.scenes[index]
        coco = to_coco_instances([scene])
        return Sample(
            f"{self.split}/{scene.file_name}",
            scene.image,
            {"image": coco["images"][0], "annotations": coco["annotations"]},
        )

    def fingerprint(self) -> str:
        return self.scenes.fingerprint()[:16]
