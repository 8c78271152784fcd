"""Java-free tokenisation of captions, as coco-caption does it: PTB-style, lower-cased, punctuation removed.

coco-caption runs Stanford's ``PTBTokenizer`` (CoreNLP 3.4.1, ``-preserveLines -lowerCase``) on
every caption and then drops the tokens ``'' ' `` ` . ? ! , : - -- ... ;`` (and the upper-case
bracket names, which never occur after lower-casing: brackets stay as ``-lrb-``, ``-rsb-`` ...).
This module does the same in Python, so scores need no JVM:

* Unicode quotes become PTB quotes, en and em dashes ``--``, the ellipsis ``...``, ``½`` ``1/2``;
* per whitespace-separated chunk, leading quotes, brackets and dashes and trailing quotes,
  brackets, dashes and sentence punctuation are split off (a run of ``!``/``?`` stays one token,
  as ``!!`` or ``?!``; three or more dots are one ``...``); a comma, semicolon or colon inside a
  word splits it unless digits surround it (``1,000``, ``12:30``); ``--`` inside a word splits;
* clitics split off the end of a word: ``n't`` (``can't`` -> ``ca n't``, ``won't`` -> ``wo n't``),
  ``'s 're 've 'd 'll 'm`` (repeatedly: ``they'd've`` -> ``they 'd 've``), the apostrophe of a
  plural possessive; ``cannot gonna wanna gotta lemme gimme`` split in two; an ordinal suffix
  after a number with a thousands separator (``2,000th`` -> ``2,000 th``);
* a period after a word splits off except after a single letter (``a.``), an acronym with inner
  periods (``u.s.``) or a known abbreviation (``mr.``, ``etc.``, ``e.g.``);
* then everything is lower-cased and the punctuation tokens above are dropped.

Checked token by token against the Java tokenizer on random captions mixing capitals,
punctuation, quotes, brackets, contractions, hyphens, numbers and non-ASCII letters
(``tests/captioning``). Known departures, outside that mix: punctuation glued inside a word
(``a!b``), PTB's full abbreviation list (only the common ones are listed here), curly
apostrophes starting a word (``’tis``) and time-of-day suffixes (``5:30pm``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PUNCTUATION = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)
"""The tokens coco-caption drops after tokenising (its list, verbatim in meaning)."""

_UNICODE = {
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2014": " -- ",
    "\u2013": " -- ",
    "\u2026": " ... ",
    "\u00bd": "1/2",
    "\u00a0": " ",
}
_OPEN_SINGLE = "\u2018"
_CLOSE_SINGLE = "\u2019"
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
_SPLIT_TWO = {
    "cannot": ("can", "not"),
    "gonna": ("gon", "na"),
    "wanna": ("wan", "na"),
    "gotta": ("got", "ta"),
    "lemme": ("lem", "me"),
    "gimme": ("gim", "me"),
}
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "ave",
        "blvd",
        "gen",
        "gov",
        "sen",
        "rep",
        "lt",
        "col",
        "sgt",
        "capt",
        "cf",
        "al",
    ]
)
_CLITIC = re.compile(r"^(.*[^\W_].*?)('s|'re|'ve|'d|'ll|'m|n't)$", re.IGNORECASE)
_INNER_SPLIT = re.compile(r"(?<!\d)[,;:]|[,;:](?!\d)|--+")
_ACRONYM = re.compile(r"^(?:[^\W\d_]\.)+$")
_LETTER_DOTS = re.compile(r"^([^\W\d_])\.(\.+)$")
_ORDINAL = re.compile(r"^(\d{1,3}(?:,\d{3})+)(st|nd|rd|th)$", re.IGNORECASE)
_TRAILING = re.compile(r"(\.{3,}|[!?]+|[.,;:%]|''|\"|'|--+|-|[)\]}])$")
_LEADING = re.compile(r"^(``|\"|`|'|--+|-(?=\D)|[(\[{])")


def tokenize(caption: str) -> list[str]:
    """The coco-caption tokens of one caption: PTB-style, lower-cased, punctuation tokens dropped."""
    return [t for t in ptb_tokens(caption) if t not in PUNCTUATION]


def tokenize_joined(caption: str) -> str:
    """:func:`tokenize` joined by single spaces: the string coco-caption's scorers receive."""
    return " ".join(tokenize(caption))


def tokenize_all(captions: Iterable[str]) -> list[str]:
    return [tokenize_joined(c) for c in captions]


def ptb_tokens(caption: str) -> list[str]:
    """PTB-style tokens of one caption (lower-cased, punctuation still in)."""
    text = caption.replace("\r", " ").replace("\n", " ")
    for char, replacement in _UNICODE.items():
        text = text.replace(char, replacement)
    out: list[str] = []
    for chunk in text.split():
        out.extend(_chunk(chunk))
    return [t.lower() for t in out]


def _curly(chunk: str) -> str:
    """Curly single quotes: opening at a word start becomes ` , the rest straight apostrophes."""
    if chunk.startswith(_OPEN_SINGLE):
        chunk = "`" + chunk[1:]
    return chunk.replace(_OPEN_SINGLE, "'").replace(_CLOSE_SINGLE, "'")


def _chunk(chunk: str) -> list[str]:
    chunk = _curly(chunk)
    lead: list[str] = []
    while chunk:
        found = _LEADING.match(chunk)
        if not found:
            break
        token = found.group(1)
        lead.append(
            {'"': "``", "'": "`"}.get(token, _BRACKETS.get(token, "--" if token.startswith("--") else token))
        )
        chunk = chunk[found.end() :]
    tail: list[str] = []
    while chunk:
        if chunk.endswith(".") and _keeps_period(chunk):
            break
        letter = _LETTER_DOTS.match(chunk)
        if letter:  # "a..." is the initial "a." then the remaining dots
            dots = letter.group(2)
            tail[:0] = [chunk[0] + ".", *dots]
            chunk = ""
            break
        found = _TRAILING.search(chunk)
        if not found:
            break
        token = found.group(1)
        if token.startswith("..."):
            token = "..."
        elif token == '"':
            token = "''"
        elif token.startswith("--"):
            token = "--"
        tail.insert(0, _BRACKETS.get(token, token))
        chunk = chunk[: found.start()]
    middle: list[str] = []
    for i, piece in enumerate(_INNER_SPLIT.split(chunk)):
        if i:
            middle.append(_INNER_SPLIT.findall(chunk)[i - 1][:2])
        if piece:
            middle.extend(_word(piece))
    return lead + middle + tail


def _keeps_period(chunk: str) -> bool:
    """A final period that stays on its word: a single letter, an acronym, a known abbreviation."""
    stem = chunk[:-1]
    if not stem or stem.endswith("."):
        return bool(stem) and _ACRONYM.match(chunk) is not None
    if _ACRONYM.match(chunk):
        return True
    return stem.lower() in ABBREVIATIONS


def _word(word: str) -> list[str]:
    lowered = word.lower()
    if lowered in _SPLIT_TWO:
        first, second = _SPLIT_TWO[lowered]
        return [word[: len(first)], word[len(first) :]]
    ordinal = _ORDINAL.match(word)
    if ordinal:
        return [ordinal.group(1), ordinal.group(2)]
    clitics: list[str] = []
    while True:
        found = _CLITIC.match(word)
        if not found:
            break
        word, clitic = found.group(1), found.group(2)
        clitics.insert(0, clitic)
    if len(word) > 1 and word.endswith("'") and word[-2].lower() == "s":
        word, clitics = word[:-1], ["'", *clitics]
    return [word, *clitics] if word else clitics
