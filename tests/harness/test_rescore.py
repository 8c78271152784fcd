"""`visionbench rescore`: the same metrics from the stored state, with the model and the images unavailable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

RUNS = {
    "classification": ("zoo:digits-mlp", "digits", 200),
    "detection": ("zoo:shapes-centernet-tiny", "detection:shapes?n=24", None),
    "segmentation": ("zoo:shapes-fcn", "segmentation:shapes?n=24", None),
}


def _run(cli, model: str, task: str, limit: int | None, output: str = "out") -> dict:
    args = ["run", "--model", model, "--task", task, "--json", "--no-track", "--output", output]
    args += ["--bootstrap", "200"] + (["--limit", str(limit)] if limit else [])
    code, out, err = cli(*args)
    assert code == 0, err
    return json.loads(out)


def _make_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way to reach a model or an image raises from here on."""
    import visionbench.registry as registry
    import visionbench.zoo.catalog as catalog
    from visionbench.tasks.data import files

    def boom(*args, **kwargs):
        raise AssertionError("rescore touched the model or the dataset")

    monkeypatch.setattr(registry, "dataset_factory", boom)
    monkeypatch.setattr(registry, "build_adapter", boom)
    monkeypatch.setattr(catalog, "load_model", boom)
    monkeypatch.setattr(files.ArrayClassificationDataset, "load", boom)


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_rescore_equals_the_run(kind: str, workdir: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    model, task, limit = RUNS[kind]
    original = _run(cli, model, task, limit)
    run_dir = Path(original["record"]).parent
    _make_unavailable(monkeypatch)
    code, out, err = cli("rescore", str(run_dir), "--json")
    assert code == 0, err
    rescored = json.loads(out)["metrics"]
    assert rescored.keys() == original["metrics"].keys()
    for key, value in original["metrics"].items():
        assert rescored[key] == value or (value is None and rescored[key] is None), key


def _chunk(run_dir: Path) -> Path:
    record = json.loads((run_dir / "record.json").read_text())
    store = (run_dir / record["state"]["path"]).resolve()
    (chunk,) = sorted(store.glob("chunk-*.parquet"))
    return chunk


def test_perturbed_classification_sample_changes_top1_by_hand(workdir: Path, cli) -> None:
    original = _run(cli, "zoo:digits-mlp", "digits", 200)
    run_dir = Path(original["record"]).parent
    chunk = _chunk(run_dir)
    table = pq.read_table(chunk)
    scores = np.stack(table.column("scores").to_numpy(zero_copy_only=False))
    target = table.column("target").to_numpy()
    correct = scores.argmax(axis=1) == target
    flip = int(np.flatnonzero(correct)[0])
    # move the winning score to another class: this sample becomes wrong, nothing else changes
    wrong = (target[flip] + 1) % scores.shape[1]
    scores[flip, wrong] = scores[flip].max() + 10.0
    import pyarrow as pa

    column = pa.FixedSizeListArray.from_arrays(pa.array(scores.reshape(-1), pa.float32()), scores.shape[1])
    pq.write_table(table.set_column(table.schema.get_field_index("scores"), "scores", column), chunk)
    code, out, err = cli("rescore", str(run_dir), "--json")
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    expected = (correct.sum() - 1) / len(target)  # by hand: one fewer correct sample out of 200
    assert metrics["top1"] == pytest.approx(expected, abs=1e-15)
    assert original["metrics"]["top1"] == pytest.approx(correct.sum() / len(target), abs=1e-15)


def test_perturbed_segmentation_counts_change_pixel_accuracy_by_hand(workdir: Path, cli) -> None:
    original = _run(cli, "zoo:shapes-fcn", "segmentation:shapes?n=24", None)
    run_dir = Path(original["record"]).parent
    chunk = _chunk(run_dir)
    table = pq.read_table(chunk)
    cells = table.column("cells").to_pylist()
    counts = table.column("counts").to_pylist()
    k = len(json.loads((run_dir / "record.json").read_text())["task"]["classes"])
    total = sum(sum(c) for c in counts)
    correct = sum(
        n
        for cs, ns in zip(cells, counts, strict=True)
        for c, n in zip(cs, ns, strict=True)
        if c // k == c % k
    )
    # image 0: move 10 correctly classified pixels of its first diagonal cell to "predicted as the next class"
    image_cells, image_counts = list(cells[0]), list(counts[0])
    diag = next(i for i, c in enumerate(image_cells) if c // k == c % k and image_counts[i] >= 10)
    target = image_cells[diag] // k
    moved_to = target * k + (target + 1) % k
    image_counts[diag] -= 10
    if moved_to in image_cells:
        image_counts[image_cells.index(moved_to)] += 10
    else:
        image_cells.append(moved_to)
        image_counts.append(10)
    order = np.argsort(image_cells)
    cells[0] = [image_cells[i] for i in order]
    counts[0] = [image_counts[i] for i in order]
    import pyarrow as pa

    table = table.set_column(
        table.schema.get_field_index("cells"), "cells", pa.array(cells, pa.list_(pa.int64()))
    )
    table = table.set_column(
        table.schema.get_field_index("counts"), "counts", pa.array(counts, pa.list_(pa.int64()))
    )
    pq.write_table(table, chunk)
    code, out, err = cli("rescore", str(run_dir), "--json")
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    assert original["metrics"]["pixel_accuracy"] == pytest.approx(correct / total, abs=1e-15)
    assert metrics["pixel_accuracy"] == pytest.approx((correct - 10) / total, abs=1e-15)


def test_rescore_log_writes_a_new_run_and_moves_latest(workdir: Path, cli) -> None:
    original = _run(cli, "zoo:digits-mlp", "digits", 100)
    run_dir = Path(original["record"]).parent
    code, out, err = cli("rescore", str(run_dir), "--json", "--log", "--no-track")
    assert code == 0, err
    result = json.loads(out)
    new_dir = Path(result["record"]).parent
    assert new_dir != run_dir and new_dir.parent == run_dir.parent
    record = json.loads((new_dir / "record.json").read_text())
    assert record["rescored_from"] == str(run_dir)
    assert record["metrics"]["top1"] == original["metrics"]["top1"]
    index = json.loads((workdir / "out" / "index.json").read_text())
    latest = workdir / "out" / index["classification:digits | zoo:digits-mlp | fp32"]
    assert latest.resolve() == new_dir.resolve()


def test_rescore_of_a_folder_without_state_names_it(workdir: Path, cli) -> None:
    code, out, err = cli("rescore", str(workdir))
    assert code == 2
    assert str(workdir) in err and "record.json" in err
