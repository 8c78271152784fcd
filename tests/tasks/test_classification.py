"""Classification datasets, metric policies and end-to-end runs on real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vbtest_data import write_image_folder

from visionbench.errors import DataError
from visionbench.tasks.classification_metrics import classification_metrics, fast_headline, to_probabilities
from visionbench.tasks.data.files import csv_manifest, image_folder

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def test_image_folder_and_manifest_agree(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "data", n_per_class=3, classes=("0", "1", "2"))
    folder = image_folder(root)
    assert folder.classes == ("0", "1", "2") and len(folder) == 9
    lines = ["path,label"] + [f"{p.relative_to(root)},{folder.classes[y]}" for p, y in folder.items]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    manifest = csv_manifest(root / "manifest.csv")
    assert manifest.classes == folder.classes
    assert [s for s in (manifest.load(i).target for i in range(9))] == [
        folder.load(i).target for i in range(9)
    ]
    assert manifest.load(0).image.size == (8, 8)


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "data", n_per_class=2, classes=("0", "1"))
    before = image_folder(root).fingerprint()
    assert image_folder(root).fingerprint() == before
    first = sorted((root / "0").iterdir())[0]
    first.write_bytes(first.read_bytes()[:-4] + b"\x00\x00\x00\x01")
    assert image_folder(root).fingerprint() != before


def test_manifest_errors_name_the_row(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,label\nmissing.png,cat\n")
    with pytest.raises(DataError, match="missing.png"):
        csv_manifest(tmp_path / "m.csv")
    (tmp_path / "bad.csv").write_text("file,class\na.png,cat\n")
    with pytest.raises(DataError, match="'path' and 'label'"):
        csv_manifest(tmp_path / "bad.csv")


def test_edge_case_policies() -> None:
    # class 3 is absent from truth and prediction; class 2 is never predicted
    y = np.array([0, 0, 1, 1, 2])
    scores = np.eye(4)[[0, 1, 1, 1, 0]] * 5.0
    metrics, per_class, cm = classification_metrics(y, ["a", "b", "c", "d"], scores=scores)
    assert np.isnan(per_class["d"]["f1"])
    assert per_class["c"]["f1"] == 0.0 and per_class["c"]["support"] == 1
    # macro over the three classes present (sklearn's label set): a 1/2, b 4/5, c 0
    assert metrics["f1_macro"] == pytest.approx((0.5 + 0.8 + 0) / 3)
    assert cm.shape == (4, 4) and cm[2, 0] == 1
    assert fast_headline(y, scores.argmax(1), 4)["f1_macro"] == pytest.approx(metrics["f1_macro"])
    assert 0.0 <= metrics["ece"] <= 1.0
    assert metrics["top5"] == 1.0  # four classes: top-5 covers all


def test_probabilities_kept_logits_softmaxed() -> None:
    probs = np.array([[0.2, 0.8], [0.5, 0.5]])
    assert to_probabilities(probs) is not None and np.allclose(to_probabilities(probs), probs)
    logits = np.array([[0.0, 2.0]])
    assert np.allclose(to_probabilities(logits).sum(1), 1.0) and to_probabilities(logits)[0, 1] > 0.8
    with pytest.raises(DataError, match="row 0"):
        to_probabilities(np.array([[np.nan, 1.0]]))


def test_digits_run_end_to_end(workdir: Path, cli) -> None:
    code, out, err = cli("run", "--model", "zoo:digits-cnn", "--task", "digits", "--json", "--no-track")
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "classification:digits"
    assert result["metrics"]["top1"] > 0.95
    assert result["efficiency"]["throughput_ips"] > 0 and result["efficiency"]["params_m"] > 0


@pytest.mark.slow
def test_fashion_mnist_test_split_end_to_end(workdir: Path, cli) -> None:
    if not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not installed at {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
    code, out, err = cli(
        "run", "--model", "zoo:fashion-cnn", "--task", "fashion-mnist", "--json", "--batch-size", "256"
    )
    assert code == 0, err
    result = json.loads(out)
    record = json.loads(Path(result["record"]).read_text())
    assert record["task"]["num_samples"] == 10_000
    assert record["task"]["classes"][0] == "T-shirt/top"
    assert result["metrics"]["top1"] > 0.85
    assert result["tracking"]["status"] == "logged"
