"""Robustness as a task kind: a classification source under attack and corruption.

``robustness:SOURCE[:PATH]?attacks=pgd,autoattack&norm=Linf&eps=2/255,8/255&n=500&seed=0`` wraps
any classification source (``digits``, ``imagefolder:DIR``, ``cifar10:DIR``, ``hf:DIR``, ...)
with the options of :mod:`visionbench.robustness.options`. The model is adapted as a classifier
and attacked through its differentiable ``forward_pixels`` (a non-differentiable model, e.g.
ONNX, gets the black-box Square attack only). The run drives the model itself
(:meth:`RobustnessTask.drive`, called by the runner instead of its prediction loop); the state
rows keep, per sample, the clean prediction and the boolean cells of every attack, check and
corruption, so ``compute`` and the bootstrap read the state alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.contracts import Dataset, Task, TaskInfo, TaskResult, TaskSpec, stable_hash
from visionbench.registry import register_dataset, register_task
from visionbench.robustness.options import ROBUSTNESS_OPTIONS, parse_plan


class FirstN(Dataset):
    """The first ``n`` samples of a dataset (the ``n`` option)."""

    def __init__(self, base: Dataset, n: int | None) -> None:
        self.base, self.n = base, n
        self.name, self.kind, self.classes = base.name, base.kind, base.classes

    def __len__(self) -> int:
        return len(self.base) if self.n is None else min(self.n, len(self.base))

    def load(self, index: int) -> Any:
        return self.base.load(index)

    def fingerprint(self) -> str:
        return self.base.fingerprint() if self.n is None else stable_hash([self.base.fingerprint(), self.n])


def _wrap(source: str, options: dict[str, Any] | None) -> None:
    from visionbench.registry import dataset_factory

    def factory(path: str | None = None, **given: Any) -> Dataset:
        plan = parse_plan(given, f"robustness:{source}")
        base = dataset_factory("classification", source)(path, **plan.source_options)
        n = given.get("n")
        return FirstN(base, None if n is None or str(n).strip().lower() in ("", "none", "null") else int(n))

    help_text = f"classification:{source} under attack and corruption"
    declared = None if options is None else {**options, **ROBUSTNESS_OPTIONS}
    register_dataset("robustness", source, help_text, options=declared)(factory)


def _register_sources() -> None:
    import visionbench.tasks.classification  # noqa: F401  (registers the classification sources)
    from visionbench.registry import _DATASET_OPTIONS, _DATASETS

    for kind, source in list(_DATASETS):
        if kind == "classification":
            _wrap(source, _DATASET_OPTIONS.get((kind, source)))


_register_sources()


@register_task("robustness")
class RobustnessTask(Task):
    """Clean and robust top-1 under attacks per eps, corruption accuracy, mCE/mPC, honesty flags."""

    version = "1"
    adapter_kind = "classification"

    @property
    def shard_unit(self) -> int:
        """torchrun ranks take whole attack chunks: each chunk is attacked as one batch from its own seed,
        so the attacks (random starts included) are those of a single-process run."""
        return self.plan.chunk

    def __init__(self, dataset: Dataset, spec: TaskSpec) -> None:
        self.plan = parse_plan(spec.option_dict, f"robustness:{spec.source}")
        self.mode = "white-box"
        self.gallery: list[dict[str, Any]] = []
        self.flags: list[dict[str, Any]] = []
        self.advisories: list[dict[str, Any]] = []
        self.notes: list[str] = []
        super().__init__(dataset, spec)
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None

    def info(self) -> TaskInfo:
        return TaskInfo(kind="classification", dataset=self.dataset.name, classes=tuple(self.dataset.classes))

    def drive(
        self, adapter: Any, positions: list[int], device: str, writer: Any, quiet: bool, seed: int
    ) -> Any:
        """Run the attacks and corruptions on ``positions`` (the runner's hook); returns (meter, first batch)."""
        from visionbench.robustness.engine import evaluate

        return evaluate(self, adapter, positions, device, writer, quiet, seed)

    def state_schema(self) -> Any:
        import pyarrow as pa

        from visionbench.state import base_fields

        return pa.schema(
            [
                *base_fields(),
                pa.field("target", pa.int64()),
                pa.field("label", pa.int64()),
                pa.field("cells", pa.list_(pa.string())),
                pa.field("values", pa.list_(pa.bool_())),
                pa.field("notes", pa.list_(pa.string())),
            ]
        )

    def encode(
        self, indices: Sequence[int], predictions: Any, targets: Sequence[Any], sample_ids: Sequence[str]
    ) -> dict[str, Any]:
        return {
            "index": list(indices),
            "sample_id": list(sample_ids),
            "target": [int(t) for t in targets],
            "label": [int(v) for v in predictions["label"]],
            "cells": predictions["cells"],
            "values": predictions["values"],
            "notes": predictions["notes"],
        }

    def scoring(self) -> dict[str, Any]:
        from visionbench.robustness.corruptions import POLICY

        out: dict[str, Any] = {
            "budget": {**self.plan.describe(), "num_samples": len(self.state)},
            "mode": self.mode,
            "attack_seconds": getattr(self, "attack_seconds", None),
            "attacked_samples": getattr(self, "attacked_samples", None),
            "honesty": {"flags": self.flags, "passed": not self.flags, "advisories": self.advisories},
            "notes": self.notes,
        }
        if self.plan.corruptions:
            out["corruption_policy"] = {**POLICY, "min_side": self.plan.min_side}
        return out

    def compute(self) -> TaskResult:
        from visionbench.robustness import summary
        from visionbench.robustness.options import norm_key
        from visionbench.robustness.plots import artifacts

        table = self.state.table()
        target = np.asarray(table.column("target").to_numpy())
        label = np.asarray(table.column("label").to_numpy())
        names, matrix = summary.cell_matrix(table)
        self.notes = sorted({n for row in table.column("notes").to_pylist() for n in row})
        if any(n.startswith("black-box") for n in self.notes):
            self.mode = "black-box"
        norm = norm_key(self.plan.norm)
        values = summary.metrics(target, label, names, matrix, norm)
        found = summary.honesty(target, label, names, matrix, self.notes, self.plan.tolerance)
        self.flags = [f for f in found if not f.get("advisory")]
        self.advisories = [f for f in found if f.get("advisory")]
        values["honesty_flags"] = float(len(self.flags))
        worst = summary.worst_flags(target, label, names, matrix)
        self._arrays = (target, label, worst)
        classes = list(self.dataset.classes)
        per_sample: dict[str, list[Any]] = {
            "sample_id": self.state.sample_ids(),
            "target": [classes[t] for t in target],
            "clean_prediction": [classes[p] for p in label],
            "clean_correct": (label == target).tolist(),
        }
        if worst is not None:
            per_sample["robust"] = worst.tolist()
        for i, name in enumerate(names):
            per_sample[name] = matrix[:, i].tolist()
        return TaskResult(
            metrics=values,
            per_sample=per_sample,
            artifacts=artifacts(values, names, matrix, norm, self.gallery, classes, self.flags),
            extra={"cells": names},
        )

    def bootstrap_metrics(self, resample: np.ndarray) -> dict[str, float] | None:
        from visionbench.robustness.summary import bootstrap

        if self._arrays is None:
            return None
        target, label, worst = self._arrays
        return bootstrap(target, label, worst, resample)
