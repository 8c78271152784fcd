"""Run identity by content.

Two hashes identify a run:

* the **prediction identity** keys the state store: the model weight digest, model options and
  preprocessing; the label map; the dataset content fingerprint and the sample subset (``--limit``,
  shard, manifest); the task options and task version; the precision and the device type (logits
  differ between cpu, cuda and mps); the versions of the model libraries (torch, torchvision,
  timm, transformers, onnxruntime, pillow). It says what the model was shown and what it said,
  and keys the prediction store, whose rows a later run reuses instead of predicting again.
* the **run identity** adds what turns that state into numbers: the task's metric-code version,
  the versions of the metric libraries and the bootstrap settings.

Batch size and workers are recorded in the environment section but are not identity.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from visionbench.contracts import stable_hash

# The libraries whose versions can change a metric; recorded with every run and part of its identity.
METRIC_LIBRARIES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "torchmetrics",
    "faster-coco-eval",
    "pycocotools",
    "pyarrow",
    "pycocoevalcap",
    "rouge-score",
)
# Libraries that change predictions, which the weight digest and device type do not capture fully:
# part of the prediction identity, so stored predictions are never reused across their versions.
MODEL_LIBRARIES = ("torch", "torchvision", "timm", "transformers", "onnxruntime", "pillow")


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in (*METRIC_LIBRARIES, *MODEL_LIBRARIES):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def subset_description(total: int, limit: int | None, manifest: str | None = None) -> dict[str, Any]:
    """The samples a run covers: the first ``total`` of the dataset (after ``--limit``)."""
    return {"first": int(total), "limit": limit, "manifest": manifest}


def prediction_components(
    *,
    model_digest: str,
    model_options: dict[str, Any],
    preprocess: Any,
    label_map: dict[str, Any] | None,
    dataset_fingerprint: str,
    subset: dict[str, Any],
    task_kind: str,
    task_options: dict[str, Any],
    task_version: str,
    precision: str,
    device: str,
) -> dict[str, Any]:
    return {
        "model_digest": model_digest,
        "model_options": model_options,
        "preprocess": preprocess,
        "label_map": label_map or None,
        "dataset_fingerprint": dataset_fingerprint,
        "subset": subset,
        "task_kind": task_kind,
        "task_options": task_options,
        "task_version": task_version,
        "precision": precision,
        "device_type": device.split(":")[0],
        # the store reuses predictions, so a new torch, torchvision, timm, ... predicts afresh
        "model_libraries": {k: library_versions().get(k) for k in MODEL_LIBRARIES},
    }


def identities(
    prediction: dict[str, Any], *, metric_version: str, bootstrap: dict[str, Any]
) -> dict[str, Any]:
    """``{"prediction": hash, "run": hash, "components": ...}`` for the record."""
    versions = library_versions()
    metric_part = {
        "metric_version": metric_version,
        "metric_libraries": {k: versions.get(k) for k in METRIC_LIBRARIES},
        "bootstrap": bootstrap,
    }
    predicted = stable_hash(prediction, 24)
    return {
        "prediction": predicted,
        "run": stable_hash([predicted, metric_part], 24),
        "components": {**prediction, **metric_part},
    }
