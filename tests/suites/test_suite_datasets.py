"""The shifted datasets of the generalisation suites: OpenCV's digits sheet and the shifted shapes style."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionbench.errors import ConfigError, DataError
from visionbench.tasks.data.opencv_digits import DEFAULT_OPENCV_DIGITS, load_opencv_digits


def test_cells_are_cut_row_by_row_with_five_rows_per_digit(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    sheet = rng.integers(0, 256, size=(1000, 2000), dtype=np.uint8)
    path = tmp_path / "digits.png"
    Image.fromarray(sheet).save(path)
    images, labels = load_opencv_digits(path)
    assert images.shape == (5000, 20, 20) and images.dtype == np.uint8
    # cell k: row k // 100, column k % 100 of the sheet, by hand
    for k in (0, 99, 100, 499, 500, 2345, 4999):
        row, column = divmod(k, 100)
        assert np.array_equal(images[k], sheet[20 * row : 20 * row + 20, 20 * column : 20 * column + 20])
        assert labels[k] == row // 5
    assert np.bincount(labels).tolist() == [500] * 10


def test_missing_and_wrong_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"not found: {tmp_path / 'nope.png'}"):
        load_opencv_digits(tmp_path / "nope.png")
    Image.fromarray(np.zeros((100, 200), dtype=np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(DataError, match="small.png is 200x100 pixels; expected 2000x1000"):
        load_opencv_digits(tmp_path / "small.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DataError, match="text.png cannot be read"):
        load_opencv_digits(tmp_path / "text.png")


def test_the_task_spec_reads_a_given_file(tmp_path: Path) -> None:
    from visionbench.harness.runner import build_dataset
    from visionbench.harness.specs import parse_task_spec

    Image.fromarray(np.full((1000, 2000), 9, dtype=np.uint8)).save(tmp_path / "d.png")
    dataset = build_dataset(parse_task_spec(f"classification:opencv-digits:{tmp_path / 'd.png'}"))
    assert len(dataset) == 5000 and dataset.classes == tuple("0123456789")
    sample = dataset.load(4999)
    assert sample.sample_id == "opencv-digits-04999" and sample.target == 9 and sample.image.size == (20, 20)


@pytest.mark.skipif(not Path(DEFAULT_OPENCV_DIGITS).is_file(), reason="Debian's opencv-doc is not installed")
def test_the_installed_sheet() -> None:
    images, labels = load_opencv_digits()
    assert images.shape == (5000, 20, 20) and np.bincount(labels).tolist() == [500] * 10
    # bright strokes on black, like the built-in digits: the border pixels are mostly dark
    assert images[:, 0, :].mean() < 10 and images.mean() > 20


def test_shifted_shapes_keep_the_geometry_and_change_colours_and_background() -> None:
    from visionbench.tasks.data.shapes import COLOURS, SHIFTED_COLOURS, ShapesDataset

    default, shifted = ShapesDataset("test", n=6), ShapesDataset("test", n=6, style="shifted")
    assert default.fingerprint() != shifted.fingerprint()
    assert not set(SHIFTED_COLOURS) & set(COLOURS) and not set(SHIFTED_COLOURS.values()) & set(
        COLOURS.values()
    )
    for i in range(6):
        a, b = default[i], shifted[i]
        assert np.array_equal(a.semantic, b.semantic) and np.array_equal(a.boxes, b.boxes)
        assert [x.colour for x in b.attributes] == [
            tuple(SHIFTED_COLOURS)[tuple(COLOURS).index(x.colour)] for x in a.attributes
        ]
        pa, pb = np.asarray(a.image, dtype=float), np.asarray(b.image, dtype=float)
        background = a.semantic == 0
        ys, xs = np.indices(background.shape)
        odd = ((ys // 16 + xs // 16) % 2 == 1) & background
        even = ((ys // 16 + xs // 16) % 2 == 0) & background
        assert pb[odd].mean() - pb[even].mean() > 20  # the checkerboard (36 levels between its squares)
        assert abs(pa[odd].mean() - pa[even].mean()) < 15  # absent from the default background
        for k, obj in enumerate(b.attributes):  # each shape in its new colour (+-12 jitter, +-10 noise)
            mean = pb[b.masks[k]].mean(axis=0)
            assert np.all(np.abs(mean - np.array(SHIFTED_COLOURS[obj.colour])) <= 13), (i, k, mean)


def test_shifted_shapes_are_their_own_dataset_in_every_kind() -> None:
    from visionbench.harness.runner import build_dataset
    from visionbench.harness.specs import parse_task_spec

    seg = build_dataset(parse_task_spec("segmentation:shapes?style=shifted&n=3"))
    det = build_dataset(parse_task_spec("detection:shapes?style=shifted&n=3"))
    plain = build_dataset(parse_task_spec("segmentation:shapes?n=3"))
    assert seg.name == det.name == "shapes-shifted-test" and plain.name == "shapes-test"
    assert (
        seg.load(0).sample_id == "shapes-shifted-test-000001"
        and plain.load(0).sample_id == "shapes-test-000001"
    )
    assert det.load(0).sample_id == "shifted-test/000001.png"
    assert seg.fingerprint() != plain.fingerprint()
    with pytest.raises(ConfigError, match="style"):
        parse_task_spec("segmentation:shapes?style=neon")
