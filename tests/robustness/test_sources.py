"""CIFAR-10/100 python batches and Hugging Face classification datasets, from small files made here."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from visionbench.errors import DataError
from visionbench.harness.runner import build_dataset
from visionbench.harness.specs import parse_task_spec


def _write(path, obj) -> None:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=2)


@pytest.fixture
def cifar10(tmp_path, test_seed):
    rng = np.random.default_rng(test_seed)
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    _write(tmp_path / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    batches = {}
    for name, n in [("test_batch", 7)] + [(f"data_batch_{i}", 3) for i in range(1, 6)]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        _write(
            tmp_path / name,
            {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": [b"x"] * n},
        )
        batches[name] = (data, labels)
    return tmp_path, batches


def test_cifar10_pixels_and_labels(cifar10) -> None:
    root, batches = cifar10
    data = build_dataset(parse_task_spec(f"classification:cifar10:{root}"))
    raw, labels = batches["test_batch"]
    assert len(data) == 7 and data.classes[3] == "cat"
    for i in range(7):
        sample = data.load(i)
        pixels = np.asarray(sample.image)
        assert sample.target == labels[i] and pixels.shape == (32, 32, 3)
        for channel in range(3):  # CIFAR stores the red plane, then green, then blue, rows of 32
            assert pixels[5, 17, channel] == raw[i, channel * 1024 + 5 * 32 + 17]
    train = build_dataset(parse_task_spec(f"classification:cifar10:{root}?split=train"))
    assert len(train) == 15 and train.load(14).target == batches["data_batch_5"][1][2]


def test_cifar100_fine_and_coarse(tmp_path, test_seed) -> None:
    rng = np.random.default_rng(test_seed)
    fine = [f"fine{i}".encode() for i in range(100)]
    coarse = [f"coarse{i}".encode() for i in range(20)]
    _write(tmp_path / "meta", {b"fine_label_names": fine, b"coarse_label_names": coarse})
    data = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
    _write(tmp_path / "test", {b"data": data, b"fine_labels": [99, 0, 5, 7], b"coarse_labels": [19, 0, 1, 2]})
    _write(tmp_path / "train", {b"data": data[:1], b"fine_labels": [1], b"coarse_labels": [1]})
    ds = build_dataset(parse_task_spec(f"classification:cifar100:{tmp_path}"))
    assert len(ds.classes) == 100 and ds.load(0).target == 99
    ds = build_dataset(parse_task_spec(f"classification:cifar100:{tmp_path}?label=coarse"))
    assert len(ds.classes) == 20 and ds.load(0).target == 19 and ds.classes[19] == "coarse19"


def test_cifar_pickle_naming_code_is_refused(cifar10) -> None:
    root, _ = cifar10

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, ("echo hacked > pwned",))

    _write(root / "test_batch", {b"data": Payload(), b"labels": []})
    with pytest.raises(DataError, match="test_batch.*refusing the global"):
        build_dataset(parse_task_spec(f"classification:cifar10:{root}"))
    assert not (root / "pwned").exists()


def test_hf_classification_from_disk(tmp_path, test_seed) -> None:
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    rng = np.random.default_rng(test_seed)
    arrays = [rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8) for _ in range(5)]
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog"])}
    )
    labels = [0, 1, 1, 0, 1]
    ds = datasets.Dataset.from_dict(
        {"image": [Image.fromarray(a) for a in arrays], "label": labels}, features=features
    )
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "hf"))
    data = build_dataset(parse_task_spec(f"classification:hf:{tmp_path / 'hf'}"))
    assert data.classes == ("cat", "dog") and len(data) == 5
    for i in range(5):
        sample = data.load(i)
        assert sample.target == labels[i] and np.array_equal(np.asarray(sample.image), arrays[i])
    robust = build_dataset(parse_task_spec(f"robustness:hf:{tmp_path / 'hf'}?split=test&n=3&attacks=pgd"))
    assert len(robust) == 3 and robust.load(2).target == labels[2]
    with pytest.raises(DataError, match="no split 'train'"):
        build_dataset(parse_task_spec(f"classification:hf:{tmp_path / 'hf'}?split=train"))
