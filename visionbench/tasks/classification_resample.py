"""Every classification metric for many resamples of the samples at once (paired bootstrap blocks).

A resample is a row of sample positions (with repeats); a block of ``m`` rows becomes a count
matrix ``W [m, N]`` (how often each sample is drawn), and every metric is a function of weighted
sums over samples, so a whole block costs a few matrix products:

* ``top1``, ``precision_macro``, ``recall_macro``, ``f1_macro``: per-class true positives,
  support and predicted counts, read off each resample's confusion matrix (one ``bincount`` of the
  drawn samples' (truth, prediction) pair codes; three label ``bincount`` calls when the classes are
  too many for a block of matrices), with the policy of
  :mod:`visionbench.tasks.classification_metrics` (mean over the classes in the resample's truth
  or predictions, ``zero_division=0``);
* ``top5``: whether each sample's label is among its 5 best scores (scikit-learn's tie rule),
  computed once, then averaged per resample; 1 when there are at most 5 classes;
* ``auroc_macro``: per class, the Mann-Whitney statistic (ties count one half) over scores sorted
  once, with each sample's weight, averaged over the classes with positives and negatives;
* ``ece``: each sample's torchmetrics bin (15 equal-width bins, ``bucketize(right=True) - 1`` of the
  float32 confidence, as torchmetrics casts it), then ``sum over bins |correct - confidence| / N`` of
  the weighted sums, in float64 (torchmetrics sums in float32: the two differ by about 1e-8);
* ``nll``, ``brier``: weighted means of the per-sample values of
  :mod:`visionbench.tasks.classification_metrics`.

Metrics the state cannot give (score-based metrics of a hard-label run, AUROC and ECE of a
compact many-class state) are left out; :attr:`ClassificationResampler.notes` says why.
"""

from __future__ import annotations

import numpy as np

KEYS = ("top1", "top5", "precision_macro", "recall_macro", "f1_macro", "auroc_macro", "ece", "nll", "brier")
# AUROC costs classes x samples per resample; above this the resampled AUROC is left out.
AUROC_MAX_CELLS = 4_000_000
ECE_BINS = 15
# resamples x classes x (classes + 1) cells above which the counts come from three bincounts
PAIR_MAX_CELLS = 1 << 24


