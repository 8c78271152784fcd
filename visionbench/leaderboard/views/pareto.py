"""Pareto view: any two figures of a task's runs against each other (default: headline vs throughput),
one front per hardware and precision, points labelled with model names, 95% intervals as whiskers."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from visionbench.declarations import EFFICIENCY, higher_is_better
from visionbench.leaderboard import fmt
from visionbench.leaderboard.analysis import PER_CLASS_PREFIXES, pareto_frontier
from visionbench.leaderboard.data import metric_columns
from visionbench.leaderboard.safe import md
from visionbench.leaderboard.views import common

SPEED = ("throughput_ips", "latency_ms_p50", "latency_ms_p99")


def axis_options(runs: pd.DataFrame) -> list[str]:
    """Every figure some run of the task has: metrics (no interval bounds, no per-class keys), then efficiency."""
    keys = [
        c
        for c in metric_columns(runs)
        if runs[c].notna().any()
        and not c.endswith(("_ci_low", "_ci_high"))
        and not c.startswith(PER_CLASS_PREFIXES)
        and pd.api.types.is_numeric_dtype(runs[c])
    ]
    efficiency = [m.key for m in EFFICIENCY]
    return sorted(keys, key=lambda k: (k in efficiency, efficiency.index(k) if k in efficiency else 0, k))


def with_fronts(runs: pd.DataFrame, x: str, y: str = "headline", kind: str | None = None) -> pd.DataFrame:
    """``runs`` with a ``config`` column (hardware / precision) and ``on_front`` per config."""
    y_key = runs["headline_key"].iloc[0] if y == "headline" and len(runs) else y
    out = runs.assign(
        config=runs["hardware"].astype(str) + " / " + runs["precision"].astype(str), on_front=False
    )
    for _, group in out.groupby("config"):
        mask = pareto_frontier(
            group[x].tolist(),
            group[y].tolist(),
            x_higher_better=higher_is_better(x, kind),
            y_higher_better=higher_is_better(str(y_key), kind),
        )
        out.loc[group.index, "on_front"] = mask
    return out


def _bounds(runs: pd.DataFrame, key: str, column: str) -> tuple[Any, Any]:
    low, high = f"{key}_ci_low", f"{key}_ci_high"
    if column == "headline":
        return runs["headline_ci_low"], runs["headline_ci_high"]
    if low in runs.columns and high in runs.columns:
        return runs[low], runs[high]
    return pd.Series(float("nan"), index=runs.index), pd.Series(float("nan"), index=runs.index)


def front_chart(points: pd.DataFrame, x: str, y: str, kind: str, log_x: bool) -> Any:
    """Labelled points, both intervals as solid whiskers, each config's front as a line."""
    import altair as alt

    x_key = x
    y_key = str(points["headline_key"].iloc[0]) if y == "headline" else y
    x_name, y_name = fmt.label(x_key, kind), fmt.label(y_key, kind)
    x_lo, x_hi = _bounds(points, x_key, x)
    y_lo, y_hi = _bounds(points, y_key, y)
    data = pd.DataFrame({
        "Model": points["model_name"].astype(str), "Spec": points["model"].astype(str),
        "Hardware / precision": points["config"], "x": points[x].astype(float), "y": points[y].astype(float),
        "x_lo": x_lo.astype(float), "x_hi": x_hi.astype(float), "y_lo": y_lo.astype(float), "y_hi": y_hi.astype(float),
        "On the front": points["on_front"].map({True: "yes", False: "no"}),
        "x_text": [fmt.value(x_key, v) for v in points[x]],
        "y_text": [fmt.interval(v, lo, hi) if not fmt.is_efficiency(y_key) else fmt.value(y_key, v)
                 for v, lo, hi in zip(points[y], y_lo, y_hi, strict=True)],
    })  # fmt: skip
    x_axis = alt.X("x:Q", title=f"{x_name} ({fmt.direction(x_key, kind)})",
                   scale=alt.Scale(type="log") if log_x else alt.Scale(zero=False))  # fmt: skip
    y_axis = alt.Y("y:Q", title=f"{y_name} ({fmt.direction(y_key, kind)})", scale=alt.Scale(zero=False))
    color = alt.Color("Hardware / precision:N", scale=alt.Scale(scheme="tableau10"))
    # Field names stay plain (a display name's dots, brackets or colons would read as Vega-Lite syntax).
    tooltip = ["Model:N", "Spec:N", "Hardware / precision:N", alt.Tooltip("y_text:N", title=y_name),
               alt.Tooltip("x_text:N", title=x_name), "On the front:N"]  # fmt: skip
    base = alt.Chart(data)
    whiskers_y = (
        base.transform_filter("isValid(datum.y_lo)")
        .mark_rule(strokeWidth=2.5, opacity=0.9)
        .encode(x=x_axis, y="y_lo:Q", y2="y_hi:Q", color=color)
    )
    whiskers_x = (
        base.transform_filter("isValid(datum.x_lo)")
        .mark_rule(strokeWidth=2.5, opacity=0.9)
        .encode(x="x_lo:Q", x2="x_hi:Q", y=y_axis, color=color)
    )
    dots = base.mark_circle(stroke="black", strokeWidth=0.6).encode(
        x=x_axis, y=y_axis, color=color, tooltip=tooltip,
        size=alt.condition("datum['On the front'] == 'yes'", alt.value(160), alt.value(70)),
    )  # fmt: skip
    labels = base.mark_text(align="left", dx=8, dy=-8, fontSize=12).encode(x=x_axis, y=y_axis, text="Model:N")
    front = (
        base.transform_filter("datum['On the front'] == 'yes'")
        .mark_line(strokeWidth=2)
        .encode(x=x_axis, y=y_axis, color=color, order=alt.Order("x:Q"))
    )
    return (whiskers_y + whiskers_x + front + dots + labels).properties(height=480)


