"""The shared contracts between tasks, adapters and the harness.

Tasks and adapters import only this module (and :mod:`visionbench.errors`,
:mod:`visionbench.preprocessing`) from the rest of the package, so data flows one
way: dataset -> adapter -> canonical predictions -> task metrics -> record.

Canonical predictions per task kind:

* classification: float tensor ``[N, C]`` (logits or probabilities), columns in
  the dataset's class order;
* detection: per image ``{"boxes": [K,4] xyxy float64 original pixels,
  "scores": [K], "labels": [K] dataset category ids}`` (+ ``"masks"`` [K,H,W] bool);
* segmentation: per image ``int64 [H, W]`` class map at the original size;
* captioning: per image ``str``: a list with one caption per image, in batch order
  (a loader's ``Model.run(batch, metas)`` returns it; the head checks it, see
  :mod:`visionbench.adapters.head_captioning`).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from visionbench.errors import LabelMapError

TASK_KINDS = ("classification", "detection", "segmentation", "captioning", "robustness")
NO_ANSWER = -1
"""The hard classification label of a sample a generative classifier gave no class for (counts as wrong)."""


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex sha256 of a JSON-serialisable object with sorted keys (stable across runs and machines)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def _freeze_options(options: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((options or {}).items()))


@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate: ``family:target`` plus options (weights, constructor arguments, label map)."""

    spec: str
    weights: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    label_map: tuple[tuple[str, str], ...] = ()

    @property
    def family(self) -> str:
        return self.spec.split(":", 1)[0]

    @property
    def target(self) -> str:
        return self.spec.split(":", 1)[1] if ":" in self.spec else ""

    @property
    def option_dict(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def fingerprint(self) -> str:
        return stable_hash([self.spec, self.weights, self.options, self.label_map])

    @classmethod
    def create(
        cls,
        spec: str,
        weights: str | None = None,
        options: Mapping[str, Any] | None = None,
        label_map: Mapping[str, Any] | None = None,
    ) -> ModelSpec:
        pairs = ((str(k), LABEL_ALTERNATIVES.join(label_targets(v))) for k, v in (label_map or {}).items())
        return cls(spec, weights, _freeze_options(options), tuple(sorted(pairs)))


@dataclass(frozen=True)
class TaskSpec:
    """A task to run: ``kind:source[:path]`` plus options (split, ignore index, ...)."""

    kind: str
    source: str
    path: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def id(self) -> str:
        base = f"{self.kind}:{self.source}"
        if self.path:
            base += f":{self.path}"
        if self.options:
            base += "?" + "&".join(f"{k}={v}" for k, v in self.options)
        return base

    @property
    def option_dict(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def fingerprint(self) -> str:
        return stable_hash([self.kind, self.source, self.path, self.options])


@dataclass(frozen=True)
class Sample:
    """One evaluation item: a stable id, the decoded image and the ground truth in the task's own form."""

    sample_id: str
    image: Any  # PIL.Image.Image
    target: Any


@dataclass(frozen=True)
class ImageMeta:
    """What an adapter needs to map outputs back to the original image."""

    index: int
    sample_id: str
    width: int
    height: int


class Dataset(ABC):
    """An indexable, lazily decoded dataset for one task kind."""

    name: str = ""
    kind: str = ""
    classes: tuple[str, ...] = ()

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def load(self, index: int) -> Sample:
        """Decode sample ``index``; raise :class:`~visionbench.errors.DataError` naming the file if it cannot."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A hash over the images and annotations, so a changed dataset never reuses old results."""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "num_samples": len(self),
            "num_classes": len(self.classes),
        }


@dataclass(frozen=True)
class TaskInfo:
    """What an adapter may know about the task: its kind and the dataset's class names (and category ids)."""

    kind: str
    dataset: str
    classes: tuple[str, ...]
    category_ids: tuple[int, ...] = ()


class Adapter(ABC):
    """What the runner drives: one model bound to one task kind, returning canonical predictions.

    Built by :func:`visionbench.registry.build_adapter` from a family's loader (which owns the
    model, weights, device, digest, licence and the two-part preprocessing) and a thin head per
    task kind (which maps model outputs to the canonical format of that kind). The runner uses
    only: :meth:`prepare`, :meth:`transform` (picklable PIL -> input, the geometric part of the
    preprocessing), :meth:`collate`, :meth:`predict`, :attr:`module`, :meth:`fingerprint`,
    :meth:`describe` (family, spec, name, preprocess, source), :meth:`licence`, ``spec``,
    ``family`` and ``device``. ``differentiable`` says whether :meth:`forward_pixels` (pixels in
    [0, 1] -> outputs, normalisation inside, gradients flow) is available.
    """

    family: ClassVar[str] = ""
    kinds: ClassVar[frozenset[str]] = frozenset()
    differentiable: bool = False

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.device = "cpu"
        self.precision = "fp32"
        self.task: TaskInfo | None = None

    def prepare(self, task: TaskInfo, *, device: str = "cpu", precision: str = "fp32") -> None:
        """Bind to a task and move to a device; raises ModelError when the model cannot serve this task."""
        from visionbench.errors import ModelError

        if task.kind not in self.kinds:
            raise ModelError(
                f"model '{self.spec.spec}' ({self.family}) does not support {task.kind}; "
                f"it supports: {', '.join(sorted(self.kinds)) or 'nothing'}"
            )
        self.task, self.device, self.precision = task, device, precision

    @abstractmethod
    def transform(self) -> Callable[[Any], Any]:
        """A picklable callable mapping a PIL image to the model input of one sample (runs in loader workers)."""

    def collate(self, items: list[Any]) -> Any:
        """Batch the transformed samples; the default stacks tensors."""
        import torch

        return torch.stack(items)

    @abstractmethod
    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> Any:
        """Canonical predictions for one batch (see the module docstring)."""

    def forward_pixels(self, x01: Any) -> Any:
        """Differentiable outputs for ``x01`` (float ``[N, C, H, W]`` in [0, 1], before normalisation).

        Classification: logits ``[N, C]`` in the dataset's class order. Raises
        :class:`~visionbench.errors.ModelError` when ``differentiable`` is False.
        """
        from visionbench.errors import ModelError

        raise ModelError(f"model '{self.spec.spec}' ({self.family}) is not differentiable")

    @property
    def module(self) -> Any:
        """The underlying ``torch.nn.Module`` when there is one (parameter count, FLOPs), else None."""
        return None

    def fingerprint(self) -> str:
        """Hash of the weights (or model file) and configuration."""
        return self.spec.fingerprint

    def describe(self) -> dict[str, Any]:
        """Identity of the model as recorded in results: family, name, weights, preprocessing."""
        return {"family": self.family, "spec": self.spec.spec, "weights": self.spec.weights}

    def licence(self) -> str:
        return "unknown"


@dataclass
class TaskResult:
    """What a task computed: headline metrics, per-class table, per-sample rows and artifact writers."""

    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    per_sample: dict[str, list[Any]] = field(default_factory=dict)
    artifacts: dict[str, Callable[[Any], Any]] = field(default_factory=dict)  # file name -> writer(path)
    extra: dict[str, Any] = field(default_factory=dict)


class Task(ABC):
    """A dataset + protocol + metrics. Consumes canonical predictions only.

    ``update`` turns each batch into per-sample state rows (:meth:`encode`, the task's
    sufficient statistics, see :mod:`visionbench.state`); ``compute`` and
    ``bootstrap_metrics`` work from that state alone, so a stored or gathered state is
    scored exactly like a live one. ``version`` changes whenever the state or the
    results would change; ``metric_version`` whenever only the metric code would.
    """

    kind: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    metric_version: ClassVar[str] = "1"

    def __init__(self, dataset: Dataset, spec: TaskSpec) -> None:
        from visionbench.state import TaskState

        self.dataset = dataset
        self.spec = spec
        self.state = TaskState(self.state_schema())

    @property
    def task_id(self) -> str:
        return self.spec.id

    @property
    def headline(self) -> tuple[str, ...]:
        """The bootstrapped headline metrics, the ranking key first (from the kind's declaration)."""
        from visionbench.declarations import declaration

        return declaration(self.kind).bootstrapped

    def info(self) -> TaskInfo:
        return TaskInfo(kind=self.kind, dataset=self.dataset.name, classes=tuple(self.dataset.classes))

    def scoring(self) -> dict[str, Any]:
        """The scoring conventions this run applied, defaults included (recorded under ``task.scoring``)."""
        return {}

    @abstractmethod
    def state_schema(self) -> Any:
        """The Arrow schema of one state row: ``index``, ``sample_id``, then the task's own columns."""

    @abstractmethod
    def encode(
        self, indices: Sequence[int], predictions: Any, targets: Sequence[Any], sample_ids: Sequence[str]
    ) -> Mapping[str, Any]:
        """State columns for one batch (validating the predictions); ``index`` and ``sample_id`` included."""

    def update(
        self, indices: Sequence[int], predictions: Any, targets: Sequence[Any], sample_ids: Sequence[str]
    ) -> Any:
        """Fold in one batch of canonical predictions; returns the state rows added."""
        return self.state.append(self.encode(indices, predictions, targets, sample_ids))

    @abstractmethod
    def compute(self) -> TaskResult:
        """Metrics, per-class table, per-sample rows and artifacts, from ``self.state`` alone."""

    def bootstrap_metrics(self, resample: Any) -> dict[str, float] | None:
        """Headline metrics on a resample of state rows (an int array); None when not bootstrappable."""
        return None

    bootstrap_block: Callable[..., dict[str, Any]] | None = None
    """Optionally, ``bootstrap_block(rows, keys=None)``: metrics of many resamples at once (one per
    row of positions), equal to :meth:`bootstrap_metrics` row by row; the bootstrap uses it when a
    task provides it. ``keys=None`` gives the headline (bootstrapped) metrics, the record's
    intervals; the paired comparison passes every declared key and reports the ones left out as
    not compared (see docs/gating.md, "How a task kind plugs in")."""

    def num_updated(self) -> int:
        return len(self.state)


def check_batch_length(count: int, sample_ids: Sequence[str], what: str) -> None:
    """A task's ``encode`` got ``count`` predictions (``what``) for ``sample_ids``: a mismatch names the first sample left out."""
    from visionbench.errors import ModelError

    if count != len(sample_ids):
        first = sample_ids[0] if len(sample_ids) else "?"
        missing = sample_ids[count] if count < len(sample_ids) else first
        raise ModelError(
            f"{count} {what} for a batch of {len(sample_ids)} samples (first sample without its own: '{missing}')"
        )


LABEL_ALTERNATIVES = "|"


def label_targets(value: Any) -> list[str]:
    """The model classes one label-map entry names: ``"a|b"`` or a list -> ``["a", "b"]`` (many-to-one)."""
    parts = value if isinstance(value, (list, tuple)) else str(value).split(LABEL_ALTERNATIVES)
    out = [str(p).strip() for p in parts if str(p).strip()]
    if not out:
        raise LabelMapError(f"label map entry {value!r} names no model class")
    return out


def resolve_label_map(
    model_classes: Sequence[str] | None,
    num_model_outputs: int,
    dataset_classes: Sequence[str],
    label_map: Mapping[str, Any] | None,
    *,
    model_name: str,
    dataset_name: str,
    aliases: Mapping[str, int] | None = None,
) -> list[tuple[int, ...]] | None:
    """The model's output columns feeding each dataset class (in dataset order), or None for the identity.

    Several model classes may feed one dataset class (many-to-one): the head scores the
    dataset class by the maximum over its columns. Policy: an explicit map (dataset class ->
    model class name, alias or output index; several joined by ``|`` or given as a list)
    wins; otherwise classes are matched by name when the model names its classes (or has
    ``aliases``, e.g. ImageNet WordNet ids -> column) and covers every dataset class;
    otherwise equal counts with unknown model names map by position. Anything else is a
    :class:`LabelMapError` asking for ``--label-map``.
    """
    dataset_classes = list(dataset_classes)
    names = list(model_classes) if model_classes is not None else None
    if names is not None and len(names) != num_model_outputs:
        names = None
    lookup: dict[str, int] = {}
    for i, name in enumerate(names or ()):
        lookup.setdefault(str(name), i)
    for alias, i in (aliases or {}).items():
        if 0 <= int(i) < num_model_outputs:
            lookup.setdefault(str(alias), int(i))
    hint = "pass --label-map (dataset class -> model class name or output index; several joined by |)"
    if label_map:
        columns = []
        for cls in dataset_classes:
            if cls not in label_map:
                raise LabelMapError(
                    f"label map for '{model_name}' has no entry for dataset class '{cls}' of {dataset_name}"
                )
            targets = label_targets(label_map[cls])
            columns.append(tuple(_model_column(t, lookup, num_model_outputs, model_name) for t in targets))
        unknown = set(label_map) - set(dataset_classes)
        if unknown:
            raise LabelMapError(
                f"label map names classes not in {dataset_name}: {', '.join(sorted(unknown))}"
            )
        return columns
    if names is not None and names == dataset_classes:
        return None
    if lookup and set(dataset_classes) <= set(lookup):
        return [(lookup[c],) for c in dataset_classes]
    if names is not None and num_model_outputs == len(dataset_classes):
        missing = [c for c in dataset_classes if c not in lookup][:5]
        raise LabelMapError(
            f"model '{model_name}' class names do not match {dataset_name} "
            f"(e.g. dataset class '{missing[0]}' is not a model class); {hint}"
        )
    if num_model_outputs == len(dataset_classes):
        return None
    raise LabelMapError(
        f"class-count mismatch: model '{model_name}' outputs {num_model_outputs} classes but "
        f"{dataset_name} has {len(dataset_classes)}; {hint}"
    )


def _model_column(value: str, lookup: Mapping[str, int], n: int, model_name: str) -> int:
    if str(value) in lookup:
        return lookup[str(value)]
    try:
        column = int(value)
    except (TypeError, ValueError):
        raise LabelMapError(
            f"label map target '{value}' is neither a class name nor an output index of '{model_name}'"
        ) from None
    if not 0 <= column < n:
        raise LabelMapError(f"label map index {column} is outside the {n} outputs of '{model_name}'")
    return column
