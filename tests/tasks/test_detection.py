"""The detection task and ``score detection``: COCO parity through the CLI, datasets, edge cases, errors.

Randomised tests reuse the COCO test data generator (crowds, empty images, categories
without ground truth, >100 detections on one image) with a fresh seed each run;
``VB_TEST_SEED=<seed>`` replays one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_coco import _pycocotools, _stats, make_dataset

from visionbench.contracts import TaskSpec
from visionbench.tasks.coco import METRIC_KEYS, evaluate_coco

ORACLE = '''
import numpy as np
from visionbench.tasks.data.shapes import CLASSES, ShapesDataset

_SCENES = {}


def _scene_for(image):
    """Find the shapes test scene whose pixels are this image (the oracle knows the answers)."""
    key = image.tobytes()[:4096]
    if not _SCENES:
        for scene in ShapesDataset("test", n=40):
            _SCENES[np.asarray(scene.image).tobytes()[:4096]] = scene
    return _SCENES[key]


class Oracle:
    """Returns the ground truth of each shapes scene, optionally with masks, shifted boxes or a bad label."""

    def __init__(self, masks=False, shift=0.0, bad_label=None, named=True):
        self.masks, self.shift, self.bad_label = masks, shift, bad_label
        if named:
            self.visionbench_classes = CLASSES

    def __call__(self, images):
        out = []
        for image in images:
            scene = _scene_for(image)
            labels = scene.labels - (1 if hasattr(self, "visionbench_classes") else 0)
            if self.bad_label is not None:
                labels = np.full_like(labels, self.bad_label)
            det = {"boxes": scene.boxes + self.shift, "scores": np.linspace(0.9, 0.5, len(labels)), "labels": labels}
            if self.masks:
                det["masks"] = scene.masks
            out.append(det)
        return out


def build(**options):
    return Oracle(**options)
'''


@pytest.fixture
def oracle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "vb_oracle.py").write_text(ORACLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "callable:vb_oracle:build"


@pytest.fixture
def shapes_coco(tmp_path: Path) -> Path:
    """The first 6 shapes test scenes exported as COCO instances.json + images/."""
    from visionbench.tasks.data.shapes import ShapesDataset
    from visionbench.tasks.data.shapes_export import export

    return export(ShapesDataset("test", n=6), tmp_path / "shapes") / "instances.json"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("visionbench: error: ")
    return lines[0]


# ---------------------------------------------------------------- score detection: parity through the CLI


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.usefixtures("workdir")  # score writes a run folder under results/runs
def test_score_detection_cli_equals_pycocotools(tmp_path, cli, seed, iou_type):
    gt, bbox_dets, segm_dets = make_dataset(seed)
    dets = bbox_dets if iou_type == "bbox" else segm_dets
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    code, out, err = cli("score", "detection", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "dets.json"),
                         "--iou-type", iou_type, "--json")  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert payload["task"] == "detection"
    got = np.array([np.nan if payload["metrics"][k] is None else payload["metrics"][k] for k in METRIC_KEYS])
    reference = _stats(_pycocotools(gt, dets, iou_type))
    msg = f"seed={seed} iou_type={iou_type} (replay with VB_TEST_SEED={seed})"
    np.testing.assert_allclose(got, reference, rtol=0, atol=1e-9, equal_nan=True, err_msg=msg)
    no_gt = f"cat{gt['categories'][-1]['id']}"  # the generator's category without ground truth
    assert payload["metrics"][f"ap/{no_gt}"] is None, msg


@pytest.mark.usefixtures("workdir")  # score writes a run folder under results/runs
def test_score_detection_text_output_and_result(tmp_path, cli):
    from visionbench.harness.scoring_detection import score_detection

    gt, dets, _ = make_dataset(5)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    result = score_detection(tmp_path / "gt.json", tmp_path / "dets.json", iou_type="bbox")
    assert result["iou_type"] == "bbox" and result["num_images"] == len(gt["images"])
    assert list(result["metrics"])[:12] == list(METRIC_KEYS)
    code, out, _ = cli(
        "score", "detection", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "dets.json")
    )
    assert code == 0 and out.splitlines()[0].split()[0] == "map"


def _small_gt() -> dict:
    return {
        "images": [
            {"id": 1, "width": 50, "height": 40, "file_name": "a.png"},
            {"id": 2, "width": 50, "height": 40},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 10], "area": 100, "iscrowd": 0}
        ],
        "categories": [{"id": 7, "name": "thing"}],
    }


def _small_dets() -> list[dict]:
    return [{"image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 10], "score": 0.9}]


def _drop(key):
    return lambda d: d.pop(key)


@pytest.mark.parametrize(
    ("mutate_gt", "mutate_dets", "needles"),
    [
        (_drop("images"), None, ["missing top-level 'images'"]),
        (lambda g: g["annotations"][0].pop("bbox"), None, ["annotations[0]", "missing 'bbox'"]),
        (lambda g: g["annotations"][0].update(bbox="1,2,3,4"), None, ["annotations[0]", "'bbox'"]),
        (lambda g: g["annotations"][0].update(bbox=[1, 2, -3, 4]), None, ["annotations[0]", ">= 0"]),
        (lambda g: g["images"][0].update(id="one"), None, ["images[0]", "'id' must be an integer"]),
        (lambda g: g["annotations"][0].update(category_id=99), None, ["annotations[0]", "category_id 99"]),
        (None, lambda d: d[0].update(image_id=42), ["[0]", "image_id 42"]),
        (None, lambda d: d[0].update(category_id=3), ["[0]", "category_id 3"]),
        (None, lambda d: d[0].pop("score"), ["[0]", "missing 'score'"]),
        (None, lambda d: d[0].update(bbox=[0, 0, 5, -1]), ["[0]", ">= 0"]),
        (None, lambda d: d[0].update(score="high"), ["[0]", "'score' must be a number"]),
    ],
)
@pytest.mark.usefixtures("workdir")  # score writes a run folder under results/runs
def test_score_detection_malformed_json_exits_2_naming_the_entry(
    tmp_path, cli, mutate_gt, mutate_dets, needles
):
    gt, dets = _small_gt(), _small_dets()
    if mutate_gt:
        mutate_gt(gt)
    if mutate_dets:
        mutate_dets(dets)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    code, out, err = cli(
        "score",
        "detection",
        "--gt",
        str(tmp_path / "gt.json"),
        "--pred",
        str(tmp_path / "dets.json"),
        "--json",
    )
    assert code == 2 and out == ""
    line = _one_line(err)
    for needle in needles:
        assert needle in line, line


@pytest.mark.usefixtures("workdir")  # score writes a run folder under results/runs
def test_score_detection_missing_and_invalid_files(tmp_path, cli):
    (tmp_path / "gt.json").write_text(json.dumps(_small_gt()))
    code, _, err = cli(
        "score", "detection", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "nope.json")
    )
    assert code == 2 and "nope.json" in _one_line(err)
    (tmp_path / "bad.json").write_text("[{")
    code, _, err = cli(
        "score", "detection", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "bad.json")
    )
    assert code == 2 and "not valid JSON" in _one_line(err)


# ---------------------------------------------------------------- the task through `visionbench run`


def _run_json(cli, *args: str) -> dict:
    code, out, err = cli("run", *args, "--no-track", "--json", "--bootstrap", "20", "--batch-size", "4")
    assert code == 0, err
    return json.loads(out)


def test_oracle_scores_one_with_masks_and_artifacts(workdir, cli, oracle):
    payload = _run_json(
        cli, "--model", oracle, "--model-arg", "masks=true", "--task", "detection:shapes?n=12"
    )
    metrics = payload["metrics"]
    assert metrics["map"] == pytest.approx(1.0) and metrics["segm/map"] == pytest.approx(1.0)
    assert metrics["ap/circle"] == pytest.approx(1.0) and metrics["segm/ap/star"] == pytest.approx(1.0)
    assert math.isnan(
        metrics["map_large"] if metrics["map_large"] is not None else math.nan
    )  # no large shapes at 128 px
    assert metrics["map_ci_low"] == metrics["map_ci_high"] == pytest.approx(1.0)
    run = Path(payload["record"]).parent
    for name in (
        "pr_curves.json",
        "pr_curves.png",
        "pr_curves_segm.png",
        "detections.json",
        "predictions.parquet",
    ):
        assert (run / name).is_file(), name
    curves = json.loads((run / "pr_curves.json").read_text())
    assert set(curves) == {"bbox", "segm"} and "all" in curves["bbox"]["pr_curves"]
    record = json.loads((run / "record.json").read_text())
    assert record["task"]["kind"] == "detection" and record["task"]["classes"][0] == "circle"
    assert (
        record["per_class"]["square"]["ap"] == pytest.approx(1.0)
        and record["per_class"]["square"]["num_gt"] > 0
    )

    import pandas as pd

    frame = pd.read_parquet(run / "predictions.parquet")
    assert len(frame) == 12 and frame["sample_id"].iloc[0] == "test/000001.png"
    assert (frame["tp_50"] == frame["num_gt"]).all() and (frame["recall_50"] == 1.0).all()
    assert {"image_id", "num_dets", "max_score", "missed_50", "precision_50"} <= set(frame.columns)


def test_shifted_boxes_lower_map_and_limit_scores_only_evaluated_images(workdir, cli, oracle):
    shifted = _run_json(
        cli, "--model", oracle, "--model-arg", "shift=2.5", "--task", "detection:shapes?n=30", "--limit", "9"
    )
    assert 0.0 < shifted["metrics"]["map"] < 0.9
    assert shifted["metrics"]["map_50"] > 0.6
    exact = _run_json(cli, "--model", oracle, "--task", "detection:shapes?n=30", "--limit", "9")
    assert exact["metrics"]["map"] == pytest.approx(1.0)  # the 21 unseen images are not counted as misses


def test_coco_dataset_run_and_detections_rescore_identically(workdir, cli, oracle, shapes_coco):
    payload = _run_json(cli, "--model", oracle, "--model-arg", "shift=1.5", "--model-arg", "masks=true",
                        "--task", f"detection:coco:{shapes_coco}")  # fmt: skip
    run = Path(payload["record"]).parent
    for iou_type, prefix, area in (("bbox", "", []), ("segm", "segm/", ["--segm-area", "mask"])):
        code, out, err = cli("score", "detection", "--gt", str(shapes_coco), "--pred", str(run / "detections.json"),
                             "--iou-type", iou_type, *area, "--json")  # fmt: skip
        assert code == 0, err
        scored = json.loads(out)["metrics"]
        for key in METRIC_KEYS:
            assert scored[key] == payload["metrics"][f"{prefix}{key}"], (iou_type, key)


def test_coco_dataset_images_option_classes_and_fingerprint(tmp_path, shapes_coco):
    from visionbench.harness.runner import build_dataset

    gt = json.loads(shapes_coco.read_text())
    gt["categories"] = list(reversed(gt["categories"]))  # classes follow category ids, not file order
    moved = tmp_path / "elsewhere.json"
    moved.write_text(json.dumps(gt))
    dataset = build_dataset(
        TaskSpec("detection", "coco", str(moved), (("images", str(shapes_coco.parent / "images")),))
    )
    assert dataset.classes == (
        "circle",
        "square",
        "triangle",
        "ellipse",
        "star",
    ) and dataset.category_ids == (1, 2, 3, 4, 5)
    sample = dataset.load(0)
    assert sample.image.size == (128, 128) and sample.target["image"]["id"] == 1
    assert all(a["image_id"] == 1 for a in sample.target["annotations"])
    before = dataset.fingerprint()
    image = shapes_coco.parent / "images" / "000002.png"
    from PIL import Image

    Image.new("RGB", (128, 128), (1, 2, 3)).save(image)
    again = build_dataset(
        TaskSpec("detection", "coco", str(moved), (("images", str(shapes_coco.parent / "images")),))
    )
    assert again.fingerprint() != before


def test_coco_dataset_errors_are_one_line(workdir, cli, oracle, shapes_coco, tmp_path):
    lonely = tmp_path / "lonely" / "gt.json"
    lonely.parent.mkdir()
    lonely.write_text(shapes_coco.read_text())
    code, _, err = cli("run", "--model", oracle, "--task", f"detection:coco:{lonely}", "--no-track")
    assert code == 2 and "000001.png" in _one_line(err) and "images=DIR" in err
    gt = json.loads(shapes_coco.read_text())
    gt["images"][0]["width"] = 99
    for ann in gt["annotations"]:
        del ann["segmentation"]  # (a mask would already disagree with the size when the file is read)
    (shapes_coco.parent / "wrong.json").write_text(json.dumps(gt))
    code, _, err = cli(
        "run",
        "--model",
        oracle,
        "--task",
        f"detection:coco:{shapes_coco.parent / 'wrong.json'}",
        "--no-track",
    )
    assert code == 2 and "128x128" in _one_line(err) and "99x128" in err
    code, _, err = cli("run", "--model", oracle, "--task", "detection:coco", "--no-track")
    assert code == 2 and "needs a path" in _one_line(err)


def test_unknown_category_id_names_the_model_and_the_id(workdir, cli, oracle):
    code, _, err = cli("run", "--model", oracle, "--model-arg", "named=false", "--model-arg", "bad_label=42",
                       "--task", "detection:shapes?n=4", "--no-track")  # fmt: skip
    line = _one_line(err)
    assert code == 2 and "callable:vb_oracle:build" in line and "category id 42" in line


def test_task_update_rejects_unknown_ids_and_bad_predictions():
    from visionbench.errors import DataError, ModelError
    from visionbench.harness.runner import build_task

    task = build_task(TaskSpec("detection", "shapes", None, (("n", "2"),)))
    sample = task.dataset.load(0)
    bad = {"boxes": np.array([[1.0, 1.0, 5.0, 5.0]]), "scores": np.array([0.5]), "labels": np.array([9])}
    with pytest.raises(ModelError, match="category id 9"):
        task.update([0], [bad], [sample.target], [sample.sample_id])
    with pytest.raises(ModelError, match="one dict per image"):
        task.update([0], "nope", [sample.target], [sample.sample_id])
    inverted = {"boxes": np.array([[5.0, 1.0, 1.0, 5.0]]), "scores": np.array([0.5]), "labels": np.array([1])}
    with pytest.raises(DataError, match="x2>=x1"):
        task.update([0], [inverted], [sample.target], [sample.sample_id])


def test_empty_predictions_and_empty_images(workdir):
    from visionbench.harness.runner import build_task

    task = build_task(TaskSpec("detection", "shapes", None, (("n", "3"),)))
    none = {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, dtype=np.int64)}
    samples = [task.dataset.load(i) for i in range(3)]
    samples[2].target["annotations"].clear()  # an image without objects
    task.update([0, 1, 2], [none] * 3, [s.target for s in samples], [s.sample_id for s in samples])
    result = task.compute()
    assert result.metrics["map"] == 0.0 and result.metrics["mar_100"] == 0.0
    assert result.per_sample["num_dets"] == [0, 0, 0] and math.isnan(result.per_sample["recall_50"][2])
    assert all(math.isnan(v) for v in result.per_sample["max_score"])
    assert task.bootstrap_metrics(np.arange(3)) == {"map": 0.0, "map_50": 0.0}
    absent = [c for c, row in result.per_class.items() if row["num_gt"] == 0]
    assert all(math.isnan(result.metrics[f"ap/{c}"]) for c in absent)


# ---------------------------------------------------------------- the bootstrap


def test_bootstrap_uses_cocos_accumulation_exactly(seed):
    from visionbench.tasks.detection_bootstrap import ImageBootstrap

    gt, dets, _ = make_dataset(seed, n_images=24)
    image_ids = [im["id"] for im in gt["images"]][::-1]  # sample order differs from id order
    boot = ImageBootstrap(gt, dets, image_ids)
    full = evaluate_coco(gt, dets)
    same = boot.metrics(np.arange(len(image_ids)))
    assert same["map"] == pytest.approx(full.metrics["map"], abs=1e-12), seed
    assert same["map_50"] == pytest.approx(full.metrics["map_50"], abs=1e-12), seed
    # a resample with repeats equals scoring a ground truth in which those images are duplicated
    positions = np.random.default_rng(seed).integers(0, len(image_ids), len(image_ids))
    positions = sorted(positions, key=lambda p: image_ids[p])  # COCO breaks score ties in image order
    images, anns, preds = [], [], []
    for new_id, pos in enumerate(positions, start=1):
        old = image_ids[pos]
        images.append({**next(im for im in gt["images"] if im["id"] == old), "id": new_id})
        anns += [
            {**a, "id": len(anns) + k + 1, "image_id": new_id}
            for k, a in enumerate(a for a in gt["annotations"] if a["image_id"] == old)
        ]
        preds += [{**d, "image_id": new_id} for d in dets if d["image_id"] == old]
    duplicated = evaluate_coco({"images": images, "annotations": anns, "categories": gt["categories"]}, preds)
    got = boot.metrics(positions)
    assert got["map"] == pytest.approx(duplicated.metrics["map"], abs=1e-12), seed
    assert got["map_50"] == pytest.approx(duplicated.metrics["map_50"], abs=1e-12), seed


def test_block_bootstrap_equals_one_resample_at_a_time(seed):
    """The vectorised resampling gives bit-identical map/map_50 to faster-coco-eval's accumulation."""
    from visionbench.tasks.detection_bootstrap import ImageBootstrap

    gt, dets, _ = make_dataset(seed, n_images=30)
    # tie scores inside images with different outcomes, so that the exact fallback is exercised too
    for k in range(0, len(dets) - 1, 7):
        if dets[k]["image_id"] == dets[k + 1]["image_id"]:
            dets[k + 1]["score"] = dets[k]["score"]
    image_ids = [im["id"] for im in gt["images"]][::-1]
    boot = ImageBootstrap(gt, dets, image_ids)
    positions = np.random.default_rng(seed).integers(0, len(image_ids), size=(40, len(image_ids)))
    block = boot.metrics_block(positions)
    one = [boot.metrics(row) for row in positions]
    assert np.array_equal(block["map"], [m["map"] for m in one], equal_nan=True), seed
    assert np.array_equal(block["map_50"], [m["map_50"] for m in one], equal_nan=True), seed


def test_listed_among_tasks(cli):
    code, out, _ = cli("list", "tasks")
    assert code == 0 and "detection:coco" in out and "detection:shapes" in out
