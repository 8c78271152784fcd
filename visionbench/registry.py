"""Registries: model loaders keyed by (family, task kind), task kinds and dataset sources.

Model loaders: built-in and third-party loaders register the same way, as
``family = "package.module:loader"`` entries whose object is a callable
``loader(spec: ModelSpec, kind: str)`` returning a :class:`~visionbench.adapters.core.Model`
(or a ready :class:`~visionbench.contracts.Adapter`), with a ``kinds`` attribute naming the task
kinds it serves. Built-ins are listed in :data:`BUILTIN_LOADERS` (nothing is imported until
asked for); other distributions declare entry points in the group ``visionbench.adapters``.
A distribution may add a new family serving several kinds, or add a kind to a built-in family
(its ``kinds`` then name only the new ones); a built-in (family, kind) is never replaced.
Tasks and datasets register with decorators when their module is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from visionbench.errors import SpecError

T = TypeVar("T")
ENTRY_POINT_GROUP = "visionbench.adapters"

# family -> (loader as "module:object", kinds it serves): registered like entry points
BUILTIN_LOADERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "torchvision": (
        "visionbench.adapters.family_torchvision:load",
        ("classification", "detection", "segmentation"),
    ),
    "timm": ("visionbench.adapters.family_timm:load", ("classification",)),
    "hf": (
        "visionbench.adapters.family_hf:load",
        ("classification", "detection", "segmentation", "captioning"),
    ),
    "onnx": ("visionbench.adapters.family_onnx:load", ("classification", "detection", "segmentation")),
    "callable": (
        "visionbench.adapters.family_callable:load",
        ("classification", "detection", "segmentation"),
    ),
    "zoo": (
        "visionbench.adapters.family_zoo:load",
        ("classification", "detection", "segmentation", "captioning"),
    ),
}
BUILTIN = "built-in"
BUILTIN_TASKS = {
    "classification": "visionbench.tasks.classification",
    "segmentation": "visionbench.tasks.segmentation",
    "detection": "visionbench.tasks.detection",
    "captioning": "visionbench.tasks.captioning",
    "robustness": "visionbench.tasks.robustness",
}

_LOADERS: dict[tuple[str, str], tuple[str, str]] = {}  # (family, kind) -> ("module:object", origin)
_LOADED: dict[str, Any] = {}
_ENTRY_POINTS_READ: list[bool] = []
_TASKS: dict[str, type] = {}
_DATASETS: dict[tuple[str, str], Callable[..., Any]] = {}
_DATASET_HELP: dict[tuple[str, str], str] = {}
_DATASET_OPTIONS: dict[tuple[str, str], Any] = {}  # (kind, source) -> {name: Option} or None (unchecked)


def register_adapter(
    family: str, kinds: tuple[str, ...] | None = None, origin: str = "python"
) -> Callable[[T], T]:
    """Decorator registering a loader ``loader(spec, kind)`` in this process for ``family`` and its kinds.

    ``kinds`` defaults to the loader's ``kinds`` attribute. Entry points do the same from metadata.
    """

    def deco(loader: T) -> T:
        value = f"{loader.__module__}:{loader.__qualname__}"  # type: ignore[attr-defined]
        _LOADED[value] = loader
        for kind in kinds or loader.kinds:  # type: ignore[attr-defined]
            _add(family, kind, value, origin)
        return loader

    return deco


def _add(family: str, kind: str, value: str, origin: str) -> None:
    if _LOADERS.get((family, kind), ("", ""))[1] != BUILTIN:
        _LOADERS[(family, kind)] = (value, origin)


def register_task(kind: str) -> Callable[[type[T]], type[T]]:
    """Class decorator for a :class:`~visionbench.contracts.Task` implementing one task kind."""

    def deco(cls: type[T]) -> type[T]:
        cls.kind = kind  # type: ignore[attr-defined]
        _TASKS[kind] = cls
        return cls

    return deco


def register_dataset(
    kind: str, source: str, help: str = "", options: dict[str, Any] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a dataset factory ``factory(path: str | None, **options) -> Dataset``.

    ``options`` declares the accepted options (``name -> visionbench.schema.Option``); without
    it they are read from the factory's keyword parameters (a ``**kwargs`` factory is unchecked).
    """

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        from visionbench.schema import signature_options

        _DATASETS[(kind, source)] = factory
        _DATASET_OPTIONS[(kind, source)] = options if options is not None else signature_options(factory)
        _DATASET_HELP[(kind, source)] = help or ((factory.__doc__ or "").strip().splitlines() or [""])[0]
        return factory

    return deco


