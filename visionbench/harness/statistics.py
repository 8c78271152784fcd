"""Bootstrap confidence intervals over samples for a task's headline metrics."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def bootstrap_intervals(
    n: int,
    metric_fn: Callable[[np.ndarray], dict[str, float] | None],
    *,
    reps: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap: resample the n samples with replacement ``reps`` times.

    ``metric_fn`` receives an int array of sample positions and returns headline
    metrics; returns ``{key: (low, high)}`` (empty when the task cannot bootstrap).
    """
    if n == 0 or reps <= 0 or metric_fn(np.arange(n)) is None:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(reps):
        values = metric_fn(rng.integers(0, n, size=n)) or {}
        for key, value in values.items():
            draws.setdefault(key, []).append(value)
    alpha = (1.0 - confidence) / 2
    return {
        key: (float(np.quantile(vals, alpha)), float(np.quantile(vals, 1 - alpha)))
        for key, vals in draws.items()
    }
