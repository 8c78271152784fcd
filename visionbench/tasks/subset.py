"""The ``subset`` dataset source: a chosen list of samples of another task's dataset.

``visionbench run --task KIND:subset:MANIFEST.json`` evaluates the samples a manifest lists (as
``visionbench plan-gate --write`` writes it: a stratified CI subset). The manifest names the base
task (``base``: kind, source, path, options), the base dataset's fingerprint, and the samples
(``index`` in the base dataset and ``sample_id``). The subset keeps each sample's id, so two runs
of one manifest pair up in ``compare`` and ``gate``. A base dataset whose fingerprint changed, or a
sample whose id is not the one listed, is a :class:`~visionbench.errors.DataError` naming the
manifest. Registered for every task kind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visionbench.contracts import TASK_KINDS, Dataset, Sample, stable_hash
from visionbench.errors import ConfigError, DataError
from visionbench.registry import dataset_factory, register_dataset

MANIFEST_FORMAT = "visionbench-subset/1"
FORWARDED = ("category_ids", "categories", "ignore_index", "reduce_zero_label", "has_images")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest checked: format, base task, fingerprint and a non-empty sample list."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"subset manifest not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"subset manifest {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise DataError(f"subset manifest {path}: 'format' must be '{MANIFEST_FORMAT}'")
    base = data.get("base")
    if not isinstance(base, dict) or not {"kind", "source"} <= set(base):
        raise DataError(f"subset manifest {path}: 'base' must give the base task's kind and source")
    samples = data.get("samples")
    if not isinstance(samples, list) or not samples:
        raise DataError(f"subset manifest {path}: 'samples' must be a non-empty list")
    for i, item in enumerate(samples):
        if not isinstance(item, dict) or not isinstance(item.get("index"), int) or "sample_id" not in item:
            raise DataError(
                f"subset manifest {path}: samples[{i}] needs an integer 'index' and a 'sample_id'"
            )
    return data


class SubsetDataset(Dataset):
    """The samples of ``base`` at ``indices`` (in that order), each checked against its listed id."""

    def __init__(self, base: Dataset, indices: list[int], sample_ids: list[str], where: str) -> None:
        self._base, self._indices, self._ids, self._where = base, indices, sample_ids, where
        self.name = f"{base.name}-subset{len(indices)}"
        self.kind = base.kind
        self.classes = tuple(base.classes)

    def __len__(self) -> int:
        return len(self._indices)

    def load(self, index: int) -> Sample:
        sample = self._base.load(self._indices[index])
        self._check(index, sample.sample_id)
        return sample

    def load_arrays(self, indices: Sequence[int]) -> Any:
        """The base's batched array path (when it has one) at the listed indices, ids checked."""
        load = getattr(self._base, "load_arrays", None)
        found = load([self._indices[i] for i in indices]) if load is not None else None
        if found is None:
            return None
        for index, sample_id in zip(indices, found[2], strict=True):
            self._check(index, sample_id)
        return found

    def _check(self, index: int, sample_id: Any) -> None:
        if str(sample_id) != self._ids[index]:
            raise DataError(
                f"{self._where}: sample {index} (index {self._indices[index]} of {self._base.name}) is "
                f"'{sample_id}', not '{self._ids[index]}' as listed"
            )

    def fingerprint(self) -> str:
        return stable_hash([self._base.fingerprint(), self._indices, self._ids])

    def __getattr__(self, name: str) -> Any:
        # what tasks and records read from a dataset beyond the contract: the base's
        if name in FORWARDED:
            return getattr(self._base, name)
        raise AttributeError(name)


def _subset(kind: str, path: str | None = None) -> Dataset:
    if not path:
        raise ConfigError(f"a subset task needs a manifest: {kind}:subset:MANIFEST.json")
    data = read_manifest(path)
    base_spec = data["base"]
    if base_spec["kind"] != kind:
        raise ConfigError(
            f"subset manifest {path} lists {base_spec['kind']} samples, not {kind}: use {base_spec['kind']}:subset:{path}"
        )
    options = base_spec.get("options") or {}
    base = dataset_factory(str(base_spec["kind"]), str(base_spec["source"]))(base_spec.get("path"), **options)
    want = data.get("dataset_fingerprint")
    if want and base.fingerprint() != want:
        raise DataError(
            f"subset manifest {path}: the dataset {base.name} changed since the subset was written "
            f"(fingerprint {base.fingerprint()}, manifest {want})"
        )
    samples = data["samples"]
    indices = [int(s["index"]) for s in samples]
    bad = next((i for i in indices if not 0 <= i < len(base)), None)
    if bad is not None:
        raise DataError(f"subset manifest {path}: index {bad} is outside {base.name} ({len(base)} samples)")
    return SubsetDataset(base, indices, [str(s["sample_id"]) for s in samples], f"subset manifest {path}")


def _factory(kind: str) -> Any:
    def subset(path: str | None = None) -> Dataset:
        return _subset(kind, path)

    return subset


for _kind in TASK_KINDS:
    register_dataset(
        _kind, "subset", "samples listed in a manifest (path: FILE.json, from plan-gate --write)", {}
    )(_factory(_kind))
