"""Checks shared by the COCO ground-truth and results loaders (private to ``coco_validate``).

A :class:`Table` wraps one section of a COCO file (a list of dict entries) and checks it
column by column with numpy; messages name the file, the entry's index and ids and the field.
Segmentations (polygons or RLE) are checked against their image's size and turned into RLE.
"""

from __future__ import annotations

import contextlib
import gc
import json
import numbers
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import DataError


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around bulk dict building.

    Building or indexing half a million acyclic dicts otherwise triggers repeated
    full collections that traverse every live object (about a third of the
    validation time at COCO scale); the previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_READ: dict[tuple[str, int, int], Any] = {}  # the last file parsed, by (path, size, mtime)


def read_json(source: Any, name: str, *, exact: bool = False) -> tuple[Any, str]:
    """``source`` parsed when it is a path (named by it in errors), else ``source`` itself.

    The last file read stays parsed (keyed by path, size and modification time), so one command that
    validates a file and then stores it parses it once; callers treat the data as read-only.
    ``exact`` parses with the standard library, which keeps integers beyond 64 bits as integers
    (see :func:`checked_exactly`).
    """
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            from visionbench.tasks import fast_json

            if exact:
                return fast_json.exact(path.read_bytes()), str(path)
            stat = path.stat()
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
            if key in _READ:
                return _READ[key], str(path)
            with gc_paused():  # half a million acyclic dicts: no collector passes while building them
                data = fast_json.loads(path.read_bytes())
            if len(_READ) >= 2:
                _READ.pop(next(iter(_READ)))
            _READ[key] = data
            return data, str(path)
        except FileNotFoundError:
            raise DataError(f"{path}: file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return source, name


def checked_exactly(source: Any, name: str, check: Any) -> Any:
    """``check(data, name)`` of ``source`` read by :func:`read_json`; when it finds a problem in a file,
    the file is read again with the standard library and checked again, so the problem is reported
    as the standard library's reading shows it (an integer beyond 64 bits, not a float)."""
    data, label = read_json(source, name)
    try:
        return check(data, label)
    except DataError:
        if not isinstance(source, str | Path):
            raise
    data, label = read_json(source, name, exact=True)
    return check(data, label)


def entry_address(name: str, section: str, index: int, entry: Any) -> str:
    """'file: section[i] (id 5, image_id 7)' -- the address of one entry in messages."""
    ids = ""
    if isinstance(entry, dict):
        parts = [f"{k} {entry[k]!r}" for k in ("id", "image_id", "category_id") if k in entry]
        ids = f" ({', '.join(parts)})" if parts else ""
    return f"{name}: {section}[{index}]{ids}"


def is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def types_are(values: Any, kind: type) -> bool:
    """True when every value is a ``kind`` (bools excluded); looks at each distinct type once."""
    return all(issubclass(t, kind) and not issubclass(t, bool) for t in set(map(type, values)))


class Table:
    """A list of dict entries of one section, with the helpers that check its columns."""

    def __init__(self, name: str, section: str, entries: Any, what: str) -> None:
        if not isinstance(entries, list):
            raise DataError(
                f"{name}: {section or 'the top level'} must be a list of {what}, got {type(entries).__name__}"
            )
        if not types_are(entries, dict):
            i = next(i for i, e in enumerate(entries) if not isinstance(e, dict))
            raise DataError(f"{name}: {section}[{i}] must be an object, got {type(entries[i]).__name__}")
        self.name, self.section, self.entries = name, section, entries

    def where(self, i: int) -> str:
        return entry_address(self.name, self.section, int(i), self.entries[int(i)])

    def column(self, key: str) -> list:
        try:
            return [e[key] for e in self.entries]
        except KeyError:
            i = next(i for i, e in enumerate(self.entries) if key not in e)
            raise DataError(f"{self.where(i)}: missing '{key}'") from None

    def ints(self, key: str, values: list | None = None) -> np.ndarray:
        values = self.column(key) if values is None else values
        if not types_are(values, numbers.Integral):
            i = next(i for i, v in enumerate(values) if not is_int(v))
            raise DataError(f"{self.where(i)}: '{key}' must be an integer, got {values[i]!r}")
        try:
            return np.fromiter(values, dtype=np.int64, count=len(values))
        except OverflowError:
            i = next(i for i, v in enumerate(values) if not -(2**63) <= v < 2**63)
            raise DataError(f"{self.where(i)}: '{key}' {values[i]} does not fit in 64 bits") from None

    def reals(self, key: str, values: list) -> np.ndarray:
        if not types_are(values, numbers.Real):
            i = next(i for i, v in enumerate(values) if not is_real(v))
            raise DataError(f"{self.where(i)}: '{key}' must be a number, got {values[i]!r}")
        arr = np.fromiter(values, dtype=np.float64, count=len(values))
        self.finite(key, arr)
        return arr

    def finite(self, key: str, arr: np.ndarray) -> None:
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad.reshape(len(arr), -1).any(axis=1))[0])
            raise DataError(f"{self.where(i)}: '{key}' must be finite, got {self.entries[i][key]!r}")

    def boxes(self, values: list) -> tuple[np.ndarray, bool]:
        """([N, 4] float64, plain) from [x, y, w, h] lists: numbers, finite, w and h >= 0.

        ``plain`` is True when every box is a list of Python ints/floats, so callers
        may keep the original lists instead of building new ones.
        """
        n = len(values)
        box_types = set(map(type, values))
        if not (all(issubclass(t, list | tuple) for t in box_types) and set(map(len, values)) <= {4}):
            i = next(i for i, v in enumerate(values) if not (isinstance(v, list | tuple) and len(v) == 4))
            raise DataError(
                f"{self.where(i)}: 'bbox' must be a list [x, y, w, h] of 4 numbers, got {values[i]!r}"
            )
        num_types = set(map(type, chain.from_iterable(values)))
        if not all(issubclass(t, numbers.Real) and not issubclass(t, bool) for t in num_types):
            i = next(i for i, v in enumerate(values) if not all(map(is_real, v)))
            raise DataError(f"{self.where(i)}: 'bbox' must hold 4 numbers, got {values[i]!r}")
        arr = np.fromiter(chain.from_iterable(values), dtype=np.float64, count=4 * n).reshape(n, 4)
        self.finite("bbox", arr)
        neg = (arr[:, 2] < 0) | (arr[:, 3] < 0)
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            raise DataError(f"{self.where(i)}: 'bbox' width and height must be >= 0, got {values[i]!r}")
        return arr, box_types <= {list} and num_types <= {float, int}

    def known(self, key: str, arr: np.ndarray, valid: np.ndarray, what: str) -> None:
        bad = ~np.isin(arr, valid)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{self.where(i)}: {key} {int(arr[i])} is not {what}")

    def unique(self, key: str, arr: np.ndarray) -> None:
        order = np.argsort(arr, kind="stable")
        dup = np.flatnonzero(arr[order][1:] == arr[order][:-1])
        if dup.size:
            first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
            raise DataError(
                f"{self.where(second)}: duplicate {key} {int(arr[second])} (also {self.section}[{first}])"
            )


