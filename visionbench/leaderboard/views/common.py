"""What every page shares: the source, the cached summary, the kind/task picker and the run filters.

Widget labels and radio options are Markdown in Streamlit, so any value from the data that
ends up in one goes through :func:`visionbench.leaderboard.safe.md`; option lists of
selectboxes and multiselects are plain text.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import pandas as pd
import streamlit as st

from visionbench.errors import ConfigError
from visionbench.leaderboard.data import (
    SKIPPED,
    Source,
    change_token,
    latest_per_config,
    load_summary,
    resolve_source,
)
from visionbench.leaderboard.safe import md

SOURCE_ENV = "VISIONBENCH_LEADERBOARD_SOURCE"
KIND_ORDER = ("classification", "detection", "segmentation", "captioning", "robustness")
FILTERS = (("hardware", "Hardware"), ("precision", "Precision"), ("family", "Family"), ("licence", "Licence"))
PAGES: dict[str, Any] = {}  # name -> st.Page, filled by app.py on every run


def source() -> Source:
    """``--source`` after ``--`` on the ``streamlit run`` line, else $VISIONBENCH_LEADERBOARD_SOURCE, else MLflow's default."""
    if "vb_source" not in st.session_state:
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("--source", default=None)
        known, _ = (
            parser.parse_known_args(sys.argv[1:])
            if _running_under_server()
            else (argparse.Namespace(source=None), [])
        )
        text = known.source or os.environ.get(SOURCE_ENV) or None
        try:
            chosen = resolve_source(text)
        except ConfigError as exc:
            st.error(str(exc))
            st.stop()
        st.session_state["vb_source"] = (chosen.kind, chosen.uri)
    kind, uri = st.session_state["vb_source"]
    return Source(kind, uri)


def _running_under_server() -> bool:
    return bool(sys.argv) and sys.argv[0].endswith("app.py")


@st.cache_data(ttl=5, show_spinner=False)
def _token(kind: str, uri: str) -> str:
    return json.dumps(change_token(Source(kind, uri)), sort_keys=True)


@st.cache_data(max_entries=4, show_spinner=False)
def _summary(kind: str, uri: str, token: str) -> pd.DataFrame:
    return load_summary(Source(kind, uri), json.loads(token))


def summary() -> pd.DataFrame:
    """Every run of the source, reloaded when the source changes (checked at most every 5 s).

    For a results folder, records that cannot be read are named with the reason, not dropped silently.
    """
    src = source()
    if src.kind == "mlflow" and src.sqlite_path is None:
        return _server_summary(src)
    token = _token(src.kind, src.uri)
    with st.spinner("Loading runs (the first load of a large store takes a while)..."):
        frame = _summary(src.kind, src.uri, token)
    if src.kind == "folder":
        skipped = frame.attrs.get(SKIPPED, [])  # read in the same pass as the summary
        if skipped:
            lines = "\n".join(
                f"- {md(path)}: {md(' '.join(reason.split()))}" for path, reason in skipped[:20]
            )
            more = f"\n- ... and {len(skipped) - 20} more" if len(skipped) > 20 else ""
            st.warning(f"Skipped {len(skipped)} record(s) that cannot be read:\n{lines}{more}")
    return frame


def _server_summary(src: Source) -> pd.DataFrame:
    """A tracking server: the last summary at once, reloaded in the background (``background.py``)."""
    from visionbench.leaderboard import background

    with st.spinner("Loading runs from the tracking server (the first load takes a while)..."):
        try:
            frame, age, reloading = background.summary(src)
        except Exception as exc:  # noqa: BLE001 - an unreachable server is a message, not a traceback
            st.error(f"Cannot read runs from {md(src.uri)}: {md(exc)}")
            st.stop()
    if age > 1 or reloading:
        note = " (newer runs are loading in the background)" if reloading else ""
        st.caption(f"Runs as of {age / 60:.0f} min ago{note}")
    return frame


def refresh() -> None:
    _token.clear()
    _summary.clear()


def sidebar() -> None:
    """The source and a refresh button, in one line above the page (there is no sidebar: full-width tables)."""
    src = source()
    left, right = st.columns([6, 1], vertical_alignment="center")
    left.text(src.label)
    if right.button("Refresh", help="Check the source for new runs now", key="refresh_source"):
        refresh()


def kinds_in(frame: pd.DataFrame) -> list[str]:
    found = [k for k in frame["kind"].dropna().unique() if k]
    return sorted(found, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))


