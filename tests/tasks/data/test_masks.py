from __future__ import annotations

import secrets

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix

from visionbench.errors import ConfigError, DataError
from visionbench.tasks.data.masks import (
    HFSegmentationDataset,
    MaskFolder,
    pair_mask_dirs,
    read_mask,
)
from visionbench.tasks.segmetrics import ConfusionAccumulator


def palette_png(path, arr: np.ndarray):
    img = Image.fromarray(arr.astype(np.uint8), mode="P")
    # Colours unrelated to the indices, so reading colours instead of indices would show.
    img.putpalette([(i * 37) % 256 for i in range(256 * 3)])
    img.save(path)
    return path


def rgb_image(path, h: int, w: int):
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)
    return path


def make_folder(tmp_path, stems=("b", "a", "c"), size=(6, 8)):
    images, masks = tmp_path / "JPEGImages", tmp_path / "SegmentationClass"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for s in stems:
        rgb_image(images / f"{s}.jpg", *size)
        palette_png(masks / f"{s}.png", rng.integers(0, 3, size=size))
    return images, masks


# ---------------------------------------------------------------- read_mask
def test_palette_png_gives_indices_not_colours(tmp_path):
    arr = np.array([[0, 1, 2], [255, 1, 0]])
    mask = read_mask(palette_png(tmp_path / "m.png", arr))
    assert mask.dtype == np.int64
    np.testing.assert_array_equal(mask, arr)