def render() -> None:
    common.sidebar()
    st.title("Accuracy vs speed")
    frame = common.summary()
    if common.no_runs(frame):
        return
    picked = common.pick_task(frame, "pareto")
    if picked is None:
        return
    kind, task = picked
    runs = common.filter_runs(frame[frame["task"] == task], "pareto", history_toggle=False)
    options = axis_options(runs)
    headline = str(runs["headline_key"].iloc[0]) if len(runs) else ""
    x_default = next((a for a in SPEED if a in options), None)
    if x_default is None or not headline:
        st.info("These runs have no throughput or latency figures.")
        return
    y_options = ["headline", *[o for o in options if o != headline]]
    left, middle, right = st.columns([2, 2, 1])
    y = middle.selectbox("Vertical axis", y_options, key="pareto_y",
                         format_func=lambda k: fmt.label(headline if k == "headline" else k, kind))  # fmt: skip
    x = left.selectbox("Horizontal axis", options, index=options.index(x_default), key="pareto_x",
                       format_func=lambda k: fmt.label(k, kind))  # fmt: skip
    log_x = right.checkbox("Log scale", value=fmt.is_efficiency(x), key="pareto_log")
    points = runs[runs[x].notna() & runs[y].notna()]
    if log_x:
        points = points[points[x] > 0]
    if points.empty:
        st.info("No run has both figures.")
        return
    points = with_fronts(points, x, y, kind)
    y_key = headline if y == "headline" else y
    st.caption(
        f"{md(fmt.label(y_key, kind))} against {md(fmt.label(x, kind))}; each hardware / precision has its own "
        "front (large points, line). Whiskers: 95% intervals where the runs have them."
    )
    common.chart(front_chart(points, x, y, kind, log_x), "pareto_chart")
    front = points[points["on_front"]].sort_values(
        ["config", x], ascending=[True, not higher_is_better(x, kind)]
    )
    st.subheader("On the front")
    low, high = _bounds(front, y_key, y)
    shown = pd.DataFrame({
        "config": front["config"], "model name": front["model_name"],
        fmt.label(y_key, kind): [fmt.interval(v, lo, hi) if not fmt.is_efficiency(y_key) else fmt.value(y_key, v)
                                 for v, lo, hi in zip(front[y], low, high, strict=True)],
        fmt.label(x, kind): [fmt.value(x, v) for v in front[x]],
    })  # fmt: skip
    common.table(shown, "pareto_front")
