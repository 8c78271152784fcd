"""Any Python callable: ``callable:<module>:<factory>`` returning a ``torch.nn.Module``.

The factory receives ``--model-arg`` options as keyword arguments (except
``preprocess`` and ``classes``). Preprocessing comes from the ``preprocess`` option,
else a ``visionbench_preprocess`` dict attribute on the module, else ImageNet-style
224 px; class names likewise from ``classes`` / ``visionbench_classes``.
"""

from __future__ import annotations

import importlib
from typing import Any

from visionbench.adapters.base import ClassifierAdapter
from visionbench.errors import ModelError, SpecError
from visionbench.preprocessing import Preprocess
from visionbench.registry import register_adapter


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


def build_callable(spec: Any) -> tuple[Any, Any, Any]:
    """Build the user's model from ``callable:module:factory``.

    Returns ``(model, preprocess, classes)``: ``--model-arg`` options other than
    ``preprocess`` and ``classes`` go to the factory; those two fall back to the
    model's ``visionbench_preprocess`` / ``visionbench_classes`` attributes.
    """
    options = spec.option_dict
    preprocess = options.pop("preprocess", None)
    classes = options.pop("classes", None)
    factory = load_factory(spec.target)
    try:
        model = factory(**options)
    except Exception as exc:  # noqa: BLE001 - user code: report it as a model error
        raise ModelError(
            f"callable:{spec.target} failed to build the model: {type(exc).__name__}: {exc}"
        ) from None
    if not callable(model):
        raise ModelError(f"callable:{spec.target} returned {type(model).__name__}, not a callable model")
    return (
        model,
        preprocess or getattr(model, "visionbench_preprocess", None),
        classes or getattr(model, "visionbench_classes", None),
    )


@register_adapter("callable")
class CallableClassifier(ClassifierAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.model, preprocess, self.model_classes = build_callable(spec)
        self.preprocess = (
            Preprocess.from_dict(preprocess) if preprocess else Preprocess(resize=256, crop=(224, 224))
        )
