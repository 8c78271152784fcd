"""``visionbench gate``: is the candidate non-inferior to the baseline, within declared margins?

A gated metric passes when the paired interval of ``candidate - baseline`` lies above
``-margin`` (below ``+margin`` for a lower-is-better metric): non-inferiority, decided by the
interval of the delta, never by an equality test such as McNemar's. It fails when the interval
lies entirely beyond the margin, and is inconclusive when the interval straddles it (or the run
has fewer samples than ``min_samples``). Intervals: top-1 uses Agresti and Min's adjusted Wald
interval for paired proportions (half a count added to each agreement cell, so a subset without a
discordant pair is not "certain"); every other metric the paired percentile bootstrap (images
resampled together for both runs, corpus metrics re-accumulated per resample).

Multiplicity (per task kind, ``multiplicity``): ``holm`` (default) runs Holm's step-down procedure
over the gated metrics, once for the "non-inferior" claims and once for the "inferior" claims, so
the chance of a false pass (and of a false fail) over all gated metrics stays below ``alpha``;
each metric's interval is reported at the level Holm used for it (one-sided ``alpha / (k - i)``
on each side). ``primary`` decides on the ``primary`` metric alone at ``alpha`` (the others are
reported, not gating); ``none`` tests each metric at ``alpha``.

Efficiency rules (``throughput_ips``, ``latency_ms_p99``, ``peak_mem_mb``, ..., each with a relative
``tolerance``) apply only when both runs share ``environment.hardware``; otherwise they are skipped
with a note. Verdict ``pass`` / ``fail`` / ``inconclusive`` -> exit 0 / 1 / 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ConfigError

EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 2}
DEFAULT_MARGIN = 0.01
KIND_KEYS = {"alpha", "multiplicity", "inconclusive", "min_samples", "primary", "metrics", "efficiency"}
METRIC_KEYS = {"margin", "direction", "inconclusive"}


@dataclass(frozen=True)
class MetricRule:
    key: str
    margin: float
    relative: bool
    higher_is_better: bool
    inconclusive: str


@dataclass(frozen=True)
class EfficiencyRule:
    key: str
    tolerance: float
    higher_is_better: bool


@dataclass(frozen=True)
class KindRules:
    kind: str
    alpha: float
    multiplicity: str
    inconclusive: str
    min_samples: int
    primary: str | None
    metrics: tuple[MetricRule, ...]
    efficiency: tuple[EfficiencyRule, ...] = field(default=())


def read_rules(path: str | Path | None) -> dict[str, Any]:
    """The rules file (YAML, read with the safe loader); ``None`` gives the default rules."""
    if path is None:
        return {}
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--rules {path}: cannot read it: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--rules {path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--rules {path}: expected a mapping of task kinds, got {type(data).__name__}")
    for kind in [k for k in data if k not in KIND_KEYS] or ["classification"]:
        try:  # every section checked now, before any run is loaded
            kind_rules(data, kind)
        except ConfigError as exc:
            raise ConfigError(f"--rules {path}: {str(exc).removeprefix('rules: ')}") from None
    return data


def _fraction(value: Any, where: str, *, allow_percent: bool) -> tuple[float, bool]:
    """``(value, relative)``: a number, or ``"N%"`` (a fraction of the baseline's value)."""
    relative = False
    if allow_percent and isinstance(value, str) and value.strip().endswith("%"):
        value, relative = value.strip()[:-1], True
        try:
            value = float(value) / 100
        except ValueError:
            raise ConfigError(f"{where}: '{value}%' is not a percentage") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: expected a non-negative number or 'N%', got {value!r}")
    return float(value), relative


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    return str(value)


def kind_rules(rules: dict[str, Any], kind: str) -> KindRules:
    """The validated rules of one task kind; top-level ``alpha``/``multiplicity``/... are defaults."""
    from visionbench.declarations import EFFICIENCY, declaration

    decl = declaration(kind)
    known_kinds = {"classification", "detection", "segmentation", "captioning", "robustness"}
    unknown = sorted(set(rules) - KIND_KEYS - known_kinds)
    if unknown:
        raise ConfigError(f"rules: unknown key '{unknown[0]}' (task kinds or {', '.join(sorted(KIND_KEYS))})")
    if set(rules) & known_kinds and kind not in rules and "metrics" not in rules:
        raise ConfigError(f"rules: no section for task kind '{kind}' (have: {', '.join(sorted(rules))})")
    section = {**{k: v for k, v in rules.items() if k in KIND_KEYS}, **(rules.get(kind) or {})}
    if not isinstance(section, dict):
        raise ConfigError(f"rules: '{kind}' must be a mapping")
    bad = sorted(set(section) - KIND_KEYS)
    if bad:
        raise ConfigError(f"rules: {kind}: unknown key '{bad[0]}' (known: {', '.join(sorted(KIND_KEYS))})")
    alpha = section.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
        raise ConfigError(f"rules: {kind}: alpha must be a number in (0, 0.5), got {alpha!r}")
    multiplicity = _choice(
        section.get("multiplicity", "holm"), f"rules: {kind}: multiplicity", ("holm", "primary", "none")
    )
    inconclusive = _choice(
        section.get("inconclusive", "fail"), f"rules: {kind}: inconclusive", ("fail", "warn")
    )
    min_samples = section.get("min_samples", 0)
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 0:
        raise ConfigError(f"rules: {kind}: min_samples must be a non-negative integer, got {min_samples!r}")
    metrics_raw = section.get("metrics") or {decl.headline: {"margin": DEFAULT_MARGIN}}
    if not isinstance(metrics_raw, dict):
        raise ConfigError(f"rules: {kind}: metrics must map metric keys to rules")
    metrics = []
    for key, rule in metrics_raw.items():
        where = f"rules: {kind}: metrics: {key}"
        if key not in decl.keys:
            raise ConfigError(f"{where}: not a {kind} metric ({', '.join(decl.keys)})")
        rule = {"margin": rule} if isinstance(rule, int | float | str) else (rule or {})
        if not isinstance(rule, dict):
            raise ConfigError(f"{where}: expected a margin or a mapping of {', '.join(sorted(METRIC_KEYS))}")
        if set(rule) - METRIC_KEYS:
            extra = sorted(set(rule) - METRIC_KEYS)[0]
            raise ConfigError(f"{where}: unknown key '{extra}' (known: {', '.join(sorted(METRIC_KEYS))})")
        margin, relative = _fraction(
            rule.get("margin", DEFAULT_MARGIN), f"{where}: margin", allow_percent=True
        )
        declared = decl.metric(key)
        default_dir = "higher" if declared is None or declared.higher_is_better else "lower"
        direction = _choice(rule.get("direction", default_dir), f"{where}: direction", ("higher", "lower"))
        policy = _choice(rule.get("inconclusive", inconclusive), f"{where}: inconclusive", ("fail", "warn"))
        metrics.append(MetricRule(key, margin, relative, direction == "higher", policy))
    primary = section.get("primary")
    if multiplicity == "primary":
        primary = primary or metrics[0].key
        if primary not in {m.key for m in metrics}:
            raise ConfigError(f"rules: {kind}: primary '{primary}' is not one of the gated metrics")
    efficiency = []
    declared_eff = {m.key: m for m in EFFICIENCY}
    for key, rule in (section.get("efficiency") or {}).items():
        where = f"rules: {kind}: efficiency: {key}"
        if key not in declared_eff:
            raise ConfigError(f"{where}: not an efficiency key ({', '.join(declared_eff)})")
        rule = {"tolerance": rule} if isinstance(rule, int | float | str) else (rule or {})
        if not isinstance(rule, dict) or set(rule) - {"tolerance"}:
            raise ConfigError(f"{where}: expected {{tolerance: FRACTION or 'N%'}}")
        tolerance, _ = _fraction(rule.get("tolerance", 0.1), f"{where}: tolerance", allow_percent=True)
        efficiency.append(EfficiencyRule(key, tolerance, declared_eff[key].higher_is_better))
    return KindRules(
        kind,
        float(alpha),
        multiplicity,
        inconclusive,
        min_samples,
        primary,
        tuple(metrics),
        tuple(efficiency),
    )


def holm(p_values: list[float], alpha: float) -> list[tuple[bool, float]]:
    """Holm's step-down: ``(rejected, level used)`` per hypothesis, in the input order."""
    k = len(p_values)
    order = sorted(range(k), key=lambda i: (p_values[i] if p_values[i] == p_values[i] else 2.0, i))
    out: list[tuple[bool, float]] = [(False, alpha / k)] * k
    going = True
    for step, i in enumerate(order):
        level = alpha / (k - step)
        going = going and p_values[i] == p_values[i] and p_values[i] <= level
        out[i] = (going, level)
    return out


def _tail(values: np.ndarray, threshold: float, below: bool) -> float:
    """(count + 1) / (B + 1) of draws on one side of ``threshold`` (inclusive)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return math.nan
    hits = np.sum(v <= threshold) if below else np.sum(v >= threshold)
    return float((hits + 1) / (v.size + 1))


def gate_runs(
    baseline: Any,
    candidate: Any,
    rules: dict[str, Any] | None = None,
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The gate report: per-metric and per-efficiency-rule verdicts and the overall verdict."""
    from visionbench.harness.compare import not_compared, pair_positions, paired_draws

    spec = kind_rules(rules or {}, baseline.kind)
    positions = pair_positions(baseline, candidate)
    n = int(len(positions))
    keys = tuple(dict.fromkeys(m.key for m in spec.metrics))
    draws = paired_draws(baseline, candidate, keys, positions_b=positions, resamples=resamples, seed=seed)
    rows: list[dict[str, Any]] = []
    p_pass, p_fail = [], []
    for rule in spec.metrics:
        base, cand = baseline.metrics.get(rule.key, math.nan), candidate.metrics.get(rule.key, math.nan)
        margin = rule.margin * abs(base) if rule.relative else rule.margin
        sign = 1.0 if rule.higher_is_better else -1.0
        paired = _paired_proportion(baseline, candidate, positions) if rule.key == "top1" else None
        if paired is not None:  # Agresti-Min: no zero-width interval when no pair is discordant
            z = (sign * paired["delta"] + margin) / paired["se"]
            p_pass.append(_normal_sf(z))
            p_fail.append(1.0 - _normal_sf(z))
        elif rule.key not in draws.a:  # neither claim can be made: inconclusive, never silently dropped
            p_pass.append(math.nan)
            p_fail.append(math.nan)
        else:
            gain = sign * draws.delta(rule.key)  # > 0: the candidate is better
            p_pass.append(_tail(gain, -margin, below=True))  # H0: worse by at least the margin
            p_fail.append(_tail(gain, -margin, below=False))  # H0: not worse by the margin
        rows.append(
            {
                "metric": rule.key,
                "higher_is_better": rule.higher_is_better,
                "baseline": base,
                "candidate": cand,
                "delta": cand - base,
                "margin": margin,
                "margin_rule": f"{rule.margin:.4g} relative" if rule.relative else f"{rule.margin:.4g}",
                "inconclusive_policy": rule.inconclusive,
                "deciding": spec.multiplicity != "primary" or rule.key == spec.primary,
                "interval_method": "agresti-min" if paired is not None else "paired-bootstrap",
                **({"adjusted": paired} if paired is not None else {}),
            }
        )
    if spec.multiplicity == "holm":
        passes, fails = holm(p_pass, spec.alpha), holm(p_fail, spec.alpha)
    else:
        passes = [(p == p and p <= spec.alpha, spec.alpha) for p in p_pass]
        fails = [(p == p and p <= spec.alpha, spec.alpha) for p in p_fail]
    for row, rule, pp, pf, (passed, level), (failed, _) in zip(
        rows, spec.metrics, p_pass, p_fail, passes, fails, strict=True
    ):
        d = draws.delta(rule.key) if rule.key in draws.a else np.zeros(0)
        finite = d[np.isfinite(d)]
        if "adjusted" in row:
            half = _normal_quantile(1 - level) * row["adjusted"]["se"]
            low, high = row["adjusted"]["delta"] - half, row["adjusted"]["delta"] + half
        elif finite.size:
            low, high = float(np.quantile(finite, level)), float(np.quantile(finite, 1 - level))
        else:
            low, high = math.nan, math.nan
        row.update(ci_low=low, ci_high=high, confidence=1 - 2 * level, p_noninferior=pp, p_inferior=pf)
        if n < spec.min_samples:
            row["verdict"], row["note"] = "inconclusive", f"{n} samples < min_samples {spec.min_samples}"
        elif passed:
            row["verdict"], row["note"] = "pass", "non-inferior: the interval lies above -margin"
        elif failed:
            row["verdict"], row["note"] = "fail", "inferior: the interval lies below -margin"
        elif "adjusted" not in row and rule.key not in draws.a:
            (why,) = [i["reason"] for i in not_compared(baseline, candidate, [rule.key])]
            row["verdict"], row["note"] = "inconclusive", f"no paired resamples: {why}"
        else:
            row["verdict"], row["note"] = "inconclusive", "the interval straddles the margin"
        if not rule.higher_is_better:
            row["note"] = (
                row["note"]
                .replace("above -margin", "below +margin")
                .replace("below -margin", "above +margin")
            )
    efficiency = _efficiency(baseline.record, candidate.record, spec)
    report = {
        "kind": spec.kind,
        "task": baseline.record["task"]["id"],
        "baseline": {"run": str(baseline.directory), "model": baseline.label},
        "candidate": {"run": str(candidate.directory), "model": candidate.label},
        "num_samples": n,
        "resamples": int(resamples),
        "seed": int(seed),
        "alpha": spec.alpha,
        "multiplicity": spec.multiplicity,
        "primary": spec.primary,
        "metrics": rows,
        "efficiency": efficiency,
    }
    report["verdict"], report["warnings"] = overall(rows, efficiency)
    report["exit_code"] = EXIT_CODES[report["verdict"]]
    return report


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _normal_quantile(q: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


def _paired_proportion(baseline: Any, candidate: Any, positions: np.ndarray) -> dict[str, float] | None:
    """Top-1 difference with Agresti and Min's (2005) adjusted Wald interval for paired proportions.

    Half a count is added to each cell of the 2x2 agreement table, so a small subset with no
    discordant pair still gets an interval as wide as its size warrants (the percentile bootstrap
    would give ``[0, 0]``). ``delta``/``se`` are the adjusted difference and its standard error.
    """
    a, b = baseline.task, candidate.task
    if not (hasattr(a, "hard_labels") and hasattr(b, "hard_labels")):
        return None
    la, lb = a.hard_labels(), b.hard_labels()
    if la is None or lb is None:
        return None
    correct_a = la[1] == la[0]
    correct_b = lb[1][positions] == la[0]
    n = len(correct_a)
    base_only = float(np.sum(correct_a & ~correct_b)) + 0.5
    cand_only = float(np.sum(~correct_a & correct_b)) + 0.5
    total = n + 2.0
    delta = (cand_only - base_only) / total
    se = math.sqrt(max(base_only + cand_only - (cand_only - base_only) ** 2 / total, 0.0)) / total
    return {"delta": delta, "se": se, "baseline_only": base_only - 0.5, "candidate_only": cand_only - 0.5}


def _efficiency(base: dict[str, Any], cand: dict[str, Any], spec: KindRules) -> list[dict[str, Any]]:
    hw_a = (base.get("environment") or {}).get("hardware")
    hw_b = (cand.get("environment") or {}).get("hardware")
    out = []
    for rule in spec.efficiency:
        a = (base.get("efficiency") or {}).get(rule.key)
        b = (cand.get("efficiency") or {}).get(rule.key)
        row: dict[str, Any] = {"metric": rule.key, "baseline": a, "candidate": b, "tolerance": rule.tolerance}
        if not hw_a or hw_a != hw_b:
            row.update(verdict="skipped", note=f"different hardware ({hw_a} vs {hw_b}): not comparable")
        elif a is None or b is None or a != a or b != b:
            row.update(verdict="skipped", note="not measured in both runs")
        else:
            limit = a * (1 - rule.tolerance) if rule.higher_is_better else a * (1 + rule.tolerance)
            ok = b >= limit if rule.higher_is_better else b <= limit
            bound = ">=" if rule.higher_is_better else "<="
            row.update(
                verdict="pass" if ok else "fail", limit=limit, note=f"candidate must be {bound} {limit:.4g}"
            )
        out.append(row)
    return out


def overall(rows: list[dict[str, Any]], efficiency: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """Any deciding fail -> fail; else any inconclusive under policy ``fail`` -> inconclusive; else pass."""
    deciding = [r for r in rows if r["deciding"]]
    warnings = [
        f"{r['metric']}: inconclusive ({r['note']})"
        for r in deciding
        if r["verdict"] == "inconclusive" and r["inconclusive_policy"] == "warn"
    ]
    warnings += [f"{e['metric']}: skipped ({e['note']})" for e in efficiency if e["verdict"] == "skipped"]
    if any(r["verdict"] == "fail" for r in deciding) or any(e["verdict"] == "fail" for e in efficiency):
        return "fail", warnings
    if any(r["verdict"] == "inconclusive" and r["inconclusive_policy"] == "fail" for r in deciding):
        return "inconclusive", warnings
    return "pass", warnings
