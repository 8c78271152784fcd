"""The detection zoo: catalogue entries, committed weights and manifest, end-to-end runs, the trainer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from visionbench.harness.specs import TASK_ALIASES
from visionbench.tasks.data.shapes import CLASSES
from visionbench.zoo import catalog, train_detection
from visionbench.zoo.catalog import ZOO, load_model, weights_path, weights_sha256
from visionbench.zoo.detection_models import STRIDE, decode

DETECTORS = sorted(name for name, entry in ZOO.items() if entry.kind == "detection")
MANIFEST = json.loads((catalog.WEIGHTS_DIR / catalog.MANIFEST_NAME).read_text(encoding="utf-8"))["models"]


def test_entries_weights_and_manifest():
    assert DETECTORS == ["shapes-centernet", "shapes-centernet-tiny"]
    for name in DETECTORS:
        entry = ZOO[name]
        assert entry.dataset == "shapes-detection" and TASK_ALIASES[entry.dataset] == "detection:shapes"
        assert entry.classes == CLASSES
        path = weights_path(name)
        assert path.is_file() and path.stat().st_size < 2 * 1024 * 1024
        record = MANIFEST[name]
        assert record["sha256"] == weights_sha256(name) and record["kind"] == "detection"
        assert record["seed"] == 0 and record["train_seconds"] > 0
        assert entry.metrics["map"] == pytest.approx(record["test_map"], abs=5e-5)
    assert MANIFEST["shapes-centernet"]["test_map"] > 0.5
    assert MANIFEST["shapes-centernet-tiny"]["test_map"] < MANIFEST["shapes-centernet"]["test_map"]
    assert any(r["kind"] == "classification" for r in MANIFEST.values())  # merged, not clobbered


def test_decode_returns_the_box_at_a_peak():
    out = torch.full((1, 5 + 4, 8, 8), -10.0)
    out[0, 2, 3, 5] = 4.0  # class 2 peak at cell (x=5, y=3): centre (22, 14) in input pixels
    edges = torch.tensor([3.0, 4.0, 5.0, 6.0])
    out[0, 5:, 3, 5] = torch.log(torch.expm1(edges / 16.0))  # inverse of softplus * 16
    det = decode(out, 5)[0]
    assert det["labels"][0] == 2 and det["scores"][0] == pytest.approx(
        torch.sigmoid(torch.tensor(4.0)).item()
    )
    cx, cy = 5.5 * STRIDE, 3.5 * STRIDE
    torch.testing.assert_close(det["boxes"][0], torch.tensor([cx - 3, cy - 4, cx + 5, cy + 6]))
    assert len(det["boxes"]) == 1  # sigmoid(-10) is below the score floor


def test_zoo_detectors_run_end_to_end_ranked_and_logged(workdir, cli):
    import mlflow

    maps = {}
    for name in DETECTORS:
        code, out, err = cli(
            "run", "--model", f"zoo:{name}", "--task", "shapes-detection", "--json", "--bootstrap", "50"
        )
        assert code == 0, err
        payload = json.loads(out)
        maps[name] = payload["metrics"]["map"]
        assert maps[name] == pytest.approx(
            MANIFEST[name]["test_map"], abs=2e-3
        )  # the trainer's figure, via the adapter
        assert payload["metrics"]["map_ci_low"] <= maps[name] <= payload["metrics"]["map_ci_high"]
        client = mlflow.MlflowClient(tracking_uri=payload["tracking"]["uri"])
        artifacts = {a.path for a in client.list_artifacts(payload["tracking"]["run_id"])}
        assert {"pr_curves.png", "pr_curves.json", "detections.json", "predictions.parquet"} <= artifacts
        assert client.get_run(payload["tracking"]["run_id"]).data.metrics["map"] == pytest.approx(maps[name])
    assert maps["shapes-centernet"] > 0.5 and maps["shapes-centernet"] > maps["shapes-centernet-tiny"]


def test_zoo_detector_on_a_differently_sized_coco_dataset_maps_boxes_back(workdir, cli):
    """Images of another size are resized for the model and boxes scaled back to original pixels."""
    from visionbench.tasks.data.shapes import ShapesDataset
    from visionbench.tasks.data.shapes_export import export

    gt = export(ShapesDataset("test", n=16, size=(192, 160)), workdir / "big") / "instances.json"
    code, out, err = cli(
        "run", "--model", "zoo:shapes-centernet", "--task", f"detection:coco:{gt}", "--json", "--no-track"
    )
    assert code == 0, err
    assert json.loads(out)["metrics"]["map_50"] > 0.5


def test_classifier_is_not_a_detector(workdir, cli):
    code, _, err = cli("run", "--model", "zoo:digits-cnn", "--task", "shapes-detection", "--no-track")
    assert code == 2 and "not a detector" in err


def test_loaded_model_matches_the_committed_weights():
    model = load_model("shapes-centernet-tiny")
    assert (
        not model.training
        and sum(p.numel() for p in model.parameters()) == MANIFEST["shapes-centernet-tiny"]["params"]
    )


def test_trainer_is_seeded_and_merges_the_manifest(tmp_path, monkeypatch):
    name = "shapes-centernet-tiny"
    small = dataclasses.replace(
        train_detection.DETECTION_RECIPES[name], epochs=1, train_images=24, test_images=6
    )
    monkeypatch.setitem(train_detection.DETECTION_RECIPES, name, small)
    (tmp_path / catalog.MANIFEST_NAME).write_text(
        json.dumps({"schema_version": 1, "models": {"digits-cnn": {"name": "digits-cnn"}}})
    )
    assert train_detection.main(["--only", name, "--out", str(tmp_path), "--quiet"]) == 0
    manifest = json.loads((tmp_path / catalog.MANIFEST_NAME).read_text())["models"]
    assert set(manifest) == {"digits-cnn", name}
    record = manifest[name]
    assert record["epochs"] == 1 and record["train_samples"] == 24 and record["test_samples"] == 6
    first = torch.load(tmp_path / f"{name}.pt", weights_only=True)
    model, _ = train_detection.fit_detector(name)
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, first[key]), key  # same seed, same weights
    assert train_detection.main(["--only", name, "--epochs", "0", "--out", str(tmp_path)]) == 2


def test_targets_follow_the_flips():
    import numpy as np

    boxes = [np.array([[10.0, 20.0, 30.0, 50.0]], dtype=np.float32)]
    heat, reg, weight = (
        torch.from_numpy(a) for a in train_detection.build_targets(boxes, [np.array([3])], 5)
    )
    x = torch.zeros(1, 3, 128, 128)
    for op in range(8):
        _, h, r, w = train_detection.dihedral(x, heat, reg, weight, op)
        peak = (h[0, 3] == 1).nonzero()[0]
        cy, cx = (peak.double() + 0.5) * STRIDE
        left, top, right, bottom = r[0, :, peak[0], peak[1]].double()
        box = (
            sorted(((cx - left).item(), (cx + right).item())),
            sorted(((cy - top).item(), (cy + bottom).item())),
        )
        widths = {box[0][1] - box[0][0], box[1][1] - box[1][0]}
        assert widths == {20.0, 30.0}, op  # the flipped/transposed box keeps its size


def test_weights_dir_has_no_stray_detection_files():
    names = {p.name for p in Path(catalog.WEIGHTS_DIR).glob("shapes-centernet*")}
    assert names == {f"{n}.pt" for n in DETECTORS}
