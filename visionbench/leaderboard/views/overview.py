"""Overview: the tasks found, then one task's ranked table with intervals, efficiency, filters and CSV export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from visionbench.harness.record import slug
from visionbench.leaderboard.analysis import PER_CLASS_PREFIXES, tie_ranks
from visionbench.leaderboard.data import latest_per_config, metric_columns
from visionbench.leaderboard.safe import md
from visionbench.leaderboard.views import common

INFO_COLUMNS = ("family", "licence", "hardware", "precision")
DEFAULT_EFFICIENCY = (
    "throughput_ips",
    "latency_ms_p50",
    "latency_ms_p99",
    "params_m",
    "gflops",
    "peak_mem_mb",
)
EXTRA_COLUMNS = ("model", "dataset", "device", "num_samples", "batch_size", "created", "run_id", "suite",
                 "run_fingerprint", "model_fingerprint", "dataset_fingerprint", "task_version", "code_version")  # fmt: skip


def tasks_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per task found: kind, dataset, number of models and runs, the best model and its score."""
    rows = []
    latest = latest_per_config(frame)
    for (kind, task), group in latest.groupby(["kind", "task"], sort=False):
        best = group.sort_values("headline", ascending=False, na_position="last").iloc[0]
        rows.append({
            "kind": kind, "task": task, "dataset": ", ".join(sorted(set(map(str, group["dataset"])))),
            "models": group["model"].nunique(), "runs": int((frame["task"] == task).sum()),
            "headline": best["headline_key"], "best model": best["model_name"], "best score": best["headline"],
        })  # fmt: skip
    order = {k: i for i, k in enumerate(common.KIND_ORDER)}
    table = pd.DataFrame(
        rows, columns=["kind", "task", "dataset", "models", "runs", "headline", "best model", "best score"]
    )
    table["order"] = table["kind"].map(lambda k: order.get(k, len(order)))
    return table.sort_values(["order", "kind", "task"], ignore_index=True).drop(columns="order")


def ranked_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of one task with tie-group ranks, best first, headline columns named after the metric.

    A kind without a known headline metric keeps a plain ``headline`` column (all empty) and unranked order.
    """
    metric = str(runs["headline_key"].iloc[0])
    key = metric or "headline"
    duplicates = (metric, f"{metric}_ci_low", f"{metric}_ci_high") if metric else ()
    table = runs.drop(columns=[c for c in duplicates if c in runs.columns])
    table = pd.concat([tie_ranks(table).rename("rank"), table], axis=1)
    table = table.sort_values(
        ["rank", "headline"], ascending=[True, False], na_position="last", kind="stable"
    )
    table = table.rename(
        columns={"headline": key, "headline_ci_low": f"{key} CI low", "headline_ci_high": f"{key} CI high"}
    )
    return table.rename(columns={"model_name": "model name"}).reset_index(drop=True)


def default_columns(table: pd.DataFrame, key: str) -> list[str]:
    """Rank, name, headline with interval, filters' columns and efficiency (those the task's runs have)."""
    wanted = [
        "rank",
        "model name",
        key,
        f"{key} CI low",
        f"{key} CI high",
        *INFO_COLUMNS,
        *DEFAULT_EFFICIENCY,
    ]
    return [
        c
        for c in wanted
        if c in table.columns and (c in ("rank", "model name", key) or table[c].notna().any())
    ]


def optional_columns(table: pd.DataFrame, runs: pd.DataFrame, key: str) -> list[str]:
    metrics = [c for c in metric_columns(runs) if runs[c].notna().any() and c not in DEFAULT_EFFICIENCY]
    plain = sorted(
        c
        for c in metrics
        if not c.startswith(PER_CLASS_PREFIXES) and c not in (key, f"{key}_ci_low", f"{key}_ci_high")
    )
    per_class = sorted(c for c in metrics if c.startswith(PER_CLASS_PREFIXES))
    return [
        *default_columns(table, key),
        *plain,
        *[c for c in EXTRA_COLUMNS if c in table.columns],
        *per_class,
    ]


def render() -> None:
    common.sidebar()
    st.title("Leaderboard")
    frame = common.summary()
    if common.no_runs(frame):
        return
    st.subheader("Tasks found")
    common.table(tasks_table(frame), "tasks_found",
                 column_config={"best score": st.column_config.NumberColumn(format="%.4f")})  # fmt: skip
    picked = common.pick_task(frame, "overview")
    if picked is None:
        return
    kind, task = picked
    runs_all = frame[frame["task"] == task]
    st.subheader(md(f"{task}"))
    query = st.text_input("Search models", key="overview_search", placeholder="name, spec or family")
    runs = common.filter_runs(runs_all, "overview")
    if query:
        needle = query.lower()
        hay = (
            runs["model_name"].astype(str)
            + " "
            + runs["model"].astype(str)
            + " "
            + runs["family"].astype(str)
        )
        runs = runs[hay.str.lower().str.contains(needle, regex=False)]
    if runs.empty:
        st.info("No runs match the filters.")
        return
    key = runs["headline_key"].iloc[0] or "headline"
    table = ranked_table(runs)
    options = optional_columns(table, runs, key)
    with st.expander("Columns"):
        chosen = st.multiselect(
            "Columns", options, default=default_columns(table, key), key=f"overview_columns_{kind}"
        )
    columns = [c for c in options if c in chosen] or ["rank", "model name", key]
    st.caption(
        f"Ranked by {md(key)} with 95% intervals. Models share a rank while their interval overlaps the interval "
        f"of their group's leader. {len(table)} runs. Select a row to open the model's page."
    )
    event = st.dataframe(
        table[columns], hide_index=True, key="overview_table", column_config=common.column_config(columns),
        on_select="rerun", selection_mode="single-row",
    )  # fmt: skip
    st.download_button("Download CSV", table[columns].to_csv(index=False).encode(), file_name=f"leaderboard-{slug(task)}.csv",
                       mime="text/csv", key="overview_csv")  # fmt: skip
    selected = getattr(getattr(event, "selection", None), "rows", None) or []
    if selected and "model" in common.PAGES:
        st.switch_page(common.PAGES["model"], query_params={"model": str(table.iloc[selected[0]]["model"])})
