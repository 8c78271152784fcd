"""``visionbench score ... --output DIR``: prediction files become a run folder like ``run`` writes.

The task's per-sample state is built from the files (classification CSV -> ``ClassificationTask``
rows, COCO results -> ``DetectionTask`` rows, mask folders -> ``SegmentationTask`` rows) and stored
under a content key: the prediction identity hashes the prediction file's sha256 (for a mask
folder, the sha256 of every file in name order) with the ground truth's. The record, intervals and
the folder come from the same code as ``run`` (``build_record``, ``add_task_intervals``,
``outputs.publish``), so ``compare``, ``gate`` and ``rescore`` read score runs like any other.
Score runs are not logged to MLflow (``tracking.status`` is ``disabled``).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from visionbench.contracts import ModelSpec, TaskSpec
from visionbench.declarations import EFFICIENCY

BOOTSTRAP_REPS = 1000  # resamples of a score run's intervals, as ``run`` draws


def content_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative name and bytes, in name order)."""
    digest = hashlib.sha256()
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class PredictionFiles:
    """Stands in for the adapter in the record: the "model" is a prediction file, named by its digest."""

    family = "file"

    def __init__(self, pred_path: Path, digest: str) -> None:
        self.path, self.digest = Path(pred_path), digest

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.path.name,
            "preprocess": {},
            "source": {"predictions": str(self.path), "sha256": self.digest},
        }

    def fingerprint(self) -> str:
        return self.digest

    def licence(self) -> str:
        return "unknown"


def _dataset(info: dict[str, Any]) -> Any:
    from visionbench.harness.rescore import StoredDataset

    return StoredDataset(info)


def classification_task(gt_path: Path, pred_path: Path) -> tuple[Any, TaskSpec]:
    from visionbench.harness.runner import build_task
    from visionbench.harness.scoring import read_classification_files

    ids, classes, y_true, scores, y_pred = read_classification_files(gt_path, pred_path)
    spec = TaskSpec("classification", "score", Path(gt_path).name)
    info = {"name": Path(gt_path).name, "kind": "classification", "classes": classes}
    info.update(fingerprint=content_digest(gt_path), num_samples=len(ids))
    task = build_task(spec, _dataset(info))
    predictions = scores if scores is not None else y_pred.astype("int64")
    task.update(list(range(len(ids))), predictions, [int(t) for t in y_true], ids)
    return task, spec


def detection_task(gt_path: Path, pred_path: Path) -> tuple[Any, TaskSpec] | None:
    """The state of a COCO results file (boxes; ``None`` when the results carry no ``bbox``)."""

    from visionbench.harness.runner import build_task
    from visionbench.tasks._coco_checks import gc_paused, read_json

    gt = read_json(Path(gt_path), "")[0]  # parsed once per command: ``score`` validated these files
    results = read_json(Path(pred_path), "")[0]
    if any("bbox" not in r for r in results):
        return None
    categories = list(gt.get("categories") or [])
    spec = TaskSpec("detection", "score", Path(gt_path).name)
    info = {
        "name": Path(gt_path).name,
        "kind": "detection",
        "classes": [str(c["name"]) for c in categories],
        "category_ids": [int(c["id"]) for c in categories],
        "categories": categories,
        "fingerprint": content_digest(gt_path),
        "num_samples": len(gt["images"]),
    }
    task = build_task(spec, _dataset(info))
    with gc_paused():  # one state row per image from half a million acyclic dicts
        decoded = _detection_rows(task, gt, results)
    from visionbench.harness.scoring_detection import last_evaluation

    images, annotations, entries, text = decoded
    evaluation = last_evaluation(gt_path, pred_path)
    task.adopt(
        images, annotations, entries, evaluation=evaluation, detections_json=text
    )  # nothing decoded again
    return task, spec


