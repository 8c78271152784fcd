"""Paired comparison of two runs on the same samples: deltas, intervals, p-values and verdicts.

Both runs' tasks are rebuilt from their stored state (:func:`visionbench.harness.rescore.load_task`),
matched by sample id, and resampled *together*: one matrix of resample positions is applied to
both states, so every bootstrap delta compares the two models on the same images. Each task
recomputes every metric of its kind for a whole block of resamples, ``bootstrap_block(rows, keys)``:
corpus metrics are re-accumulated per resample (detection: per-image COCO matches for all twelve
box statistics; segmentation: summed per-image confusion counts; classification: per-class counts,
ranks and calibration bins), never averaged per-image scores. Top-1 gets an exact McNemar test
(two-sided binomial on the discordant pairs); every metric gets the paired bootstrap interval of
``B - A``. The metrics compared are the kind's declared metrics (``visionbench.declarations``),
whose direction decides what "better" means; those a state cannot recompute are listed with the
reason under ``not_compared``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ConfigError, DataError

DEFAULT_RESAMPLES = 2000
VERDICTS = ("better", "worse", "no detectable difference")


@dataclass
class LoadedRun:
    """One run ready for a paired comparison: its record, its task computed from the stored state."""

    ref: str
    directory: Path
    record: dict[str, Any]
    task: Any
    metrics: dict[str, float]

    @property
    def kind(self) -> str:
        return str(self.record["task"]["kind"])

    @property
    def label(self) -> str:
        return str(self.record["model"]["spec"])


@dataclass
class PairedDraws:
    """Bootstrap draws of both runs' metrics on the same resamples (rows), A's sample order."""

    num_samples: int
    resamples: int
    seed: int
    a: dict[str, np.ndarray] = field(default_factory=dict)
    b: dict[str, np.ndarray] = field(default_factory=dict)

    def delta(self, key: str) -> np.ndarray:
        return self.b[key] - self.a[key]


def resolve_run(ref: str | Path, *, output: Path | None = None) -> Path:
    """A run folder from a folder, a ``record.json`` path, or an MLflow run id found under ``output``.

    An MLflow run id is matched against the records of the local results folder (``tracking.run_id``):
    the paired statistics need the run's stored state, which lives beside its folder, not in MLflow.
    """
    from visionbench.harness.record import RECORD_FILE, iter_records

    path = Path(ref)
    if path.is_file() and path.name == RECORD_FILE:
        return path.parent
    if path.is_dir():
        if not (path / RECORD_FILE).is_file():
            raise DataError(f"{path} is not a run folder (no {RECORD_FILE})")
        return path
    text = str(ref)
    if output is not None and text and not any(sep in text for sep in "/\\") and Path(output).is_dir():
        for found, record in iter_records(Path(output)):
            if (record.get("tracking") or {}).get("run_id") == text:
                return found.parent
    raise DataError(
        f"no run folder or record at '{text}' (an MLflow run id is looked up in the run folders under "
        f"{output or 'the results folder'})"
    )


def load(ref: str | Path, *, output: Path | None = None) -> LoadedRun:
    """Resolve ``ref`` and rebuild its task from the stored state (no model, no images)."""
    from visionbench.harness.rescore import load_task

    directory = resolve_run(ref, output=output)
    record, task, result = load_task(directory)
    return LoadedRun(str(ref), directory, record, task, dict(result.metrics))


def pair_positions(a: LoadedRun, b: LoadedRun) -> np.ndarray:
    """Position in B's state of each of A's samples; a different task kind, dataset or sample set is an error."""
    if a.kind != b.kind:
        raise DataError(f"cannot compare a {a.kind} run ({a.directory}) with a {b.kind} run ({b.directory})")
    fa, fb = a.record["task"].get("dataset_fingerprint"), b.record["task"].get("dataset_fingerprint")
    if fa and fb and fa != fb:
        raise DataError(
            f"the runs are on different datasets: {a.record['task']['dataset']} (fingerprint {fa}) in "
            f"{a.directory} and {b.record['task']['dataset']} (fingerprint {fb}) in {b.directory}"
        )
    ids_a, ids_b = a.task.state.sample_ids(), b.task.state.sample_ids()
    where_b = {sample_id: k for k, sample_id in enumerate(ids_b)}
    missing = next((s for s in ids_a if s not in where_b), None)
    if missing is None and len(ids_a) != len(ids_b):
        seen = set(ids_a)
        missing_a = next(s for s in ids_b if s not in seen)
        raise DataError(
            f"the runs cover different samples: '{missing_a}' is in {b.directory} but not in {a.directory} "
            f"({len(ids_a)} vs {len(ids_b)} samples)"
        )
    if missing is not None:
        raise DataError(
            f"the runs cover different samples: '{missing}' is in {a.directory} but not in {b.directory} "
            f"({len(ids_a)} vs {len(ids_b)} samples)"
        )
    if not ids_a:
        raise DataError(f"{a.directory}: the run has no evaluated samples")
    return np.fromiter((where_b[s] for s in ids_a), dtype=np.int64, count=len(ids_a))


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """Exact McNemar test: two-sided binomial test (p = 1/2) on the discordant pairs.

    ``a_only``: samples A gets right and B wrong; ``b_only``: the reverse. With no discordant
    pair the p-value is 1.
    """
    from scipy.stats import binomtest

    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    a_only = int(np.sum(correct_a & ~correct_b))
    b_only = int(np.sum(~correct_a & correct_b))
    n = a_only + b_only
    p = 1.0 if n == 0 else float(binomtest(min(a_only, b_only), n, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": min(1.0, p)}


def _takes_keys(fn: Any) -> bool:
    import inspect

    try:
        return "keys" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _block(task: Any, rows: np.ndarray, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The metrics ``keys`` of each resample (row of positions) of a block; keys the task cannot recompute are absent.

    A task's ``bootstrap_block(rows, keys)`` computes a whole block at once (a ``bootstrap_block(rows)``
    without ``keys`` gives its headline metrics); otherwise ``bootstrap_metrics`` runs row by row.
    """
    fn = getattr(task, "bootstrap_block", None)
    out = None
    if fn is not None:
        out = fn(rows, keys=keys) if _takes_keys(fn) else fn(rows)
    if out is None:
        values = [task.bootstrap_metrics(row) or {} for row in rows]
        found = {key for v in values for key in v}
        out = {key: np.array([v.get(key, math.nan) for v in values], dtype=np.float64) for key in found}
    return {key: np.asarray(out[key], dtype=np.float64) for key in keys if key in out}


