"""The runner's data paths: the per-sample DataLoader view (``LoaderView``, ``Collate``), and
array-backed datasets decoded and preprocessed a whole batch at a time.

The per-sample path (a DataLoader over ``Dataset.load`` and the adapter's transform) makes one PIL
image per sample; for 28x28 Fashion-MNIST that costs more than the model. When the dataset can
hand out undecoded uint8 arrays (``load_arrays``) and the adapter's transform can apply itself to
a whole array batch with the same float32 operations (``batch``, see
:meth:`visionbench.adapters.pixels.ToPixels.batch`), the runner iterates this instead: the same
``(metas, inputs, targets, errors)`` batches, bit-identical inputs, no worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from visionbench.contracts import Dataset, ImageMeta
from visionbench.errors import VisionbenchError


def array_batches(
    dataset: Dataset,
    transform: Any,
    collate: Callable[[list[Any]], Any],
    positions: list[int],
    batch_size: int,
) -> Iterator[tuple[list[ImageMeta], Any, list[Any], list[tuple[int, str]]]] | None:
    """Batches of ``positions`` built from arrays, or None when the dataset or transform cannot."""
    load = getattr(dataset, "load_arrays", None)
    batch = getattr(transform, "batch", None)
    if load is None or batch is None or not positions:
        return None
    first = load(positions[:1])
    if first is None or batch(first[0]) is None:
        return None
    return _iterate(load, batch, collate, positions, batch_size)


def _iterate(
    load: Callable[[list[int]], Any],
    batch: Callable[[Any], Any],
    collate: Callable[[list[Any]], Any],
    positions: list[int],
    batch_size: int,
) -> Iterator[tuple[list[ImageMeta], Any, list[Any], list[tuple[int, str]]]]:
    for start in range(0, len(positions), batch_size):
        indices = positions[start : start + batch_size]
        images, targets, sample_ids = load(indices)
        height, width = images.shape[1:3]
        metas = [ImageMeta(i, s, int(width), int(height)) for i, s in zip(indices, sample_ids, strict=True)]
        # collate sees one tensor per sample, as on the per-sample path
        yield metas, collate(list(batch(images).unbind(0))), targets, []


class LoaderView:
    """Decodes and transforms samples inside DataLoader workers; errors travel back as messages."""

    def __init__(self, dataset: Dataset, transform: Any, positions: list[int]) -> None:
        self.dataset, self.transform, self.positions = dataset, transform, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, item: int) -> tuple:
        index = self.positions[item]
        try:
            sample = self.dataset.load(index)
            width, height = sample.image.size
            return (
                ImageMeta(index, sample.sample_id, width, height),
                self.transform(sample.image),
                sample.target,
                None,
            )
        except VisionbenchError as exc:
            return (index, None, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - a transform failing on one sample names that sample
            return (index, None, None, f"sample {index} of {self.dataset.name}: {type(exc).__name__}: {exc}")


class Collate:
    """The DataLoader's collate: the adapter's own over the good samples, bad ones kept as messages."""

    def __init__(self, collate: Any) -> None:
        self.collate = collate

    def __call__(self, items: list[tuple]) -> tuple:
        """``(metas, inputs, targets, errors)``: the good samples batched, the bad ones as (index, message)."""
        errors = [(item[0], item[3]) for item in items if item[3] is not None]
        good = [item for item in items if item[3] is None]
        if not good:
            return [], None, [], errors
        metas, inputs, targets, _ = zip(*good, strict=True)
        return list(metas), self.collate(list(inputs)), list(targets), errors
