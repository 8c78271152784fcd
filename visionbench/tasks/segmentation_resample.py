"""Every segmentation metric for many image resamples at once, from summed per-image confusion counts.

A resample's confusion matrix is ``W @ C``: the image multiplicities ``W [B, N]`` times the
per-image counts ``C [N, K*K]`` (a sparse matrix: images hold few classes), summed in float64,
exact while counts stay below 2**53. The metrics of a stack of matrices follow
:func:`visionbench.tasks.segmetrics.metrics_from_confusion`'s nan-mean policy: a class absent from a
resample's truth and prediction is left out of ``miou``; ``mean_accuracy`` averages the classes in its
truth; ``fwiou`` weights IoU by truth frequency; a resample without valid pixels is NaN throughout.
"""

from __future__ import annotations

import numpy as np

KEYS = ("miou", "pixel_accuracy", "mean_accuracy", "fwiou")
# Rows of K x K float64 matrices held at once.
BLOCK_BYTES = 64 * 1024 * 1024


def metrics_of_stack(cms: np.ndarray) -> dict[str, np.ndarray]:
    """The four metrics of each ``K x K`` matrix of ``cms [B, K, K]`` (rows: truth, columns: prediction)."""
    tp = np.diagonal(cms, axis1=1, axis2=2)
    gt, pred = cms.sum(axis=2), cms.sum(axis=1)
    union = gt + pred - tp
    total = gt.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / np.where(union > 0, union, 1.0), 0.0)
        acc = np.where(gt > 0, tp / np.where(gt > 0, gt, 1.0), 0.0)
        present, labelled = union > 0, gt > 0
        some = total > 0
        safe_total = np.where(some, total, 1.0)
        out = {
            "miou": np.where(present.any(axis=1), (iou * present).sum(axis=1) / present.sum(axis=1), np.nan),
            "pixel_accuracy": np.where(some, tp.sum(axis=1) / safe_total, np.nan),
            "mean_accuracy": np.where(
                labelled.any(axis=1), (acc * labelled).sum(axis=1) / labelled.sum(axis=1), np.nan
            ),
            "fwiou": np.where(some, (gt / safe_total[:, None] * iou * labelled).sum(axis=1), np.nan),
        }
    return out


class SegmentationResampler:
    """Per-image confusion counts (sparse ``[N, K*K]``) ready for block resampling."""

    def __init__(
        self, image: np.ndarray, cell: np.ndarray, count: np.ndarray, num_images: int, k: int
    ) -> None:
        from scipy import sparse

        self.k, self.n = k, num_images
        self._counts = sparse.csr_matrix(
            (np.asarray(count, dtype=np.float64), (image, cell)), shape=(num_images, k * k)
        )

    def block(self, rows: np.ndarray, keys: tuple[str, ...] = KEYS) -> dict[str, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        m, k = rows.shape[0], self.k
        out = {key: np.empty(m) for key in keys if key in KEYS}
        step = max(1, BLOCK_BYTES // (k * k * 8))
        for start in range(0, m, step):
            part = rows[start : start + step]
            b = len(part)
            flat = (part + (np.arange(b, dtype=np.int64) * self.n)[:, None]).ravel()
            weights = np.bincount(flat, minlength=b * self.n).reshape(b, self.n).astype(np.float64)
            cms = np.asarray((self._counts.T @ weights.T).T).reshape(b, k, k)
            for key, values in metrics_of_stack(cms).items():
                if key in out:
                    out[key][start : start + b] = values
        return out
