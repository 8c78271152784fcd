"""The generalisation gap of a model: its metric on an in-distribution task minus the same metric on a shifted one.

A suite file pairs an in-distribution task with shifted tasks (``generalisation:`` in the suite file,
:mod:`visionbench.harness.suite_file`). The shifted run's record then carries a ``generalisation``
section: the pairing, both values, ``gap = in-distribution - shifted`` exactly as the two records hold
them, and a 95% interval for the gap from an independent two-sample bootstrap (the two datasets share
no samples, so each run's per-sample state is resampled on its own stream and the differences of the
paired draws give the percentile interval). MLflow receives the gap as the metrics
``generalisation_gap`` (``_ci_low`` / ``_ci_high``), the pairing as params and the ``vb.generalisation``
tag, which the leaderboard shows as a column.
"""

from __future__ import annotations

from typing import Any

import numpy as np

GAP_KEY = "generalisation_gap"
INTERVAL_METHOD = "independent two-sample percentile bootstrap"
CONFIDENCE = 0.95


def metric_draws(task: Any, key: str, reps: int, seed: Any) -> np.ndarray | None:
    """``reps`` bootstrap values of ``key`` over the task's state (resampled with replacement), or None.

    None when the task cannot resample that metric. Uses the task's vectorised ``bootstrap_block`` when
    it has one, else ``bootstrap_metrics`` one resample at a time.
    """
    n = int(task.num_updated())
    if n == 0 or reps <= 0:
        return None
    rng = np.random.default_rng(seed)
    values: list[float] = []
    block_fn = getattr(task, "bootstrap_block", None)
    if block_fn is not None:
        step = max(1, min(reps, (1 << 22) // n))
        for start in range(0, reps, step):
            found = block_fn(rng.integers(0, n, size=(min(step, reps - start), n)), [key])
            if not found or key not in found:
                return None
            values.extend(float(v) for v in np.asarray(found[key], dtype=np.float64))
    else:
        for _ in range(reps):
            found = task.bootstrap_metrics(rng.integers(0, n, size=n))
            if not found or key not in found:
                return None
            values.append(float(found[key]))
    return np.asarray(values, dtype=np.float64)


def gap_interval(
    reference: Any, shifted: Any, key: str, *, reps: int, seed: int, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Percentile interval of ``key(reference) - key(shifted)`` from independent resamples of each state.

    The two streams come from one seed sequence (spawned children 0 and 1), so they are independent
    and the result is reproducible. None when either side cannot resample ``key`` or too few draws are
    finite (fewer than half).
    """
    first, second = np.random.SeedSequence(int(seed)).spawn(2)
    a = metric_draws(reference, key, reps, first)
    b = metric_draws(shifted, key, reps, second)
    if a is None or b is None:
        return None
    diff = a - b
    diff = diff[np.isfinite(diff)]
    if len(diff) < max(1, reps // 2):
        return None
    alpha = (1.0 - confidence) / 2
    return float(np.quantile(diff, alpha)), float(np.quantile(diff, 1 - alpha))


def gap_section(
    *,
    name: str,
    metric: str,
    reference_record: dict[str, Any],
    reference_task: Any,
    shifted_record: dict[str, Any],
    shifted_task: Any,
    reps: int,
    seed: int,
) -> dict[str, Any]:
    """The shifted record's ``generalisation`` section (values as the two records hold them)."""
    from visionbench.declarations import higher_is_better
    from visionbench.errors import DataError

    values = []
    for side, record in (("in-distribution", reference_record), ("shifted", shifted_record)):
        value = record["metrics"].get(metric)
        if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value):
            raise DataError(
                f"generalisation pairing {name!r}: the {side} run of {record['model']['spec']} on "
                f"{record['task']['id']} has no finite {metric!r}"
            )
        values.append(float(value))
    interval = gap_interval(reference_task, shifted_task, metric, reps=reps, seed=seed) if reps > 0 else None
    kind = shifted_record["task"]["kind"]
    return {
        "name": name,
        "metric": metric,
        "higher_is_better": bool(higher_is_better(metric, kind)),
        "in_distribution": {
            "task": reference_record["task"]["id"],
            "dataset": reference_record["task"]["dataset"],
            "run_fingerprint": reference_record["run_fingerprint"],
            "num_samples": reference_record["task"]["num_samples"],
            "value": values[0],
        },
        "shifted": {
            "task": shifted_record["task"]["id"],
            "dataset": shifted_record["task"]["dataset"],
            "num_samples": shifted_record["task"]["num_samples"],
            "value": values[1],
        },
        "gap": values[0] - values[1],
        "gap_ci_low": interval[0] if interval else None,
        "gap_ci_high": interval[1] if interval else None,
        "interval": {
            "method": INTERVAL_METHOD,
            "reps": int(reps),
            "seed": int(seed),
            "confidence": CONFIDENCE,
        },
    }


def gap_metrics(record: dict[str, Any]) -> dict[str, float]:
    """The MLflow metrics of a record's gap (empty for a run that is not the shifted side of a pairing)."""
    section = record.get("generalisation")
    if not isinstance(section, dict):
        return {}
    out = {}
    for suffix in ("", "_ci_low", "_ci_high"):
        value = section.get(f"gap{suffix}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{GAP_KEY}{suffix}"] = float(value)
    return out


def gap_params(record: dict[str, Any]) -> dict[str, str]:
    """The MLflow params of a record's pairing (empty without one)."""
    section = record.get("generalisation")
    if not isinstance(section, dict):
        return {}
    reference = section.get("in_distribution") or {}
    return {
        "generalisation.name": str(section.get("name", "")),
        "generalisation.metric": str(section.get("metric", "")),
        "generalisation.in_distribution_task": str(reference.get("task", "")),
        "generalisation.in_distribution_run": str(reference.get("run_fingerprint", "")),
        "generalisation.interval": str((section.get("interval") or {}).get("method", "")),
    }


def gap_label(record: dict[str, Any]) -> str:
    """``top1 vs classification:digits``: what the gap compares ("" for other runs); the ``vb.generalisation`` tag."""
    section = record.get("generalisation")
    if not isinstance(section, dict):
        return ""
    return f"{section.get('metric', '')} vs {(section.get('in_distribution') or {}).get('task', '')}"
