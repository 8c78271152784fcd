"""Where a segm detection's area comes from: ``score detection`` matches pycocotools exactly by default.

pycocotools' ``COCO.loadRes`` takes every area from the box (``w * h``) when the first result
carries a ``bbox``, else from the mask; the area decides which detections an area range
ignores, so ``map_small`` ... ``mar_large`` move with it. The random results here carry a box
that disagrees with the mask (up to four times its area either way), so the convention shows.
Randomised tests print their seed; ``VB_TEST_SEED=<seed>`` replays one.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO as PyCOCO
from pycocotools.cocoeval import COCOeval as PyCOCOeval
from test_coco import make_dataset

from visionbench.errors import ConfigError, DataError
from visionbench.harness.cli import main
from visionbench.tasks.coco import METRIC_KEYS, evaluate_coco, load_coco_gt, load_coco_predictions


def _with_boxes(seed: int) -> tuple[dict, list[dict]]:
    """The random COCO data of ``test_coco``, each segm result given a box whose area disagrees with its mask."""
    gt, bbox_dets, segm_dets = make_dataset(seed)
    rng = np.random.default_rng(seed + 1)
    dets = []
    for box_det, segm_det in zip(bbox_dets, segm_dets, strict=True):
        x, y, w, h = box_det["bbox"]
        scale = float(np.exp(rng.uniform(-0.7, 0.7)))  # sides x0.5..x2: areas x0.25..x4
        dets.append({**segm_det, "bbox": [x, y, w * scale, h * scale]})
    return gt, dets


def _pycocotools_stats(gt: dict, dets: list[dict]) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = PyCOCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = PyCOCOeval(coco, coco.loadRes(copy.deepcopy(dets)), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.where(ev.stats == -1, np.nan, ev.stats)


def _score(tmp_path: Path, gt: dict, dets: list[dict], capsys, *extra: str) -> dict:
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    capsys.readouterr()
    argv = ["score", "detection", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "dets.json")]
    assert main([*argv, "--iou-type", "segm", *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _values(out: dict) -> np.ndarray:
    return np.array([np.nan if out["metrics"][k] is None else out["metrics"][k] for k in METRIC_KEYS])


@pytest.mark.usefixtures("workdir")  # score writes a run folder under results/runs
def test_default_equals_pycocotools_on_results_with_box_and_mask(tmp_path, capsys, seed):
    gt, dets = _with_boxes(seed)
    msg = f"seed={seed} (replay with VB_TEST_SEED={seed})"
    reference = _pycocotools_stats(gt, dets)
    out = _score(tmp_path, gt, dets, capsys)
    assert out["segm_area"] == {"requested": "pycocotools", "used": "box"}, msg
    np.testing.assert_allclose(_values(out), reference, rtol=0, atol=1e-9, equal_nan=True, err_msg=msg)
    # the convention matters on this data: the mask's area gives other area-range numbers
    mask = _pycocotools_stats(gt, [{k: v for k, v in d.items() if k != "bbox"} for d in dets])
    assert not np.allclose(mask[3:6], reference[3:6], equal_nan=True), msg
    assert np.isfinite(reference[:3]).all() and 0 < reference[0] < 1, msg


@pytest.mark.usefixtures("workdir")  # score writes a run folder under results/runs
def test_segm_area_mask_equals_pycocotools_without_boxes(tmp_path, capsys, seed):
    gt, dets = _with_boxes(seed)
    msg = f"seed={seed} (replay with VB_TEST_SEED={seed})"
    reference = _pycocotools_stats(gt, [{k: v for k, v in d.items() if k != "bbox"} for d in dets])
    out = _score(tmp_path, gt, dets, capsys, "--segm-area", "mask")
    assert out["segm_area"] == {"requested": "mask", "used": "mask"}, msg
    np.testing.assert_allclose(_values(out), reference, rtol=0, atol=1e-9, equal_nan=True, err_msg=msg)


def test_segm_area_box_equals_pycocotools_with_boxes_and_backends_agree(seed):
    gt, dets = _with_boxes(seed)
    msg = f"seed={seed} (replay with VB_TEST_SEED={seed})"
    reference = _pycocotools_stats(gt, dets)
    checked = load_coco_gt(gt)
    for backend in ("faster", "pycocotools"):
        result = evaluate_coco(checked, dets, iou_type="segm", segm_area="box", backend=backend)
        assert result.segm_area == "box"
        got = np.array([result.metrics[k] for k in METRIC_KEYS])
        np.testing.assert_allclose(
            got, reference, rtol=0, atol=1e-9, equal_nan=True, err_msg=f"{msg} {backend}"
        )


def test_pycocotools_convention_follows_the_first_result(seed):
    """loadRes decides by the first result: without a box there, every area is the mask's."""
    gt, dets = _with_boxes(seed)
    dets[0] = {k: v for k, v in dets[0].items() if k != "bbox"}
    checked = load_coco_gt(gt)
    preds = load_coco_predictions(dets, checked, iou_type="segm")
    assert preds.area_source == "mask"
    got = evaluate_coco(checked, preds, iou_type="segm")
    reference = _pycocotools_stats(gt, dets)
    np.testing.assert_allclose(
        [got.metrics[k] for k in METRIC_KEYS],
        reference,
        rtol=0,
        atol=1e-9,
        equal_nan=True,
        err_msg=f"seed={seed}",
    )
    dets[0]["bbox"] = []  # loadRes reads an empty first box as "no box" too
    assert load_coco_predictions(dets, checked, iou_type="segm").area_source == "mask"


