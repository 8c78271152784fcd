"""Reading a class out of a generated answer (generative classification with a vision-language model).

Policy, in order (text is compared after :func:`normalise`: case-folded, every run of
characters other than letters and digits turned into one space, trimmed):

1. the whole answer equals one class name -> that class;
2. otherwise the class names that occur in the answer as whole words are collected; a mention
   lying inside the mention of a longer class name (``dog`` inside ``hot dog``) does not count;
   exactly one class left -> that class;
3. anything else (no class named, or several different classes named) is *unparseable*: the
   sample has no answer (label ``-1``), counts as wrong, and is listed in the record with the
   text the model gave.

Class names that normalise to the same text cannot be told apart and are refused up front.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from visionbench.contracts import NO_ANSWER
from visionbench.errors import ModelError

__all__ = ["NO_ANSWER", "AnswerParser", "normalise"]
_WORD = re.compile(r"[^\W_]+")


def normalise(text: str) -> str:
    """Case-folded, non-alphanumeric runs as one space, trimmed (accents are kept as letters)."""
    return " ".join(_WORD.findall(text.casefold()))


class AnswerParser:
    """Maps answers to class indices by the module's policy; built once per class list."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = [str(n) for n in names]
        self.keys = [normalise(n) for n in self.names]
        seen: dict[str, str] = {}
        for name, key in zip(self.names, self.keys, strict=True):
            if not key:
                raise ModelError(f"class name {name!r} has no letters or digits to look for in an answer")
            if key in seen:
                raise ModelError(
                    f"class names {seen[key]!r} and {name!r} read the same in an answer ('{key}'): "
                    "give distinct names with the model option class_names"
                )
            seen[key] = name
        self.exact = {key: i for i, key in enumerate(self.keys)}
        self.patterns = [re.compile(rf"(?<![^\s]){re.escape(key)}(?![^\s])") for key in self.keys]

    def __call__(self, answer: str) -> int:
        """The class index the answer names, or :data:`NO_ANSWER`."""
        text = normalise(answer)
        if text in self.exact:
            return self.exact[text]
        spans = [
            (m.start(), m.end(), i) for i, pattern in enumerate(self.patterns) for m in pattern.finditer(text)
        ]
        kept = {
            i
            for start, end, i in spans
            if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)
        }
        return kept.pop() if len(kept) == 1 else NO_ANSWER
