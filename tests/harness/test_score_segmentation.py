"""``visionbench score segmentation`` against a textbook confusion-matrix reference, torchmetrics, and bad inputs."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# score writes a run folder (default results/runs): keep it in a fresh folder
pytestmark = pytest.mark.usefixtures("workdir")

IGNORE = 255


def save_label_png(path: Path, array: np.ndarray, palette: bool = True) -> None:
    """Class ids as an indexed (palette) PNG, as VOC stores them, or as a plain 8-bit label PNG."""
    image = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if palette:  # putpalette turns an L image into P with the same indices
        image.putpalette([v for i in range(256) for v in (i, (7 * i) % 256, (13 * i) % 256)])
    image.save(path)


def random_folders(
    root: Path, seed: int, k: int, n: int, *, absent: int | None, pred_only: int | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` random pairs of masks of random sizes: ~20% ignored pixels, class ``absent`` nowhere,
    class ``pred_only`` only in predictions. Written under root/gt and root/pred (half palette, half plain)."""
    rng = np.random.default_rng(seed)
    (root / "gt").mkdir()
    (root / "pred").mkdir()
    gt_classes = [c for c in range(k) if c not in (absent, pred_only)]
    pred_classes = [c for c in range(k) if c != absent]
    pairs = []
    for i in range(n):
        h, w = int(rng.integers(4, 30)), int(rng.integers(4, 30))
        target = rng.choice(gt_classes, size=(h, w))
        pred = np.where(rng.random((h, w)) < 0.5, target, rng.choice(pred_classes, size=(h, w)))
        target[rng.random((h, w)) < 0.2] = IGNORE
        save_label_png(root / "gt" / f"img_{i:03d}.png", target, palette=i % 2 == 0)
        save_label_png(root / "pred" / f"img_{i:03d}.png", pred, palette=i % 2 == 1)
        pairs.append((target, pred))
    return pairs


def reference(pairs: list[tuple[np.ndarray, np.ndarray]], k: int) -> dict[str, float]:
    """Pixel accuracy, nan-mean IoU, mean class accuracy and frequency-weighted IoU from one confusion matrix."""
    t = np.concatenate([t.ravel() for t, _ in pairs])
    p = np.concatenate([p.ravel() for _, p in pairs])
    keep = t != IGNORE
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (t[keep], p[keep]), 1)
    tp, gt, pr = np.diag(cm).astype(float), cm.sum(1).astype(float), cm.sum(0).astype(float)
    union = gt + pr - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / union
        acc = tp / gt
    freq = gt / gt.sum()
    return {
        "pixel_accuracy": tp.sum() / gt.sum(),
        "miou": float(np.nanmean(iou)),
        "mean_accuracy": float(np.nanmean(acc)),
        "fwiou": float(np.sum(freq[gt > 0] * iou[gt > 0])),
        **{f"iou/{c}": float(iou[c]) for c in range(k)},
    }


