"""``plan-gate --write`` saves a stratified, seeded CI subset that ``run --task KIND:subset:FILE`` evaluates.

Randomised tests print their seed; ``VB_TEST_SEED=<seed>`` replays one."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from visionbench.harness.subsets import allocate, stratified_positions


def test_every_stratum_gets_its_share_within_rounding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = {"a": 3, "b": 50, "c": 120, "d": 7, "e": 1, "f": 40, "g": 79}
    labels = [name for name, size in sizes.items() for _ in range(size)]
    labels = [labels[i] for i in rng.permutation(len(labels))]
    total = len(labels)
    for n in (1, 17, 100, 211, total):
        positions = stratified_positions(labels, n, seed)
        assert len(positions) == n == len(set(positions.tolist()))
        got = Counter(labels[p] for p in positions)
        for name, size in sizes.items():
            share = n * size / total
            assert math.floor(share) <= got[name] <= math.ceil(share), (n, name, got[name], share)
        assert allocate(labels, n, seed) == {name: got[name] for name in sorted(sizes)}
        assert np.array_equal(positions, stratified_positions(labels, n, seed))  # seeded: reproducible
    assert not np.array_equal(
        stratified_positions(labels, 100, seed), stratified_positions(labels, 100, seed + 1)
    )


def _run(cli, *args: str) -> dict:
    code, out, err = cli("run", "--no-track", "--quiet", "--json", "--bootstrap", "0", *args)
    assert code == 0, err
    return json.loads(out)


def test_plan_gate_writes_a_stratified_subset_that_run_evaluates(workdir: Path, cli) -> None:
    import pandas as pd

    from visionbench.tasks.data.digits import load_digits_split

    full = _run(cli, "--task", "digits", "--model", "zoo:digits-mlp")
    run_dir = str(Path(full["record"]).parent)
    code, out, err = cli(
        "plan-gate", run_dir, "--drop", "0.05", "--margin", "0.01", "--seed", "7", "--write", "plan.json"
    )
    assert code == 0, err
    plan = json.loads(Path("plan.json").read_text())
    n = plan["samples_needed"]
    assert plan["task_spec"] == "classification:subset:plan.json" and plan["task_spec"] in out
    # class proportions: the dataset's own labels, every class within rounding of its full-set share
    _, labels = load_digits_split("test")
    full_counts = Counter(int(y) for y in labels)
    chosen = [s["index"] for s in plan["samples"]]
    assert len(chosen) == n == len(set(chosen))
    got = Counter(int(labels[i]) for i in chosen)
    for c, size in full_counts.items():
        share = n * size / len(labels)
        assert math.floor(share) <= got[c] <= math.ceil(share), (c, got[c], share)
    # reproducible with the seed, different with another
    cli(
        "plan-gate",
        run_dir,
        "--drop",
        "0.05",
        "--margin",
        "0.01",
        "--seed",
        "7",
        "--json",
        "--write",
        "again.json",
    )
    assert json.loads(Path("again.json").read_text())["samples"] == plan["samples"]
    cli("plan-gate", run_dir, "--drop", "0.05", "--margin", "0.01", "--seed", "8", "--write", "other.json")
    assert json.loads(Path("other.json").read_text())["samples"] != plan["samples"]
    # run evaluates exactly those samples: same ids, and the top-1 of the full run restricted to them
    sub = _run(cli, "--task", plan["task_spec"], "--model", "zoo:digits-mlp")
    per_sample = pd.read_parquet(Path(sub["record"]).parent / "predictions.parquet")
    assert sorted(per_sample["sample_id"]) == sorted(s["sample_id"] for s in plan["samples"])
    whole = pd.read_parquet(Path(full["record"]).parent / "predictions.parquet").set_index("sample_id")
    expected = whole.loc[[s["sample_id"] for s in plan["samples"]], "correct"].mean()
    assert sub["metrics"]["top1"] == pytest.approx(expected, abs=1e-12)
    # two runs of the subset pair up in the gate
    code, out, err = cli(
        "gate", "--baseline", str(Path(sub["record"]).parent), "--candidate", str(Path(sub["record"]).parent)
    )
    assert code == 0 and f"({n} paired samples" in out, out + err
    # a manifest whose listed id is not the dataset's sample is bad input naming the manifest
    plan["samples"][3]["sample_id"] = "not-a-digit"
    Path("bad.json").write_text(json.dumps(plan))
    code, _, err = cli(
        "run",
        "--no-track",
        "--quiet",
        "--task",
        "classification:subset:bad.json",
        "--model",
        "zoo:digits-mlp",
    )
    assert code == 2 and "subset manifest bad.json" in err and "not-a-digit" in err


def test_detection_and_segmentation_strata_come_from_the_ground_truth(tmp_path: Path) -> None:
    from PIL import Image

    from visionbench.harness import scoring_runs
    from visionbench.harness.subsets import sample_strata

    categories = [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]
    box = {"bbox": [1.0, 1.0, 10.0, 10.0], "area": 100.0}
    per_image = [[3], [7, 7, 3], [3, 7], [], [7] * 9, [3, 3, 3, 3, 7]]
    images = [
        {"id": i + 1, "file_name": f"{i}.png", "width": 50, "height": 50} for i in range(len(per_image))
    ]
    annotations = [
        {**box, "id": len(per_image) * i + j + 1, "image_id": i + 1, "category_id": c, "iscrowd": 0}
        for i, cats in enumerate(per_image)
        for j, c in enumerate(cats)
    ]
    annotations.append(
        {**box, "id": 999, "image_id": 1, "category_id": 7, "iscrowd": 1}
    )  # crowd: not counted
    (tmp_path / "gt.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    dets = [{"image_id": 1, "category_id": 3, "bbox": [1.0, 1.0, 10.0, 10.0], "score": 0.9}]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    task, _ = scoring_runs.detection_task(tmp_path / "gt.json", tmp_path / "dets.json")
    labels, _ = sample_strata(task)
    assert labels == ["cat/1", "dog/2-3", "cat/2-3", "none", "dog/8+", "cat/4-7"]

    for name in ("gt", "pred"):
        (tmp_path / name).mkdir()
    truths = [np.zeros((4, 4)), np.array([[0, 2], [2, 255]]), np.full((3, 3), 255)]
    for i, t in enumerate(truths):
        Image.fromarray(t.astype(np.uint8)).save(tmp_path / "gt" / f"{i}.png")
        Image.fromarray(np.ones_like(t, dtype=np.uint8)).save(tmp_path / "pred" / f"{i}.png")
    task, _ = scoring_runs.segmentation_task(
        tmp_path / "gt", tmp_path / "pred", num_classes=3, ignore_index=255, class_names=None
    )
    labels, _ = sample_strata(task)
    assert labels == ["0", "0+2", "none"]  # predictions (all class 1) never decide a stratum
