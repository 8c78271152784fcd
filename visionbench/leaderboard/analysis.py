"""Pure computations behind the pages: tie-group ranks, Pareto fronts, paired comparisons, metric groupings.

No Streamlit here, so each function is unit-tested on plain data.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from visionbench.declarations import DECLARATIONS, headline_key
from visionbench.harness.report import ranked_rows

if TYPE_CHECKING:
    import pandas as pd

PER_CLASS_PREFIXES = tuple(f"{d.per_class_prefix}/" for d in DECLARATIONS.values() if d.per_class_prefix)
# robust_top1/<attack>/<norm>/<eps> (one attack) and robust_top1/<norm>/<eps> (worst case over attacks)
ROBUST_KEY = re.compile(r"^robust_top1/(?:(?P<attack>[^/]+)/)?(?P<norm>linf|l2)/(?P<eps>[^/]+)$")
CORRUPT_KEY = re.compile(r"^corrupt_top1/(?P<corruption>[^/]+)/(?P<severity>[^/]+)$")
# Per-sample columns that score how well a sample went (lower = worse), in order of preference.
SAMPLE_SCORES = ("target_probability", "iou", "miou", "ap_50", "ap", "score", "cider", "bleu_4")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def tie_ranks(frame: pd.DataFrame) -> pd.Series:
    """Tie-group ranks of the runs of one task (``harness.report.ranked_rows``), aligned with ``frame``.

    A run shares the rank of the group above while its interval overlaps the interval of
    that group's leader; runs without an interval get plain ranks.
    """
    import pandas as pd

    if frame.empty:
        return pd.Series([], index=frame.index, dtype="Int64")
    records = []
    for index, kind, value, low, high in zip(
        frame.index,
        frame["kind"],
        frame["headline"],
        frame["headline_ci_low"],
        frame["headline_ci_high"],
        strict=True,
    ):
        key = headline_key(kind)
        metrics = {key: _number(value), f"{key}_ci_low": _number(low), f"{key}_ci_high": _number(high)}
        records.append({"task": {"kind": kind}, "metrics": metrics, "index": index})
    ranks = {row["record"]["index"]: row["rank"] for row in ranked_rows(records)}
    return pd.Series([ranks[i] for i in frame.index], index=frame.index, dtype="Int64")


def pareto_frontier(
    xs: list[float], ys: list[float], *, x_higher_better: bool = True, y_higher_better: bool = True
) -> list[bool]:
    """Which points are not dominated (no other point is at least as good on both axes and better on one).

    Points with a missing or NaN coordinate are never on the front; identical points are all on it.
    """
    sign_x = 1.0 if x_higher_better else -1.0
    sign_y = 1.0 if y_higher_better else -1.0
    points = [
        (sign_x * x, sign_y * y, i)
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
        if _number(x) is not None and _number(y) is not None
    ]
    points.sort(key=lambda p: (-p[0], -p[1]))
    on_front = [False] * len(xs)
    best_y = -math.inf  # best y among points with a strictly better x
    start = 0
    while start < len(points):
        end = start
        while end < len(points) and points[end][0] == points[start][0]:
            end += 1
        group_best = points[start][1]
        for _, y, i in points[start:end]:
            on_front[i] = y == group_best and y > best_y
        best_y = max(best_y, group_best)
        start = end
    return on_front


def shared_metric_keys(a: pd.Series, b: pd.Series, keys: list[str]) -> list[str]:
    """Metric keys both runs have a number for, headline first, per-class keys last."""
    shared = [k for k in keys if _number(a.get(k)) is not None and _number(b.get(k)) is not None]
    headline = a.get("headline_key")
    return sorted(shared, key=lambda k: (k != headline, k.startswith(PER_CLASS_PREFIXES), "/" in k, k))


def paired_deltas(a: pd.Series, b: pd.Series, keys: list[str]) -> pd.DataFrame:
    """Metric by metric: A, B and B - A for the keys both runs share."""
    import pandas as pd

    rows = [
        {"metric": k, "A": float(a[k]), "B": float(b[k]), "B - A": float(b[k]) - float(a[k])}
        for k in shared_metric_keys(a, b, keys)
    ]
    return pd.DataFrame(rows, columns=["metric", "A", "B", "B - A"])


def paired_headline(record_a: str | None, record_b: str | None, *, resamples: int = 1000) -> dict[str, Any]:
    """The paired statistics of the headline metric (``visionbench.harness.compare``) from both runs' state.

    Needs both runs' record paths (static mode) with their state stores beside them; otherwise
    ``{"reason": ...}``. Returns ``{"ci_low", "ci_high", "p_value", "test", "verdict", "n"}``.
    """
    if not record_a or not record_b:
        return {"reason": "paired statistics need both runs' record files (static mode)"}
    from visionbench.declarations import headline_key
    from visionbench.errors import VisionbenchError
    from visionbench.harness.compare import compare_runs, load

    try:
        run_a, run_b = load(record_a), load(record_b)
        report = compare_runs(run_a, run_b, resamples=resamples, metrics=(headline_key(run_a.kind),))
    except VisionbenchError as exc:
        return {"reason": str(exc)}
    if not report["metrics"]:  # the headline cannot be recomputed from these states
        return {"reason": "; ".join(f"{i['metric']}: {i['reason']}" for i in report["not_compared"])}
    row = report["metrics"][0]
    keys = ("ci_low", "ci_high", "p_value", "test", "verdict")
    return {**{k: row[k] for k in keys}, "metric": row["metric"], "n": report["num_samples"]}


def mcnemar(pred_a: pd.DataFrame | None, pred_b: pd.DataFrame | None) -> dict[str, Any]:
    """Exact McNemar test on paired per-sample correctness (two-sided binomial test on the discordant pairs).

    Returns ``{"p_value", "n", "a_only", "b_only"}``, or ``{"p_value": None, "reason": ...}`` when the
    predictions are missing, lack a ``correct`` column or share no sample ids.
    """
    for name, pred in (("A", pred_a), ("B", pred_b)):
        if pred is None:
            return {"p_value": None, "reason": f"no predictions file for {name}"}
        if "correct" not in pred.columns or "sample_id" not in pred.columns:
            return {"p_value": None, "reason": f"predictions of {name} have no per-sample correctness"}
    joined = pred_a[["sample_id", "correct"]].merge(
        pred_b[["sample_id", "correct"]], on="sample_id", suffixes=("_a", "_b")
    )
    if joined.empty:
        return {"p_value": None, "reason": "the two runs share no sample ids"}
    from scipy.stats import binomtest

    ok_a, ok_b = joined["correct_a"].astype(bool), joined["correct_b"].astype(bool)
    a_only, b_only = int((ok_a & ~ok_b).sum()), int((~ok_a & ok_b).sum())
    p_value = 1.0 if a_only + b_only == 0 else float(binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return {"p_value": p_value, "n": len(joined), "a_only": a_only, "b_only": b_only}


def robustness_curves(metrics: dict[str, Any]) -> pd.DataFrame:
    """Robust top-1 keys as rows (attack, norm, eps, robust_top1); the worst case over attacks is
    the attack ``worst case``; eps numeric where it parses."""
    import pandas as pd

    rows = [
        {"attack": m["attack"] or "worst case", "norm": m["norm"], "eps": m["eps"], "robust_top1": float(v)}
        for k, v in metrics.items()
        if (m := ROBUST_KEY.match(k)) and _number(v) is not None
    ]
    frame = pd.DataFrame(rows, columns=["attack", "norm", "eps", "robust_top1"])
    if rows and all(_number(e) is not None for e in frame["eps"]):
        frame["eps"] = frame["eps"].astype(float)
    return frame.sort_values(["attack", "eps"], ignore_index=True)


def corruption_grid(metrics: dict[str, Any]) -> pd.DataFrame:
    """``corrupt_top1/<corruption>/<severity>`` as rows (corruption, severity, top1) for a heat map."""
    import pandas as pd

    rows = [
        {"corruption": m["corruption"], "severity": m["severity"], "top1": float(v)}
        for k, v in metrics.items()
        if (m := CORRUPT_KEY.match(k)) and _number(v) is not None
    ]
    return pd.DataFrame(rows, columns=["corruption", "severity", "top1"])


def per_class_table(record: dict[str, Any] | None, metrics: dict[str, Any]) -> pd.DataFrame:
    """The record's per-class table, or the per-class metric keys (``f1/<class>`` ...) when there is no record."""
    import pandas as pd

    if record and record.get("per_class"):
        frame = pd.DataFrame.from_dict(record["per_class"], orient="index")
        frame.index.name = "class"
        return frame.reset_index()
    rows: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        prefix, _, cls = key.partition("/")
        if f"{prefix}/" in PER_CLASS_PREFIXES and _number(value) is not None:
            rows.setdefault(cls, {})[prefix] = float(value)
    return pd.DataFrame([{"class": c, **v} for c, v in rows.items()])


