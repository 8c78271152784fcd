"""Bootstrap confidence intervals over samples for a task's headline metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def bootstrap_intervals(
    n: int,
    metric_fn: Callable[[np.ndarray], dict[str, float] | None],
    *,
    reps: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    block_fn: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap: resample the n samples with replacement ``reps`` times.

    ``metric_fn`` receives an int array of sample positions and returns headline
    metrics; returns ``{key: (low, high)}`` (empty when the task cannot bootstrap). ``block_fn``,
    when given, computes the same metrics for a block of resamples (one per row) at once.
    """
    if n == 0 or reps <= 0:
        return {}
    identity = np.arange(n)
    if (block_fn(identity[None, :]) if block_fn is not None else metric_fn(identity)) is None:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    if block_fn is not None:
        # the same resamples as one draw at a time (numpy fills the block row by row from one stream)
        step = max(1, min(reps, (1 << 22) // n))
        for start in range(0, reps, step):
            block = rng.integers(0, n, size=(min(step, reps - start), n))
            found = block_fn(block)
            if found is None:
                return {}
            for key, values in found.items():
                draws.setdefault(key, []).extend(float(v) for v in values)
    else:
        for _ in range(reps):
            values = metric_fn(rng.integers(0, n, size=n)) or {}
            for key, value in values.items():
                draws.setdefault(key, []).append(value)
    alpha = (1.0 - confidence) / 2
    return {
        key: (float(np.quantile(vals, alpha)), float(np.quantile(vals, 1 - alpha)))
        for key, vals in draws.items()
    }


def add_task_intervals(task: Any, metrics: dict[str, float], *, reps: int, seed: int) -> None:
    """Bootstrap a task's headline metrics from its state and add ``<key>_ci_low``/``_ci_high``."""
    intervals = bootstrap_intervals(
        task.num_updated(), task.bootstrap_metrics, reps=reps, seed=seed, block_fn=task.bootstrap_block
    )
    add_intervals(metrics, intervals)


def add_intervals(metrics: dict[str, float], intervals: dict[str, tuple[float, float]]) -> None:
    """Add ``<key>_ci_low``/``_ci_high`` for each ``{key: (low, high)}``."""
    for key, (low, high) in intervals.items():
        metrics[f"{key}_ci_low"], metrics[f"{key}_ci_high"] = low, high


class IntervalsInBackground:
    """:func:`bootstrap_intervals` of a block function, computed in a thread while the caller goes on.

    Worth it when the block function spends its time in compiled code that releases the GIL (the
    COCO resampling kernel): the caller's own Python work then runs beside it. ``result`` waits for
    the intervals and raises what the thread raised.
    """

    def __init__(
        self, n: int, block_fn: Callable[[np.ndarray], dict[str, np.ndarray] | None], *, reps: int, seed: int
    ) -> None:
        import threading

        self._outcome: dict[str, Any] = {}
        self._thread = threading.Thread(
            target=self._run, args=(n, block_fn, reps, seed), name="bootstrap-intervals", daemon=True
        )
        self._thread.start()

    def _run(self, n: int, block_fn: Any, reps: int, seed: int) -> None:
        try:
            self._outcome["intervals"] = bootstrap_intervals(
                n, _unused_metric_fn, reps=reps, seed=seed, block_fn=block_fn
            )
        except BaseException as exc:  # handed to the caller by result()
            self._outcome["error"] = exc

    def result(self) -> dict[str, tuple[float, float]]:
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["intervals"]


def _unused_metric_fn(_: np.ndarray) -> None:  # the block function answers every resample
    return None
