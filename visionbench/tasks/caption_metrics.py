"""coco-caption's BLEU, ROUGE-L and CIDEr-D from per-image statistics, so resampling is vectorised.

All inputs are tokenised captions (:mod:`visionbench.tasks.caption_tokenize`), tokens joined by
single spaces, as coco-caption's scorers receive them. Each function reproduces the protocol of
``pycocoevalcap`` (checked against it to 1e-6 in ``tests/captioning``):

* BLEU-1..4: per image, the clipped n-gram matches (``correct``), the candidate's n-gram counts
  (``guess``), its length and the length of the reference closest to it (the shorter on a tie).
  The corpus score sums them over images, takes the geometric mean of ``(correct + 1e-15) /
  (guess + 1e-9)`` over orders 1..n and the brevity penalty ``exp(1 - reflen / testlen)`` when
  the candidates are shorter. Zero matches at an order give (nearly) 0, never an error.
* ROUGE-L: per image the LCS-based F-measure with beta 1.2 over the best precision and the best
  recall among the references (0 when either is 0); the corpus score is the mean over images.
  An empty caption counts as one empty token, as coco-caption's ``split(" ")`` does.
* CIDEr-D (coco-caption's ``Cider``): tf-idf n-gram vectors (n = 1..4), idf from the
  document frequency of each n-gram over the *evaluated set's* references (``log(#images) -
  log(max(1, df))``), clipped cosine similarity times a Gaussian length penalty (sigma 6, the
  length being coco-caption's bigram count), averaged over orders and references, times 10. The
  corpus score is the mean over images. Because the idf depends on the whole set, resampling
  freezes it: a resample's CIDEr is the mean of the per-image scores computed with the full set's
  idf (the statistics module and the gate do this).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

ORDERS = 4
SIGMA = 6.0
_TINY, _SMALL = 1e-15, 1e-9


def ngrams(tokens: Sequence[str], n: int = ORDERS) -> Counter:
    """Counts of every 1..n-gram of ``tokens`` (tuples)."""
    counts: Counter = Counter()
    for k in range(1, n + 1):
        for i in range(len(tokens) - k + 1):
            counts[tuple(tokens[i : i + k])] += 1
    return counts


def bleu_stats(
    candidate: str, references: Sequence[str], n: int = ORDERS
) -> tuple[list[int], list[int], int, int]:
    """``(guess, correct, testlen, reflen)`` of one image: per-order n-gram counts and clipped matches."""
    words = candidate.split()
    counts = ngrams(words, n)
    maximum: dict[tuple[str, ...], int] = {}
    lengths = []
    for reference in references:
        ref_words = reference.split()
        lengths.append(len(ref_words))
        for gram, count in ngrams(ref_words, n).items():
            if count > maximum.get(gram, 0):
                maximum[gram] = count
    testlen = len(words)
    reflen = min(lengths, key=lambda length: (abs(length - testlen), length))
    guess = [max(0, testlen - k) for k in range(n)]
    correct = [0] * n
    for gram, count in counts.items():
        correct[len(gram) - 1] += min(maximum.get(gram, 0), count)
    return guess, correct, testlen, reflen


def corpus_bleu(
    guess: np.ndarray, correct: np.ndarray, testlen: np.ndarray, reflen: np.ndarray
) -> np.ndarray:
    """BLEU-1..n from summed statistics: ``guess``/``correct`` ``[..., n]``, lengths ``[...]`` -> ``[..., n]``.

    Leading dimensions are resamples (summed statistics per resample), so many resamples are
    scored at once.
    """
    guess, correct = np.asarray(guess, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    ratio = (np.asarray(testlen, dtype=np.float64) + _TINY) / (np.asarray(reflen, dtype=np.float64) + _SMALL)
    product = np.cumprod((correct + _TINY) / (guess + _SMALL), axis=-1)
    scores = product ** (1.0 / np.arange(1, guess.shape[-1] + 1))
    with np.errstate(divide="ignore"):
        penalty = np.where(ratio < 1, np.exp(1 - 1 / np.where(ratio < 1, ratio, 1.0)), 1.0)
    return scores * penalty[..., None]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (one row of the table at a time)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, references: Sequence[str], beta: float = 1.2) -> float:
    """coco-caption's per-image ROUGE-L: F-measure of the best LCS precision and the best recall."""
    words = candidate.split(" ")
    precision = recall = 0.0
    for reference in references:
        ref_words = reference.split(" ")
        common = lcs_length(ref_words, words)
        precision = max(precision, common / len(words))
        recall = max(recall, common / len(ref_words))
    if precision == 0 or recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (recall + beta**2 * precision)


def document_frequency(references: Sequence[Sequence[str]], n: int = ORDERS) -> Counter:
    """In how many images' reference sets each n-gram occurs (CIDEr's idf source)."""
    frequency: Counter = Counter()
    for refs in references:
        frequency.update({gram for ref in refs for gram in ngrams(ref.split(), n)})
    return frequency


class CiderD:
    """CIDEr-D with its idf frozen: built once from a set's references, then scores any image of it."""

    def __init__(self, references: Sequence[Sequence[str]], n: int = ORDERS, sigma: float = SIGMA) -> None:
        self.n, self.sigma = n, sigma
        self.frequency = document_frequency(references, n)
        self.ref_len = math.log(float(len(references))) if references else 0.0

    def _vector(self, counts: Counter) -> tuple[list[dict], list[float], int]:
        vectors: list[dict] = [{} for _ in range(self.n)]
        norms = [0.0] * self.n
        length = 0
        for gram, tf in counts.items():
            order = len(gram) - 1
            weight = float(tf) * (self.ref_len - math.log(max(1.0, float(self.frequency.get(gram, 0)))))
            vectors[order][gram] = weight
            norms[order] += weight**2
            if order == 1:
                length += tf
        return vectors, [math.sqrt(x) for x in norms], length

    def score(self, candidate: str, references: Sequence[str]) -> float:
        """One image's CIDEr-D against its references (with this set's idf)."""
        vec, norm, length = self._vector(ngrams(candidate.split(), self.n))
        total = np.zeros(self.n)
        for reference in references:
            ref_vec, ref_norm, ref_length = self._vector(ngrams(reference.split(), self.n))
            penalty = math.e ** (-(float(length - ref_length) ** 2) / (2 * self.sigma**2))
            for order in range(self.n):
                value = 0.0
                for gram, weight in vec[order].items():
                    other = ref_vec[order].get(gram, 0.0)
                    value += min(weight, other) * other
                if norm[order] != 0 and ref_norm[order] != 0:
                    value /= norm[order] * ref_norm[order]
                total[order] += value * penalty
        return float(np.mean(total) / len(references) * 10.0)

    def scores(self, candidates: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        return np.array(
            [self.score(c, r) for c, r in zip(candidates, references, strict=True)], dtype=np.float64
        )


def rouge_score_f(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """rouge-score's ROUGE-1 and ROUGE-2 F-measures per image, best over the references (its own tokeniser).

    These are rouge-score's numbers (keys ``rouge_1``, ``rouge_2``), not coco-caption's; an
    image whose candidate or references tokenise to nothing scores 0, as rouge-score does.
    """
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=False)
    out = {"rouge_1": [], "rouge_2": []}
    for candidate, refs in zip(candidates, references, strict=True):
        best = scorer.score_multi(list(refs), candidate)
        out["rouge_1"].append(best["rouge1"].fmeasure)
        out["rouge_2"].append(best["rouge2"].fmeasure)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
