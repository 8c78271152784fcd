"""Any Python callable as a segmenter: ``callable:<module>:<factory>`` returning a model that maps a batch to logits.

The model receives ``[N, C, h, w]`` float input and returns logits ``[N, classes, h', w']`` (a
tensor, a dict with ``out``, or an object with ``.logits``). The factory gets ``--model-arg``
options as keyword arguments except ``preprocess`` and ``classes``. Preprocessing comes from
the ``preprocess`` option, else a ``visionbench_preprocess`` dict on the model, else the
shorter side resized to 520 with ImageNet mean/std; class names likewise from ``classes`` /
``visionbench_classes``.
"""

from __future__ import annotations

from typing import Any

from visionbench.adapters.callable_models import load_factory
from visionbench.adapters.segmentation_base import SegmenterAdapter, segmentation_preprocess, unnamed
from visionbench.errors import ModelError
from visionbench.registry import register_adapter


@register_adapter("callable", kinds=("segmentation",))
class CallableSegmenter(SegmenterAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        options = spec.option_dict
        preprocess = options.pop("preprocess", None)
        classes = options.pop("classes", None)
        factory = load_factory(spec.target)
        try:
            self.model = factory(**options)
        except Exception as exc:  # noqa: BLE001 - user code: report it as a model error
            raise ModelError(
                f"callable:{spec.target} failed to build the model: {type(exc).__name__}: {exc}"
            ) from None
        if not callable(self.model):
            raise ModelError(
                f"callable:{spec.target} returned {type(self.model).__name__}, not a callable model"
            )
        self.preprocess = segmentation_preprocess(
            preprocess or getattr(self.model, "visionbench_preprocess", None)
        )
        self.model_classes = unnamed(classes or getattr(self.model, "visionbench_classes", None))