def paired_draws(
    a: LoadedRun,
    b: LoadedRun,
    keys: tuple[str, ...],
    *,
    positions_b: np.ndarray | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairedDraws:
    """Resample A's samples ``resamples`` times (seeded, in blocks) and apply the same draws to B."""
    if resamples < 1:
        raise ConfigError(f"the paired bootstrap needs at least one resample, got {resamples}")
    positions_b = pair_positions(a, b) if positions_b is None else positions_b
    n = len(positions_b)
    rng = np.random.default_rng(seed)
    draws = PairedDraws(n, resamples, seed, {k: [] for k in keys}, {k: [] for k in keys})
    step = max(1, min(resamples, (1 << 21) // n))
    for start in range(0, resamples, step):
        rows = rng.integers(0, n, size=(min(step, resamples - start), n))
        for side, task, block in (("a", a.task, rows), ("b", b.task, positions_b[rows])):
            found = _block(task, block, keys)
            for key in keys:
                getattr(draws, side)[key].append(found.get(key))
    # a metric is compared when both runs recompute it for every resample
    both = [k for k in keys if all(v is not None for v in draws.a[k] + draws.b[k])]
    draws.a = {k: np.concatenate(draws.a[k]) for k in both}
    draws.b = {k: np.concatenate(draws.b[k]) for k in both}
    return draws


def bootstrap_p_value(deltas: np.ndarray, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value of ``delta == null``: twice the smaller tail, (count + 1) / (B + 1)."""
    d = deltas[np.isfinite(deltas)]
    if d.size == 0:
        return math.nan
    low = (np.sum(d <= null) + 1) / (d.size + 1)
    high = (np.sum(d >= null) + 1) / (d.size + 1)
    return float(min(1.0, 2 * min(low, high)))


def interval(deltas: np.ndarray, confidence: float) -> tuple[float, float]:
    d = deltas[np.isfinite(deltas)]
    if d.size == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    return float(np.quantile(d, tail)), float(np.quantile(d, 1 - tail))


def verdict(delta: float, p_value: float, alpha: float, higher_is_better: bool) -> str:
    """``better`` / ``worse`` when the difference is significant at ``alpha``, else no detectable difference."""
    if p_value != p_value or p_value >= alpha or delta == 0 or delta != delta:
        return VERDICTS[2]
    return VERDICTS[0] if (delta > 0) == higher_is_better else VERDICTS[1]


def compare_runs(
    a: LoadedRun,
    b: LoadedRun,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    alpha: float = 0.05,
    metrics: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The paired comparison of B against A: one row per declared metric of the kind that both runs'
    states recompute per resample; the others are listed under ``not_compared`` with the reason."""
    from visionbench.declarations import declaration

    decl = declaration(a.kind)
    positions_b = pair_positions(a, b)
    keys = tuple(decl.keys) if metrics is None else tuple(metrics)
    draws = paired_draws(a, b, keys, positions_b=positions_b, resamples=resamples, seed=seed)
    rows = []
    undefined = [
        k for k in keys if math.isnan(a.metrics.get(k, math.nan)) and math.isnan(b.metrics.get(k, math.nan))
    ]
    for key in [k for k in keys if k in draws.a and k not in undefined]:
        metric = decl.metric(key)
        higher = metric.higher_is_better if metric else True
        va, vb = a.metrics.get(key, math.nan), b.metrics.get(key, math.nan)
        delta = vb - va
        low, high = interval(draws.delta(key), 1 - alpha)
        row = {
            "metric": key,
            "name": metric.name if metric else key,
            "higher_is_better": higher,
            "a": va,
            "b": vb,
            "delta": delta,
            "ci_low": low,
            "ci_high": high,
        }
        if key == "top1" and a.task.hard_labels() is not None:
            y_true, pred_a = a.task.hard_labels()
            _, pred_b = b.task.hard_labels()
            test = mcnemar_exact(pred_a == y_true, pred_b[positions_b] == y_true)
            row.update(test="mcnemar-exact", p_value=test["p_value"], discordant=test)
        else:
            row.update(test="paired-bootstrap", p_value=bootstrap_p_value(draws.delta(key)))
        row["verdict"] = verdict(delta, row["p_value"], alpha, higher)
        rows.append(row)
    return {
        "kind": a.kind,
        "task": a.record["task"]["id"],
        "a": {"run": str(a.directory), "model": a.label},
        "b": {"run": str(b.directory), "model": b.label},
        "num_samples": int(len(positions_b)),
        "resamples": int(resamples),
        "seed": int(seed),
        "confidence": 1 - alpha,
        "alpha": alpha,
        "metrics": rows,
        "not_compared": not_compared(a, b, [k for k in keys if k not in draws.a or k in undefined]),
    }


def not_compared(a: LoadedRun, b: LoadedRun, keys: list[str]) -> list[dict[str, str]]:
    """Why each of ``keys`` has no paired statistics: the task's own note, else a generic reason."""
    out = []
    for key in keys:
        reason = (getattr(a.task, "bootstrap_notes", None) or {}).get(key) or (
            getattr(b.task, "bootstrap_notes", None) or {}
        ).get(key)
        if reason is None and (key not in a.metrics or key not in b.metrics):
            reason = "not reported by both runs"
        elif reason is None and math.isnan(a.metrics[key]) and math.isnan(b.metrics[key]):
            reason = "undefined (NaN) in both runs, e.g. no ground truth it applies to"
        out.append({"metric": key, "reason": reason or "the stored state cannot recompute it per resample"})
    return out


def _num(value: Any, digits: int = 4) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def _p(value: Any) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def comparison_lines(report: dict[str, Any]) -> list[str]:
    """The terminal table of a comparison."""
    conf = round(100 * report["confidence"])
    lines = [
        f"{report['task']}: B = {report['b']['model']} vs A = {report['a']['model']} "
        f"({report['num_samples']} paired samples, {report['resamples']} paired resamples)",
        f"{'metric':16s} {'A':>8s} {'B':>8s} {'B - A':>8s} {f'{conf}% interval':>20s} {'p':>9s}  verdict",
    ]
    for row in report["metrics"]:
        span = f"[{_num(row['ci_low'])}, {_num(row['ci_high'])}]"
        lines.append(
            f"{row['metric']:16s} {_num(row['a']):>8s} {_num(row['b']):>8s} {_num(row['delta']):>8s} "
            f"{span:>20s} {_p(row['p_value']):>9s}  {row['verdict']} ({row['test']})"
        )
    for item in report.get("not_compared", []):
        lines.append(f"{item['metric']:16s} not compared: {item['reason']}")
    return lines


def comparison_markdown(report: dict[str, Any]) -> str:
    """The comparison as a Markdown table (model names escaped as text)."""
    from visionbench.harness.gate_report import md_text

    conf = round(100 * report["confidence"])
    out = [
        f"### {md_text(report['task'])}: {md_text(report['b']['model'])} (B) vs "
        f"{md_text(report['a']['model'])} (A)",
        "",
        f"{report['num_samples']} paired samples, {report['resamples']} paired bootstrap resamples "
        f"(seed {report['seed']}).",
        "",
        f"| metric | A | B | B - A | {conf}% interval | p | test | verdict |",
        "| --- | ---: | ---: | ---: | --- | ---: | --- | --- |",
    ]
    for row in report["metrics"]:
        out.append(
            f"| {md_text(row['metric'])} | {_num(row['a'])} | {_num(row['b'])} | {_num(row['delta'])} | "
            f"[{_num(row['ci_low'])}, {_num(row['ci_high'])}] | {_p(row['p_value'])} | {row['test']} | "
            f"{row['verdict']} |"
        )
    skipped = report.get("not_compared", [])
    if skipped:
        out += [
            "",
            "Not compared: "
            + "; ".join(f"{md_text(i['metric'])} ({md_text(i['reason'])})" for i in skipped)
            + ".",
        ]
    return "\n".join(out) + "\n"
