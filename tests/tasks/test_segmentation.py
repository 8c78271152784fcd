"""The segmentation task: the nan policy, per-image rows, the bootstrap, and runs logged to MLflow."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import numpy as np
import pytest

from visionbench.contracts import Dataset, Sample, TaskSpec
from visionbench.errors import ModelError
from visionbench.tasks.segmentation import SegmentationTask, headline_from_confusion
from visionbench.tasks.segmetrics import metrics_from_confusion

IGNORE = 255


class ArrayDataset(Dataset):
    kind = "segmentation"

    def __init__(self, classes: tuple[str, ...], ignore_index: int | None = IGNORE) -> None:
        self.name, self.classes, self.ignore_index = "arrays", classes, ignore_index

    def __len__(self) -> int:
        return 0

    def load(self, index: int) -> Sample:
        raise IndexError(index)

    def fingerprint(self) -> str:
        return "arrays"


def make_task(classes=("a", "b", "c", "d"), ignore_index: int | None = IGNORE) -> SegmentationTask:
    return SegmentationTask(ArrayDataset(tuple(classes), ignore_index), TaskSpec("segmentation", "arrays"))


def confusion(pred: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    keep = target != IGNORE
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (target[keep], pred[keep]), 1)
    return cm


def test_nan_policy_absent_class_is_left_out_and_listed() -> None:
    target = np.array([[0, 0, 1, 1], [0, IGNORE, 1, 1]])
    pred = np.array(
        [[0, 2, 1, 1], [0, 3, 1, 0]]
    )  # class 2 predicted but never true; ignored pixel predicted 3
    task = make_task()
    task.update([0], [pred], [target], ["s0"])
    result = task.compute()
    # d (3) only appears under an ignored pixel: ignored pixels count nowhere, so it is absent.
    assert result.extra["absent_classes"] == ["d"]
    assert result.per_class["d"]["absent"] is True and np.isnan(result.per_class["d"]["iou"])
    assert result.per_class["c"]["absent"] is False and result.per_class["c"]["iou"] == 0.0
    iou_a, iou_b = 2 / 4, 3 / 4
    assert result.metrics["miou"] == pytest.approx((iou_a + iou_b + 0.0) / 3, abs=1e-12)
    assert result.metrics["pixel_accuracy"] == pytest.approx(5 / 7, abs=1e-12)
    assert np.isnan(result.metrics["iou/d"]) and result.metrics["iou/a"] == pytest.approx(iou_a)
    assert result.metrics["dice/b"] == pytest.approx(2 * 3 / (4 + 3))
    assert {"confusion_matrix.csv", "confusion_matrix.png"} == set(result.artifacts)


def test_ignored_pixels_count_nowhere() -> None:
    rng = np.random.default_rng(secrets.randbits(32))
    target = rng.integers(0, 4, size=(20, 30))
    target[rng.random(target.shape) < 0.3] = IGNORE
    pred = rng.integers(0, 4, size=target.shape)
    other = np.where(target == IGNORE, rng.integers(0, 4, size=target.shape), pred)
    results = []
    for p in (pred, other):
        task = make_task()
        task.update([0], [p], [target], ["s"])
        results.append(task.compute().metrics)
    assert results[0] == pytest.approx(results[1], nan_ok=True)


def test_per_image_rows_use_the_classes_present_in_each_image() -> None:
    import torch

    target = np.array([[0, 0], [1, IGNORE]])
    pred = torch.tensor([[0, 1], [1, 3]])  # torch tensors are accepted as canonical predictions
    task = make_task()
    task.update(
        [0, 1], [pred, np.zeros((2, 2), dtype=np.int64)], [target, np.full((2, 2), IGNORE)], ["x", "y"]
    )
    rows = task.compute().per_sample
    assert rows["sample_id"] == ["x", "y"]
    assert rows["pixel_accuracy"][0] == pytest.approx(2 / 3)
    assert rows["miou"][0] == pytest.approx(
        (1 / 2 + 1 / 2) / 2
    )  # a and b present; c, d absent from this image
    assert rows["valid_pixels"] == [3, 0]
    assert np.isnan(rows["pixel_accuracy"][1]) and np.isnan(rows["miou"][1])
    assert rows["target_classes"] == [["a", "b"], []] and rows["predicted_classes"][0] == ["a", "b"]


def test_prediction_at_the_wrong_size_is_a_model_error() -> None:
    task = make_task()
    with pytest.raises(ModelError, match=r"sample 'x'.*original size"):
        task.update([0], [np.zeros((3, 3), dtype=np.int64)], [np.zeros((3, 4), dtype=np.int64)], ["x"])


@pytest.mark.parametrize("path", ["matmul", "bincount", "accumulator"])
def test_bootstrap_sums_per_image_confusions(monkeypatch, path: str) -> None:
    """Each summation path (dense product, sparse bincount, the accumulator's own) equals summing resampled images."""
    import visionbench.tasks.segmentation as segmentation

    if path == "accumulator":
        monkeypatch.setattr(segmentation, "DENSE_BOOTSTRAP_BYTES", 0)
    seed = secrets.randbits(32)
    rng = np.random.default_rng(seed)
    k, n = 12, 15
    task = make_task(tuple("abcdefghijkl"))
    per_image = []
    for i in range(n):
        shape = (int(rng.integers(3, 15)), int(rng.integers(3, 15)))
        # bincount: two classes per image leave most confusion cells empty
        classes = (
            rng.choice(k - 1, size=2, replace=False) if path == "bincount" else np.arange(k - 1)
        )  # l never true
        target = rng.choice(classes, size=shape)
        target[rng.random(shape) < 0.1] = IGNORE
        pred = rng.choice(classes, size=shape) if path == "bincount" else rng.integers(0, k, size=shape)
        task.update([i], [pred], [target], [f"s{i}"])
        per_image.append(confusion(pred, target, k))
    task.compute()
    assert task.num_updated() == n
    for _ in range(5):
        resample = rng.integers(0, n, size=n)
        expected = metrics_from_confusion(sum(per_image[i] for i in resample)).metrics
        got = task.bootstrap_metrics(resample)
        assert set(got) == {"miou", "pixel_accuracy"}
        for key in got:
            assert got[key] == pytest.approx(expected[key], abs=1e-12), f"seed={seed}"
    assert isinstance(task._per_image, tuple) == (path == "bincount")


def test_headline_matches_the_metric_module_and_empty_is_nan() -> None:
    cm = np.array([[5, 1, 0], [2, 7, 0], [0, 0, 0]])
    full = metrics_from_confusion(cm).metrics
    fast = headline_from_confusion(cm)
    assert fast == pytest.approx({"miou": full["miou"], "pixel_accuracy": full["pixel_accuracy"]})
    assert all(np.isnan(v) for v in headline_from_confusion(np.zeros((3, 3))).values())
    assert make_task().bootstrap_metrics(np.arange(0)) is None


# ---------------------------------------------------------------- end to end, logged to MLflow
def _tiny_segformer(path: Path, labels: tuple[str, ...]) -> Path:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    config = SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3], strides=[4, 2],
        num_attention_heads=[1, 1], mlp_ratios=[2, 2], decoder_hidden_size=16,
        id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
    )  # fmt: skip
    SegformerForSemanticSegmentation(config).save_pretrained(path)
    SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(path)
    return path