def check_rle(where: str, seg: dict, image_hw: tuple[int, int], strings: bool = True) -> dict:
    """Validate a COCO RLE dict and return it with bytes counts turned into str.

    ``strings=False`` leaves compressed strings to one :func:`check_rle_strings` call over all entries.
    """
    if not {"counts", "size"} <= set(seg):
        raise DataError(f"{where}: RLE 'segmentation' needs 'counts' and 'size', got keys {sorted(seg)}")
    size, counts = seg["size"], seg["counts"]
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(is_int(v) and v >= 0 for v in size)):
        raise DataError(f"{where}: 'segmentation' size must be [height, width] integers, got {size!r}")
    h, w = int(size[0]), int(size[1])
    if (h, w) != image_hw:
        raise DataError(
            f"{where}: 'segmentation' size [{h}, {w}] does not match the image's "
            f"[height, width] [{image_hw[0]}, {image_hw[1]}]"
        )
    if isinstance(counts, bytes):
        try:
            counts = counts.decode("ascii")
        except UnicodeDecodeError:
            raise DataError(
                f"{where}: 'segmentation' counts is not a compressed RLE string (non-ASCII)"
            ) from None
    if isinstance(counts, list):
        if not (types_are(counts, numbers.Integral) and all(c >= 0 for c in counts)):
            raise DataError(f"{where}: 'segmentation' counts must be non-negative integers")
        if sum(counts) != h * w:
            raise DataError(
                f"{where}: 'segmentation' counts sum to {sum(counts)}, expected height*width = {h * w}"
            )
    elif not isinstance(counts, str):
        raise DataError(
            f"{where}: 'segmentation' counts must be a string or a list, got {type(counts).__name__}"
        )
    elif strings:
        check_rle_strings(lambda _: where, [(0, {"size": [h, w], "counts": counts})])
    return {"size": [h, w], "counts": counts}


def check_polygons(where: str, seg: list) -> list:
    for j, poly in enumerate(seg):
        if not (isinstance(poly, list | tuple) and len(poly) >= 6 and len(poly) % 2 == 0):
            raise DataError(
                f"{where}: 'segmentation' polygon {j} must be a flat list of >= 6 coordinates "
                f"(an even count), got {str(poly)[:60]}"
            )
        if not types_are(poly, numbers.Real) or not np.isfinite(np.asarray(poly, dtype=np.float64)).all():
            raise DataError(f"{where}: 'segmentation' polygon {j} must hold finite numbers")
    return seg


