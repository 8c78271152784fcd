from __future__ import annotations

import csv
import math
import secrets

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from visionbench.errors import ConfigError, DataError
from visionbench.tasks.segmetrics import (
    ConfusionAccumulator,
    metrics_from_confusion,
    plot_confusion,
    save_confusion_csv,
)

IGNORE = 255


def random_pairs(
    seed: int,
    k: int,
    n: int,
    *,
    absent: tuple[int, ...] = (),
    pred_only: tuple[int, ...] = (),
    shape: tuple[int, int] | None = None,
):
    """Random target/prediction maps with ~15% ignored target pixels.

    Classes in ``absent`` appear nowhere; classes in ``pred_only`` appear only in predictions.
    """
    rng = np.random.default_rng(seed)
    gt_classes = np.array([c for c in range(k) if c not in absent and c not in pred_only])
    pred_classes = np.array([c for c in range(k) if c not in absent])
    pairs = []
    for _ in range(n):
        h, w = shape or (int(rng.integers(5, 40)), int(rng.integers(5, 40)))
        t = rng.choice(gt_classes, size=(h, w))
        # Mostly right, so the scores are not all near chance.
        p = np.where(rng.random((h, w)) < 0.6, t, rng.choice(pred_classes, size=(h, w)))
        t[rng.random((h, w)) < 0.15] = IGNORE
        pairs.append((p.astype(np.int64), t.astype(np.int64)))
    return pairs


def reference(pairs, k: int) -> dict:
    """Textbook definitions over a sklearn confusion matrix of the non-ignored pixels."""
    t = np.concatenate([t.ravel() for _, t in pairs])
    p = np.concatenate([p.ravel() for p, _ in pairs])
    keep = t != IGNORE
    cm = confusion_matrix(t[keep], p[keep], labels=list(range(k)))
    total = cm.sum()
    ious, accs, fw = [], [], 0.0
    for c in range(k):
        tp, gt, pr = cm[c, c], cm[c, :].sum(), cm[:, c].sum()
        if gt + pr - tp > 0:
            ious.append(tp / (gt + pr - tp))
            fw += gt / total * ious[-1]
        if gt > 0:
            accs.append(tp / gt)
    return {
        "cm": cm,
        "pixel_accuracy": np.trace(cm) / total,
        "mean_accuracy": sum(accs) / len(accs),
        "miou": sum(ious) / len(ious),
        "fwiou": fw,
    }


def accumulate(pairs, k: int, **kw) -> ConfusionAccumulator:
    acc = ConfusionAccumulator(k, ignore_index=IGNORE, **kw)
    for i, (p, t) in enumerate(pairs):
        acc.update(p, t, sample_id=f"img{i}")
    return acc


# ---------------------------------------------------------------- correctness
def test_matches_sklearn_reference():
    seed = secrets.randbits(32)
    k = 9
    pairs = random_pairs(seed, k, 12, absent=(2, 7), pred_only=(4,))
    acc = accumulate(pairs, k)
    res = acc.compute()
    ref = reference(pairs, k)
    np.testing.assert_array_equal(res.confusion, ref["cm"], err_msg=f"seed={seed}")
    for key in ("pixel_accuracy", "mean_accuracy", "miou", "fwiou"):
        assert res.metrics[key] == pytest.approx(ref[key], abs=1e-9), f"{key} seed={seed}"
    assert res.absent_classes == ["2", "7"], f"seed={seed}"
    per_image = acc.per_image
    assert [sid for sid, _ in per_image] == [f"img{i}" for i in range(12)]
    np.testing.assert_array_equal(sum(cm for _, cm in per_image), ref["cm"], err_msg=f"seed={seed}")
    np.testing.assert_array_equal(acc.per_image_array().sum(axis=0), ref["cm"], err_msg=f"seed={seed}")


def test_weighted_confusion_is_a_resampled_sum():
    seed = secrets.randbits(32)
    pairs = random_pairs(seed, 5, 8)
    acc = accumulate(pairs, 5)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 8, size=8)
    stack = acc.per_image_array()
    expected = stack[idx].sum(axis=0)
    got = acc.weighted_confusion(np.bincount(idx, minlength=8))
    np.testing.assert_array_equal(got, expected, err_msg=f"seed={seed}")
    with pytest.raises(ConfigError, match="8 weights"):
        acc.weighted_confusion([1, 2])


def test_torch_tensors_and_small_dtypes_give_the_same_counts():
    seed = secrets.randbits(32)
    pairs = random_pairs(seed, 6, 4)
    ref = accumulate(pairs, 6).confusion
    acc = ConfusionAccumulator(6)
    for p, t in pairs:
        acc.update(torch.from_numpy(p), torch.from_numpy(t.astype(np.uint8)))
    np.testing.assert_array_equal(acc.confusion, ref, err_msg=f"seed={seed}")
    acc = ConfusionAccumulator(6)
    for p, t in pairs:
        acc.update(p.astype(np.uint8), t.astype(np.int16))
    np.testing.assert_array_equal(acc.confusion, ref, err_msg=f"seed={seed}")


