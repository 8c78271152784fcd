"""Any Python detector: ``callable:<module>:<factory>`` for detection tasks.

The factory receives the ``--model-arg`` options (except ``classes``) as keyword arguments
and returns a model that maps a list of images (RGB ``uint8`` numpy arrays ``[H, W, 3]``)
to one dict per image: ``boxes`` [K, 4] xyxy in the image's pixels, ``scores`` [K],
``labels`` [K] and optionally ``masks`` [K, H, W]. Labels are indices into the model's
class names when it declares them (``classes`` option or a ``visionbench_classes``
attribute; mapped to the dataset by name or ``--label-map``), else dataset category ids.
A ``visionbench_fingerprint`` attribute (or ``fingerprint()`` method) identifies
non-torch models in the results. See :mod:`visionbench.adapters.haar_faces` for an example.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.adapters.callable_models import build_callable
from visionbench.adapters.detection_base import DetectionAdapter, model_label_space
from visionbench.contracts import ImageMeta
from visionbench.errors import ModelError
from visionbench.registry import register_adapter


class ToArray:
    """PIL image -> RGB uint8 array ``[H, W, 3]`` (picklable, runs in loader workers)."""

    def __call__(self, image: Any) -> np.ndarray:
        return np.asarray(image.convert("RGB"))

    def __repr__(self) -> str:
        return "ToArray(RGB uint8 HWC)"


@register_adapter("callable", kinds=("detection",))
class CallableDetector(DetectionAdapter):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.model, _, classes = build_callable(spec)
        self.model_labels = None if classes is None else model_label_space(list(classes))
        self.preprocess_description = {"input": repr(ToArray())}

    def transform(self) -> Any:
        return ToArray()

    def collate(self, items: list[Any]) -> list[Any]:
        return list(items)

    def detect(self, batch: Any, metas: Sequence[ImageMeta]) -> list[dict[str, Any]]:
        try:
            out = self.model(batch)
        except Exception as exc:  # noqa: BLE001 - user code
            raise ModelError(
                f"callable:{self.spec.target} failed on {metas[0].sample_id}...: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(out, Sequence) or not all(isinstance(o, dict) for o in out):
            raise ModelError(
                f"callable:{self.spec.target} must return a list of dicts (one per image), got {type(out).__name__}"
            )
        return list(out)

    def fingerprint(self) -> str:
        from visionbench.contracts import stable_hash

        own = getattr(self.model, "visionbench_fingerprint", None)
        if callable(getattr(self.model, "fingerprint", None)):
            own = self.model.fingerprint()
        return stable_hash([self.spec.fingerprint, own]) if own is not None else super().fingerprint()