def count_matrix(rows: np.ndarray, n: int) -> np.ndarray:
    """``W[r, i]``: how often sample ``i`` is drawn in resample ``r`` (float64)."""
    m = rows.shape[0]
    flat = (rows + (np.arange(m, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=m * n).reshape(m, n).astype(np.float64)


class ClassificationResampler:
    """Per-sample statistics of one classification run, ready for block resampling."""

    def __init__(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        num_classes: int,
        *,
        probs: np.ndarray | None = None,
        top_index: np.ndarray | None = None,
    ) -> None:
        self.y_true = np.asarray(y_true, dtype=np.int64)
        self.y_pred = np.asarray(y_pred, dtype=np.int64)
        self.k = int(num_classes)
        self.n = len(self.y_true)
        self.notes: dict[str, str] = {}
        self._pair: np.ndarray | None = None
        self.hit5: np.ndarray | None = None
        k5 = min(5, self.k)
        if probs is not None:
            if self.k <= k5:
                self.hit5 = np.ones(self.n, dtype=bool)
            else:
                best = np.argsort(probs, axis=1, kind="mergesort")[:, ::-1][:, :k5]
                self.hit5 = (best == self.y_true[:, None]).any(axis=1)
        elif top_index is not None:
            self.hit5 = (np.asarray(top_index)[:, :k5] == self.y_true[:, None]).any(axis=1)
        else:
            self.notes["top5"] = "the run stored hard labels only (no scores)"
        self._auroc: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._ece: np.ndarray | None = None
        self._calibration: dict[str, np.ndarray] = {}
        if probs is None:
            why = "the run stored no full score rows (hard labels, or top-k scores of many classes)"
            self.notes.update(auroc_macro=why, ece=why, nll=why, brier=why)
        else:
            from visionbench.tasks.classification_metrics import sample_brier, sample_nll

            self._calibration = {
                "nll": sample_nll(self.y_true, probs),
                "brier": sample_brier(self.y_true, probs),
            }
            self._prepare_ece(probs)
            if self.k * self.n > AUROC_MAX_CELLS:
                self.notes["auroc_macro"] = (
                    f"not resampled: {self.k} classes x {self.n} samples exceed {AUROC_MAX_CELLS:,} cells"
                )
            else:
                self._prepare_auroc(probs)

    def _prepare_ece(self, probs: np.ndarray) -> None:
        """Per sample: its bin's one-hot row times (correct - confidence), as torchmetrics bins it.

        The confidence is the row maximum cast to float32 and binned against torch's float32
        ``linspace`` edges with ``searchsorted(side="right") - 1`` (torch's ``bucketize(right=True)``);
        the prediction is the first maximum, as ``torch.max`` picks it.
        """
        from visionbench.tasks.classification_metrics import _bin_edges

        if probs.shape[1] < 2:  # one class: the ECE is 0 (classification_metrics' policy)
            self._ece = np.zeros((self.n, 1))
            return
        probs = np.asarray(probs)
        confidence = probs.max(axis=1).astype(np.float32)
        correct = (probs.argmax(axis=1) == self.y_true).astype(np.float64)
        bins = np.searchsorted(_bin_edges(ECE_BINS), confidence, side="right") - 1
        out = np.zeros((self.n, ECE_BINS + 1))
        out[np.arange(self.n), bins] = correct - confidence.astype(np.float64)
        self._ece = out

    def _prepare_auroc(self, probs: np.ndarray) -> None:
        """Per class: the score order, the starts of runs of equal scores, and who is positive."""
        self._auroc = []
        for c in range(self.k):
            order = np.argsort(probs[:, c], kind="stable")
            s = probs[order, c]
            starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
            self._auroc.append((order, starts, self.y_true[order] == c))

    def block(self, rows: np.ndarray, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """The metrics ``keys`` (default: all it can) of each resample (row of positions)."""
        rows = np.asarray(rows, dtype=np.int64)
        wanted = [k for k in (keys or KEYS) if k in KEYS and k not in self.notes]
        out: dict[str, np.ndarray] = {}
        if {"top1", "precision_macro", "recall_macro", "f1_macro"} & set(wanted):
            tp, support, predicted = self._counts(rows)
        if "top1" in wanted:
            out["top1"] = tp.sum(axis=1) / rows.shape[1]  # the count of correct samples, as a mean gives it
        if {"precision_macro", "recall_macro", "f1_macro"} & set(wanted):
            present = (support + predicted) > 0
            count = np.maximum(present.sum(axis=1), 1)
            for key, num, den in (
                ("precision_macro", tp, predicted),
                ("recall_macro", tp, support),
                ("f1_macro", 2 * tp, support + predicted),
            ):
                if key in wanted:
                    value = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
                    out[key] = (value * present).sum(axis=1) / count
        if "top5" in wanted:
            out["top5"] = self.hit5[rows].mean(axis=1)
        if {"auroc_macro", "ece", "nll", "brier"} & set(wanted):
            weights = count_matrix(rows, self.n)
            for key in ("nll", "brier"):
                if key in wanted:
                    out[key] = (weights @ self._calibration[key]) / weights.sum(axis=1)
            if "ece" in wanted:
                out["ece"] = np.abs(weights @ self._ece).sum(axis=1) / weights.sum(axis=1)
            if "auroc_macro" in wanted:
                out["auroc_macro"] = self._auroc_block(weights)
        return out

    def _counts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per resample and class: true positives, support and predictions ``[m, k]`` (float64 counts).

        With few classes, one ``bincount`` of each drawn sample's (truth, prediction) pair code gives
        each resample's confusion matrix, whose diagonal, row sums and column sums are the three
        counts; with many, three ``bincount`` calls over the drawn labels. Both count integers, so
        the results are identical.
        """
        m, k = rows.shape[0], self.k
        if m * k * (k + 1) <= PAIR_MAX_CELLS:
            if self._pair is None:  # a "no answer" prediction (-1) takes column 0
                self._pair = self.y_true * (k + 1) + (self.y_pred + 1)
            offset = (np.arange(m, dtype=np.int64) * (k * (k + 1)))[:, None]
            confusion = np.bincount((self._pair[rows] + offset).ravel(), minlength=m * k * (k + 1))
            confusion = confusion.reshape(m, k, k + 1)
            classes = np.arange(k)
            tp = confusion[:, classes, classes + 1]
            support = confusion.sum(axis=2)
            predicted = confusion[:, :, 1:].sum(axis=1)
            return tp.astype(np.float64), support.astype(np.float64), predicted.astype(np.float64)
        yt, yp = self.y_true[rows], self.y_pred[rows]
        correct = yt == yp
        offset = (np.arange(m, dtype=np.int64) * k)[:, None]
        tp = np.bincount((offset + yt)[correct], minlength=m * k).reshape(m, k).astype(np.float64)
        support = np.bincount((offset + yt).ravel(), minlength=m * k).reshape(m, k).astype(np.float64)
        answered = yp >= 0  # a generative classifier's "no answer" (-1) is predicted as no class
        predicted = np.bincount((offset + yp)[answered], minlength=m * k).reshape(m, k).astype(np.float64)
        return tp, support, predicted

    def _auroc_block(self, weights: np.ndarray) -> np.ndarray:
        total = np.zeros(len(weights))
        classes = np.zeros(len(weights))
        for order, starts, positive in self._auroc:
            w = weights[:, order]
            pos = w * positive
            neg = w - pos
            if starts.size < len(order):  # equal scores: sum each run of ties into one rank
                pos = np.add.reduceat(pos, starts, axis=1)
                neg = np.add.reduceat(neg, starts, axis=1)
                below = np.cumsum(neg, axis=1) - neg
                u = (pos * (below + 0.5 * neg)).sum(axis=1)
            else:  # distinct scores: a positive never ties with a negative
                u = (pos * np.cumsum(neg, axis=1)).sum(axis=1)
            n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
            ok = (n_pos > 0) & (n_neg > 0)
            total += np.where(ok, u / np.where(ok, n_pos * n_neg, 1.0), 0.0)
            classes += ok
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(classes > 0, total / np.maximum(classes, 1), np.nan)
