"""Raw readers of the built-in classification data: sklearn digits and IDX / Fashion-MNIST."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from visionbench.errors import ConfigError, DataError
from visionbench.tasks.data.digits import DIGITS_CLASSES, digits_fingerprint, load_digits_split
from visionbench.tasks.data.idx import (
    DEFAULT_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    read_idx,
)

# ---------------------------------------------------------------- digits


def test_digits_classes():
    assert DIGITS_CLASSES == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")


def test_digits_split_sizes_and_types():
    sizes = {}
    for split in ("train", "test", "all"):
        images, labels = load_digits_split(split)
        assert images.dtype == np.uint8 and images.ndim == 3 and images.shape[1:] == (8, 8)
        assert labels.dtype == np.int64 and labels.shape == (len(images),)
        sizes[split] = len(images)
    assert sizes == {"train": 1257, "test": 540, "all": 1797}


def test_digits_values_are_sklearn_rescaled():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = load_digits_split("all")
    expected = np.array([int(v * 255 / 16 + 0.5) for v in bunch.images.ravel()], dtype=np.uint8)
    np.testing.assert_array_equal(images.ravel(), expected)
    np.testing.assert_array_equal(labels, bunch.target)
    assert images.min() == 0 and images.max() == 255
    assert set(np.unique(images).tolist()) <= {int(v * 255 / 16 + 0.5) for v in range(17)}


def test_digits_split_is_stratified_partition():
    _, all_labels = load_digits_split("all")
    _, train_labels = load_digits_split("train")
    _, test_labels = load_digits_split("test")
    all_counts = np.bincount(all_labels, minlength=10)
    train_counts = np.bincount(train_labels, minlength=10)
    test_counts = np.bincount(test_labels, minlength=10)
    np.testing.assert_array_equal(train_counts + test_counts, all_counts)
    assert np.all(np.abs(test_counts - 0.3 * all_counts) <= 1)


def test_digits_train_and_test_are_disjoint():
    all_images, _ = load_digits_split("all")
    train_images, _ = load_digits_split("train")
    test_images, _ = load_digits_split("test")
    # sklearn's digits hold no duplicate images, so rows identify samples.
    assert len({row.tobytes() for row in all_images}) == len(all_images)
    train_rows = {row.tobytes() for row in train_images}
    test_rows = {row.tobytes() for row in test_images}
    assert not train_rows & test_rows
    assert len(train_rows | test_rows) == len(all_images)


def test_digits_deterministic_and_copies():
    a_images, a_labels = load_digits_split("train")
    a_images[:] = 0
    a_labels[:] = -1
    b_images, b_labels = load_digits_split("train")
    assert b_images.max() == 255 and b_labels.min() == 0
    assert digits_fingerprint("train") == digits_fingerprint("train")
    fingerprints = {digits_fingerprint(s) for s in ("train", "test", "all")}
    assert len(fingerprints) == 3
    assert all(len(f) == 64 for f in fingerprints)


def test_digits_unknown_split():
    with pytest.raises(ConfigError, match="validation"):
        load_digits_split("validation")
    with pytest.raises(ConfigError, match="bogus"):
        digits_fingerprint("bogus")


# ---------------------------------------------------------------- IDX

_TYPE_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    code = _TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-3, 0, 7], dtype=np.int8),
        np.array([[-300, 2], [1000, -1]], dtype=np.int16),
        np.array([1, -(2**31), 2**31 - 1], dtype=np.int32),
        np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2),
        np.array([np.pi, -1e300], dtype=np.float64),
    ],
    ids=["u8", "i8", "i16", "i32", "f32", "f64"],
)
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_round_trip(tmp_path, array, gz):
    path = write_idx(tmp_path / "data-idx", array, gz=gz)
    out = read_idx(path)
    assert out.shape == array.shape
    assert out.dtype == array.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    out = read_idx(write_idx(tmp_path / "labels.gz", array, gz=False))
    np.testing.assert_array_equal(out, array)
    out = read_idx(write_idx(tmp_path / "labels-plain", array, gz=True))
    np.testing.assert_array_equal(out, array)


def test_read_idx_empty_dimension(tmp_path):
    out = read_idx(write_idx(tmp_path / "empty-idx", np.zeros((0, 28, 28), dtype=np.uint8)))
    assert out.shape == (0, 28, 28)


def _assert_data_error(path: Path, match: str):
    with pytest.raises(DataError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated_payload(tmp_path):
    data = idx_bytes(np.zeros((5, 4, 4), dtype=np.uint8))
    path = tmp_path / "truncated-idx3-ubyte"
    path.write_bytes(data[:-7])
    _assert_data_error(path, "truncated")


def test_read_idx_truncated_header(tmp_path):
    data = idx_bytes(np.zeros((5, 4, 4), dtype=np.uint8))
    for cut, name in ((3, "short"), (9, "half-dims")):
        path = tmp_path / name
        path.write_bytes(data[:cut])
        _assert_data_error(path, "truncated")


def test_read_idx_truncated_gzip(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    path = tmp_path / "cut.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    _assert_data_error(path, "gzip")


def test_read_idx_corrupt_gzip(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32))))
    compressed[20:40] = b"\xff" * 20
    path = tmp_path / "garbled.gz"
    path.write_bytes(bytes(compressed))
    _assert_data_error(path, "gzip")


def test_read_idx_bad_magic_and_type(tmp_path):
    data = idx_bytes(np.zeros(4, dtype=np.uint8))
    bad_magic = tmp_path / "not-idx"
    bad_magic.write_bytes(b"\x01" + data[1:])
    _assert_data_error(bad_magic, "not an IDX file")
    bad_type = tmp_path / "bad-type"
    bad_type.write_bytes(data[:2] + b"\x42" + data[3:])
    _assert_data_error(bad_type, "0x42")


def test_read_idx_trailing_bytes(tmp_path):
    path = tmp_path / "too-long"
    path.write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)) + b"\x00\x00")
    _assert_data_error(path, "after the data")


def test_read_idx_missing_file(tmp_path):
    _assert_data_error(tmp_path / "nope-idx1-ubyte", "not found")
    _assert_data_error(tmp_path, "directory")


# ---------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_classes():
    assert len(FASHION_MNIST_CLASSES) == 10
    assert FASHION_MNIST_CLASSES[0] == "T-shirt/top" and FASHION_MNIST_CLASSES[9] == "Ankle boot"


def _fake_fashion(
    root: Path, split: str, n: int, *, gz: bool, dotted: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    prefix = "train" if split == "train" else "t10k"
    sep = "." if dotted else "-"
    suffix = ".gz" if gz else ""
    write_idx(root / f"{prefix}-images{sep}idx3-ubyte{suffix}", images, gz=gz)
    write_idx(root / f"{prefix}-labels{sep}idx1-ubyte{suffix}", labels, gz=gz)
    return images, labels


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_fashion_mnist_from_any_directory(tmp_path, split, gz):
    images, labels = _fake_fashion(tmp_path, split, 7, gz=gz)
    out_images, out_labels = load_fashion_mnist(tmp_path, split)
    assert out_images.dtype == np.uint8 and out_images.shape == (7, 28, 28)
    assert out_labels.dtype == np.int64
    np.testing.assert_array_equal(out_images, images)
    np.testing.assert_array_equal(out_labels, labels)


def test_load_fashion_mnist_torchvision_layout(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images, _ = _fake_fashion(raw, "test", 3, gz=False, dotted=True)
    out_images, _ = load_fashion_mnist(str(tmp_path), "test")
    np.testing.assert_array_equal(out_images, images)


def test_load_fashion_mnist_missing_directory(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(DataError) as info:
        load_fashion_mnist(missing, "test")
    assert str(missing) in str(info.value)
    assert "apt-get install dataset-fashion-mnist" in str(info.value)


def test_load_fashion_mnist_missing_file(tmp_path):
    _fake_fashion(tmp_path, "train", 2, gz=True)
    with pytest.raises(DataError) as info:
        load_fashion_mnist(tmp_path, "test")
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message and str(tmp_path) in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_load_fashion_mnist_count_mismatch(tmp_path):
    _fake_fashion(tmp_path, "test", 4, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match="4 images but"):
        load_fashion_mnist(tmp_path, "test")


def test_load_fashion_mnist_label_out_of_range(tmp_path):
    _fake_fashion(tmp_path, "test", 4, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 10], dtype=np.uint8))
    with pytest.raises(DataError, match="outside"):
        load_fashion_mnist(tmp_path, "test")


def test_load_fashion_mnist_unknown_split(tmp_path):
    with pytest.raises(ConfigError, match="valid"):
        load_fashion_mnist(tmp_path, "valid")


@pytest.mark.skipif(
    not Path(DEFAULT_FASHION_MNIST_DIR).is_dir(),
    reason=f"Fashion-MNIST not installed at {DEFAULT_FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_test_split():
    images, labels = load_fashion_mnist(None, "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 1000))