def _model_args(family: str, workdir: Path) -> list[str]:
    from visionbench.tasks.data.shapes import CLASSES

    if family == "zoo":
        return ["--model", "zoo:shapes-unet"]
    if family == "torchvision":
        return [
            "--model", "torchvision:lraspp_mobilenet_v3_large", "--model-arg", "num_classes=6",
            "--model-arg", "weights_backbone=none", "--model-arg", 'preprocess={"size": [96, 96]}',
        ]  # fmt: skip
    return ["--model", f"hf:{_tiny_segformer(workdir / 'segformer', ('background', *CLASSES))}"]


@pytest.mark.parametrize("family", ["zoo", "torchvision", "hf"])
def test_run_is_logged_to_mlflow_with_per_class_iou_and_confusion(workdir: Path, cli, family: str) -> None:
    import mlflow
    import pandas as pd

    from visionbench.tasks.data.shapes import CLASSES

    args = _model_args(family, workdir)
    code, out, err = cli(
        "run",
        *args,
        "--task",
        "shapes-segmentation",
        "--limit",
        "6",
        "--batch-size",
        "4",
        "--bootstrap",
        "50",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["tracking"]["status"] == "logged"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    run = client.get_run(result["tracking"]["run_id"])
    assert run.data.tags["vb.kind"] == "segmentation"
    logged = run.data.metrics
    assert {
        "miou",
        "pixel_accuracy",
        "mean_accuracy",
        "fwiou",
        "miou_ci_low",
        "miou_ci_high",
        "iou/background",
    } <= set(logged)
    for name in ("background", *CLASSES):
        value = result["metrics"][f"iou/{name}"]
        if value is not None:  # absent classes are nan: in the record as null, not logged
            assert logged[f"iou/{name}"] == pytest.approx(value)
    assert logged["miou"] == pytest.approx(result["metrics"]["miou"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"record.json", "predictions.parquet", "confusion_matrix.csv", "confusion_matrix.png"} <= artifacts
    frame = pd.read_parquet(Path(result["record"]).parent / "predictions.parquet")
    assert len(frame) == 6 and {"sample_id", "pixel_accuracy", "miou", "target_classes"} <= set(frame.columns)
    if family == "zoo":
        assert result["metrics"]["miou"] > 0.5
