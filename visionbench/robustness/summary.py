"""Metrics and honesty flags of a robustness run, from its per-sample state rows alone.

Metric keys (values are fractions; eps written with 4 significant digits, no ``/`` inside a value):

* ``clean_top1``; ``robust_top1`` (headline): at the largest eps, the worst case over every attack
  and every smaller eps (a sample broken inside a smaller ball is broken inside the larger one);
* ``robust_top1/<norm>/<eps>``: the same worst case up to that eps;
* ``robust_top1/<attack>/<norm>/<eps>``: one attack at one eps, its own result;
* ``attack_success_rate/<norm>/<eps>``: the share of clean-correct samples broken up to that eps;
* ``corrupt_top1/<type>/<severity>``; ``mpc`` (mean over the cells) and ``rpc`` (``mpc / clean_top1``);
  ``mce``: with a baseline model, the ImageNet-C mean corruption error (per type, the summed
  errors over severities divided by the baseline's, then the mean over types) and
  ``relative_mce`` (the same on errors minus the clean error); without one, the mean error
  over the cells;
* ``honesty_flags``: how many honesty checks fired (0 is clean).

A robust flag is ``clean correct AND still correct after the attack``; the honesty checks read
each attack's raw result at each eps before any worst case is taken.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visionbench.robustness.options import ATTACK_NAMES


def cell_matrix(table: Any) -> tuple[list[str], np.ndarray]:
    """The cell names and an ``[N, K]`` boolean matrix (rows whose cells differ are aligned by name)."""
    cells = table.column("cells").to_pylist()
    values = table.column("values").to_pylist()
    names = sorted({n for row in cells for n in row})
    position = {n: i for i, n in enumerate(names)}
    matrix = np.zeros((len(cells), len(names)), dtype=bool)
    present = np.zeros_like(matrix)
    for r, (row_names, row_values) in enumerate(zip(cells, values, strict=True)):
        for n, v in zip(row_names, row_values, strict=True):
            matrix[r, position[n]] = bool(v)
            present[r, position[n]] = True
    if not present.all():
        missing = names[int(np.flatnonzero(~present.all(0))[0])]
        from visionbench.errors import DataError

        raise DataError(
            f"robustness state: some samples lack the cell '{missing}' (mixed plans in one store)"
        )
    return names, matrix


def attack_cells(names: list[str]) -> dict[str, dict[float, int]]:
    """attack -> {eps: column} for the ``<attack>/<norm>/<eps>`` cells."""
    out: dict[str, dict[float, int]] = {}
    for i, name in enumerate(names):
        parts = name.split("/")
        if len(parts) == 3 and parts[0] in ATTACK_NAMES:
            out.setdefault(parts[0], {})[float(parts[2])] = i
    return out


def eps_keys(names: list[str]) -> dict[float, str]:
    return {float(n.split("/")[2]): n.split("/")[2] for n in names if n.split("/")[0] in ATTACK_NAMES}


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def metrics(
    target: np.ndarray, label: np.ndarray, names: list[str], matrix: np.ndarray, norm: str
) -> dict[str, float]:
    clean = label == target
    out: dict[str, float] = {"clean_top1": _mean(clean)}
    by_attack = attack_cells(names)
    keys = eps_keys(names)
    worst = clean.copy()
    for eps in sorted(keys):
        for attack, columns in sorted(by_attack.items()):
            if eps in columns:
                robust = clean & matrix[:, columns[eps]]
                out[f"robust_top1/{attack}/{norm}/{keys[eps]}"] = _mean(robust)
                worst &= robust
        out[f"robust_top1/{norm}/{keys[eps]}"] = _mean(worst)
        out[f"attack_success_rate/{norm}/{keys[eps]}"] = (
            float(1 - worst.sum() / clean.sum()) if clean.sum() else float("nan")
        )
    if keys:
        out["robust_top1"] = _mean(worst)
    out.update(corruption_metrics(names, matrix, out["clean_top1"]))
    return out


def corruption_grid(names: list[str], matrix: np.ndarray, prefix: str) -> dict[str, dict[int, float]]:
    grid: dict[str, dict[int, float]] = {}
    for i, name in enumerate(names):
        parts = name.split("/")
        if parts[0] == prefix and len(parts) == 3:
            grid.setdefault(parts[1], {})[int(parts[2])] = _mean(matrix[:, i])
    return grid


def corruption_metrics(names: list[str], matrix: np.ndarray, clean_top1: float) -> dict[str, float]:
    grid = corruption_grid(names, matrix, "corrupt")
    if not grid:
        return {}
    out: dict[str, float] = {}
    for kind, row in sorted(grid.items()):
        for severity, acc in sorted(row.items()):
            out[f"corrupt_top1/{kind}/{severity}"] = acc
    cells = [acc for row in grid.values() for acc in row.values()]
    out["mpc"] = float(np.mean(cells))
    out["rpc"] = out["mpc"] / clean_top1 if clean_top1 else float("nan")
    base = corruption_grid(names, matrix, "baseline")
    if not base:
        out["mce"] = float(np.mean([1 - acc for acc in cells]))
        return out
    base_clean = _mean(matrix[:, names.index("baseline/clean")])
    out.update(mce_from_grids(grid, base, clean_top1, base_clean))
    return out


def mce_from_grids(
    grid: dict[str, dict[int, float]], base: dict[str, dict[int, float]], clean: float, base_clean: float
) -> dict[str, float]:
    """ImageNet-C's mCE and relative mCE of a model's grid against a baseline's (accuracies in, errors used)."""
    ce, rel = [], []
    for kind, row in grid.items():
        err = sum(1 - row[s] for s in row)
        base_err = sum(1 - base[kind][s] for s in row)
        ce.append(err / base_err if base_err else float("nan"))
        gap = sum((1 - row[s]) - (1 - clean) for s in row)
        base_gap = sum((1 - base[kind][s]) - (1 - base_clean) for s in row)
        rel.append(gap / base_gap if base_gap else float("nan"))
    return {"mce": _finite_mean(ce), "relative_mce": _finite_mean(rel)}


