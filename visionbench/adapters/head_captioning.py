"""The captioning head: a loader's generated text -> canonical captions (one ``str`` per image, batch order).

A loader serving ``captioning`` builds a :class:`~visionbench.adapters.core.Model` whose
``run(batch, metas)`` returns one caption per image, in the order of ``metas`` (a list or
tuple of ``str``). The head checks that contract before the task sees it: anything else
(None, a tensor of token ids, a caption that is not text, one caption too few) is a
:class:`~visionbench.errors.ModelError` naming the model and the sample at fault. Captions
are passed on exactly as generated; tokenisation and lower-casing belong to the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from visionbench.adapters.core import ModelAdapter
from visionbench.contracts import ImageMeta, TaskInfo
from visionbench.errors import ModelError


def checked_captions(output: Any, *, model: str, metas: Sequence[ImageMeta]) -> list[str]:
    """``output`` as a list of ``str``, one per image of ``metas``; a ModelError names the first sample at fault."""
    first = metas[0].sample_id if metas else "?"
    if isinstance(output, str) or not isinstance(output, (list, tuple)):
        raise ModelError(
            f"model '{model}' returned a {type(output).__name__} for the batch starting at sample '{first}'; "
            "a captioning model returns a list with one str per image"
        )
    if len(output) != len(metas):
        missing = metas[len(output)].sample_id if len(output) < len(metas) else first
        raise ModelError(
            f"model '{model}' returned {len(output)} captions for a batch of {len(metas)} images "
            f"(first sample without its own: '{missing}')"
        )
    for caption, meta in zip(output, metas, strict=True):
        if not isinstance(caption, str):
            raise ModelError(
                f"model '{model}' returned a {type(caption).__name__} as the caption of sample "
                f"'{meta.sample_id}'; captions are str"
            )
    return list(output)


class CaptioningHead:
    """Passes the loader's captions through after :func:`checked_captions`; no label space to map."""

    def __init__(self, adapter: ModelAdapter) -> None:
        self.adapter, self.model = adapter, adapter.model
        self.task: TaskInfo | None = None

    def bind(self, task: TaskInfo) -> None:
        self.task = task

    def collate(self, items: list[Any]) -> Any:
        return self.model.collate(items)

    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> list[str]:
        return checked_captions(self.model.run(batch, metas), model=self.adapter.spec.spec, metas=metas)

    def forward_pixels(self, x01: Any) -> Any:
        raise ModelError(f"model '{self.adapter.spec.spec}' is a captioner: it has no differentiable logits")