def test_negative_ignore_index_uses_the_masked_path():
    seed = secrets.randbits(32)
    pairs = random_pairs(seed, 6, 4)
    ref = accumulate(pairs, 6).confusion
    acc = ConfusionAccumulator(6, ignore_index=-1)
    for p, t in pairs:
        acc.update(p, np.where(t == IGNORE, -1, t))
    np.testing.assert_array_equal(acc.confusion, ref, err_msg=f"seed={seed}")


def _tm_inputs(pairs):
    return torch.from_numpy(np.stack([p for p, _ in pairs])), torch.from_numpy(
        np.stack([t for _, t in pairs])
    )


def test_agrees_with_torchmetrics_when_every_class_is_in_the_ground_truth():
    seed = secrets.randbits(32)
    k = 7
    pairs = random_pairs(seed, k, 6, shape=(24, 32))
    res = accumulate(pairs, k).compute()
    assert res.absent_classes == []
    preds, target = _tm_inputs(pairs)
    miou = MulticlassJaccardIndex(num_classes=k, ignore_index=IGNORE, average="macro")(preds, target)
    micro = MulticlassAccuracy(num_classes=k, ignore_index=IGNORE, average="micro")(preds, target)
    macro = MulticlassAccuracy(num_classes=k, ignore_index=IGNORE, average="macro")(preds, target)
    # torchmetrics reduces in float32.
    assert res.metrics["miou"] == pytest.approx(miou.item(), abs=1e-6), f"seed={seed}"
    assert res.metrics["pixel_accuracy"] == pytest.approx(micro.item(), abs=1e-6), f"seed={seed}"
    assert res.metrics["mean_accuracy"] == pytest.approx(macro.item(), abs=1e-6), f"seed={seed}"


def test_torchmetrics_differences_on_absent_classes_are_the_documented_ones():
    seed = secrets.randbits(32)
    k = 8
    pairs = random_pairs(seed, k, 6, shape=(24, 32), absent=(1,), pred_only=(5,))
    res = accumulate(pairs, k).compute()
    preds, target = _tm_inputs(pairs)
    # Jaccard: torchmetrics also drops classes absent from both sides, and scores a predicted-only class 0.
    miou = MulticlassJaccardIndex(num_classes=k, ignore_index=IGNORE, average="macro")(preds, target)
    assert res.metrics["miou"] == pytest.approx(miou.item(), abs=1e-6), f"seed={seed}"
    # Accuracy: torchmetrics keeps the predicted-only class in the macro mean with accuracy 0.
    macro = MulticlassAccuracy(num_classes=k, ignore_index=IGNORE, average="macro")(preds, target)
    accs = [row["accuracy"] for row in res.per_class.values() if not math.isnan(row["accuracy"])]
    assert len(accs) == k - 2
    assert macro.item() == pytest.approx(sum(accs) / (len(accs) + 1), abs=1e-6), f"seed={seed}"
    assert res.metrics["mean_accuracy"] == pytest.approx(sum(accs) / len(accs), abs=1e-12), f"seed={seed}"


# ---------------------------------------------------------------- edge cases
def test_class_absent_from_both_sides_is_nan_and_left_out_of_the_means():
    t = np.array([[0, 0, 1, 1]])
    p = np.array([[0, 1, 1, 1]])
    res = metrics_from_confusion(confusion_matrix(t.ravel(), p.ravel(), labels=[0, 1, 2]), ["a", "b", "c"])
    assert res.absent_classes == ["c"]
    assert all(math.isnan(v) for v in (res.per_class["c"][m] for m in ("iou", "dice", "accuracy")))
    assert res.per_class["c"]["support"] == 0
    assert res.metrics["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert res.metrics["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)