def _finite_mean(values: list[float]) -> float:
    """The mean over the types whose baseline ratio is defined (NaN when none is)."""
    kept = [v for v in values if not math.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


def honesty(
    target: np.ndarray,
    label: np.ndarray,
    names: list[str],
    matrix: np.ndarray,
    notes: list[str],
    tolerance: float,
) -> list[dict[str, Any]]:
    """The honesty checks that fired, each ``{check, detail}``; an empty list when none did."""
    clean = label == target
    clean_top1 = _mean(clean)
    flags: list[dict[str, Any]] = []
    keys = eps_keys(names)
    for attack, columns in sorted(attack_cells(names).items()):
        previous = None
        for eps in sorted(columns):
            raw = _mean(matrix[:, columns[eps]])
            robust = _mean(clean & matrix[:, columns[eps]])
            if raw > clean_top1 + tolerance:
                flags.append({"check": "robust_exceeds_clean", "detail": f"{attack} at eps {keys[eps]}: {raw:.4f} > clean {clean_top1:.4f}"})  # fmt: skip
            if previous is not None and robust > previous[1] + tolerance:
                flags.append({"check": "robust_rises_with_eps", "detail": f"{attack}: {robust:.4f} at eps {keys[eps]} > {previous[1]:.4f} at eps {keys[previous[0]]}"})  # fmt: skip
            previous = (eps, robust)
    for i, name in enumerate(names):
        parts = name.split("/")
        if parts[0] == "check-steps":
            pgd = attack_cells(names).get("pgd", {}).get(float(parts[2]))
            if pgd is None:
                continue
            base, more = _mean(clean & matrix[:, pgd]), _mean(clean & matrix[:, i])
            if more > base + tolerance:
                flags.append({"check": "more_steps_raise_robust", "detail": f"PGD with 2x steps and one more restart: {more:.4f} > {base:.4f}"})  # fmt: skip
            elif more < base - tolerance:
                flags.append({"check": "pgd_not_converged", "advisory": True, "detail": f"PGD with 2x steps and one more restart: {more:.4f} < {base:.4f}; the headline may overstate robustness"})  # fmt: skip
        elif parts[0] == "check-unbounded":
            value = _mean(clean & matrix[:, i])
            if value > tolerance:
                flags.append({"check": "unbounded_attack_not_zero", "detail": f"PGD with an unbounded radius leaves {value:.4f} robust"})  # fmt: skip
        elif name == "grad-nonzero":
            zero = int((clean & ~matrix[:, i]).sum())
            if zero:
                flags.append({"check": "zero_gradients", "detail": f"{zero} clean-correct samples have an all-zero input gradient"})  # fmt: skip
    for note in notes:
        if note.startswith("randomised"):
            flags.append({"check": "randomised", "detail": note})
        elif note.startswith("autoattack: "):
            flags.append({"check": "autoattack_warning", "detail": note.split(": ", 1)[1]})
    return flags


def bootstrap(
    target: np.ndarray, label: np.ndarray, worst: np.ndarray | None, resample: np.ndarray
) -> dict[str, float]:
    clean = (label == target)[resample]
    out = {"clean_top1": float(clean.mean())}
    if worst is not None:
        out["robust_top1"] = float(worst[resample].mean())
    return out


def worst_flags(
    target: np.ndarray, label: np.ndarray, names: list[str], matrix: np.ndarray
) -> np.ndarray | None:
    """Per sample: robust against every attack at every eps (the headline's flags); None without attacks."""
    by_attack = attack_cells(names)
    if not by_attack:
        return None
    columns = [c for cols in by_attack.values() for c in cols.values()]
    return (label == target) & matrix[:, columns].all(1)


def finite(value: float) -> bool:
    return value is not None and not math.isnan(value)
