"""Captioning data sources: COCO captions files with images, the shapes scenes, the bundled photographs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visionbench.errors import DataError
from visionbench.harness.runner import build_dataset
from visionbench.harness.specs import parse_task_spec


def test_samples_are_real_photographs_with_five_references_each():
    dataset = build_dataset(parse_task_spec("captioning:samples"))
    assert len(dataset) == 14 and dataset.kind == "captioning"
    for index in range(len(dataset)):
        sample = dataset.load(index)
        assert sample.image.mode == "RGB" and min(sample.image.size) >= 128
        refs = sample.target["references"]
        assert len(refs) == 5 and len(set(refs)) == 5 and all(r.endswith(".") for r in refs)
    assert dataset.fingerprint() == build_dataset(parse_task_spec("captioning:samples")).fingerprint()
    coco = dataset.to_coco()
    assert len(coco["images"]) == 14 and len(coco["annotations"]) == 70


def test_coco_source_reads_the_shapes_export_and_matches_the_shapes_source(tmp_path: Path):
    from visionbench.tasks.data.shapes import ShapesDataset
    from visionbench.tasks.data.shapes_export import export

    folder = export(ShapesDataset("test", n=6), tmp_path / "shapes")
    coco = build_dataset(parse_task_spec(f"captioning:coco:{folder / 'captions.json'}"))
    shapes = build_dataset(parse_task_spec("captioning:shapes?n=6"))
    assert len(coco) == len(shapes) == 6
    for index in range(6):
        a, b = coco.load(index), shapes.load(index)
        assert a.target["references"] == b.target["references"]
        assert a.image.tobytes() == b.image.tobytes()
        assert b.sample_id == f"test/{a.sample_id}"


@pytest.mark.parametrize(
    ("gt", "message"),
    [
        ({"images": [{"id": 1, "file_name": "a.png"}]}, "'annotations' list"),
        ({"images": [{"id": "1"}], "annotations": []}, "images entry 0 has no integer 'id'"),
        ({"images": [{"id": 1}, {"id": 1}], "annotations": []}, "images entry 1 repeats image id 1"),
        ({"images": [{"id": 1}], "annotations": [{"image_id": 2, "caption": "x"}]}, "annotations entry 0 names image id 2"),
        ({"images": [{"id": 1}], "annotations": [{"image_id": 1, "caption": ["x"]}]}, "has caption ['x']"),
        ({"images": [{"id": 1, "file_name": "a.png"}], "annotations": []}, "image id 1 has no reference caption"),
    ],
)  # fmt: skip
def test_bad_captions_files_name_the_entry(tmp_path: Path, gt: dict, message: str):
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(gt))
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_dataset(parse_task_spec(f"captioning:coco:{path}"))


def test_caption_file_outside_the_image_root_is_refused(tmp_path: Path):
    gt = {"images": [{"id": 1, "file_name": "../x.png"}], "annotations": [{"image_id": 1, "caption": "x"}]}
    (tmp_path / "images").mkdir()
    path = tmp_path / "images" / "captions.json"
    path.write_text(json.dumps(gt))
    with pytest.raises(DataError, match="outside the dataset root"):
        build_dataset(parse_task_spec(f"captioning:coco:{path}?images={tmp_path / 'images'}"))
