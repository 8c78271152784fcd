"""Captions for the shapes scenes: five differently worded descriptions of one scene.

Each caption takes a different angle (inventory, counts, positions, sizes, colours), with
synonyms drawn from a seeded stream separate from the drawing, so the wording can change
without changing the images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SHAPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "disc"),
    "square": ("square",),
    "triangle": ("triangle",),
    "ellipse": ("ellipse", "oval"),
    "star": ("star",),
}
COLOUR_SYNONYMS: dict[str, tuple[str, ...]] = {
    "red": ("red",),
    "green": ("green",),
    "blue": ("blue",),
    "yellow": ("yellow",),
    "orange": ("orange",),
    "purple": ("purple", "violet"),
    "cyan": ("cyan", "turquoise"),
}
SHAPE_ORDER = tuple(SHAPE_SYNONYMS)  # the order of shapes.CLASSES
_SIZE_SYNONYMS = {
    "small": ("small", "little"),
    "medium": ("medium-sized", "mid-sized"),
    "large": ("large", "big"),
}
_BACKGROUNDS = ("textured background", "noisy background", "mottled backdrop", "speckled background")
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(frozen=True)
class _Obj:
    shape: str
    colour: str
    size: str
    cx: float  # visible centroid as a fraction of the width
    cy: float
    area: int
    covered_by: tuple[int, ...]  # later instances that hide part of this one


def _num(k: int) -> str:
    return _NUMBERS[k] if k < len(_NUMBERS) else str(k)


def _a(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


class _Words:
    """One caption's word choices: a synonym per class, colour and size word, fixed for the whole caption."""

    def __init__(self, rng: np.random.Generator) -> None:
        pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
        self.shape = {k: pick(v) for k, v in SHAPE_SYNONYMS.items()}
        # a colour without synonyms (the shifted style's palette) is named by itself
        self.colour = {k: pick(v) for k, v in COLOUR_SYNONYMS.items()}
        self.size = {k: pick(v) for k, v in _SIZE_SYNONYMS.items()}
        self.with_size = bool(rng.integers(2))

    def noun(self, shape: str, count: int = 1) -> str:
        return self.shape[shape] + ("s" if count != 1 else "")

    def desc(self, obj: _Obj, *, size: bool | None = None) -> str:
        words = [self.colour.get(obj.colour, obj.colour), self.noun(obj.shape)]
        if self.with_size if size is None else size:
            words.insert(0, self.size[obj.size])
        return " ".join(words)


def _region(obj: _Obj) -> str:
    row = "top" if obj.cy < 1 / 3 else "bottom" if obj.cy > 2 / 3 else ""
    col = "left" if obj.cx < 1 / 3 else "right" if obj.cx > 2 / 3 else ""
    if row and col:
        return f"in the {row} {col} corner"
    if row or col:
        return f"near the {row or col} edge"
    return "in the centre"


def _relation(a: _Obj, b: _Obj) -> str:
    dx, dy = a.cx - b.cx, a.cy - b.cy
    if abs(dx) >= abs(dy):
        return "to the left of" if dx < 0 else "to the right of"
    return "above" if dy < 0 else "below"


def _inventory(objs: list[_Obj], w: _Words, pick) -> str:
    bg = pick(_BACKGROUNDS)
    items = [_a(w.desc(o)) for o in objs]
    if len(objs) == 1:
        return pick(
            (f"A single {w.desc(objs[0])} on a {bg}.", f"A picture of one {w.desc(objs[0])} on a {bg}.")
        )
    return pick(
        (
            f"{_cap(_num(len(objs)))} shapes on a {bg}: {_join(items)}.",
            f"An image containing {_join(items)}.",
            f"A picture of {_join(items)} on a {bg}.",
        )
    )


