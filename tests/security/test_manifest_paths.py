"""Manifest entries cannot leave their dataset root unless ``allow_outside_root=true`` says so.

A CSV manifest's ``path`` column and a COCO file's ``file_name`` are data someone may have
downloaded; ``../`` or an absolute path would make a run read (and fingerprint, and show in the
failure gallery) any image-decodable file on the machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from visionbench.errors import ConfigError, DataError


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 128).save(path)
    return path


def _csv(root: Path, entry: str) -> Path:
    _image(root / "data" / "ok.png")
    manifest = root / "data" / "m.csv"
    manifest.write_text(f"path,label\nok.png,a\n{entry},b\n")
    return manifest


@pytest.mark.parametrize("entry", ["../outside.png", "./../outside.png", "ABS"])
def test_csv_entry_outside_root_is_refused_naming_the_line(tmp_path, entry):
    from visionbench.tasks.data.files import csv_manifest

    outside = _image(tmp_path / "outside.png")
    manifest = _csv(tmp_path, str(outside) if entry == "ABS" else entry)
    shown = str(outside) if entry == "ABS" else entry
    with pytest.raises(
        DataError, match=rf"m\.csv:3: path '{shown}' points outside the dataset root.*allow_outside_root=true"
    ):
        csv_manifest(manifest)
    dataset = csv_manifest(manifest, allow_outside_root=True)
    assert len(dataset) == 2


def test_csv_entries_inside_root_are_fine(tmp_path):
    from visionbench.tasks.data.files import csv_manifest

    _image(tmp_path / "data" / "sub" / "x.png")
    manifest = _csv(tmp_path, "sub/./x.png")
    assert len(csv_manifest(manifest)) == 2
    absolute = _csv(tmp_path, str(tmp_path / "data" / "sub" / "x.png"))  # absolute but inside: fine
    assert len(csv_manifest(absolute)) == 2


def test_csv_task_option_through_the_cli(workdir, cli):
    _image(workdir / "outside.png")
    manifest = _csv(workdir, "../outside.png")
    code, _, err = cli("run", "--model", "zoo:digits-linear", "--task", f"classification:csv:{manifest}",
                       "--no-track")  # fmt: skip
    assert code == 2 and "points outside the dataset root" in err and "m.csv:3" in err, err
    code, _, err = cli("run", "--model", "zoo:digits-linear", "--task",
                       f"classification:csv:{manifest}?allow_outside_root=maybe", "--no-track")  # fmt: skip
    assert code == 2 and "allow_outside_root" in err, err


def _coco(root: Path, file_name: str) -> Path:
    images = root / "coco" / "images"
    _image(images / "a.png")
    gt = {
        "images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 8},
                   {"id": 2, "file_name": file_name, "height": 8, "width": 8}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "thing"}],
    }  # fmt: skip
    path = root / "coco" / "instances.json"
    path.write_text(json.dumps(gt))
    return path


@pytest.mark.parametrize("entry", ["../../secret.png", "ABS"])
def test_coco_file_name_outside_root_is_refused(tmp_path, entry):
    from visionbench.tasks.data.detection_datasets import CocoDetectionDataset

    secret = _image(tmp_path / "secret.png")
    name = str(secret) if entry == "ABS" else entry
    path = _coco(tmp_path, name)
    with pytest.raises(DataError, match=r"images entry with id 2.*points outside the dataset root"):
        CocoDetectionDataset(path, tmp_path / "coco" / "images")
    dataset = CocoDetectionDataset(path, tmp_path / "coco" / "images", allow_outside_root=True)
    assert dataset.load(1).image.size == (8, 8)


def test_coco_task_option_through_the_cli(workdir, cli):
    _image(workdir / "secret.png")
    path = _coco(workdir, "../../secret.png")
    images = workdir / "coco" / "images"
    base = f"detection:coco:{path}?images={images}"
    code, _, err = cli("run", "--model", "zoo:shapes-centernet-tiny", "--task", base, "--no-track")
    assert code == 2 and "points outside the dataset root" in err, err
    from visionbench.harness.specs import parse_task_spec

    spec = parse_task_spec(f"{base}&allow_outside_root=true")
    from visionbench.harness.runner import build_dataset

    assert len(build_dataset(spec)) == 2


def test_allow_outside_root_must_be_a_boolean():
    from visionbench.tasks.data.files import outside_root_flag

    assert outside_root_flag("true", "x") is True and outside_root_flag(False, "x") is False
    with pytest.raises(ConfigError, match="allow_outside_root"):
        outside_root_flag("sometimes", "x")