def worst_samples(predictions: pd.DataFrame, n: int = 12) -> tuple[pd.DataFrame, str]:
    """The ``n`` worst-scored samples and how they were chosen.

    Lowest per-sample score (``target_probability`` for classification, else the first score
    column present); without one, the wrong predictions, most confident first.
    """
    for column in SAMPLE_SCORES:
        if column in predictions.columns:
            return predictions.sort_values(column, kind="stable").head(n), f"lowest {column}"
    if "correct" in predictions.columns:
        wrong = predictions[~predictions["correct"].astype(bool)]
        if "confidence" in wrong.columns:
            wrong = wrong.sort_values("confidence", ascending=False, kind="stable")
        return wrong.head(n), "wrong predictions, most confident first"
    return predictions.head(0), "the predictions have no per-sample score"


def pr_curves(data: Any) -> pd.DataFrame:
    """Precision-recall curves from ``pr_curves.json`` as rows (curve, recall, precision).

    Accepts ``{name: {"recall": [...], "precision": [...]}}``, a list of such objects with a
    ``class``/``name`` field, or either wrapped in ``{"curves": ...}``.
    """
    import pandas as pd

    if isinstance(data, dict) and "curves" in data:
        data = data["curves"]
    items: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        items = [(str(k), v) for k, v in data.items()]
    elif isinstance(data, list):
        items = [
            (str(v.get("class", v.get("name", i))), v) for i, v in enumerate(data) if isinstance(v, dict)
        ]
    rows = []
    for name, curve in items:
        if not isinstance(curve, dict):
            continue
        recall, precision = curve.get("recall") or [], curve.get("precision") or []
        rows += [
            {"curve": name, "recall": float(r), "precision": float(p)}
            for r, p in zip(recall, precision, strict=False)
            if _number(r) is not None and _number(p) is not None
        ]
    return pd.DataFrame(rows, columns=["curve", "recall", "precision"])


def pair_runs(frame: pd.DataFrame, a: str, b: str) -> list[tuple[str, pd.Series, pd.Series, bool]]:
    """For each task both models ran: (task, run of A, run of B, same hardware and precision).

    Uses each model's latest run per configuration and prefers a configuration both share
    (newest first); otherwise pairs the two newest runs and says so.
    """
    from visionbench.leaderboard.data import latest_per_config

    latest = latest_per_config(frame)
    runs_a, runs_b = latest[latest["model"] == a], latest[latest["model"] == b]
    pairs = []
    for task in sorted(set(runs_a["task"]) & set(runs_b["task"])):
        ta, tb = runs_a[runs_a["task"] == task], runs_b[runs_b["task"] == task]
        configs_b = {(h, p): i for i, h, p in zip(tb.index, tb["hardware"], tb["precision"], strict=True)}
        match = next(
            (
                (i, configs_b[(h, p)])
                for i, h, p in zip(ta.index, ta["hardware"], ta["precision"], strict=True)
                if (h, p) in configs_b
            ),
            None,
        )
        if match is not None:
            pairs.append((task, ta.loc[match[0]], tb.loc[match[1]], True))
        else:
            pairs.append((task, ta.iloc[0], tb.iloc[0], False))
    return pairs
