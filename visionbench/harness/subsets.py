"""Stratified subsets of a stored run's samples: the CI subset ``plan-gate --write`` saves for ``run``.

Each sample's stratum is read from the run's stored state (the ground truth only, never the
predictions):

* classification: the sample's class;
* detection: the image's dominant category (most non-crowd objects; ties to the smaller id;
  ``none`` for an image without objects) and its object count bin (1, 2-3, 4-7, 8+);
* segmentation: the set of classes present in the image's ground truth;
* any other kind: the task's own ``strata()`` (one label per state row) if it has one, else one
  stratum (the subset is then a seeded simple random sample).

Allocation is proportional with the largest-remainder rule, so every stratum gets ``floor`` or
``ceil`` of its share ``n * size / total`` (remainder ties broken by the seed); within a stratum the
samples are a seeded random draw. The subset lists each sample's dataset index and id in
dataset order (:mod:`visionbench.tasks.subset` reads it back).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np

from visionbench.errors import DataError

COUNT_BINS = ((1, 1), (2, 3), (4, 7), (8, None))


def sample_strata(task: Any) -> tuple[list[str], str]:
    """One stratum label per state row, and what the labels stand for."""
    table = task.state.table()
    if task.kind == "classification":
        classes = list(task.dataset.classes)
        return [classes[t] for t in table.column("target").to_pylist()], "class"
    if task.kind == "detection":
        names = {int(c["id"]): str(c["name"]) for c in getattr(task.dataset, "categories", ())}
        return [_detection_stratum(json.loads(t), names) for t in table.column("annotations").to_pylist()], (
            "dominant category and objects per image (1, 2-3, 4-7, 8+)"
        )
    if task.kind == "segmentation":
        from visionbench.state import ragged

        names, k = list(task.class_names), len(task.class_names)
        labels = []
        for cells, counts in zip(ragged(table.column("cells")), ragged(table.column("counts")), strict=True):
            present = sorted({int(c) // k for c, n in zip(cells, counts, strict=True) if n > 0})
            labels.append("+".join(names[c] for c in present) or "none")
        return labels, "classes present in the ground truth"
    own = getattr(task, "strata", None)
    if callable(own):
        return [str(s) for s in own()], f"{task.kind} strata"
    return ["all"] * len(table), "not stratified (one stratum)"


def _detection_stratum(annotations: list[dict], names: dict[int, str]) -> str:
    counts = Counter(int(a["category_id"]) for a in annotations if not a.get("iscrowd"))
    total = sum(counts.values())
    if not total:
        return "none"
    top = max(counts.values())
    dominant = min(c for c, n in counts.items() if n == top)
    low, high = next((lo, hi) for lo, hi in COUNT_BINS if hi is None or total <= hi)
    span = f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")
    return f"{names.get(dominant, str(dominant))}/{span}"


def allocate(strata: list[str], n: int, seed: int) -> dict[str, int]:
    """Proportional allocation of ``n`` samples over the strata (largest remainder, seeded ties)."""
    sizes = Counter(strata)
    total = sum(sizes.values())
    names = sorted(sizes)
    share = np.array([n * sizes[s] / total for s in names])
    counts = np.floor(share).astype(int)
    left = n - int(counts.sum())
    if left:
        rng = np.random.default_rng([seed, 1])
        order = np.lexsort((rng.random(len(names)), -(share - counts)))  # largest remainder, then random
        counts[order[:left]] += 1
    return {name: int(c) for name, c in zip(names, counts, strict=True)}


def stratified_positions(strata: list[str], n: int, seed: int) -> np.ndarray:
    """Positions (sorted) of a stratified random sample of ``n`` of the ``len(strata)`` samples."""
    if not 0 < n <= len(strata):
        raise DataError(f"a subset of {n} samples cannot be drawn from {len(strata)}")
    rng = np.random.default_rng([seed, 2])
    labels = np.asarray(strata, dtype=object)
    chosen = []
    for name, count in allocate(strata, n, seed).items():
        members = np.flatnonzero(labels == name)
        chosen.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(chosen))


def subset_manifest(run: Any, n: int, seed: int = 0) -> dict[str, Any]:
    """The manifest of a stratified subset of ``n`` of ``run``'s samples (see :mod:`visionbench.tasks.subset`)."""
    from visionbench.tasks.subset import MANIFEST_FORMAT

    strata, basis = sample_strata(run.task)
    positions = stratified_positions(strata, n, seed)
    table = run.task.state.table()
    index, ids = table.column("index").to_pylist(), table.column("sample_id").to_pylist()
    base = _base_spec(str(run.record["task"]["id"]))
    full, chosen = Counter(strata), Counter(strata[p] for p in positions)
    return {
        "format": MANIFEST_FORMAT,
        "base": base,
        "dataset_fingerprint": run.record["task"].get("dataset_fingerprint"),
        "seed": int(seed),
        "stratified_by": basis,
        "strata": {name: {"full": full[name], "subset": chosen[name]} for name in sorted(full)},
        "samples": [
            {"index": int(index[p]), "sample_id": str(ids[p]), "stratum": strata[p]}
            for p in sorted(positions, key=lambda p: int(index[p]))
        ],
    }


def _base_spec(task_id: str) -> dict[str, Any]:
    """``kind:source[:path][?k=v&...]`` (a record's task id) as its parts, unchecked: a run scored from
    files has a source no dataset registers, and its plan is still worth writing."""
    text, _, raw = task_id.partition("?")
    parts = text.split(":", 2)
    options = dict(part.partition("=")[::2] for part in raw.split("&") if part)
    return {
        "kind": parts[0],
        "source": parts[1] if len(parts) > 1 else "",
        "path": parts[2] if len(parts) > 2 else None,
        "options": options,
    }
