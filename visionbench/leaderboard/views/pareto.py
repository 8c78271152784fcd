"""Pareto view: headline metric against speed, one front per hardware and precision."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from visionbench.leaderboard.analysis import pareto_frontier
from visionbench.leaderboard.safe import md
from visionbench.leaderboard.views import common

AXES = {
    "throughput_ips": ("throughput (img/s, higher is better)", True),
    "latency_ms_p50": ("latency p50 (ms, lower is better)", False),
    "latency_ms_p99": ("latency p99 (ms, lower is better)", False),
}


def with_fronts(runs: pd.DataFrame, x: str) -> pd.DataFrame:
    """``runs`` with a ``config`` column (hardware / precision) and ``on_front`` per config."""
    higher = AXES[x][1]
    out = runs.assign(
        config=runs["hardware"].astype(str) + " / " + runs["precision"].astype(str), on_front=False
    )
    for _, group in out.groupby("config"):
        mask = pareto_frontier(group[x].tolist(), group["headline"].tolist(), x_higher_better=higher)
        out.loc[group.index, "on_front"] = mask
    return out


def front_chart(points: pd.DataFrame, x: str, key: str, log_x: bool) -> Any:
    """Scatter of every run, intervals as rules, and each config's front as a line through its points."""
    import altair as alt

    data = points[
        [
            "model_name",
            "model",
            "config",
            "hardware",
            "precision",
            x,
            "headline",
            "headline_ci_low",
            "headline_ci_high",
            "on_front",
        ]
    ]
    data = data.rename(
        columns={
            "model_name": "name",
            "headline": "score",
            "headline_ci_low": "ci_low",
            "headline_ci_high": "ci_high",
        }
    )
    x_axis = alt.X(f"{x}:Q", title=AXES[x][0], scale=alt.Scale(type="log" if log_x else "linear"))
    y_axis = alt.Y("score:Q", title=key, scale=alt.Scale(zero=False))
    color = alt.Color("config:N", title="hardware / precision", scale=alt.Scale(scheme="tableau10"))
    tooltip = [alt.Tooltip("name:N", title="model"), alt.Tooltip("model:N", title="spec"), "config:N",
               alt.Tooltip("score:Q", format=".4f"), alt.Tooltip(f"{x}:Q", format=".2f"), "on_front:N"]  # fmt: skip
    base = alt.Chart(data)
    rules = base.mark_rule(opacity=0.35).encode(x=x_axis, y="ci_low:Q", y2="ci_high:Q", color=color)
    dots = base.mark_circle().encode(
        x=x_axis, y=y_axis, color=color, tooltip=tooltip,
        size=alt.condition("datum.on_front", alt.value(140), alt.value(45)),
        opacity=alt.condition("datum.on_front", alt.value(1.0), alt.value(0.45)),
    )  # fmt: skip
    front = (
        base.transform_filter("datum.on_front")
        .mark_line(strokeWidth=2)
        .encode(x=x_axis, y=y_axis, color=color, order=alt.Order(f"{x}:Q"))
    )
    return (rules + front + dots).properties(height=460)


def render() -> None:
    common.sidebar()
    st.title("Accuracy vs speed")
    frame = common.summary()
    if common.no_runs(frame):
        return
    picked = common.pick_task(frame, "pareto")
    if picked is None:
        return
    _, task = picked
    runs = common.filter_runs(frame[frame["task"] == task], "pareto", history_toggle=False)
    available = [a for a in AXES if a in runs.columns and runs[a].notna().any()]
    if not available:
        st.info("These runs have no throughput or latency figures.")
        return
    left, right = st.columns([3, 1])
    x = left.radio("Speed axis", available, horizontal=True, key="pareto_x", format_func=lambda a: AXES[a][0])
    log_x = right.checkbox("Log scale", value=True, key="pareto_log")
    points = runs[runs[x].notna() & runs["headline"].notna()]
    if log_x:
        points = points[points[x] > 0]
    if points.empty:
        st.info("No run has both a headline metric and this speed figure.")
        return
    key = str(points["headline_key"].iloc[0])
    points = with_fronts(points, x)
    st.caption(
        f"{md(key)} against {AXES[x][0]}; each hardware / precision has its own front (large points, line)."
    )
    common.chart(front_chart(points, x, key, log_x), "pareto_chart")
    front = points[points["on_front"]].sort_values(["config", x], ascending=[True, not AXES[x][1]])
    st.subheader("On the front")
    wanted = ["config", "model_name", "headline", "headline_ci_low", "headline_ci_high", x, "params_m"]
    shown = front[[c for c in wanted if c in front.columns]]
    shown = shown.rename(
        columns={
            "model_name": "model name",
            "headline": key,
            "headline_ci_low": f"{key} CI low",
            "headline_ci_high": f"{key} CI high",
        }
    )
    common.table(shown, "pareto_front", column_config=common.column_config(list(shown.columns)))
