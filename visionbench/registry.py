"""Name -> class registries for adapter families, task kinds and dataset sources.

Built-in entries register with decorators when their module is imported; the
modules are listed here by name so nothing heavy is imported until asked for.
Third-party adapters register through the entry-point group ``visionbench.adapters``
(``family = "package.module:AdapterClass"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from visionbench.errors import SpecError

T = TypeVar("T")
ENTRY_POINT_GROUP = "visionbench.adapters"

# (family, task kind) -> module that registers the adapter (imported on first use)
BUILTIN_ADAPTERS = {
    ("torchvision", "classification"): "visionbench.adapters.torchvision_models",
    ("timm", "classification"): "visionbench.adapters.timm_models",
    ("onnx", "classification"): "visionbench.adapters.onnx_models",
    ("callable", "classification"): "visionbench.adapters.callable_models",
    ("zoo", "classification"): "visionbench.adapters.zoo_models",
    ("torchvision", "detection"): "visionbench.adapters.torchvision_detection",
    ("hf", "detection"): "visionbench.adapters.hf_detection",
    ("onnx", "detection"): "visionbench.adapters.onnx_detection",
    ("callable", "detection"): "visionbench.adapters.callable_detection",
    ("zoo", "detection"): "visionbench.adapters.zoo_detection",
    ("torchvision", "segmentation"): "visionbench.adapters.torchvision_segmentation",
    ("hf", "segmentation"): "visionbench.adapters.hf_segmentation",
    ("onnx", "segmentation"): "visionbench.adapters.onnx_segmentation",
    ("callable", "segmentation"): "visionbench.adapters.callable_segmentation",
    ("zoo", "segmentation"): "visionbench.adapters.zoo_segmentation",
}
BUILTIN_TASKS = {
    "classification": "visionbench.tasks.classification",
    "segmentation": "visionbench.tasks.segmentation",
    "detection": "visionbench.tasks.detection",
}

_ADAPTERS: dict[tuple[str, str], type] = {}
_TASKS: dict[str, type] = {}
_DATASETS: dict[tuple[str, str], Callable[..., Any]] = {}
_DATASET_HELP: dict[tuple[str, str], str] = {}


def register_adapter(family: str, kinds: tuple[str, ...] | None = None) -> Callable[[type[T]], type[T]]:
    """Class decorator: make an :class:`~visionbench.contracts.Adapter` serve ``family:...`` for its kinds.

    One family may have one adapter class per task kind (a torchvision classifier and a
    torchvision detector are different adapters); ``kinds`` defaults to ``cls.kinds``.
    """

    def deco(cls: type[T]) -> type[T]:
        cls.family = family  # type: ignore[attr-defined]
        for kind in kinds or cls.kinds:  # type: ignore[attr-defined]
            _ADAPTERS[(family, kind)] = cls
        return cls

    return deco


def register_task(kind: str) -> Callable[[type[T]], type[T]]:
    """Class decorator for a :class:`~visionbench.contracts.Task` implementing one task kind."""

    def deco(cls: type[T]) -> type[T]:
        cls.kind = kind  # type: ignore[attr-defined]
        _TASKS[kind] = cls
        return cls

    return deco


def register_dataset(
    kind: str, source: str, help: str = ""
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a dataset factory ``factory(path: str | None, **options) -> Dataset``."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        _DATASETS[(kind, source)] = factory
        _DATASET_HELP[(kind, source)] = help or ((factory.__doc__ or "").strip().splitlines() or [""])[0]
        return factory

    return deco


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def adapter_class(family: str, kind: str = "classification") -> type:
    """The adapter class for a family and task kind, importing built-ins or entry points on demand."""
    if family not in adapter_families():
        raise SpecError(f"unknown model family '{family}' (known: {', '.join(adapter_families())})")
    if (family, kind) not in _ADAPTERS:
        if (family, kind) in BUILTIN_ADAPTERS:
            importlib.import_module(BUILTIN_ADAPTERS[(family, kind)])
        else:
            eps = _entry_points()
            if family in eps:
                cls = eps[family].load()
                register_adapter(family)(cls)
    if (family, kind) not in _ADAPTERS:
        kinds = sorted(
            {k for f, k in BUILTIN_ADAPTERS if f == family} | {k for f, k in _ADAPTERS if f == family}
        )
        raise SpecError(
            f"model family '{family}' has no {kind} adapter (it serves: {', '.join(kinds) or 'nothing'})"
        )
    return _ADAPTERS[(family, kind)]


def adapter_families() -> list[str]:
    return sorted({f for f, _ in BUILTIN_ADAPTERS} | {f for f, _ in _ADAPTERS} | set(_entry_points()))


def task_class(kind: str) -> type:
    if kind not in _TASKS and kind in BUILTIN_TASKS:
        importlib.import_module(BUILTIN_TASKS[kind])
    if kind not in _TASKS:
        raise SpecError(f"unknown task kind '{kind}' (known: {', '.join(sorted(BUILTIN_TASKS))})")
    return _TASKS[kind]


def dataset_factory(kind: str, source: str) -> Callable[..., Any]:
    task_class(kind)  # importing the task module registers its datasets
    if (kind, source) not in _DATASETS:
        known = ", ".join(sorted(s for k, s in _DATASETS if k == kind))
        raise SpecError(f"unknown {kind} dataset source '{source}' (known: {known})")
    return _DATASETS[(kind, source)]


def dataset_sources() -> dict[str, list[tuple[str, str]]]:
    """kind -> [(source, one-line help)] for every built-in task kind."""
    for kind in BUILTIN_TASKS:
        task_class(kind)
    out: dict[str, list[tuple[str, str]]] = {}
    for (kind, source), help_text in sorted(_DATASET_HELP.items()):
        out.setdefault(kind, []).append((source, help_text or ""))
    return out
