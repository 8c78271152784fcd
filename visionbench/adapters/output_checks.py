"""Checks on what a model returns, before a head reads it: messages name the model and the first sample at fault.

A model that returns None, a dict without logits, a list of numbers, logits of the wrong rank,
fewer rows than images, or NaN/inf scores fails here with a :class:`ModelError` instead of an
``IndexError`` or a silently wrong argmax further on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from visionbench.contracts import ImageMeta
from visionbench.errors import ModelError

SHAPES = {2: "[N, classes]", 4: "[N, classes, h, w]"}


def _describe(output: Any) -> str:
    if output is None:
        return "None"
    if isinstance(output, Mapping):
        return f"a dict with keys {sorted(map(str, output))[:8]}"
    shape = getattr(output, "shape", None)
    if shape is not None:
        return f"a {type(output).__name__} of shape {list(shape)}"
    if isinstance(output, Sequence) and not isinstance(output, str):
        return f"a {type(output).__name__} of {len(output)} items"
    return f"a {type(output).__name__}"


def checked_logits(output: Any, *, model: str, metas: Sequence[ImageMeta], rank: int) -> Any:
    """``output`` (already unwrapped) as a float tensor of ``rank`` dims with one row per image, all finite."""
    import numpy as np
    import torch

    first = metas[0].sample_id if metas else "?"
    expected = SHAPES.get(rank, f"{rank}-D")
    if isinstance(output, np.ndarray) and output.dtype.kind in "biuf":
        output = torch.from_numpy(np.ascontiguousarray(output))
    if not isinstance(output, torch.Tensor):
        raise ModelError(
            f"model '{model}' returned {_describe(output)} for the batch starting at sample '{first}'; "
            f"expected logits {expected} (a tensor, {{'out': tensor}}, .logits or a tuple with the logits first)"
        )
    if output.ndim != rank:
        raise ModelError(
            f"model '{model}' returned logits of shape {list(output.shape)} for the batch starting at sample "
            f"'{first}'; expected logits {expected}"
        )
    if metas and output.shape[0] != len(metas):  # callers without metas (tests, attacks) check nothing here
        missing = metas[int(output.shape[0])].sample_id if output.shape[0] < len(metas) else first
        raise ModelError(
            f"model '{model}' returned {int(output.shape[0])} rows for a batch of {len(metas)} images "
            f"(first sample without its own row: '{missing}')"
        )
    if not output.is_floating_point() and not output.is_complex():
        output = output.float()
    finite = torch.isfinite(output.reshape(int(output.shape[0]), -1)).all(dim=1)
    if not bool(finite.all()):
        bad = int((~finite).nonzero()[0, 0])
        who = f"sample '{metas[bad].sample_id}'" if metas else f"row {bad}"
        raise ModelError(f"model '{model}' returned NaN or infinite logits for {who}")
    return output


def checked_detections(raw: Any, *, model: str, metas: Sequence[ImageMeta]) -> list[Mapping[str, Any]]:
    """``raw`` as a list of one mapping per image."""
    first = metas[0].sample_id if metas else "?"
    if isinstance(raw, Mapping) or not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ModelError(
            f"model '{model}' returned {_describe(raw)} for the batch starting at sample '{first}'; "
            "expected a list with one dict of boxes, scores, labels per image"
        )
    if len(raw) != len(metas):
        raise ModelError(f"model '{model}' returned {len(raw)} results for a batch of {len(metas)} images "
                         f"starting at sample '{first}'")  # fmt: skip
    for item, meta in zip(raw, metas, strict=True):
        if not isinstance(item, Mapping):
            raise ModelError(
                f"model '{model}' returned {_describe(item)} for sample '{meta.sample_id}'; "
                "expected a dict of boxes, scores, labels"
            )
    return list(raw)
