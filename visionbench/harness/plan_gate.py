"""``visionbench plan-gate``: how many images a CI subset needs for the gate to catch a given drop.

The gate fails a candidate when the one-sided upper bound of ``candidate - baseline`` lies below
``-margin``. For a true drop ``drop``, that happens with probability ``power`` once

    n >= ((z[1 - alpha] + z[power]) * sd / (drop - margin)) ** 2

where ``sd`` is the standard deviation of one image's paired difference. ``top1``: a candidate that
gets a fraction ``drop`` of the images wrong that the baseline gets right, plus ``discordance``
images changed both ways (half each), has ``sd**2 = drop + discordance - drop**2``. Any other metric:
``sd`` is estimated from the stored run as ``sqrt(2 n) * sd_bootstrap`` (the paired difference of two
independent runs; conservative, since paired runs are positively correlated). The subset is a
stratified random sample of ``n`` of the run's samples (:mod:`visionbench.harness.subsets`), written
with ``--write FILE`` as a manifest that ``run --task KIND:subset:FILE`` evaluates; every run of it
covers the same sample ids, so the runs pair up.
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
    if metric not in decl.keys:
        raise ConfigError(f"--metric {metric}: not a {run.kind} metric ({', '.join(decl.keys)})")
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

        found = _block(run.task, rows, (metric,))
        if metric not in found:
            raise ConfigError(f"--metric {metric}: the run's stored state cannot recompute it per resample")
        draws = found[metric]
        variance = 2 * n_run * float(np.nanvar(draws, ddof=1))
        how = f"{metric}: per-image sd from {resamples} bootstrap resamples of the stored run, times sqrt(2)"
    z = NormalDist().inv_cdf(1 - alpha) + NormalDist().inv_cdf(power)
    needed = max(1, math.ceil((z * math.sqrt(max(variance, 0.0)) / (drop - margin)) ** 2))
    task_id = run.record["task"]["id"]
    enough = needed <= int(run.record["task"]["num_samples"])
    subset: dict[str, Any] = {}
    if enough:
        from visionbench.harness.subsets import subset_manifest

        subset = subset_manifest(run, needed, seed)
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
        "task_spec": None,  # KIND:subset:FILE once the plan is written with --write
        "command": None,
        **subset,
    }


def plan_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{report['task']}: to fail a drop of {report['drop']} in {report['metric']} with margin {report['margin']} "
        f"(alpha {report['alpha']}, power {report['power']}) the gate needs {report['samples_needed']} images",
        f"  ({report['method']}; per-image sd {report['per_image_sd']:.4f})",
    ]
    if report["enough"]:
        strata = report["strata"]
        lines.append(
            f"  subset: {report['samples_needed']} samples stratified by {report['stratified_by']} "
            f"({len(strata)} strata, each within one sample of its share; seed {report['seed']})"
        )
        if report["command"]:
            lines.append(f"  run it: {report['command']}")
        elif report.get("note"):
            lines.append(f"  {report['note']}")
        else:
            lines.append(
                "  save it with --write FILE, then: visionbench run --task KIND:subset:FILE --model MODEL"
            )
    else:
        lines.append(
            f"  the task has only {report['samples_available']} samples: use all of them, or a larger margin"
        )
    return lines
