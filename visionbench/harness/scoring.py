"""Scoring prediction files without a model (``visionbench score``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import DataError


def _read_csv(path: Path, role: str) -> tuple[list[str], list[list[str]]]:
    from visionbench.tasks.data.files import open_text

    if not path.is_file():
        raise DataError(f"{role} file not found: {path}")
    try:
        with open_text(path, f"{role} CSV") as handle:
            rows = list(csv.reader(handle))
    except csv.Error as exc:
        raise DataError(f"cannot read {role} file {path}: {exc}") from None
    if not rows:
        raise DataError(f"{role} file {path} is empty")
    header = [h.strip() for h in rows[0]]
    if not header or header[0] != "id":
        raise DataError(f"{role} file {path}: the first column must be 'id' (header: {','.join(header)})")
    return header, rows[1:]


def score_classification(gt_path: Path, pred_path: Path) -> dict[str, Any]:
    """Metrics for ``gt.csv`` (``id,label``) against ``pred.csv`` (``id,label`` or ``id`` + one score column per class).

    Rows are matched by id, so row order does not matter; an id missing from either file,
    or present twice, is an error naming it.
    """
    from visionbench.tasks.classification_metrics import classification_metrics

    ids, classes, y_true, scores, y_pred = read_classification_files(gt_path, pred_path)
    if scores is None:
        metrics, per_class, _ = classification_metrics(y_true, classes, y_pred=y_pred)
    else:
        metrics, per_class, _ = classification_metrics(y_true, classes, scores=scores)
    for name, row in per_class.items():
        metrics[f"f1/{name}"] = row["f1"]
    return {"task": "classification", "num_samples": len(ids), "metrics": metrics}


def read_classification_files(
    gt_path: Path, pred_path: Path
) -> tuple[list[str], list[str], np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(ids, classes, y_true, scores or None, y_pred or None)`` from the two CSV files, validated."""
    from visionbench.tasks.data.files import natural_key

    gt_header, gt_rows = _read_csv(Path(gt_path), "ground-truth")
    if gt_header[:2] != ["id", "label"]:
        raise DataError(f"ground-truth file {gt_path}: header must be id,label")
    truth: dict[str, str] = {}
    for line, row in enumerate(gt_rows, start=2):
        if len(row) < 2:
            raise DataError(f"{gt_path}:{line}: expected id,label")
        if row[0] in truth:
            raise DataError(f"{gt_path}:{line}: duplicate id '{row[0]}'")
        truth[row[0]] = row[1].strip()
    if not truth:
        raise DataError(f"ground-truth file {gt_path}: no rows after the header")
    pred_header, pred_rows = _read_csv(Path(pred_path), "prediction")
    by_id: dict[str, list[str]] = {}
    for line, row in enumerate(pred_rows, start=2):
        if len(row) != len(pred_header):
            raise DataError(f"{pred_path}:{line}: {len(row)} fields, header has {len(pred_header)}")
        if row[0] in by_id:
            raise DataError(f"{pred_path}:{line}: duplicate id '{row[0]}'")
        by_id[row[0]] = row[1:]
    missing = [i for i in truth if i not in by_id]
    if missing:
        raise DataError(f"{pred_path}: no prediction for id '{missing[0]}' ({len(missing)} missing)")
    extra = [i for i in by_id if i not in truth]
    if extra:
        raise DataError(f"{pred_path}: id '{extra[0]}' is not in the ground truth {gt_path}")
    ids = list(truth)
    if pred_header[1:] == ["label"]:
        classes = sorted({*truth.values(), *(by_id[i][0].strip() for i in ids)}, key=natural_key)
        index = {c: k for k, c in enumerate(classes)}
        y_true = np.array([index[truth[i]] for i in ids])
        y_pred = np.array([index[by_id[i][0].strip()] for i in ids])
        return ids, classes, y_true, None, y_pred
    else:
        classes = pred_header[1:]
        index = {c: k for k, c in enumerate(classes)}
        if len(index) != len(classes) or not classes:
            dupes = sorted({c for c in classes if classes.count(c) > 1})
            raise DataError(
                f"{pred_path}: score columns must be distinct class names (repeated: {', '.join(dupes) or 'none given'})"
            )
        unknown = sorted(set(truth.values()) - set(index))
        if unknown:
            raise DataError(f"{gt_path}: label '{unknown[0]}' has no score column in {pred_path}")
        try:
            scores = np.array([[float(v) for v in by_id[i]] for i in ids], dtype=np.float64)
        except ValueError as exc:
            raise DataError(f"{pred_path}: non-numeric score: {exc}") from None
        finite = np.isfinite(scores).all(axis=1)
        if not finite.all():
            raise DataError(
                f"{pred_path}: id '{ids[int(np.flatnonzero(~finite)[0])]}' has a NaN or infinite score"
            )
        y_true = np.array([index[truth[i]] for i in ids])
        return ids, list(classes), y_true, scores, None
