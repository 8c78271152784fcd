"""The ImageNet-1k label space, shipped as data (``imagenet_classes.tsv``).

One row per class in the standard class-index order (0 = n01440764 tench ... 999 =
n15075141 toilet tissue): the WordNet id and torchvision's short name, which is what
torchvision weights report as ``meta["categories"]``. The table is read lazily from
package data, so nothing here imports torch. Regenerate it with
``python -m visionbench.adapters.make_imagenet_table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib.resources import files
from typing import Any

NUM_CLASSES = 1000
TABLE_RESOURCE = "imagenet_classes.tsv"
TABLE_HEADER: tuple[str, str, str] = ("index", "wnid", "name")

# torchvision renamed the two WordNet head words that ImageNet-1k uses twice; Hugging
# Face id2label strings (WordNet lemmas, e.g. "crane" at 134 and 517) keep the head word.
TORCHVISION_RENAMED: dict[int, str] = {134: "crane", 639: "maillot"}


@lru_cache(maxsize=1)
def _rows() -> tuple[tuple[int, str, str], ...]:
    text = files(__package__).joinpath(TABLE_RESOURCE).read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != TABLE_HEADER:
        raise RuntimeError(f"{TABLE_RESOURCE}: header is not {TABLE_HEADER}")
    rows = []
    for expected, line in enumerate(lines[1:]):
        index, wnid, name = line.split("\t")
        if int(index) != expected:
            raise RuntimeError(f"{TABLE_RESOURCE}: row {expected} has index {index}")
        rows.append((expected, wnid, name))
    if len(rows) != NUM_CLASSES:
        raise RuntimeError(f"{TABLE_RESOURCE}: {len(rows)} rows, expected {NUM_CLASSES}")
    return tuple(rows)


def imagenet_table() -> list[tuple[int, str, str]]:
    """All 1,000 ``(index, wnid, name)`` rows in class-index order (a fresh list each call)."""
    return list(_rows())


@lru_cache(maxsize=1)
def imagenet_wnids() -> tuple[str, ...]:
    """WordNet ids in class-index order (``n01440764`` first)."""
    return tuple(wnid for _, wnid, _ in _rows())


@lru_cache(maxsize=1)
def imagenet_names() -> tuple[str, ...]:
    """torchvision's short class names in class-index order (``tench`` first)."""
    return tuple(name for _, _, name in _rows())


@lru_cache(maxsize=1)
def _wnid_to_index() -> Mapping[str, int]:
    return {wnid: index for index, wnid, _ in _rows()}


def wnid_to_index() -> dict[str, int]:
    """Map each wnid to its class index (a fresh dict each call, so callers may edit it)."""
    return dict(_wnid_to_index())


def _normalise(label: str) -> str:
    # HF label files are inconsistent about apostrophes ("jack-o'-lantern") and case.
    return " ".join(label.replace("'", "").replace("\u2019", "").casefold().split())


@lru_cache(maxsize=1)
def _hf_heads() -> tuple[frozenset[str], ...]:
    heads = []
    for index, name in enumerate(imagenet_names()):
        accepted = {_normalise(name)}
        if index in TORCHVISION_RENAMED:
            accepted.add(_normalise(TORCHVISION_RENAMED[index]))
        heads.append(frozenset(accepted))
    return tuple(heads)


def _as_label_list(labels: Any) -> list[str] | None:
    """Labels in index order from a sequence or an ``id2label`` mapping; None if neither fits."""
    if isinstance(labels, str | bytes):
        return None
    if isinstance(labels, Mapping):
        try:
            by_index = {int(key): value for key, value in labels.items()}
        except (TypeError, ValueError):
            return None
        if sorted(by_index) != list(range(len(by_index))):
            return None
        labels = [by_index[i] for i in range(len(by_index))]
    if not isinstance(labels, Sequence) or not all(isinstance(label, str) for label in labels):
        return None
    return list(labels)


def hf_names_match(labels: Sequence[str] | Mapping[Any, str]) -> bool:
    """True for Hugging Face-style ImageNet-1k labels (``"tench, Tinca tinca"``, ...).

    Each label's first comma-separated part must equal torchvision's name at that index,
    ignoring case, apostrophes and repeated spaces; at 134 and 639 the WordNet head word
    ("crane", "maillot") that torchvision renamed is accepted too. ``labels`` may be a
    sequence in index order or an ``id2label`` mapping with int or str keys.
    """
    label_list = _as_label_list(labels)
    if label_list is None or len(label_list) != NUM_CLASSES:
        return False
    return all(
        _normalise(label.split(",", 1)[0]) in accepted
        for label, accepted in zip(label_list, _hf_heads(), strict=True)
    )


def is_imagenet_label_space(names: Sequence[str] | Mapping[Any, str]) -> bool:
    """True when ``names`` is the ImageNet-1k label space in class-index order.

    Accepts the 1,000 wnids, torchvision's names (both exactly), or Hugging Face-style
    ``id2label`` labels (see :func:`hf_names_match`). Any other length, order or content
    is False, so a fine-tuned head with its own classes is never mistaken for ImageNet.
    """
    label_list = _as_label_list(names)
    if label_list is None or len(label_list) != NUM_CLASSES:
        return False
    labels = tuple(label_list)
    return labels == imagenet_wnids() or labels == imagenet_names() or hf_names_match(labels)