def test_grayscale_and_16_bit_masks_give_values(tmp_path):
    arr = np.array([[0, 3], [255, 7]])
    Image.fromarray(arr.astype(np.uint8), mode="L").save(tmp_path / "l.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "l.png"), arr)
    Image.fromarray(np.array([[0, 300], [1000, 2]], np.uint16)).save(tmp_path / "i16.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "i16.png", ignore_index=None), [[0, 300], [1000, 2]])


def test_rgb_mask_needs_a_colour_map(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (128, 0, 0)
    rgb[1, 1] = (224, 224, 192)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    with pytest.raises(DataError, match=r"rgb\.png.*RGB"):
        read_mask(tmp_path / "rgb.png")
    cmap = {(0, 0, 0): 0, (128, 0, 0): 1, (224, 224, 192): 255}
    np.testing.assert_array_equal(read_mask(tmp_path / "rgb.png", color_map=cmap), [[1, 0], [0, 255]])
    with pytest.raises(DataError, match=r"rgb\.png.*\(224, 224, 192\)"):
        read_mask(tmp_path / "rgb.png", color_map={(0, 0, 0): 0, (128, 0, 0): 1})


def test_unreadable_or_missing_mask_names_the_file(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"broken\.png"):
        read_mask(tmp_path / "broken.png")
    with pytest.raises(DataError, match=r"gone\.png"):
        read_mask(tmp_path / "gone.png")


def test_reduce_zero_label_matches_mmseg(tmp_path):
    arr = np.array([[0, 1, 2, 255, 150]])
    got = read_mask(palette_png(tmp_path / "m.png", arr), reduce_zero_label=True)
    np.testing.assert_array_equal(got, [[255, 0, 1, 255, 149]])
    with pytest.raises(ConfigError):
        read_mask(tmp_path / "m.png", reduce_zero_label=True, ignore_index=None)


def test_values_outside_num_classes_name_file_and_values(tmp_path):
    palette_png(tmp_path / "m.png", np.array([[0, 1, 5, 255, 9]]))
    with pytest.raises(DataError, match=r"m\.png.*\[0, 4\).*5, 9"):
        read_mask(tmp_path / "m.png", num_classes=4)
    assert read_mask(tmp_path / "m.png", num_classes=10).max() == 255


# ---------------------------------------------------------------- MaskFolder
def test_mask_folder_pairs_by_stem_sorted(tmp_path):
    images, masks = make_folder(tmp_path)
    (masks / "classes.txt").write_text("background\n# comment\nperson\n\ncar\n")
    ds = MaskFolder(images, masks)
    assert len(ds) == 3
    assert ds.sample_ids == ["a", "b", "c"]
    assert ds.class_names == ["background", "person", "car"]
    sid, image, mask = ds[1]
    assert sid == "b"
    assert image.mode == "RGB" and image.size == (8, 6)
    assert mask.dtype == np.int64 and mask.shape == (6, 8)
    np.testing.assert_array_equal(mask, np.asarray(Image.open(masks / "b.png")))


def test_mask_folder_class_names_from_a_file_argument(tmp_path):
    images, masks = make_folder(tmp_path)
    names = tmp_path / "names.txt"
    names.write_text("x\ny\nz\n")
    assert MaskFolder(images, masks, class_names=names).class_names == ["x", "y", "z"]
    assert MaskFolder(images, masks, class_names=["p", "q", "r"]).num_classes == 3


def test_image_without_mask_names_it(tmp_path):
    images, masks = make_folder(tmp_path)
    rgb_image(images / "lonely.jpg", 6, 8)
    with pytest.raises(DataError, match=r"lonely\.jpg"):
        MaskFolder(images, masks)


def test_mask_without_image_names_it(tmp_path):
    images, masks = make_folder(tmp_path)
    palette_png(masks / "orphan.png", np.zeros((6, 8)))
    with pytest.raises(DataError, match=r"orphan\.png"):
        MaskFolder(images, masks)


def test_split_file_restricts_the_samples(tmp_path):
    images, masks = make_folder(tmp_path)
    rgb_image(images / "unlabelled.jpg", 6, 8)
    split = tmp_path / "val.txt"
    split.write_text("c\na\n")
    assert MaskFolder(images, masks, split_file=split).sample_ids == ["a", "c"]
    split.write_text("a\nnope\n")
    with pytest.raises(DataError, match=r"val\.txt.*nope"):
        MaskFolder(images, masks, split_file=split)


def test_mask_size_mismatch_names_both_files(tmp_path):
    images, masks = make_folder(tmp_path)
    palette_png(masks / "a.png", np.zeros((5, 8)))
    ds = MaskFolder(images, masks)
    with pytest.raises(DataError, match=r"a\.png.*a\.jpg"):
        ds[0]


def test_mask_values_checked_against_class_names(tmp_path):
    images, masks = make_folder(tmp_path)
    palette_png(masks / "c.png", np.full((6, 8), 4))
    ds = MaskFolder(images, masks, class_names=["bg", "fg", "edge"])
    with pytest.raises(DataError, match=r"c\.png.*4"):
        ds[2]


def test_fingerprint_covers_names_and_bytes(tmp_path):
    images, masks = make_folder(tmp_path)
    fp = MaskFolder(images, masks).fingerprint()
    assert fp == MaskFolder(images, masks).fingerprint() and len(fp) == 64
    palette_png(masks / "b.png", np.ones((6, 8)))
    assert MaskFolder(images, masks).fingerprint() != fp


def test_missing_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        MaskFolder(tmp_path / "nowhere", tmp_path)


# ---------------------------------------------------------------- pair_mask_dirs
def _mask_dirs(tmp_path, gt_stems, pred_stems):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    for s in gt_stems:
        palette_png(gt / f"{s}.png", np.zeros((2, 2)))
    for s in pred_stems:
        palette_png(pred / f"{s}.png", np.zeros((2, 2)))
    return gt, pred


def test_pair_mask_dirs_matches_by_name(tmp_path):
    gt, pred = _mask_dirs(tmp_path, ["y", "x"], ["x", "y"])
    assert pair_mask_dirs(gt, pred) == [
        ("x", gt / "x.png", pred / "x.png"),
        ("y", gt / "y.png", pred / "y.png"),
    ]


def test_pair_mask_dirs_missing_prediction_names_it(tmp_path):
    gt, pred = _mask_dirs(tmp_path, ["x", "y"], ["x"])
    with pytest.raises(DataError, match=r"y\.png"):
        pair_mask_dirs(gt, pred)


def test_pair_mask_dirs_extra_prediction_names_it(tmp_path):
    gt, pred = _mask_dirs(tmp_path, ["x"], ["x", "z"])
    with pytest.raises(DataError, match=r"z\.png"):
        pair_mask_dirs(gt, pred)


def test_scoring_mask_folders_matches_sklearn(tmp_path):
    seed = secrets.randbits(32)
    rng = np.random.default_rng(seed)
    k = 5
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for i in range(4):
        t = rng.integers(0, k, size=(7, 9))
        t[rng.random(t.shape) < 0.2] = 255
        palette_png(gt_dir / f"{i}.png", t)
        palette_png(pred_dir / f"{i}.png", rng.integers(0, k, size=(7, 9)))
    acc = ConfusionAccumulator(k)
    ts, ps = [], []
    for name, g, p in pair_mask_dirs(gt_dir, pred_dir):
        t, pr = read_mask(g, num_classes=k), read_mask(p, num_classes=k)
        acc.update(pr, t, sample_id=name)
        ts.append(t.ravel())
        ps.append(pr.ravel())
    t, p = np.concatenate(ts), np.concatenate(ps)
    ref = confusion_matrix(t[t != 255], p[t != 255], labels=list(range(k)))
    np.testing.assert_array_equal(acc.confusion, ref, err_msg=f"seed={seed}")


# ---------------------------------------------------------------- Hugging Face save_to_disk
@pytest.fixture(scope="module")
def hf_dataset(tmp_path_factory):
    datasets = pytest.importorskip("datasets")
    root = tmp_path_factory.mktemp("hf")
    rng = np.random.default_rng(0)
    rows = {"image": [], "annotation": [], "name": []}
    for i in range(3):
        rows["image"].append(Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)))
        rows["annotation"].append(Image.fromarray(rng.integers(0, 3, (6, 8)).astype(np.uint8), mode="L"))
        rows["name"].append(f"scene{i}")
    features = datasets.Features(
        {"image": datasets.Image(), "annotation": datasets.Image(), "name": datasets.Value("string")}
    )
    ds = datasets.Dataset.from_dict(rows, features=features)
    datasets.DatasetDict({"validation": ds}).save_to_disk(str(root / "dict"))
    ds.save_to_disk(str(root / "single"))
    arrays = datasets.Dataset.from_dict(
        {"image": rows["image"][:1], "label": [[[0, 1] * 4] * 5]},
        features=datasets.Features({"image": datasets.Image(), "label": datasets.Array2D((5, 8), "int64")}),
    )
    arrays.save_to_disk(str(root / "arrays"))
    return root, rows


def test_hf_dataset_detects_the_mask_column(hf_dataset):
    root, rows = hf_dataset
    ds = HFSegmentationDataset(root / "dict", id_column="name")
    assert ds.split == "validation" and ds.mask_column == "annotation" and len(ds) == 3
    sid, image, mask = ds[2]
    assert sid == "scene2" and image.mode == "RGB" and image.size == (8, 6)
    assert mask.dtype == np.int64
    np.testing.assert_array_equal(mask, np.asarray(rows["annotation"][2]))
    single = HFSegmentationDataset(root / "single", class_names=["a", "b", "c"])
    assert single[0][0] == "0" and single.num_classes == 3
    assert len(single.fingerprint()) == 64 and single.fingerprint() == single.fingerprint()


def test_hf_dataset_errors_name_the_path(hf_dataset):
    root, _ = hf_dataset
    with pytest.raises(DataError, match=r"dict.*'test'.*validation"):
        HFSegmentationDataset(root / "dict", split="test")
    with pytest.raises(DataError, match=r"single.*'seg'"):
        HFSegmentationDataset(root / "single", mask_column="seg")
    with pytest.raises(DataError, match=r"nothing_here"):
        HFSegmentationDataset(root / "nothing_here")


def test_hf_dataset_array_mask_size_mismatch_names_the_sample(hf_dataset):
    root, _ = hf_dataset
    ds = HFSegmentationDataset(root / "arrays")
    assert ds.mask_column == "label"
    with pytest.raises(DataError, match=r"arrays.*sample '0'.*8x5.*8x6"):
        ds[0]