def test_box_areas_need_every_box():
    gt, dets = _with_boxes(7)
    dets[3] = {k: v for k, v in dets[3].items() if k != "bbox"}
    with pytest.raises(DataError, match=r"\[3\].*missing 'bbox'.*--segm-area mask"):
        load_coco_predictions(dets, load_coco_gt(gt), iou_type="segm")
    with pytest.raises(DataError, match=r"\[3\].*segm_area='box'"):
        load_coco_predictions(dets, load_coco_gt(gt), iou_type="segm", segm_area="box")
    assert (
        load_coco_predictions(dets, load_coco_gt(gt), iou_type="segm", segm_area="mask").area_source == "mask"
    )
    with pytest.raises(ConfigError, match="segm_area must be one of"):
        load_coco_predictions(dets, load_coco_gt(gt), iou_type="segm", segm_area="boxes")


def test_validated_predictions_are_revalidated_for_another_convention():
    gt, dets = _with_boxes(3)
    checked = load_coco_gt(gt)
    as_mask = load_coco_predictions(dets, checked, iou_type="segm", segm_area="mask")
    assert evaluate_coco(checked, as_mask, iou_type="segm").segm_area == "mask"
    assert evaluate_coco(checked, as_mask, iou_type="segm", segm_area="box").segm_area == "box"
    assert as_mask[0]["area"] != pytest.approx(_bounds_area(dets[0]))


def _bounds_area(det: dict) -> float:
    return float(det["bbox"][2] * det["bbox"][3])


@pytest.mark.usefixtures("workdir")  # score writes a run folder under results/runs
def test_segm_area_is_refused_for_bbox_scoring(tmp_path, capsys):
    gt, dets = _with_boxes(5)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    argv = ["score", "detection", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "dets.json")]
    assert main([*argv, "--segm-area", "mask"]) == 2
    assert "--segm-area applies to --iou-type segm only" in capsys.readouterr().err


@pytest.fixture
def oracle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from test_detection import ORACLE

    (tmp_path / "vb_oracle.py").write_text(ORACLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "callable:vb_oracle:build"


@pytest.mark.parametrize("segm_area", [None, "mask", "box", "pycocotools"])
def test_run_records_its_convention_and_score_agrees(workdir, cli, oracle, segm_area):
    """``run`` takes mask areas unless the task option says otherwise, and records which; ``score`` agrees."""
    task = "detection:shapes?n=10" + (f"&segm_area={segm_area}" if segm_area else "")
    code, out, err = cli("run", "--model", oracle, "--model-arg", "shift=2.5", "--model-arg", "masks=true",
                         "--task", task, "--no-track", "--json", "--bootstrap", "0")  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    run = Path(payload["record"]).parent
    record = json.loads((run / "record.json").read_text())
    assert record["task"]["scoring"] == {"segm_area": segm_area or "mask"}
    from visionbench.tasks.data.shapes import ShapesDataset
    from visionbench.tasks.data.shapes_export import export

    gt = export(ShapesDataset("test", n=10), workdir / "shapes") / "instances.json"
    as_scored = {None: "mask", "pycocotools": None}.get(segm_area, segm_area)
    argv = [
        "score",
        "detection",
        "--gt",
        str(gt),
        "--pred",
        str(run / "detections.json"),
        "--iou-type",
        "segm",
    ]
    code, out, err = cli(*argv, *(["--segm-area", as_scored] if as_scored else []), "--json")
    assert code == 0, err
    scored = json.loads(out)["metrics"]
    for key in METRIC_KEYS:
        assert scored[key] == payload["metrics"][f"segm/{key}"], (segm_area, key)


def test_run_refuses_an_unknown_convention(workdir, cli, oracle):
    code, _, err = cli(
        "run", "--model", oracle, "--task", "detection:shapes?n=2&segm_area=area", "--no-track"
    )
    assert code == 2 and "segm_area" in err