def detection_intervals(gt_path: Path, pred_path: Path, *, reps: int, seed: int) -> Any | None:
    """The box intervals of a run folder :func:`detection_task` is about to build, started now in a
    thread (:class:`~visionbench.harness.statistics.IntervalsInBackground`) from the evaluation
    ``score`` just made, or None when there is none to start from (publish then bootstraps as ``run``).

    They are the task's own (:meth:`DetectionTask.bootstrap_block` on the same matches, images in the
    same order); the compiled resampling releases the GIL, so they are drawn while the state rows
    are built, stored and the record written.
    """
    from visionbench.harness.scoring_detection import last_evaluation
    from visionbench.harness.statistics import IntervalsInBackground
    from visionbench.tasks._coco_checks import read_json
    from visionbench.tasks.detection_bootstrap import box_resampler, resampler_block

    evaluation = last_evaluation(gt_path, pred_path)
    if evaluation is None or evaluation["matches"] is None:
        return None
    images = read_json(Path(gt_path), "")[0]["images"]
    ids = [im["id"] for im in images]
    resampler = box_resampler(evaluation["gt"], evaluation["preds"], evaluation["matches"], ids)
    if not resampler:
        return None
    return IntervalsInBackground(len(ids), resampler_block(resampler), reps=reps, seed=seed)


def _detection_rows(
    task: Any, gt: dict[str, Any], results: list[dict[str, Any]]
) -> tuple[list, list, list, bytes]:
    """Append one state row per image; returns what decoding them gives (images, annotations, detections)
    and the detections as one JSON list (the rows' own texts joined, UTF-8).

    The rows' texts go to Arrow as UTF-8 bytes: Arrow takes those at copy speed, where it converts
    ``str`` objects one by one (about 15x slower at COCO scale)."""
    import math

    from visionbench.tasks import fast_json

    by_image: dict[int, list[dict[str, Any]]] = {int(im["id"]): [] for im in gt["images"]}
    for entry in gt.get("annotations") or []:
        by_image.setdefault(int(entry["image_id"]), []).append(entry)
    dets: dict[int, list[dict[str, Any]]] = {}
    for entry in results:
        # validated: each has these four keys; an entry with nothing else is kept as it is
        keep = (
            entry if len(entry) == 4 else {k: entry[k] for k in ("image_id", "category_id", "bbox", "score")}
        )
        dets.setdefault(int(entry["image_id"]), []).append(keep)
    columns: dict[str, list[Any]] = {name: [] for name in task.state_schema().names}
    annotations, entries = [], []
    for index, image in enumerate(gt["images"]):
        image_id = int(image["id"])
        mine = dets.get(image_id, [])
        annotations.append(by_image[image_id])
        entries.extend(mine)
        columns["index"].append(index)
        columns["sample_id"].append(str(image.get("file_name") or image_id))
        columns["image"].append(fast_json.dumps_bytes(image))
        columns["annotations"].append(fast_json.dumps_bytes(by_image[image_id]))
        columns["detections"].append(fast_json.dumps_bytes(mine))
        columns["num_dets"].append(len(mine))
        columns["max_score"].append(max((float(d["score"]) for d in mine), default=math.nan))
        columns["with_masks"].append(False)
    text = b"[" + b",".join(t[1:-1] for t in columns["detections"] if t != b"[]") + b"]"
    task.state.append(columns)
    return list(gt["images"]), annotations, entries, text


def segmentation_task(
    gt_dir: Path, pred_dir: Path, *, num_classes: int, ignore_index: int | None, class_names: Any
) -> tuple[Any, TaskSpec]:
    from visionbench.harness.runner import build_task
    from visionbench.harness.scoring_segmentation import _names
    from visionbench.tasks.data.masks import pair_mask_dirs, read_class_names, read_mask

    names = _names(class_names, num_classes, read_class_names)
    pairs = pair_mask_dirs(gt_dir, pred_dir)
    spec = TaskSpec("segmentation", "score", Path(gt_dir).name)
    info = {
        "name": Path(gt_dir).name,
        "kind": "segmentation",
        "classes": names,
        "ignore_index": ignore_index,
        "fingerprint": content_digest(gt_dir),
        "num_samples": len(pairs),
    }
    task = build_task(spec, _dataset(info))
    if ignore_index is None:
        task.ignore_index = None
    for index, (stem, gt_path, pred_path) in enumerate(pairs):
        target = read_mask(gt_path, num_classes=num_classes, ignore_index=ignore_index)
        prediction = read_mask(pred_path, num_classes=num_classes, ignore_index=None)
        task.update([index], [prediction], [target], [stem])
    return task, spec


