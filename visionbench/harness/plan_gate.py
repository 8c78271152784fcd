"""``visionbench plan-gate``: how many images a CI subset needs for the gate to catch a given drop.

The gate fails a candidate when the one-sided upper bound of ``candidate - baseline`` lies below
``-margin``. For a true drop ``drop``, that happens with probability ``power`` once

    n >= ((z[1 - alpha] + z[power]) * sd / (drop - margin)) ** 2

where ``sd`` is the standard deviation of one image's paired difference. ``top1``: a candidate that
gets a fraction ``drop`` of the images wrong that the baseline gets right, plus ``discordance``
images changed both ways (half each), has ``sd**2 = drop + discordance - drop**2``. Any other metric:
``sd`` is estimated from the stored run as ``sqrt(2 n) * sd_bootstrap`` (the paired difference of two
independent runs; conservative, since paired runs are positively correlated). The subset is the first
``n`` samples of the task (``run --limit n``), which two runs share, so their ids match.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

from visionbench.errors import ConfigError


def plan(
    run: Any,
    *,
    drop: float,
    margin: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
    metric: str | None = None,
    discordance: float = 0.0,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The sample size for ``run``'s task and the ``run --limit`` command that evaluates that subset."""
    import numpy as np

    from visionbench.declarations import declaration

    decl = declaration(run.kind)
    metric = metric or decl.headline
    if metric not in decl.bootstrapped:
        raise ConfigError(
            f"--metric {metric}: plan-gate supports {', '.join(decl.bootstrapped)} for {run.kind}"
        )
    if not drop > margin:
        raise ConfigError(f"--drop {drop} must exceed --margin {margin}: a drop within the margin passes")
    n_run = run.task.num_updated()
    if metric == "top1" and getattr(run.task, "hard_labels", None) and run.task.hard_labels() is not None:
        variance = drop + discordance - drop**2
        how = f"top1: a drop of {drop} plus {discordance} background discordance"
    else:
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, n_run, size=(resamples, n_run))
        from visionbench.harness.compare import _block

        draws = _block(run.task, rows, (metric,))[metric]
        variance = 2 * n_run * float(np.nanvar(draws, ddof=1))
        how = f"{metric}: per-image sd from {resamples} bootstrap resamples of the stored run, times sqrt(2)"
    z = NormalDist().inv_cdf(1 - alpha) + NormalDist().inv_cdf(power)
    needed = max(1, math.ceil((z * math.sqrt(max(variance, 0.0)) / (drop - margin)) ** 2))
    task_id = run.record["task"]["id"]
    enough = needed <= int(run.record["task"]["num_samples"])
    return {
        "run": str(run.directory),
        "task": task_id,
        "metric": metric,
        "drop": drop,
        "margin": margin,
        "alpha": alpha,
        "power": power,
        "per_image_sd": math.sqrt(max(variance, 0.0)),
        "method": how,
        "samples_needed": needed,
        "samples_available": int(run.record["task"]["num_samples"]),
        "enough": enough,
        "task_spec": task_id,
        "limit": needed if enough else None,
        "command": f"visionbench run --task '{task_id}' --limit {needed} --model MODEL" if enough else None,
    }


def plan_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{report['task']}: to fail a drop of {report['drop']} in {report['metric']} with margin {report['margin']} "
        f"(alpha {report['alpha']}, power {report['power']}) the gate needs {report['samples_needed']} images",
        f"  ({report['method']}; per-image sd {report['per_image_sd']:.4f})",
    ]
    if report["enough"]:
        lines.append(f"  subset: the first {report['samples_needed']} samples: {report['command']}")
    else:
        lines.append(
            f"  the task has only {report['samples_available']} samples: use all of them, or a larger margin"
        )
    return lines
