"""The segmentation zoo: catalogue, committed weights and manifest, held-out mIoU, and the trainer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from visionbench.harness.runner import execute
from visionbench.harness.specs import TASK_ALIASES, RunSpec, parse_model_spec, parse_task_spec
from visionbench.zoo import catalog
from visionbench.zoo.catalog import ZOO, get_entry, load_model, weights_path, weights_sha256
from visionbench.zoo.train_segmentation import (
    SEGMENTATION_RECIPES,
    evaluate,
    main,
    scene_arrays,
    to_model_input,
)

SEGMENTERS = sorted(name for name, entry in ZOO.items() if entry.kind == "segmentation")
MAX_WEIGHT_BYTES = 2 * 1024 * 1024


def manifest() -> dict:
    return json.loads((catalog.WEIGHTS_DIR / catalog.MANIFEST_NAME).read_text(encoding="utf-8"))["models"]


def test_catalogue_entries() -> None:
    from visionbench.tasks.data.shapes import CLASSES

    assert SEGMENTERS == ["shapes-fcn", "shapes-unet"]
    assert set(SEGMENTERS) == set(SEGMENTATION_RECIPES)
    for name in SEGMENTERS:
        entry = get_entry(name)
        assert entry.dataset == "shapes-segmentation" and TASK_ALIASES[entry.dataset] == "segmentation:shapes"
        assert entry.classes == ("background", *CLASSES)
        assert entry.preprocess["size"] == [128, 128] and "crop" not in entry.preprocess


@pytest.mark.parametrize("name", SEGMENTERS)
def test_weights_are_small_and_match_the_manifest(name: str) -> None:
    record = manifest()[name]
    path = weights_path(name)
    assert path.stat().st_size < MAX_WEIGHT_BYTES
    assert record["sha256"] == weights_sha256(name) and record["bytes"] == path.stat().st_size
    assert record["kind"] == "segmentation" and record["dataset"] == "shapes-segmentation"
    model = load_model(name)
    assert all(t.dtype == torch.float32 for t in model.state_dict().values() if t.is_floating_point())
    assert model(torch.zeros(2, 3, 128, 128)).shape == (2, 6, 128, 128)


def test_the_unet_is_good_and_the_fcn_weaker() -> None:
    records = manifest()
    assert records["shapes-unet"]["test_miou"] > 0.6
    assert records["shapes-fcn"]["test_miou"] < records["shapes-unet"]["test_miou"] - 0.1
    assert get_entry("shapes-unet").metrics["miou"] == pytest.approx(
        records["shapes-unet"]["test_miou"], abs=1e-4
    )


@pytest.mark.slow
def test_the_unet_scores_the_held_out_split_through_the_harness(tmp_path: Path) -> None:
    """Evaluated like any model (adapter preprocessing, bilinear upsampling), on all 300 held-out scenes."""
    spec = RunSpec(
        parse_model_spec("zoo:shapes-unet"), parse_task_spec("shapes-segmentation"), "cpu", batch_size=50
    )
    record = execute(spec, output=tmp_path, track=False, quiet=True, bootstrap_reps=100).record
    assert record["task"]["num_samples"] == 300
    assert record["metrics"]["miou"] > 0.6
    assert record["metrics"]["miou"] == pytest.approx(manifest()["shapes-unet"]["test_miou"], abs=1e-4)
    assert record["metrics"]["miou_ci_low"] <= record["metrics"]["miou"] <= record["metrics"]["miou_ci_high"]


def test_trainer_input_matches_the_adapter_preprocessing() -> None:
    from PIL import Image

    from visionbench.adapters.pixels import normalize_tensor
    from visionbench.contracts import ModelSpec
    from visionbench.registry import build_adapter

    images, _ = scene_arrays("test", 2)
    adapter = build_adapter(ModelSpec.create("zoo:shapes-unet"), "segmentation")
    transform = adapter.transform()
    pre = get_entry("shapes-unet").preprocess
    x01 = torch.stack([transform(Image.fromarray(im)) for im in images])
    expected = normalize_tensor(x01, pre["mean"], pre["std"])  # the forward normalises the worker's pixels
    got = to_model_input(images, get_entry("shapes-unet").preprocess)
    assert torch.allclose(got, expected, atol=1e-6)


def test_demo_plan_runs_the_segmenters_on_shapes() -> None:
    from visionbench.harness.demo import demo_plan

    plan = dict(demo_plan())
    for name in SEGMENTERS:
        assert plan[f"zoo:{name}"] == "segmentation:shapes"


def test_trainer_cli_merges_into_the_manifest(tmp_path: Path, capsys) -> None:
    other = {"name": "someone-else", "kind": "detection", "file": "someone-else.pt"}
    (tmp_path / catalog.MANIFEST_NAME).write_text(
        json.dumps({"schema_version": 1, "models": {"someone-else": other}})
    )
    code = main(
        [
            "--only",
            "shapes-fcn",
            "--epochs",
            "1",
            "--train-images",
            "16",
            "--test-images",
            "8",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    assert "shapes-fcn" in capsys.readouterr().out
    models = json.loads((tmp_path / catalog.MANIFEST_NAME).read_text())["models"]
    assert models["someone-else"] == other
    record = models["shapes-fcn"]
    assert record["train_samples"] == 16 and record["test_samples"] == 8 and record["epochs"] == 1
    assert 0.0 <= record["test_miou"] <= 1.0 and set(record["test_iou"]) == set(
        get_entry("shapes-fcn").classes
    )
    model = get_entry("shapes-fcn").build()
    model.load_state_dict(torch.load(tmp_path / "shapes-fcn.pt", weights_only=True))
    images, masks = scene_arrays("test", 8)
    figures = evaluate(
        model.eval(),
        to_model_input(images, get_entry("shapes-fcn").preprocess),
        masks,
        get_entry("shapes-fcn").classes,
    )
    assert figures["miou"] == pytest.approx(record["test_miou"], abs=1e-6)
    assert main(["--epochs", "0"]) == 2


def test_training_is_reproducible(tmp_path: Path) -> None:
    args = ["--only", "shapes-fcn", "--epochs", "1", "--train-images", "16", "--test-images", "4", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a = torch.load(tmp_path / "a" / "shapes-fcn.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "shapes-fcn.pt", weights_only=True)
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