def test_class_predicted_but_absent_from_ground_truth_has_iou_zero_and_accuracy_nan():
    acc = ConfusionAccumulator(3, class_names=["a", "b", "c"])
    acc.update(np.array([[0, 2, 1, 1]]), np.array([[0, 0, 1, 1]]))
    res = acc.compute()
    assert res.absent_classes == []
    assert res.per_class["c"]["iou"] == 0.0
    assert res.per_class["c"]["dice"] == 0.0
    assert math.isnan(res.per_class["c"]["accuracy"])
    assert res.metrics["miou"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert res.metrics["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    assert res.flat_metrics()["iou/c"] == 0.0


def test_fwiou_weights_by_ground_truth_frequency():
    # class 0: 6 gt px, 3 right; class 1: 2 gt px, both right; class 2 only predicted.
    t = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    p = np.array([0, 0, 0, 1, 2, 2, 1, 1])
    res = metrics_from_confusion(confusion_matrix(t, p, labels=[0, 1, 2]))
    iou0, iou1 = 3 / 6, 2 / 3
    assert res.metrics["fwiou"] == pytest.approx(6 / 8 * iou0 + 2 / 8 * iou1, abs=1e-12)
    assert res.metrics["pixel_accuracy"] == pytest.approx(5 / 8)


def test_all_ignored_image_contributes_nothing():
    seed = secrets.randbits(32)
    pairs = random_pairs(seed, 4, 3)
    before = accumulate(pairs, 4)
    after = accumulate(pairs, 4)
    after.update(np.full((9, 9), 3), np.full((9, 9), IGNORE), sample_id="blank")
    np.testing.assert_array_equal(after.confusion, before.confusion, err_msg=f"seed={seed}")
    assert after.compute().metrics == before.compute().metrics
    assert after.num_images == 4
    assert after.per_image[-1][0] == "blank" and not after.per_image[-1][1].any()


def test_no_valid_pixels_gives_nan_metrics():
    res = ConfusionAccumulator(3).compute()
    assert all(math.isnan(v) for v in res.metrics.values())
    assert res.absent_classes == ["0", "1", "2"]


def test_keep_per_image_false_keeps_only_the_total():
    acc = ConfusionAccumulator(2, keep_per_image=False)
    acc.update(np.array([[0, 1]]), np.array([[0, 0]]))
    assert acc.confusion.tolist() == [[1, 1], [0, 0]]
    with pytest.raises(ConfigError, match="keep_per_image"):
        acc.per_image  # noqa: B018


def test_merge_adds_counts_and_images():
    seed = secrets.randbits(32)
    pairs = random_pairs(seed, 5, 6)
    whole = accumulate(pairs, 5)
    a, b = accumulate(pairs[:2], 5), accumulate(pairs[2:], 5)
    a.merge(b)
    np.testing.assert_array_equal(a.confusion, whole.confusion, err_msg=f"seed={seed}")
    np.testing.assert_array_equal(a.per_image_array(), whole.per_image_array(), err_msg=f"seed={seed}")


# ---------------------------------------------------------------- errors
def test_shape_mismatch_names_the_sample():
    acc = ConfusionAccumulator(3)
    with pytest.raises(DataError, match=r"'street_01'.*\(4, 5\).*\(4, 6\)"):
        acc.update(np.zeros((4, 5), int), np.zeros((4, 6), int), sample_id="street_01")


def test_target_out_of_range_names_the_sample_and_values():
    acc = ConfusionAccumulator(3)
    t = np.array([[0, 1, 7, 255, 200]])
    with pytest.raises(DataError, match=r"'frame_7'.*target.*7, 200") as exc:
        acc.update(np.zeros_like(t), t, sample_id="frame_7")
    assert "255" not in str(exc.value).split(":")[-1]
    with pytest.raises(DataError, match=r"'neg'.*target.*-2"):
        acc.update(np.zeros((1, 2), int), np.array([[-2, 0]]), sample_id="neg")
    assert acc.num_images == 0 and not acc.confusion.any()


def test_ignore_value_is_out_of_range_without_ignore_index():
    acc = ConfusionAccumulator(3, ignore_index=None)
    with pytest.raises(DataError, match=r"'x'.*255"):
        acc.update(np.zeros((1, 2), int), np.array([[255, 0]]), sample_id="x")


def test_prediction_out_of_range_names_the_sample():
    acc = ConfusionAccumulator(3)
    with pytest.raises(DataError, match=r"'im9'.*predicted.*3"):
        acc.update(np.array([[0, 3]]), np.array([[0, 1]]), sample_id="im9")
    with pytest.raises(DataError, match=r"'im9'.*predicted.*-1"):
        acc.update(np.array([[0, -1]]), np.array([[0, 1]]), sample_id="im9")


def test_float_maps_and_bad_configuration_are_rejected():
    acc = ConfusionAccumulator(3)
    with pytest.raises(DataError, match=r"'f'.*float"):
        acc.update(np.zeros((2, 2), np.float32), np.zeros((2, 2), int), sample_id="f")
    with pytest.raises(ConfigError, match="ignore_index 1"):
        ConfusionAccumulator(3, ignore_index=1)
    with pytest.raises(ConfigError, match="2 class names for 3"):
        ConfusionAccumulator(3, class_names=["a", "b"])


# ---------------------------------------------------------------- files
def test_confusion_csv_and_plot(tmp_path):
    cm = np.array([[5, 1, 0], [0, 0, 0], [2, 0, 3]])
    names = ["road", "sky", "car"]
    out = save_confusion_csv(cm, names, tmp_path / "cm.csv")
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["target\\pred", *names]
    assert rows[3] == ["car", "2", "0", "3"]
    png = plot_confusion(cm, names, tmp_path / "sub" / "cm.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
