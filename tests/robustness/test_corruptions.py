"""The corruption grid: mCE against a second zoo model by hand, the small-image policy, detection and segmentation."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from visionbench.robustness.corruptions import corrupt_image


def test_small_images_keep_size_and_mode_and_replay_with_a_seed(test_seed) -> None:
    rng = np.random.default_rng(test_seed)
    grey = Image.fromarray(rng.integers(0, 256, size=(8, 8), dtype=np.uint8), "L")
    colour = Image.fromarray(rng.integers(0, 256, size=(20, 12, 3), dtype=np.uint8), "RGB")
    for image in (grey, colour):
        for name in ("gaussian_noise", "impulse_noise", "motion_blur", "fog", "jpeg_compression"):
            a = corrupt_image(image, name, 3, 1234 + test_seed)
            b = corrupt_image(image, name, 3, 1234 + test_seed)
            assert a.size == image.size and a.mode == image.mode
            assert np.array_equal(np.asarray(a), np.asarray(b)), name
    state = np.random.get_state()[1].copy()
    corrupt_image(grey, "shot_noise", 2, 7)
    assert np.array_equal(np.random.get_state()[1], state), "numpy's global RNG is restored"
    noisy = [np.asarray(corrupt_image(grey, "gaussian_noise", 5, s)) for s in (1, 2)]
    assert not np.array_equal(*noisy)


def test_upsample_policy_equals_the_package_on_the_upsampled_image(test_seed) -> None:
    """8x8 grey: bilinear x4 to 32x32, imagecorruptions, box filter back to 8x8, luma (the documented policy)."""
    from imagecorruptions import corrupt

    rng = np.random.default_rng(test_seed)
    grey = Image.fromarray(rng.integers(0, 256, size=(8, 8), dtype=np.uint8), "L")
    up = np.asarray(grey.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR))
    np.random.seed(99)
    done = Image.fromarray(np.uint8(corrupt(up, corruption_name="contrast", severity=4)))
    expected = done.resize((8, 8), Image.Resampling.BOX).convert("L")
    assert np.array_equal(np.asarray(corrupt_image(grey, "contrast", 4, 99)), np.asarray(expected))


def test_mce_against_a_second_zoo_model_equals_a_hand_computation(tmp_path, test_seed) -> None:
    from rb_helpers import run_robustness

    kinds, severities = ("gaussian_noise", "contrast", "pixelate", "fog"), (1, 3, 5)
    outcome = run_robustness(
        "zoo:digits-cnn",
        f"robustness:digits?attacks=none&n=90&corruptions={','.join(kinds)}&severities=1,3,5"
        f"&baseline=zoo:digits-linear&seed={test_seed}",
        tmp_path,
    )
    metrics = outcome.record["metrics"]
    frame = pd.read_parquet(outcome.directory / "predictions.parquet")
    clean_err = 1 - frame["clean_correct"].mean()
    base_clean_err = 1 - frame["baseline/clean"].mean()
    ce, rel = [], []
    for kind in kinds:
        err = [1 - frame[f"corrupt/{kind}/{s}"].mean() for s in severities]
        base = [1 - frame[f"baseline/{kind}/{s}"].mean() for s in severities]
        for s, e in zip(severities, err, strict=True):
            assert metrics[f"corrupt_top1/{kind}/{s}"] == pytest.approx(1 - e, abs=1e-12)
        ce.append(sum(err) / sum(base))
        gap = sum(b - base_clean_err for b in base)  # a type the baseline is not hurt by has no ratio
        if gap:
            rel.append(sum(e - clean_err for e in err) / gap)
    print("CE per type", dict(zip(kinds, ce, strict=True)), "relative", rel)
    assert metrics["mce"] == pytest.approx(float(np.mean(ce)), abs=1e-12)
    assert rel and metrics["relative_mce"] == pytest.approx(float(np.mean(rel)), abs=1e-12)
    cells = [1 - e for kind in kinds for e in [1 - frame[f"corrupt/{kind}/{s}"].mean() for s in severities]]
    assert metrics["mpc"] == pytest.approx(np.mean(cells)) and metrics["rpc"] == pytest.approx(
        np.mean(cells) / metrics["clean_top1"]
    )
    assert metrics["corrupt_top1/contrast/5"] < metrics["clean_top1"]  # the grid does bite
    scoring = outcome.record["task"]["scoring"]
    assert (
        scoring["corruption_policy"]["min_side"] == 32
        and "bilinear" in scoring["corruption_policy"]["upsample"]
    )
    assert (outcome.directory / "corruption_heatmap.png").is_file()
    grid = pd.read_csv(outcome.directory / "corruption_grid.csv", index_col=0)
    assert grid.loc["contrast", "severity 5"] == pytest.approx(metrics["corrupt_top1/contrast/5"], abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "task", "key"),
    [
        ("zoo:shapes-centernet-tiny", "detection:shapes", "map"),
        ("zoo:shapes-fcn", "segmentation:shapes", "miou"),
    ],
)
def test_grid_on_a_zoo_detector_and_segmenter(model, task, key, tmp_path, test_seed) -> None:
    if key == "map":  # the Python API
        from visionbench.robustness.grid import run_grid

        summary = run_grid(model, task, corruptions=("gaussian_noise", "fog"), severities=(1, 5),
                           output=tmp_path, seed=test_seed, limit=12)  # fmt: skip
    else:  # the command line, as a whole process
        done = subprocess.run(
            [sys.executable, "-m", "visionbench", "corruption-grid", "--model", model, "--task", task,
             "--corruptions", "gaussian_noise,fog", "--severities", "1,5", "--limit", "12",
             "--seed", str(test_seed), "--output", str(tmp_path), "--no-track", "--json"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
    metrics = summary["metrics"]
    cells = {k: v for k, v in metrics.items() if k.startswith(f"corrupt_{key}/")}
    assert sorted(cells) == sorted(
        f"corrupt_{key}/{c}/{s}" for c in ("gaussian_noise", "fog") for s in (1, 5)
    )
    # each cell is an ordinary run folder on the corrupted images: read the values back from the records
    records = [json.loads(p.read_text()) for p in Path(tmp_path).rglob("record.json")]
    by_dataset = {r["task"]["dataset"]: r["metrics"][key] for r in records}
    for cell, value in cells.items():
        _, corruption, severity = cell.split("/")
        assert [v for name, v in by_dataset.items() if name.endswith(f"+{corruption}-{severity}")] == [value]
    assert metrics["mpc"] == pytest.approx(np.mean(list(cells.values())))
    assert math.isclose(metrics["rpc"], metrics["mpc"] / metrics[key])
    assert Path(summary["files"]["heatmap"]).is_file()