def publish_score_run(
    task: Any,
    spec: TaskSpec,
    pred_path: Path,
    output: Path,
    *,
    bootstrap_reps: int = BOOTSTRAP_REPS,
    seed: int = 0,
    intervals: Any = None,
) -> Path:
    """Compute, bootstrap, record and publish the run folder of a scored prediction file; returns it.

    ``intervals`` (``result()`` gives ``{key: (low, high)}``, as :func:`detection_intervals` does)
    stands for the bootstrap when it was started earlier with the same ``bootstrap_reps`` and ``seed``.
    """
    from visionbench.harness.environment import code_version, environment
    from visionbench.harness.identity import (
        identities,
        prediction_components,
        subset_description,
    )
    from visionbench.harness.outputs import draw_artifacts_ahead, publish, state_meta
    from visionbench.harness.record import build_record, write_record
    from visionbench.harness.specs import RunSpec
    from visionbench.harness.statistics import add_intervals, add_task_intervals
    from visionbench.harness.store import StateStore

    digest = content_digest(pred_path)
    files = PredictionFiles(pred_path, digest)
    total = task.num_updated()
    model = ModelSpec(f"file:{Path(pred_path).name}")
    run = RunSpec(model, spec, "cpu", "fp32", 1, None, 0, seed)
    statistics = {"bootstrap_reps": int(bootstrap_reps), "seed": int(seed)}
    identity = identities(
        prediction_components(
            model_digest=digest,
            model_options={},
            preprocess={},
            label_map=None,
            dataset_fingerprint=task.dataset.fingerprint(),
            subset=subset_description(total, None),
            task_kind=task.kind,
            task_options={},
            task_version=task.version,
            precision="fp32",
            device="cpu",
        ),
        metric_version=task.metric_version,
        bootstrap=statistics,
    )
    store = StateStore.for_identity(Path(output), identity["prediction"])
    store.write_meta(state_meta(run, task, total, identity))
    if not store.chunks():  # the same content scored before keeps its state
        store.append(task.state.table(), "score")
    result = task.compute()
    ahead = None if intervals is None else Path(tempfile.mkdtemp(prefix=".artifacts-", dir=output))
    try:
        if ahead is None:
            add_task_intervals(task, result.metrics, reps=bootstrap_reps, seed=seed)
        else:  # the plots are drawn while the thread finishes the intervals
            draw_artifacts_ahead(result, ahead)
            add_intervals(result.metrics, intervals.result())
        efficiency = {metric.key: float("nan") for metric in EFFICIENCY}  # no model ran: nothing measured
        env = environment("cpu", "fp32", 1, 0, model_ran=False)  # no model runs: torch stays unimported
        record = build_record(
            run=run,
            adapter=files,
            task=task,
            result=result,
            efficiency=efficiency,
            environment=env,
            code=code_version(),
            suite="visionbench",
            total=total,
            identity=identity,
            state={"path": "", "identity": identity["prediction"], "num_samples": total},
            statistics=statistics,
        )
        directory = publish(record, result, Path(output), spec.id, model.spec, "fp32", store, track=False)
    finally:  # drawn-ahead files not moved into a run folder (an error on the way) go
        if ahead is not None:
            shutil.rmtree(ahead, ignore_errors=True)
    record["tracking"] = {
        "uri": None,
        "experiment": None,
        "run_id": None,
        "status": "disabled",
        "error": None,
    }
    write_record(record, directory)
    return directory
