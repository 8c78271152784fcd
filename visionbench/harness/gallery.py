"""The per-example gallery a run writes beside its record (``gallery.parquet``), while the images are at hand.

The worst and the best samples by the kind's per-image score, each with its pictures as PNG
bytes, so a leaderboard can show them without the dataset (a remote MLflow server, a copied
results folder):

- classification: the image, ranked by the probability given to the true class;
- detection: the image with ground-truth and detected boxes coloured by their match at IoU 0.5,
  ranked by the image's own AP at IoU 0.5 (``ap_50`` of the per-sample rows);
- segmentation: the image, the ground-truth and the predicted class maps, ranked by the image's
  mIoU (the predicted maps of the candidates are kept while the run streams, since the state holds
  only confusion counts);
- captioning: the image, ranked by its CIDEr-D; ``caption`` holds the candidate on its first line and
  then each reference caption on a line starting with ``- ``.

Columns: ``group`` (worst / best), ``rank`` (1 = most extreme), ``sample_id``, ``index``,
``score_name``, ``score``, ``caption``, ``classes`` (for the class filter), ``image``, ``truth``,
``prediction`` (PNG bytes; absent pictures are null), and for detection the box counts
``matched``, ``missed``, ``tp``, ``fp``. Other kinds add themselves to :data:`BUILDERS`.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.harness import gallery_draw as draw

GALLERY_FILE = "gallery.parquet"
KEEP = 8  # samples in each of the worst and the best groups
COLUMNS = ("group", "rank", "sample_id", "index", "score_name", "score", "caption", "classes",
           "image", "truth", "prediction", "matched", "missed", "tp", "fp")  # fmt: skip


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def pick(scores: Sequence[float], keep: int) -> list[tuple[str, int, int]]:
    """``(group, rank, position)`` of the ``keep`` lowest and ``keep`` highest scores (NaN never picked).

    Ties keep sample order; a sample is in one group only (the worst first).
    """
    values = np.asarray([_number(s) for s in scores], dtype=np.float64)
    valid = np.flatnonzero(~np.isnan(values))
    ascending = valid[np.argsort(values[valid], kind="stable")]
    worst = ascending[:keep].tolist()
    taken = set(worst)
    descending = valid[np.argsort(-values[valid], kind="stable")]
    best = [int(p) for p in descending if int(p) not in taken][:keep]
    return [("worst", r, int(p)) for r, p in enumerate(worst, 1)] + [
        ("best", r, p) for r, p in enumerate(best, 1)
    ]


class GalleryCollector:
    """Watches the batches of a run (``observe``) and builds the gallery artifact at the end (``artifacts``)."""

    def __init__(self, task: Any, keep: int = KEEP) -> None:
        self.task, self.keep, self.kind = task, keep, task.kind
        self._worst: list[
            tuple[float, int, int, Any]
        ] = []  # (-score, -index, tiebreak, mask): max-heap of worst
        self._best: list[
            tuple[float, int, int, Any]
        ] = []  # (score, -index, tiebreak, mask): min-heap of best

    def observe(self, indices: Sequence[int], predictions: Any, rows: Any) -> None:
        """Segmentation only: keep the predicted class maps that are among the worst or best so far."""
        if self.kind != "segmentation" or rows is None:
            return
        from visionbench.tasks.segmentation import image_scores

        k = len(self.task.class_names)
        cells, counts = rows.column("cells").to_pylist(), rows.column("counts").to_pylist()
        for index, prediction, cell, count in zip(indices, predictions, cells, counts, strict=True):
            cm = np.bincount(np.asarray(cell, dtype=np.int64), weights=count, minlength=k * k).reshape(k, k)
            score = image_scores(cm)[1]
            if math.isnan(score):
                continue
            mask = None

            def keep_mask(p: Any = prediction) -> Any:
                nonlocal mask
                if mask is None:
                    value = p.detach().to("cpu").numpy() if hasattr(p, "detach") else np.asarray(p)
                    mask = value.astype(np.int32)
                return mask

            item_w = (-score, -int(index), int(index))
            if len(self._worst) < self.keep:
                heapq.heappush(self._worst, (*item_w, keep_mask()))
            elif item_w > self._worst[0][:3]:
                heapq.heapreplace(self._worst, (*item_w, keep_mask()))
            item_b = (score, -int(index), int(index))
            if len(self._best) < self.keep:
                heapq.heappush(self._best, (*item_b, keep_mask()))
            elif item_b > self._best[0][:3]:
                heapq.heapreplace(self._best, (*item_b, keep_mask()))

    def artifacts(self, per_sample: dict[str, list[Any]]) -> dict[str, Callable[[Path], Any]]:
        """``{GALLERY_FILE: writer}``, or nothing when the kind has no builder or the images cannot be loaded."""
        builder = BUILDERS.get(self.kind)
        if builder is None or not getattr(self.task.dataset, "has_images", True):
            return {}
        rows = builder(self, per_sample)
        if not rows:
            return {}
        return {GALLERY_FILE: lambda path: write_gallery(rows, path)}

    def predicted_masks(self) -> dict[int, Any]:
        return {item[2]: item[3] for item in self._worst + self._best}


def write_gallery(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("group", pa.string()), ("rank", pa.int64()), ("sample_id", pa.string()), ("index", pa.int64()),
        ("score_name", pa.string()), ("score", pa.float64()), ("caption", pa.string()),
        ("classes", pa.list_(pa.string())), ("image", pa.binary()), ("truth", pa.binary()),
        ("prediction", pa.binary()), ("matched", pa.int64()), ("missed", pa.int64()), ("tp", pa.int64()),
        ("fp", pa.int64()),
    ])  # fmt: skip
    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    pq.write_table(pa.table(columns, schema=schema), path)


def _positions(collector: GalleryCollector) -> list[int]:
    return [int(i) for i in collector.task.state.indices()]


def _classification(collector: GalleryCollector, per_sample: dict[str, list[Any]]) -> list[dict[str, Any]]:
    scores = per_sample.get("target_probability") or []
    name = "target_probability"
    if not scores or all(_number(s) != _number(s) for s in scores):
        scores, name = [1.0 if c else 0.0 for c in per_sample.get("correct", [])], "correct"
    indices, rows = _positions(collector), []
    for group, rank, pos in pick(scores, collector.keep):
        sample = collector.task.dataset.load(indices[pos])
        thumb, _ = draw.thumbnail(sample.image)
        truth, pred = per_sample["target"][pos], per_sample["prediction"][pos]
        rows.append({
            "group": group, "rank": rank, "sample_id": str(per_sample["sample_id"][pos]), "index": indices[pos],
            "score_name": name, "score": _number(scores[pos]), "caption": f"truth {truth}, predicted {pred}",
            "classes": sorted({str(truth), str(pred)}), "image": draw.png(thumb),
        })  # fmt: skip
    return rows


def _detection(collector: GalleryCollector, per_sample: dict[str, list[Any]]) -> list[dict[str, Any]]:
    task = collector.task
    table = task.state.table()
    indices = _positions(collector)
    names = {int(c["id"]): str(c["name"]) for c in getattr(task.dataset, "categories", ())}
    rows = []
    for group, rank, pos in pick(per_sample["ap_50"], collector.keep):
        annotations = json.loads(table.column("annotations")[pos].as_py())
        detections = json.loads(table.column("detections")[pos].as_py())
        sample = task.dataset.load(indices[pos])
        image, counts = draw.detection_overlay(sample.image, annotations, detections)
        classes = sorted({names.get(int(a["category_id"]), str(a["category_id"])) for a in annotations})
        caption = (
            f"{counts['matched']} found, {counts['missed']} missed, {counts['fp']} false "
            f"({len(detections)} detections; false ones drawn from score {draw.DRAW_SCORE})"
        )
        rows.append({
            "group": group, "rank": rank, "sample_id": str(per_sample["sample_id"][pos]), "index": indices[pos],
            "score_name": "ap_50", "score": _number(per_sample["ap_50"][pos]), "caption": caption,
            "classes": classes, "image": image, **counts,
        })  # fmt: skip
    return rows


def _segmentation(collector: GalleryCollector, per_sample: dict[str, list[Any]]) -> list[dict[str, Any]]:
    task = collector.task
    masks = collector.predicted_masks()
    indices = _positions(collector)
    scores = [_number(s) if indices[p] in masks else math.nan for p, s in enumerate(per_sample["miou"])]
    k, ignore = len(task.class_names), getattr(task, "ignore_index", None)
    rows = []
    for group, rank, pos in pick(scores, collector.keep):
        index = indices[pos]
        sample = task.dataset.load(index)
        thumb, _ = draw.thumbnail(sample.image)
        present = per_sample["target_classes"][pos]
        rows.append({
            "group": group, "rank": rank, "sample_id": str(per_sample["sample_id"][pos]), "index": index,
            "score_name": "miou", "score": scores[pos], "classes": [str(c) for c in present],
            "caption": f"classes present: {', '.join(map(str, present))}", "image": draw.png(thumb),
            "truth": draw.class_map(sample.target, k, ignore), "prediction": draw.class_map(masks[index], k, ignore),
        })  # fmt: skip
    return rows


def _captioning(collector: GalleryCollector, per_sample: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The image; ranked by its CIDEr-D; ``caption`` is the candidate, then one ``- reference`` line each."""
    indices, rows = _positions(collector), []
    for group, rank, pos in pick(per_sample["cider"], collector.keep):
        sample = collector.task.dataset.load(indices[pos])
        thumb, _ = draw.thumbnail(sample.image)
        text = "\n".join(
            [str(per_sample["candidate"][pos]), *(f"- {r}" for r in per_sample["references"][pos])]
        )
        rows.append({
            "group": group, "rank": rank, "sample_id": str(per_sample["sample_id"][pos]), "index": indices[pos],
            "score_name": "cider", "score": _number(per_sample["cider"][pos]), "caption": text, "classes": [],
            "image": draw.png(thumb),
        })  # fmt: skip
    return rows


BUILDERS: dict[str, Callable[[GalleryCollector, dict[str, list[Any]]], list[dict[str, Any]]]] = {
    "classification": _classification,
    "detection": _detection,
    "segmentation": _segmentation,
    "captioning": _captioning,
}