def _counts(objs: list[_Obj], w: _Words, pick) -> str:
    phrases, first_count = [], 0
    for shape in SHAPE_ORDER:
        group = [o for o in objs if o.shape == shape]
        if not group:
            continue
        first_count = first_count or len(group)
        colours = list(dict.fromkeys(w.colour.get(o.colour, o.colour) for o in group))
        if len(group) == 1:
            phrases.append(_a(f"{colours[0]} {w.noun(shape)}"))
        elif len(colours) == 1:
            phrases.append(f"{_num(len(group))} {colours[0]} {w.noun(shape, 2)}")
        else:
            phrases.append(f"{_num(len(group))} {w.noun(shape, 2)} ({_join(colours)})")
    verb = "is" if first_count == 1 else "are"
    return pick(
        (
            f"There {verb} {_join(phrases)}.",
            f"The scene contains {_join(phrases)}.",
            f"In this image we can count {_join(phrases)}.",
        )
    )


def _positions(objs: list[_Obj], w: _Words, pick) -> str:
    if len(objs) == 1:
        d = w.desc(objs[0])
        return pick((f"The {d} sits {_region(objs[0])}.", f"{_cap(_a(d))} is placed {_region(objs[0])}."))
    order = sorted(range(len(objs)), key=lambda i: -objs[i].area)
    a = objs[order[0]]
    others = [objs[i] for i in order[1:] if (objs[i].colour, objs[i].shape) != (a.colour, a.shape)]
    b = others[0] if others else objs[order[1]]
    rel = _relation(a, b)
    da, db = w.desc(a, size=False), w.desc(b, size=False)
    if da == db:
        text = f"One {da} is {rel} another."
    else:
        text = pick(
            (
                f"{_cap(_a(da))} is {rel} {_a(db)}.",
                f"{_cap(rel)} the {db} there is {_a(da)}.",
                f"The {da} lies {rel} the {db}.",
            )
        )
    hidden = [i for i, o in enumerate(objs) if o.covered_by]
    if hidden:
        lower = objs[hidden[0]]
        upper = objs[lower.covered_by[0]]
        du, dl = w.desc(upper, size=False), w.desc(lower, size=False)
        text += " " + pick(
            (f"The {du} partly covers the {dl}.", f"The {dl} is partly hidden behind the {du}.")
        )
    return text


def _extremes(objs: list[_Obj], w: _Words, pick) -> str:
    if len(objs) == 1:
        return pick(
            (f"Only one shape is visible: {_a(w.desc(objs[0], size=True))}.", f"Just {_a(w.desc(objs[0]))}.")
        )
    order = sorted(range(len(objs)), key=lambda i: -objs[i].area)
    big, small = w.desc(objs[order[0]], size=False), w.desc(objs[order[-1]], size=False)
    if big == small:
        return f"The largest and the smallest of the {_num(len(objs))} shapes are both {big}s."
    big, small = _a(big), _a(small)
    return pick(
        (
            f"The largest shape is {big} and the smallest is {small}.",
            f"Of the {_num(len(objs))} shapes, {big} is the biggest and {small} the smallest.",
            f"Biggest: {big}; smallest: {small}.",
        )
    )


def _palette(objs: list[_Obj], w: _Words, pick) -> str:
    colours = list(dict.fromkeys(w.colour.get(o.colour, o.colour) for o in objs))
    kinds = []
    for shape in SHAPE_ORDER:
        count = sum(o.shape == shape for o in objs)
        if count:
            kinds.append(w.noun(shape, count) if count > 1 else _a(w.noun(shape)))
    if len(objs) == 1:
        bg = pick(_BACKGROUNDS)
        return pick((f"The only colour on the {bg} is {colours[0]}.", f"One {colours[0]} shape, {kinds[0]}."))
    return pick(
        (
            f"Colours on show: {_join(colours)}.",
            f"Shapes coloured {_join(colours)}: {_join(kinds)}.",
            f"The picture uses {_join(colours)} for {_join(kinds)}.",
        )
    )


def _captions(objs: list[_Obj], rng: np.random.Generator) -> tuple[str, ...]:
    """Five captions, one per angle (inventory, counts, positions, sizes, colours), so they always differ."""
    if not objs:
        return ("An empty textured background.", "No shapes at all.", "Nothing but noise.",
                "A blank mottled backdrop.", "There are no objects.")  # fmt: skip
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    out: list[str] = []
    for build in (_inventory, _counts, _positions, _extremes, _palette):
        text = build(objs, _Words(rng), pick)
        out.append(text if text not in out else f"{text[:-1]}, as described.")
    return tuple(out)