def pick_task(frame: pd.DataFrame, page: str) -> tuple[str, str] | None:
    """Task kind (radio) and task id (selectbox) among those present; None when there are no runs."""
    kinds = kinds_in(frame)
    if not kinds:
        return None
    counts = frame["kind"].value_counts()
    kind = st.radio(
        "Task kind",
        kinds,
        horizontal=True,
        key=f"{page}_kind",
        format_func=lambda k: md(f"{k} ({counts.get(k, 0)} runs)"),
    )
    of_kind = frame[frame["kind"] == kind]
    tasks = sorted(of_kind["task"].dropna().unique())
    datasets = of_kind.groupby("task")["dataset"].agg(lambda s: ", ".join(sorted(set(map(str, s)))))
    task = st.selectbox(
        "Task", tasks, key=f"{page}_task", format_func=lambda t: f"{t}  (dataset {datasets.get(t, '')})"
    )
    return kind, task


def filter_runs(frame: pd.DataFrame, page: str, *, history_toggle: bool = True) -> pd.DataFrame:
    """Multiselect filters for hardware, precision, family and licence, and latest-run-only de-duplication."""
    columns = st.columns(len(FILTERS))
    for (column, label), slot in zip(FILTERS, columns, strict=True):
        options = sorted(frame[column].dropna().astype(str).unique())
        chosen = slot.multiselect(label, options, key=f"{page}_{column}", placeholder="all")
        if chosen:
            frame = frame[frame[column].astype(str).isin(chosen)]
    every = history_toggle and st.checkbox(
        "Show every run (not only the latest per model, hardware and precision)", key=f"{page}_history"
    )
    return frame if every else latest_per_config(frame)


def model_options(frame: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Model specs (most runs first, then by name) and a spec -> display label map."""
    counts = frame.groupby("model").size().sort_values(ascending=False, kind="stable")
    names = frame.drop_duplicates("model").set_index("model")["model_name"]
    specs = sorted(counts.index, key=lambda s: (-counts[s], str(names.get(s, s)).lower()))
    labels = {s: (f"{names.get(s)}  ({s})" if names.get(s) not in (None, s) else str(s)) for s in specs}
    return specs, labels


def partner_for(frame: pd.DataFrame, model: str) -> str | None:
    """The model to compare ``model`` with by default: one sharing the most tasks (then the most runs)."""
    tasks = set(frame.loc[frame["model"] == model, "task"])
    others = frame[(frame["model"] != model) & frame["task"].isin(tasks)]
    if others.empty:
        return None
    shared = others.groupby("model")["task"].nunique()
    runs = others.groupby("model").size()
    return str(sorted(shared.index, key=lambda m: (-shared[m], -runs[m], str(m)))[0])


def table(data: pd.DataFrame, key: str, **kwargs: Any) -> None:
    """A read-only table in a container keyed ``key`` (tests and the browser find it by that key)."""
    with st.container(key=key):
        st.dataframe(data, hide_index=True, **kwargs)


def chart(figure: Any, key: str) -> None:
    """An Altair chart in a container keyed ``key``."""
    with st.container(key=key):
        st.altair_chart(figure, width="stretch")


def page_link(name: str, label: str, **query: str) -> None:
    page = PAGES.get(name)
    if page is not None:
        st.page_link(page, label=md(label), query_params=query or None)


def no_runs(frame: pd.DataFrame) -> bool:
    """Show how to get results and return True when the source has no runs."""
    if not frame.empty:
        return False
    st.info("No runs found in this source yet.")
    st.text(
        "Evaluate something first, e.g.\n  visionbench demo\n  visionbench run --model zoo:digits-cnn --task digits"
    )
    return True


NUMBER_FORMATS = {"throughput_ips": "%.1f", "latency_ms_p50": "%.2f", "latency_ms_p90": "%.2f", "latency_ms_p99": "%.2f",
                  "params_m": "%.3f", "gflops": "%.3f", "peak_mem_mb": "%.0f"}  # fmt: skip
LABELS = {"throughput_ips": "throughput (img/s)", "latency_ms_p50": "latency p50 (ms)", "latency_ms_p90": "latency p90 (ms)",
          "latency_ms_p99": "latency p99 (ms)", "params_m": "params (M)", "gflops": "GFLOPs", "peak_mem_mb": "peak memory (MB)"}  # fmt: skip


def column_config(columns: list[str]) -> dict[str, Any]:
    """Number formats for metric and efficiency columns (labels are plain column names)."""
    config: dict[str, Any] = {}
    for column in columns:
        if column in NUMBER_FORMATS:
            config[column] = st.column_config.NumberColumn(LABELS[column], format=NUMBER_FORMATS[column])
        elif column == "rank":
            config[column] = st.column_config.NumberColumn("rank", format="%d", width="small")
    return config