def to_rle(seg: Any, hw: tuple[int, int]) -> dict:
    """Checked polygon / RLE segmentation -> one compressed RLE with str counts."""
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects([list(map(float, p)) for p in seg], hw[0], hw[1]))
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, hw[0], hw[1])
    else:
        return seg
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def check_segmentation(where: str, seg: Any, image_hw: tuple[int, int] | None, strings: bool = True) -> Any:
    if image_hw is None:
        raise DataError(f"{where}: a 'segmentation' needs its image's 'height' and 'width'")
    if isinstance(seg, dict):
        return check_rle(where, seg, image_hw, strings)
    if isinstance(seg, list):
        return check_polygons(where, seg)
    raise DataError(
        f"{where}: 'segmentation' must be polygons (a list) or an RLE object, got {type(seg).__name__}"
    )


# Longest run-length number accepted: 7 characters carry 35 bits (sign included), beyond any image.
_RLE_MAX_CHARS = 7


def check_rle_strings(where: Any, items: list[tuple[int, dict]], chunk_chars: int = 1 << 22) -> None:
    """Validate compressed RLE strings in chunks of about ``chunk_chars`` characters (memory stays bounded)."""
    chunk: list[tuple[int, dict]] = []
    size = 0
    for item in items:
        counts = item[1].get("counts")
        if not isinstance(counts, str):
            continue
        chunk.append(item)
        size += len(counts)
        if size >= chunk_chars:
            _check_rle_strings(where, chunk)
            chunk, size = [], 0
    _check_rle_strings(where, chunk)


def _check_rle_strings(where: Any, items: list[tuple[int, dict]]) -> None:
    """Validate compressed RLE strings (pycocotools' ``counts`` text) of ``(entry index, rle)`` items at once.

    Each string must decode to non-negative run lengths summing to height * width: characters
    ``'0'``..``'o'``, no number cut off at the end, none longer than 7 characters. pycocotools
    and faster-coco-eval do not check this (a bad string is a RuntimeError, or memory written
    past the mask), so it is checked here, vectorised over every string. ``where(i)`` names entry i.
    """
    found = [(i, r) for i, r in items if isinstance(r.get("counts"), str)]
    if not found:
        return
    texts = [r["counts"] for _, r in found]
    for (i, _), text in zip(found, texts, strict=True):
        if not text.isascii():
            raise DataError(f"{where(i)}: 'segmentation' counts is not a compressed RLE string (non-ASCII)")
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    ends_at = np.cumsum(lengths)
    c = np.frombuffer("".join(texts).encode("ascii"), np.uint8).astype(np.int64) - 48

    def fail(string: int, why: str) -> None:
        raise DataError(
            f"{where(found[string][0])}: 'segmentation' counts is not a valid compressed RLE ({why})"
        )

    bad = (c < 0) | (c > 63)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        fail(int(np.searchsorted(ends_at, pos, side="right")), f"character {chr(int(c[pos]) + 48)!r}")
    ends = (c & 0x20) == 0
    nonempty = lengths > 0
    cut = nonempty & ~ends[np.maximum(ends_at - 1, 0)] if c.size else nonempty
    if cut.any():
        fail(int(np.flatnonzero(cut)[0]), "it ends inside a number")
    starts = np.flatnonzero(np.r_[True, ends[:-1]]) if c.size else np.zeros(0, np.int64)
    number_of_char = np.cumsum(ends) - ends
    k = np.arange(c.size) - starts[number_of_char] if c.size else np.zeros(0, np.int64)
    if c.size and k.max() >= _RLE_MAX_CHARS:
        pos = int(np.flatnonzero(k >= _RLE_MAX_CHARS)[0])
        fail(int(np.searchsorted(ends_at, pos, side="right")), "a run length is too long")
    values = np.add.reduceat((c & 0x1F) << (5 * k), starts) if c.size else np.zeros(0, np.int64)
    last = np.flatnonzero(ends)
    negative = (c[last] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * (k[last][negative] + 1))
    string_of = np.searchsorted(ends_at, starts, side="right")
    first_number = np.searchsorted(string_of, np.arange(len(texts)))
    j = np.arange(len(values)) - first_number[string_of]
    # pycocotools' delta coding: run j > 2 adds run j - 2, i.e. a running sum per string over odd j and
    # over even j >= 2 (run 0 stands alone).
    group = string_of * 3 + np.where(j == 0, 0, 1 + j % 2)
    order = np.argsort(group, kind="stable")
    sums = np.cumsum(values[order])
    grouped = group[order]
    new_group = np.r_[True, grouped[1:] != grouped[:-1]] if len(grouped) else np.zeros(0, bool)
    base = np.maximum.accumulate(np.where(new_group, np.arange(len(sums)), 0))
    runs = np.empty_like(values)
    runs[order] = sums - (sums - values[order])[base]
    if (runs < 0).any():
        fail(int(string_of[np.flatnonzero(runs < 0)[0]]), "a negative run length")
    totals = np.bincount(string_of, weights=runs.astype(np.float64), minlength=len(texts))
    expected = np.array([r["size"][0] * r["size"][1] for _, r in found], dtype=np.float64)
    wrong = totals != expected
    if wrong.any():
        s = int(np.flatnonzero(wrong)[0])
        fail(s, f"runs sum to {int(totals[s])}, expected height*width = {int(expected[s])}")
