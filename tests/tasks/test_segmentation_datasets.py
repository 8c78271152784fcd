"""Segmentation datasets from spec strings (folders, Hugging Face, shapes) and broken data through the CLI."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionbench.errors import ConfigError, DataError
from visionbench.harness.runner import build_dataset
from visionbench.harness.specs import parse_task_spec

IGNORE = 255


def write_label_png(path: Path, array: np.ndarray) -> None:
    image = Image.fromarray(np.asarray(array, dtype=np.uint8))
    image.putpalette([v for i in range(256) for v in (i, 255 - i, (5 * i) % 256)])  # L -> P, same indices
    image.save(path)


def write_folder(
    root: Path,
    *,
    images="images",
    masks="masks",
    n=3,
    classes=("bg", "cat", "dog"),
    names_file=True,
    size=(12, 9),
) -> Path:
    rng = np.random.default_rng(0)
    (root / images).mkdir(parents=True)
    (root / masks).mkdir(parents=True)
    for i in range(n):
        w, h = size[0] + i, size[1]
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / images / f"im{i}.jpg")
        mask = rng.integers(0, len(classes), (h, w))
        mask[0, 0] = IGNORE
        write_label_png(root / masks / f"im{i}.png", mask)
    if names_file:
        (root / "classes.txt").write_text("\n".join(classes) + "\n")
    return root


def test_folder_spec_reads_voc_style_masks(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "data")
    dataset = build_dataset(parse_task_spec(f"segmentation:folder:{root}"))
    assert dataset.classes == ("bg", "cat", "dog") and dataset.ignore_index == IGNORE and len(dataset) == 3
    sample = dataset.load(2)
    assert sample.sample_id == "im2" and sample.image.size == (14, 9)
    assert (
        sample.target.dtype == np.int64 and sample.target.shape == (9, 14) and sample.target[0, 0] == IGNORE
    )
    assert (
        dataset.fingerprint() == build_dataset(parse_task_spec(f"segmentation:folder:{root}")).fingerprint()
    )


def test_folder_options_layouts_and_reduce_zero_label(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "voc", images="JPEGImages", masks="SegmentationClass", names_file=False)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("im1\nim0\n")
    dataset = build_dataset(parse_task_spec(f"segmentation:folder:{root}?num_classes=3&split=val"))
    assert dataset.classes == ("0", "1", "2") and [
        dataset.load(i).sample_id for i in range(len(dataset))
    ] == ["im0", "im1"]
    names = tmp_path / "two.txt"
    names.write_text("cat\ndog\n")
    reduced = build_dataset(
        parse_task_spec(
            f"segmentation:folder:{root}?images=JPEGImages&masks=SegmentationClass&classes={names}&reduce_zero_label=true"
        )
    )
    raw = build_dataset(parse_task_spec(f"segmentation:folder:{root}?num_classes=3")).load(0).target
    shifted = reduced.load(0).target
    assert reduced.classes == ("cat", "dog")
    assert np.array_equal(shifted[raw == 0], np.full((raw == 0).sum(), IGNORE))
    assert np.array_equal(shifted[(raw > 0) & (raw != IGNORE)], raw[(raw > 0) & (raw != IGNORE)] - 1)


@pytest.mark.parametrize(
    ("query", "error", "needle"),
    [
        ("", ConfigError, "classes=FILE"),
        ("?num_classes=3&ignore_index=1", ConfigError, "ignore_index 1"),
        ("?num_classes=3&colour=red", ConfigError, "colour"),
        ("?num_classes=3&reduce_zero_label=maybe", ConfigError, "reduce_zero_label"),
        ("?classes=nothere.txt", DataError, "nothere.txt"),
    ],
)
def test_folder_option_errors(tmp_path: Path, query: str, error: type, needle: str) -> None:
    root = write_folder(tmp_path / "data", names_file=False)
    with pytest.raises(error, match=needle):
        build_dataset(parse_task_spec(f"segmentation:folder:{root}{query}"))


def test_shapes_spec_gives_background_and_the_shape_classes() -> None:
    from visionbench.tasks.data.shapes import CLASSES, ShapesDataset

    dataset = build_dataset(parse_task_spec("shapes-segmentation", {"n": 4}))
    assert dataset.classes == ("background", *CLASSES) and len(dataset) == 4 and dataset.name == "shapes-test"
    sample = dataset.load(3)
    assert np.array_equal(sample.target, ShapesDataset("test", n=4)[3].semantic)
    assert sample.target.dtype == np.int64 and sample.image.size == (128, 128)


def test_hf_spec_reads_a_saved_dataset(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(0)
    rows = {
        "image": [Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)) for _ in range(2)],
        "label": [Image.fromarray(rng.integers(0, 3, (6, 8)).astype(np.uint8)) for _ in range(2)],
    }
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Image()})
    datasets.DatasetDict({"validation": datasets.Dataset.from_dict(rows, features=features)}).save_to_disk(
        str(tmp_path / "ds")
    )
    dataset = build_dataset(
        parse_task_spec(f"segmentation:hf:{tmp_path / 'ds'}?split=validation&num_classes=3")
    )
    assert len(dataset) == 2 and dataset.classes == ("0", "1", "2") and dataset.name == "ds-validation"
    assert np.array_equal(dataset.load(1).target, np.asarray(rows["label"][1]))
    with pytest.raises(ConfigError, match="classes"):
        build_dataset(parse_task_spec(f"segmentation:hf:{tmp_path / 'ds'}"))


# ---------------------------------------------------------------- CLI: broken data exits 2 naming the file
POINTWISE = """
import torch

def build(classes=3):
    model = torch.nn.Conv2d(3, classes, 1)
    model.visionbench_preprocess = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    return model
"""


@pytest.fixture
def pointwise(tmp_path: Path, monkeypatch) -> str:
    (tmp_path / "segmodels.py").write_text(textwrap.dedent(POINTWISE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "segmodels", raising=False)
    return "callable:segmodels:build"


def _spoil(root: Path, how: str) -> str:
    if how == "mask size differs from its image":
        write_label_png(root / "masks" / "im1.png", np.zeros((4, 4)))
        return "im1.png"
    if how == "mask value outside the classes":
        bad = np.zeros((9, 12))
        bad[3, 3] = 9
        write_label_png(root / "masks" / "im0.png", bad)
        return "im0.png"
    if how == "unreadable mask":
        (root / "masks" / "im2.png").write_bytes(b"garbage")
        return "im2.png"
    if how == "unreadable image":
        (root / "images" / "im1.jpg").write_bytes(b"\xff\xd8\xff garbage")
        return "im1.jpg"
    if how == "image without a mask":
        (root / "masks" / "im2.png").unlink()
        return "im2.jpg"
    if how == "mask without an image":
        write_label_png(root / "masks" / "orphan.png", np.zeros((9, 12)))
        return "orphan.png"
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "mask size differs from its image",
        "mask value outside the classes",
        "unreadable mask",
        "unreadable image",
        "image without a mask",
        "mask without an image",
    ],
)
def test_broken_data_exits_2_with_one_line_naming_the_file(
    workdir: Path, cli, pointwise: str, how: str
) -> None:
    root = write_folder(workdir / "data")
    name = _spoil(root, how)
    code, out, err = cli(
        "run",
        "--model",
        pointwise,
        "--task",
        f"segmentation:folder:{root}",
        "--no-track",
        "--quiet",
        "--batch-size",
        "2",
    )
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert name in err and "Traceback" not in err
