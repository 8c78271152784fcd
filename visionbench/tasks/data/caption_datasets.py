"""Captioning datasets: COCO captions files with their images, the shapes scenes, and bundled photographs.

Each yields ``Sample(sample_id, RGB image, target)`` with ``target = {"image_id": int,
"references": (str, ...)}``: every reference caption of the image, in file order. The sample id
is the image's ``file_name`` (the shapes scenes: ``<split>/<file_name>``), as for detection, so
runs of the same images pair up in ``compare`` and ``gate``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from visionbench.contracts import Dataset, Sample
from visionbench.errors import ConfigError, DataError


class CaptionDataset(Dataset):
    kind = "captioning"
    classes: tuple[str, ...] = ()


def read_coco_captions(path: Path) -> tuple[list[dict[str, Any]], dict[int, list[str]]]:
    """``(images, references by image id)`` of a COCO captions file, validated entry by entry.

    Every image needs an integer ``id`` (unique) and at least one caption; every annotation an
    ``image_id`` of a listed image and a ``caption`` that is a non-empty string. Errors name the
    file, the entry's position and its ids.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"COCO captions file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError(f"{path}: a COCO captions file is an object with 'images' and 'annotations' lists")
    if not isinstance(data.get("annotations"), list):
        raise DataError(f"{path}: the 'annotations' list (one {{image_id, caption}} per caption) is missing")
    images, references = [], {}
    for i, image in enumerate(data["images"]):
        image_id = image.get("id") if isinstance(image, dict) else None
        if isinstance(image_id, bool) or not isinstance(image_id, int):
            raise DataError(f"{path}: images entry {i} has no integer 'id' (got {image_id!r})")
        if image_id in references:
            raise DataError(f"{path}: images entry {i} repeats image id {image_id}")
        references[image_id] = []
        images.append(image)
    for i, entry in enumerate(data["annotations"]):
        if not isinstance(entry, dict):
            raise DataError(f"{path}: annotations entry {i} is a {type(entry).__name__}, not an object")
        image_id, caption = entry.get("image_id"), entry.get("caption")
        if isinstance(image_id, bool) or not isinstance(image_id, int) or image_id not in references:
            raise DataError(
                f"{path}: annotations entry {i} names image id {image_id!r}, which is not in 'images'"
            )
        if not isinstance(caption, str) or not caption.strip():
            raise DataError(
                f"{path}: annotations entry {i} (image id {image_id}) has caption {caption!r}; "
                "a reference caption is a non-empty string"
            )
        references[image_id].append(caption)
    for image in images:
        if not references[image["id"]]:
            raise DataError(f"{path}: image id {image['id']} has no reference caption")
    return images, references


class CocoCaptionsDataset(CaptionDataset):
    """A COCO captions JSON and its image folder (``images=``, default: beside the JSON, else ``images/``)."""

    def __init__(
        self, path: str | Path, images: str | Path | None = None, *, allow_outside_root: bool = False
    ) -> None:
        from visionbench.tasks.data.files import inside_root

        self.path = Path(path)
        self.images, self.references = read_coco_captions(self.path)
        self.images.sort(key=lambda im: im["id"])
        self.name = self.path.stem
        for image in self.images:
            if not isinstance(image.get("file_name"), str) or not image["file_name"]:
                raise DataError(f"{self.path}: images entry with id {image['id']} has no 'file_name'")
        self.root = self._image_root(images)
        for image in self.images:
            where = f"{self.path}: images entry with id {image['id']}"
            inside_root(self.root, image["file_name"], allow_outside=allow_outside_root, where=where)
        self._fingerprint: str | None = None

    def _image_root(self, images: str | Path | None) -> Path:
        if images is not None:
            if not Path(images).is_dir():
                raise DataError(f"image folder not found: {images} (images= option of {self.path})")
            return Path(images)
        beside, nested = self.path.parent, self.path.parent / "images"
        if not self.images or (beside / self.images[0]["file_name"]).is_file():
            return beside
        if (nested / self.images[0]["file_name"]).is_file():
            return nested
        raise DataError(
            f"{self.path}: image '{self.images[0]['file_name']}' is neither in {beside} nor in {nested}; "
            f"pass the folder: captioning:coco:{self.path}?images=DIR"
        )

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int) -> Sample:
        from visionbench.tasks.data.files import open_image

        entry = self.images[index]
        image = open_image(self.root / entry["file_name"], sample=entry["file_name"]).convert("RGB")
        target = {"image_id": int(entry["id"]), "references": tuple(self.references[entry["id"]])}
        return Sample(entry["file_name"], image, target)

    def fingerprint(self) -> str:
        """sha256 over the captions file's bytes and every image's bytes, in image-id order."""
        if self._fingerprint is None:
            from visionbench.tasks.data.files import hash_files

            digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
            paths = [self.root / im["file_name"] for im in self.images]
            self._fingerprint = hash_files(paths, self.root, [digest])
        return self._fingerprint


class ShapesCaptionsDataset(CaptionDataset):
    """The built-in shapes scenes with their five generated captions each."""

    def __init__(self, split: str = "test", n: int | None = None, size: int = 128) -> None:
        from visionbench.tasks.data.shapes import ShapesDataset

        try:
            self.scenes = ShapesDataset(split, n=None if n is None else int(n), size=int(size))
        except ValueError:
            raise ConfigError(
                f"shapes options n and size must be integers, got n={n!r}, size={size!r}"
            ) from None
        self.name, self.split = f"shapes-{split}", split

    def __len__(self) -> int:
        return len(self.scenes)

    def load(self, index: int) -> Sample:
        scene = self.scenes[index]
        target = {"image_id": int(scene.image_id), "references": tuple(scene.captions)}
        return Sample(f"{self.split}/{scene.file_name}", scene.image, target)

    def fingerprint(self) -> str:
        return hashlib.sha256((self.scenes.fingerprint() + ":captions").encode()).hexdigest()[:16]


class SampleCaptionsDataset(CaptionDataset):
    """Photographs bundled with scikit-image and matplotlib, five reference captions each (see caption_samples)."""

    name = "samples"

    def __init__(self) -> None:
        from visionbench.tasks.data.caption_samples import SAMPLES, image_path

        self.entries = [
            (image_id, image_path(lib, name), name, refs) for image_id, lib, name, refs in SAMPLES
        ]
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def load(self, index: int) -> Sample:
        from visionbench.tasks.data.files import open_image

        image_id, path, name, refs = self.entries[index]
        image = open_image(path, sample=name).convert("RGB")
        return Sample(name, image, {"image_id": image_id, "references": tuple(refs)})

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for image_id, path, name, refs in self.entries:
                if not path.is_file():
                    raise DataError(f"bundled sample image {name} is missing from its package ({path})")
                digest.update(json.dumps([image_id, name, list(refs)]).encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    def to_coco(self) -> dict[str, Any]:
        """The set as a COCO captions dict (images with file names and sizes, five annotations each)."""
        from PIL import Image

        images, annotations = [], []
        for image_id, path, name, refs in self.entries:
            with Image.open(path) as img:
                width, height = img.size
            images.append({"id": image_id, "file_name": name, "width": width, "height": height})
            for caption in refs:
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "caption": caption})
        return {"images": images, "annotations": annotations}