def test_cli_matches_the_confusion_matrix_reference(tmp_path: Path, cli) -> None:
    seed = secrets.randbits(32)
    k = 6
    pairs = random_folders(tmp_path, seed, k, n=9, absent=4, pred_only=2)
    code, out, err = cli(
        "score",
        "segmentation",
        "--gt",
        str(tmp_path / "gt"),
        "--pred",
        str(tmp_path / "pred"),
        "--num-classes",
        str(k),
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "segmentation"
    expected = reference(pairs, k)
    metrics = result["metrics"]
    for key in ("pixel_accuracy", "miou", "mean_accuracy", "fwiou"):
        assert metrics[key] == pytest.approx(expected[key], abs=1e-9, rel=0), f"{key} seed={seed}"
    assert (
        metrics["iou/4"] is None
    )  # absent from truth and prediction: nan, written as null, left out of miou
    assert metrics["iou/2"] == 0.0  # predicted but never true: counts as 0
    for c in (0, 1, 3, 5):
        assert metrics[f"iou/{c}"] == pytest.approx(expected[f"iou/{c}"], abs=1e-9, rel=0)


def test_python_api_lists_absent_classes_and_names(tmp_path: Path) -> None:
    from visionbench.harness.scoring_segmentation import score_segmentation

    random_folders(tmp_path, secrets.randbits(32), 4, n=3, absent=1, pred_only=None)
    names = tmp_path / "names.txt"
    names.write_text("sky\nroad\ncar\n# a comment\nperson\n")
    result = score_segmentation(tmp_path / "gt", tmp_path / "pred", num_classes=4, class_names=names)
    assert result["num_images"] == 3
    assert result["absent_classes"] == ["road"]
    assert set(result["metrics"]) >= {
        "pixel_accuracy",
        "mean_accuracy",
        "miou",
        "fwiou",
        "iou/sky",
        "iou/person",
    }
    assert result["per_class"]["car"]["support"] > 0


def test_agrees_with_torchmetrics_when_every_class_is_in_the_truth(tmp_path: Path, cli) -> None:
    """Where the definitions coincide (no class missing from the ground truth) torchmetrics gives the same numbers."""
    import torch
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

    seed = secrets.randbits(32)
    k = 5
    pairs = random_folders(tmp_path, seed, k, n=6, absent=None, pred_only=None)
    code, out, err = cli(
        "score",
        "segmentation",
        "--gt",
        str(tmp_path / "gt"),
        "--pred",
        str(tmp_path / "pred"),
        "--num-classes",
        str(k),
        "--json",
    )
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    target = torch.from_numpy(np.concatenate([t.ravel() for t, _ in pairs]))
    preds = torch.from_numpy(np.concatenate([p.ravel() for _, p in pairs]))
    assert set(target[target != IGNORE].unique().tolist()) == set(range(k)), f"seed={seed}"
    jaccard = MulticlassJaccardIndex(num_classes=k, average="macro", ignore_index=IGNORE)(preds, target)
    micro = MulticlassAccuracy(num_classes=k, average="micro", ignore_index=IGNORE)(preds, target)
    macro = MulticlassAccuracy(num_classes=k, average="macro", ignore_index=IGNORE)(preds, target)
    assert metrics["miou"] == pytest.approx(float(jaccard), abs=1e-6), f"seed={seed}"
    assert metrics["pixel_accuracy"] == pytest.approx(float(micro), abs=1e-6), f"seed={seed}"
    assert metrics["mean_accuracy"] == pytest.approx(float(macro), abs=1e-6), f"seed={seed}"


def test_plain_output_prints_one_line_per_metric(tmp_path: Path, cli) -> None:
    random_folders(tmp_path, 3, 3, n=2, absent=None, pred_only=None)
    code, out, _ = cli(
        "score",
        "segmentation",
        "--gt",
        str(tmp_path / "gt"),
        "--pred",
        str(tmp_path / "pred"),
        "--num-classes",
        "3",
    )
    assert code == 0
    assert out.splitlines()[0].split()[0] == "pixel_accuracy"
    assert any(line.startswith("iou/2") for line in out.splitlines())


def _two_folders(tmp_path: Path, shape=(6, 8)) -> tuple[Path, Path]:
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    for name in ("a", "b"):
        save_label_png(gt / f"{name}.png", np.zeros(shape))
        save_label_png(pred / f"{name}.png", np.ones(shape))
    return gt, pred


def _break(gt: Path, pred: Path, how: str) -> str:
    """Spoil one file in the way named; returns the file name the error must mention."""
    if how == "missing prediction":
        (pred / "b.png").unlink()
        return "b.png"
    if how == "extra prediction":
        save_label_png(pred / "zz_extra.png", np.zeros((6, 8)))
        return "zz_extra.png"
    if how == "size mismatch":
        save_label_png(pred / "b.png", np.zeros((5, 8)))
        return "b.png"
    if how == "truth out of range":
        bad = np.zeros((6, 8))
        bad[2, 3] = 7
        save_label_png(gt / "a.png", bad)
        return "a.png"
    if how == "prediction out of range":
        bad = np.zeros((6, 8))
        bad[0, 0] = IGNORE  # ignore is a ground-truth marker, not a prediction
        save_label_png(pred / "a.png", bad)
        return "a.png"
    if how == "unreadable truth":
        (gt / "b.png").write_bytes(b"not a png at all")
        return "b.png"
    if how == "unreadable prediction":
        (pred / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        return "a.png"
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "missing prediction",
        "extra prediction",
        "size mismatch",
        "truth out of range",
        "prediction out of range",
        "unreadable truth",
        "unreadable prediction",
    ],
)
def test_bad_inputs_exit_2_with_one_line_naming_the_file(tmp_path: Path, cli, how: str) -> None:
    gt, pred = _two_folders(tmp_path)
    name = _break(gt, pred, how)
    code, out, err = cli(
        "score", "segmentation", "--gt", str(gt), "--pred", str(pred), "--num-classes", "3", "--json"
    )
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert name in err and "Traceback" not in err


def test_class_names_file_with_the_wrong_count_names_it(tmp_path: Path, cli) -> None:
    gt, pred = _two_folders(tmp_path)
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n")
    code, _, err = cli(
        "score",
        "segmentation",
        "--gt",
        str(gt),
        "--pred",
        str(pred),
        "--num-classes",
        "3",
        "--class-names",
        str(names),
    )
    assert code == 2 and "names.txt" in err and len(err.strip().splitlines()) == 1


def test_ignore_index_inside_the_class_range_is_refused(tmp_path: Path, cli) -> None:
    gt, pred = _two_folders(tmp_path)
    code, _, err = cli(
        "score",
        "segmentation",
        "--gt",
        str(gt),
        "--pred",
        str(pred),
        "--num-classes",
        "3",
        "--ignore-index",
        "1",
    )
    assert code == 2 and "ignore_index" in err
