"""Overview: the tasks found, then one task's ranked table with intervals, efficiency, filters and CSV export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from visionbench.harness.record import slug
from visionbench.leaderboard import fmt, units
from visionbench.leaderboard.analysis import PER_CLASS_PREFIXES, tie_ranks
from visionbench.leaderboard.data import IDENTITY_COLUMNS, latest_per_config, metric_columns
from visionbench.leaderboard.safe import md
from visionbench.leaderboard.views import common

INFO_COLUMNS = ("hardware", "precision")
DEFAULT_EFFICIENCY = ("throughput_ips", "latency_ms_p50", "params_m", "peak_mem_mb")
MORE_EFFICIENCY = ("latency_ms_p90", "latency_ms_p99", "latency_ms_b1_p50", "latency_ms_b1_p99", "gflops",
                   "end_to_end_ips", "data_loading_share", "compile_s")  # fmt: skip
TITLES = {"rank": "Rank", "model name": "Model", "family": "Family", "licence": "Licence", "hardware": "Hardware",
          "precision": "Precision", "dataset": "Dataset", "device": "Device", "num_samples": "Samples",
          "batch_size": "Batch size", "created": "Created", "model": "Spec", "throughput_ips": "Throughput",
          "latency_ms_p50": "Latency p50 (batch)", "latency_ms_p90": "Latency p90 (batch)",
          "latency_ms_p99": "Latency p99 (batch)", "params_m": "Parameters", "peak_mem_mb": "Peak memory (process)",
          "gflops": "GFLOPs per image", "conditions": "Conditions", "latency_ms_b1_p50": "Latency p50 (image, batch 1)",
          "latency_ms_b1_p99": "Latency p99 (image, batch 1)", "end_to_end_ips": "Throughput end to end",
          "data_loading_share": "Data-loading share", "compile_s": "Compile time",
          "clean_top1": "Clean top-1 (95% CI)", "honesty": "Honesty checks",
          "generalisation_gap": "Generalisation gap (95% CI)", "generalisation": "Gap: in-distribution minus this task"}  # fmt: skip
EXTRA_COLUMNS = ("model", "dataset", "device", "num_samples", "batch_size", "created", "run_id", "suite",
                 "run_fingerprint", "model_fingerprint", "dataset_fingerprint", "task_version", "code_version")  # fmt: skip


def tasks_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per task found: kind, dataset, models and runs, and every model of the top tie group.

    ``best`` names each model sharing rank 1 (best first) and ``best score`` is the leader's value with
    its interval in one cell.
    """
    rows = []
    latest = latest_per_config(frame)
    for (kind, task), group in latest.groupby(["kind", "task"], sort=False):
        ranked = group.assign(rank=tie_ranks(group)).sort_values(
            ["rank", "headline"], ascending=[True, False], na_position="last", kind="stable"
        )
        leader = ranked.iloc[0]
        top = ranked[ranked["rank"] == leader["rank"]] if pd.notna(leader["rank"]) else ranked.head(1)
        names = list(dict.fromkeys(top["model_name"].astype(str)))
        key = str(leader["headline_key"])
        rows.append({
            "kind": kind, "task": task, "dataset": ", ".join(sorted(set(map(str, group["dataset"])))),
            "models": group["model"].nunique(), "runs": int((frame["task"] == task).sum()),
            "ranked by": fmt.label(key, kind) if key else fmt.MISSING,
            "best": (", ".join(names) + (" (shared rank 1)" if len(names) > 1 else "")) if key else fmt.MISSING,
            "best score": fmt.interval(leader["headline"], leader["headline_ci_low"], leader["headline_ci_high"]),
        })  # fmt: skip
    order = {k: i for i, k in enumerate(common.KIND_ORDER)}
    table = pd.DataFrame(
        rows, columns=["kind", "task", "dataset", "models", "runs", "ranked by", "best", "best score"]
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
    table = table.assign(conditions=[units.conditions(row) for row in table.to_dict("records")])
    return table.rename(columns={"model_name": "model name"}).reset_index(drop=True)


def default_columns(table: pd.DataFrame, key: str) -> list[str]:
    """Rank, name, headline with interval, filters' columns and efficiency (those the task's runs have)."""
    wanted = [
        "rank",
        "model name",
        key,
        *ROBUSTNESS_COLUMNS,
        *GENERALISATION_COLUMNS,
        *INFO_COLUMNS,
        *DEFAULT_EFFICIENCY,
        "conditions",
    ]
    return [
        c
        for c in wanted
        if c in table.columns
        and (c in ("rank", "model name", key) or (table[c].notna() & (table[c].astype(str) != "")).any())
    ]


# Robustness tasks rank by robust_top1 and show clean top-1 (with its interval) and the honesty checks beside it.
ROBUSTNESS_COLUMNS = ("clean_top1", "honesty")
# A shifted task of a suite's generalisation pairing shows each model's gap (in-distribution metric minus
# this task's, with its interval) and what it compares.
GENERALISATION_COLUMNS = ("generalisation_gap", "generalisation")


def optional_columns(table: pd.DataFrame, runs: pd.DataFrame, key: str) -> list[str]:
    metrics = [c for c in metric_columns(runs) if runs[c].notna().any() and c not in DEFAULT_EFFICIENCY]
    metrics = [c for c in metrics if not c.endswith(("_ci_low", "_ci_high"))]
    plain = sorted(
        c
        for c in metrics
        if not c.startswith(PER_CLASS_PREFIXES) and c not in (key, f"{key}_ci_low", f"{key}_ci_high")
    )
    per_class = sorted(c for c in metrics if c.startswith(PER_CLASS_PREFIXES))
    extra = [c for c in (*MORE_EFFICIENCY, "family", "licence", *EXTRA_COLUMNS) if c in table.columns]
    return list(dict.fromkeys([*default_columns(table, key), *plain, *extra, *per_class]))


def header(column: str, key: str, kind: str) -> str:
    """The display header of a column of the ranked table."""
    if column == key:
        return f"{fmt.label(key, kind)} (95% CI)" if key != "headline" else "Headline"
    return TITLES.get(column) or fmt.label(column, kind)


def display_table(table: pd.DataFrame, columns: list[str], key: str, kind: str) -> pd.DataFrame:
    """The chosen columns as text: one-cell intervals, shared ranks as ``=1``, units, display names."""
    out = {}
    for column in columns:
        values = table[column]
        if column == "rank":
            cells = fmt.shared_ranks(values)
        elif column == key:
            low, high = table.get(f"{key} CI low"), table.get(f"{key} CI high")
            cells = [
                fmt.interval(v, lo, hi)
                for v, lo, hi in zip(
                    values,
                    low if low is not None else [None] * len(values),
                    high if high is not None else [None] * len(values),
                    strict=True,
                )
            ]
        elif f"{column}_ci_low" in table.columns and f"{column}_ci_high" in table.columns:
            cells = [
                fmt.interval(v, lo, hi)
                for v, lo, hi in zip(
                    values, table[f"{column}_ci_low"], table[f"{column}_ci_high"], strict=True
                )
            ]
        elif column == "created":
            cells = [v.strftime("%Y-%m-%d %H:%M") if pd.notna(v) else fmt.MISSING for v in values]
        elif column not in ("rank", "model name", *IDENTITY_COLUMNS) and pd.api.types.is_numeric_dtype(
            values
        ):
            cells = [fmt.value(column, v) for v in values]
        elif column in ("num_samples", "batch_size"):
            cells = [fmt.text(int(v)) if fmt.number(v) is not None else fmt.MISSING for v in values]
        else:
            cells = [fmt.text(v) for v in values]
        out[header(column, key, kind)] = cells
    return pd.DataFrame(out)


def render() -> None:
    common.sidebar()
    st.title("Leaderboard")
    frame = common.summary()
    if common.no_runs(frame):
        return
    st.subheader("Tasks found")
    common.table(tasks_table(frame), "tasks_found")
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
            "Columns", options, default=default_columns(table, key), key=f"overview_columns_{kind}",
            format_func=lambda c: header(c, key, kind),
        )  # fmt: skip
    columns = [c for c in options if c in chosen] or ["rank", "model name", key]
    name = fmt.label(key, kind) if key != "headline" else "the headline"
    st.caption(
        f"Ranked by {md(name)} ({fmt.direction(key, kind)}), value [95% interval]. A rank written =1 is shared: "
        f"models share a rank while their interval overlaps the interval of their group's leader. {len(table)} runs. "
        "Throughput is model only at the batch size in Conditions; latency p50 is per batch (per image at batch 1 "
        "under Columns); peak memory is CUDA memory allocated on a GPU, the process's memory increase during the "
        "run on CPU. Select a row to open the model's page."
    )
    event = st.dataframe(
        display_table(table, columns, key, kind), hide_index=True, key="overview_table",
        on_select="rerun", selection_mode="single-row", width="stretch",
    )  # fmt: skip
    st.download_button("Download CSV", table[columns].to_csv(index=False).encode(), file_name=f"leaderboard-{slug(task)}.csv",
                       mime="text/csv", key="overview_csv")  # fmt: skip
    selected = getattr(getattr(event, "selection", None), "rows", None) or []
    if selected and "model" in common.PAGES:
        st.switch_page(common.PAGES["model"], query_params={"model": str(table.iloc[selected[0]]["model"])})