def _load_object(value: str) -> Any:
    if value not in _LOADED:
        module_name, _, attr = value.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        _LOADED[value] = obj
    return _LOADED[value]


def _read_registrations() -> None:
    """Built-ins, then every ``visionbench.adapters`` entry point (loaded once, to read its ``kinds``)."""
    for family, (value, kinds) in BUILTIN_LOADERS.items():
        for kind in kinds:
            _LOADERS[(family, kind)] = (value, BUILTIN)
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ.append(True)
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        origin = point.dist.name if getattr(point, "dist", None) is not None else "entry point"
        try:
            loader = point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break the built-ins
            raise SpecError(
                f"adapter entry point '{point.name} = {point.value}' ({origin}) failed to load: {exc}"
            ) from None
        _LOADED[point.value] = loader
        kinds = getattr(loader, "kinds", None)
        if not kinds:
            raise SpecError(
                f"adapter entry point '{point.name} = {point.value}' ({origin}) declares no kinds"
            )
        for kind in kinds:
            _add(point.name, kind, point.value, origin)


def reset_adapters() -> None:
    """Forget entry points read so far (after installing a distribution in a running process)."""
    _ENTRY_POINTS_READ.clear()
    for key in [k for k, (_, origin) in _LOADERS.items() if origin != "python"]:
        del _LOADERS[key]


def adapter_table() -> list[tuple[str, str, str]]:
    """``(family, kind, origin)`` for every registered loader: ``built-in`` or the distribution's name."""
    _read_registrations()
    return sorted((family, kind, origin) for (family, kind), (_, origin) in _LOADERS.items())


def adapter_families() -> list[str]:
    return sorted({family for family, _, _ in adapter_table()})


def family_kinds(family: str) -> list[str]:
    return sorted(kind for f, kind, _ in adapter_table() if f == family)


def build_adapter(spec: Any, kind: str) -> Any:
    """The :class:`~visionbench.contracts.Adapter` for ``spec`` (a ``ModelSpec``) on a task of ``kind``."""
    families = adapter_families()
    if spec.family not in families:
        raise SpecError(f"unknown model family '{spec.family}' (known: {', '.join(families)})")
    if (spec.family, kind) not in _LOADERS:
        raise SpecError(
            f"model family '{spec.family}' has no {kind} adapter "
            f"(it serves: {', '.join(family_kinds(spec.family)) or 'nothing'})"
        )
    from visionbench.adapters.core import Model, ModelAdapter
    from visionbench.contracts import Adapter

    built = _load_object(_LOADERS[(spec.family, kind)][0])(spec, kind)
    if isinstance(built, Adapter):
        return built
    if not isinstance(built, Model):
        raise SpecError(
            f"the {spec.family} loader returned {type(built).__name__}, not a Model or an Adapter"
        )
    return ModelAdapter(spec, kind, built)


def task_class(kind: str) -> type:
    if kind not in _TASKS and kind in BUILTIN_TASKS:
        importlib.import_module(BUILTIN_TASKS[kind])
    importlib.import_module("visionbench.tasks.subset")  # the subset source of every kind
    if kind not in _TASKS:
        raise SpecError(f"unknown task kind '{kind}' (known: {', '.join(sorted(BUILTIN_TASKS))})")
    return _TASKS[kind]


def dataset_factory(kind: str, source: str) -> Callable[..., Any]:
    task_class(kind)  # importing the task module registers its datasets
    if (kind, source) not in _DATASETS:
        known = ", ".join(sorted(s for k, s in _DATASETS if k == kind))
        raise SpecError(f"unknown {kind} dataset source '{source}' (known: {known})")
    return _DATASETS[(kind, source)]


def check_dataset_options(kind: str, source: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of a ``kind:source`` task checked against its declaration (ConfigError naming the option)."""
    from visionbench.schema import check_options

    dataset_factory(kind, source)
    return check_options(options, _DATASET_OPTIONS.get((kind, source)), f"{kind}:{source}")


def dataset_options(kind: str, source: str) -> dict[str, Any] | None:
    """The declared options of a dataset source (None: unchecked)."""
    dataset_factory(kind, source)
    return _DATASET_OPTIONS.get((kind, source))


def dataset_sources() -> dict[str, list[tuple[str, str]]]:
    """kind -> [(source, one-line help)] for every built-in task kind."""
    for kind in BUILTIN_TASKS:
        task_class(kind)
    out: dict[str, list[tuple[str, str]]] = {}
    for (kind, source), help_text in sorted(_DATASET_HELP.items()):
        out.setdefault(kind, []).append((source, help_text or ""))
    return out
