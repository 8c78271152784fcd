"""Model label spaces -> dataset classes: column selection (many-to-one) and detection label lookups.

Every head goes through :func:`~visionbench.contracts.resolve_label_map`'s policy. Several
model classes may feed one dataset class: a classifier or segmenter scores it by the maximum
over their columns; a detector's detections of each of them get the dataset class's id.

Detection specifics: an explicit ``--label-map dataset_class=model_label`` (model label by
name or integer label, several joined by ``|``) wins and may leave dataset classes out
(detections whose model label is not mapped are dropped); otherwise, when the model names its
labels and every dataset class is one of those names, labels are matched by name and the other
labels are dropped; otherwise, when the model has as many unnamed labels as the dataset has
classes, they map by position (the k-th model label -> the k-th category in category-id
order); anything else is a :class:`~visionbench.errors.LabelMapError`. Entries named
``__background__`` or ``N/A`` are not labels; placeholder names such as ``LABEL_3`` are unnamed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from visionbench.contracts import TaskInfo, label_targets, resolve_label_map
from visionbench.errors import LabelMapError, ModelError

NOT_A_LABEL = re.compile(r"^(__background__|background|n/a|no[ _-]?object)$", re.IGNORECASE)
PLACEHOLDER = re.compile(r"^label_\d+$", re.IGNORECASE)


def column_index(columns: list[tuple[int, ...]] | None, device: Any = None) -> Any:
    """``[C, k]`` long tensor of each dataset class's model columns (shorter rows repeat their first), or None."""
    import torch

    if columns is None:
        return None
    width = max(len(c) for c in columns)
    rows = [list(c) + [c[0]] * (width - len(c)) for c in columns]
    return torch.as_tensor(rows, dtype=torch.long, device=device)


def select_columns(outputs: Any, index: Any, dim: int = 1) -> Any:
    """Outputs in dataset order: one column per class, or the maximum over a class's several columns."""
    if index is None:
        return outputs
    if index.shape[1] == 1:
        return outputs.index_select(dim, index[:, 0])
    picked = outputs.index_select(dim, index.reshape(-1))
    shape = list(outputs.shape)
    shape[dim : dim + 1] = list(index.shape)
    return picked.reshape(shape).amax(dim + 1)


def unnamed(names: Sequence[str] | None) -> list[str] | None:
    """None when a model's class names are placeholders (``LABEL_0``, ``0``...), so counts map by position."""
    if not names:
        return None
    placeholders = ({f"LABEL_{i}", str(i)} for i in range(len(names)))
    return None if all(str(n) in p for n, p in zip(names, placeholders, strict=True)) else list(names)


def model_label_space(labels: Mapping[int, str | None] | Sequence[str | None]) -> dict[int, str | None]:
    """``{model label: name or None}`` from a dict or a list (index = label); background entries left out."""
    items = labels.items() if isinstance(labels, Mapping) else enumerate(labels)
    return {
        int(k): (None if v is None or PLACEHOLDER.match(str(v)) else str(v))
        for k, v in items
        if v is None or not NOT_A_LABEL.match(str(v))
    }


def resolve_detection_labels(
    labels: Mapping[int, str | None] | None,
    task: TaskInfo,
    label_map: Mapping[str, Any] | None,
    *,
    model_name: str,
) -> np.ndarray | None:
    """Lookup array: ``lookup[model label]`` = dataset category id, or -1 (dropped); None = labels are ids already."""
    classes, cat_ids = list(task.classes), list(task.category_ids) or list(range(1, len(task.classes) + 1))
    if labels is None:
        if label_map:
            raise LabelMapError(
                f"model '{model_name}' does not declare its labels, so --label-map cannot apply"
            )
        return None
    space = dict(sorted(labels.items()))
    if not space:
        raise ModelError(f"model '{model_name}' declares no labels")
    lookup = np.full(max(max(space) + 1, 1), -1, dtype=np.int64)
    if label_map:
        unknown = sorted(set(label_map) - set(classes))
        if unknown:
            raise LabelMapError(f"label map names classes not in {task.dataset}: {', '.join(unknown)}")
        by_name: dict[str, int] = {}
        for label, name in space.items():
            if name is not None:
                by_name.setdefault(name, label)
        for cls, target in label_map.items():
            for part in label_targets(target):
                lookup[_model_label(part, by_name, space, model_name)] = cat_ids[classes.index(cls)]
        return lookup
    order = list(space)
    names = [space[k] for k in order]
    named = all(n is not None for n in names)
    hint = "pass --label-map dataset_class=model_label (a label name or number; several joined by |)"
    if named and not set(classes) <= set(names) and len(names) != len(classes):
        missing = next(c for c in classes if c not in names)
        raise LabelMapError(
            f"model '{model_name}' has no label named '{missing}' (a class of {task.dataset}); {hint}"
        )
    if not named and len(order) != len(classes):
        raise LabelMapError(
            f"model '{model_name}' has {len(order)} unnamed labels but {task.dataset} has {len(classes)} classes; {hint}"
        )
    columns = resolve_label_map(
        names if named else None, len(order), classes, None, model_name=model_name, dataset_name=task.dataset
    )
    for k, column in enumerate(columns if columns is not None else [(i,) for i in range(len(classes))]):
        lookup[order[column[0]]] = cat_ids[k]
    return lookup


def _model_label(target: str, by_name: dict[str, int], space: dict[int, str | None], model_name: str) -> int:
    if target in by_name:
        return by_name[target]
    try:
        label = int(target)
    except ValueError:
        raise LabelMapError(
            f"label map target '{target}' is neither a label name nor a label of '{model_name}'"
        ) from None
    if label not in space:
        raise LabelMapError(
            f"label map label {label} is not one of the labels of '{model_name}' ({min(space)}..{max(space)})"
        )
    return label


def imagenet_label_space(
    num_outputs: int, names: Sequence[str] | None
) -> tuple[list[str] | None, dict[str, int]]:
    """``(class names, aliases)`` of a classifier: an ImageNet-1k head gets torchvision's names and the wnids.

    A 1000-output head whose names are unknown or the ImageNet-1k names (in any of the libraries'
    spellings) knows its WordNet ids, so an ImageFolder of wnid-named folders needs no label map.
    """
    from visionbench.adapters.imagenet import imagenet_names, imagenet_wnids, is_imagenet_label_space

    own = list(names) if names is not None else None
    if num_outputs != 1000 or (own is not None and not is_imagenet_label_space(own)):
        return own, {}
    aliases = {wnid: i for i, wnid in enumerate(imagenet_wnids())}
    for i, name in enumerate(imagenet_names()):
        aliases.setdefault(name, i)
    return (own or list(imagenet_names())), aliases
