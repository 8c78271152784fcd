"""Any Python callable: ``callable:<module>:<factory>`` for classification, detection and segmentation.

The factory receives the ``--model-arg`` options as keyword arguments, except ``preprocess``
and ``classes``, and returns an ``nn.Module`` or any callable; it is wrapped exactly as
:func:`~visionbench.adapters.objects.adapter_for_object` wraps an in-memory model (what the
model receives and returns per kind is described there). See
:mod:`visionbench.adapters.haar_faces` for a non-torch detector.
"""

from __future__ import annotations

import importlib
from typing import Any

from visionbench.adapters.core import Model
from visionbench.adapters.model_options import check_factory_options, refuse_weights
from visionbench.adapters.objects import model_for_object
from visionbench.contracts import ModelSpec
from visionbench.errors import ModelError, SpecError
from visionbench.schema import Option


def load_factory(target: str) -> Any:
    """``pkg.module:function`` -> the function; errors name the part that is missing."""
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise SpecError(f"callable spec '{target}' must be module:factory (e.g. mypkg.models:build)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"cannot import module '{module_name}' for callable:{target}: {exc}") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise SpecError(f"module '{module_name}' has no callable '{attr}'")
    return factory


def load(spec: ModelSpec, kind: str) -> Model:
    """The ``callable:module:factory`` loader: ``--model-arg`` options other than ``preprocess``
    and ``classes`` go to the factory."""
    options = spec.option_dict
    preprocess = options.pop("preprocess", None)
    classes = options.pop("classes", None)
    refuse_weights(spec, "the factory loads its own weights (pass a path with --model-arg)")
    factory = load_factory(spec.target)
    check_factory_options(factory, spec, options, {"preprocess": Option("json"), "classes": Option("json")})
    try:
        obj = factory(**options)
    except Exception as exc:  # noqa: BLE001 - user code: report it as a model error
        raise ModelError(
            f"callable:{spec.target} failed to build the model: {type(exc).__name__}: {exc}"
        ) from None
    if not callable(obj):
        raise ModelError(f"callable:{spec.target} returned {type(obj).__name__}, not a callable model")
    return model_for_object(
        obj, kind, name=spec.spec, preprocess=preprocess, classes=classes, identity=spec.fingerprint
    )


load.kinds = ("classification", "detection", "segmentation")  # type: ignore[attr-defined]
