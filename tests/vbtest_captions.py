"""Random messy captions for checking the metrics against coco-caption: seeded, printed, replayable.

Captions mix capitals, sentence punctuation (runs like ``!!`` and ``?!``, ellipses), quotes
(straight and curly), brackets, contractions, hyphenated compounds, numbers (decimals,
thousands, ordinals, negatives, percentages) and non-ASCII letters and dashes.
"""

from __future__ import annotations

import os

import numpy as np

WORDS = [
    "a",
    "an",
    "the",
    "dog",
    "cat",
    "man",
    "woman",
    "child",
    "bus",
    "train",
    "car",
    "red",
    "blue",
    "green",
    "small",
    "large",
    "two",
    "three",
    "is",
    "are",
    "on",
    "in",
    "of",
    "with",
    "near",
    "next",
    "to",
    "sitting",
    "standing",
    "riding",
    "holding",
    "a",
    "plate",
    "table",
    "street",
    "field",
    "water",
    "beach",
    "sky",
    "tree",
    "grass",
    "snow",
    "kite",
    "frisbee",
    "pizza",
    "banana",
    "clock",
    "phone",
    "laptop",
    "bed",
    "couch",
    "window",
    "door",
    "horse",
    "sheep",
]
ACCENTED = [
    "café",
    "naïve",
    "résumé",
    "façade",
    "jalapeño",
    "Zürich",
    "crème",
    "brûlée",
    "piñata",
    "über",
    "élan",
    "Øresund",
    "smörgåsbord",
]
CONTRACTIONS = [
    "isn't",
    "don't",
    "can't",
    "won't",
    "it's",
    "he's",
    "she's",
    "they're",
    "we've",
    "I'd",
    "you'll",
    "I'm",
    "there's",
    "that's",
    "aren't",
    "doesn't",
    "couldn't",
    "shouldn't",
    "wasn't",
    "they'd've",
    "dog's",
    "man's",
    "dogs'",
    "cannot",
    "gonna",
    "wanna",
]
CURLY = ("don\u2019t", "it\u2019s", "dog\u2019s")
HYPHENATED = [
    "black-and-white",
    "three-year-old",
    "well-known",
    "x-ray",
    "close-up",
    "double-decker",
    "t-shirt",
]
NUMBERS = ("2", "10", "3.5", "1,000", "2,500th", "-4", "50%", "1st", "3rd", "12:30", "07", "0.25")
TRAIL = ("", "", "", "", ".", ",", "!", "?", "...", "!!", "?!", ";", ":", "\u2026")
WRAP = (("", ""),) * 8 + (
    ('"', '"'),
    ("'", "'"),
    ("(", ")"),
    ("[", "]"),
    ("\u201c", "\u201d"),
    ("\u2018", "\u2019"),
)
JOIN = (" ",) * 12 + (" - ", " -- ", " \u2014 ", " \u2013 ", "  ")


def seed() -> int:
    """The test seed: ``VB_TEST_SEED`` when set, else a fresh one (printed by the caller)."""
    return int(os.environ.get("VB_TEST_SEED") or np.random.SeedSequence().entropy % 2**31)


def caption(rng: np.random.Generator) -> str:
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    words = []
    for _ in range(int(rng.integers(1, 16))):
        kind = rng.random()
        if kind < 0.55:
            word = pick(WORDS)
        elif kind < 0.65:
            word = pick(CONTRACTIONS)
        elif kind < 0.7:
            word = pick(CURLY)
        elif kind < 0.78:
            word = pick(HYPHENATED)
        elif kind < 0.88:
            word = pick(NUMBERS)
        else:
            word = pick(ACCENTED)
        style = rng.random()
        if style < 0.1:
            word = word.upper()
        elif style < 0.3:
            word = word[:1].upper() + word[1:]
        opening, closing = pick(WRAP)
        words.append(opening + word + closing + pick(TRAIL))
    text = words[0]
    for word in words[1:]:
        text += pick(JOIN) + word
    return text + pick(("", ".", ".", "!", "?", " .", "..."))


def caption_sets(rng: np.random.Generator, images: int, refs: tuple[int, int] = (1, 6)) -> tuple[dict, dict]:
    """``(references, candidates)``: image id -> list of reference captions, image id -> one candidate.

    Candidates are sometimes a perturbed reference, so that higher-order n-grams match too.
    """
    gts, res = {}, {}
    for image in range(images):
        gts[image] = [caption(rng) for _ in range(int(rng.integers(refs[0], refs[1])))]
        draw = rng.random()
        if draw < 0.04:  # nothing left after tokenising: no n-grams at all
            res[image] = ("", "...", " -- ", "\u2026!")[int(rng.integers(4))]
        elif draw < 0.5:
            words = gts[image][int(rng.integers(len(gts[image])))].split(" ")
            keep = [w for w in words if rng.random() > 0.2] or words[:1]
            res[image] = " ".join(keep)
        else:
            res[image] = caption(rng)
    return gts, res
