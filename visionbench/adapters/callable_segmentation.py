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

from visionbench.adapters.callable_models import build_callable
from visionbench.adapters.segmentation_base import SegmenterAdapter, segmentation_preprocess, unnamed
from visionbench.registry import register_adapter


@register_adapter("callable", kinds=("segmentation",))
class CallableSegmenter(SegmenterAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.model, preprocess, classes = build_callable(spec)
        self.preprocess = segmentation_preprocess(preprocess)
        self.model_classes = unnamed(classes)
