"""Compare page: two models side by side on the tasks both ran, paired deltas and McNemar significance."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from visionbench.leaderboard import analysis, fmt
from visionbench.leaderboard.data import metric_columns
from visionbench.leaderboard.safe import md
from visionbench.leaderboard.views import common, details


def significance(src: Any, run_a: pd.Series, run_b: pd.Series) -> dict[str, Any]:
    pred_a = details.cached_predictions(src.kind, src.uri, details.run_ref(run_a))
    pred_b = details.cached_predictions(src.kind, src.uri, details.run_ref(run_b))
    return analysis.mcnemar(pred_a, pred_b)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_paired(record_a: str | None, record_b: str | None) -> dict[str, Any]:
    return analysis.paired_headline(record_a, record_b)


def summary_rows(src: Any, pairs: list[tuple[str, pd.Series, pd.Series, bool]]) -> pd.DataFrame:
    rows = []
    for task, run_a, run_b, same in pairs:
        test = significance(src, run_a, run_b)
        paired = cached_paired(run_a.get("record_path") or None, run_b.get("record_path") or None)
        a, b = run_a["headline"], run_b["headline"]
        rows.append({
            "task": task, "kind": run_a["kind"], "metric": run_a["headline_key"], "A": a, "B": b,
            "B - A": (b - a) if not (math.isnan(a) or math.isnan(b)) else None,
            "McNemar p": test.get("p_value"), "A right, B wrong": test.get("a_only"), "A wrong, B right": test.get("b_only"),
            "paired samples": test.get("n"), "note": test.get("reason", "") if test.get("p_value") is None else "",
            "paired 95% CI": f"[{paired['ci_low']:.4f}, {paired['ci_high']:.4f}]" if "verdict" in paired else None,
            "paired p": paired.get("p_value"), "verdict": paired.get("verdict", paired.get("reason")),
            "config": f"{run_a['hardware']} / {run_a['precision']}" if same
            else f"A: {run_a['hardware']} / {run_a['precision']}; B: {run_b['hardware']} / {run_b['precision']}",
        })  # fmt: skip
    return pd.DataFrame(rows)


def readable_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The summary as text: display names, one-cell figures, an em dash where a test could not run."""
    out = table.copy()
    out["metric"] = [
        fmt.label(str(k), str(kind)) for k, kind in zip(table["metric"], table["kind"], strict=True)
    ]
    for column in ("A", "B", "B - A"):
        out[column] = [fmt.metric(v) for v in table[column]]
    for column in ("McNemar p", "paired p"):
        out[column] = [f"{p:.4g}" if fmt.number(p) is not None else fmt.MISSING for p in table[column]]
    for column in ("A right, B wrong", "A wrong, B right", "paired samples"):
        out[column] = [str(int(v)) if fmt.number(v) is not None else fmt.MISSING for v in table[column]]
    for column in ("note", "paired 95% CI", "verdict"):
        out[column] = [fmt.text(v) for v in table[column]]
    return out


def render() -> None:
    common.sidebar()
    st.title("Compare two models")
    frame = common.summary()
    if common.no_runs(frame):
        return
    specs, labels = common.model_options(frame)
    if len(specs) < 2:
        st.info("Only one model has results so far.")
        return
    unknown = [v for k in ("a", "b") if (v := st.query_params.get(k)) is not None and v not in specs]
    if unknown:
        st.warning(f"No runs of a model {md(unknown[0])} in this source. Pick two models from the lists.")
        st.stop()
    left, right = st.columns(2)
    a = left.selectbox("Model A (spec)", specs, index=0, key="a", bind="query-params")
    if "b" not in st.session_state and st.query_params.get("b") is None:
        st.session_state["b"] = common.partner_for(frame, str(a)) or next(s for s in specs if s != a)
    b = right.selectbox("Model B (spec)", specs, key="b", bind="query-params")
    left.text(labels.get(a, str(a)))
    right.text(labels.get(b, str(b)))
    if a == b:
        st.info("Pick two different models.")
        return
    pairs = analysis.pair_runs(frame, a, b)
    if not pairs:
        st.info("These two models have no task in common.")
        return
    st.subheader("Shared tasks")
    st.caption(
        "B - A of the headline metric per task. McNemar: exact two-sided test on the samples exactly one model "
        "got right (needs both predictions files with per-sample correctness on the same sample ids). Paired CI, p "
        "and verdict: `visionbench compare` on both runs' stored state (static mode, record files reachable)."
    )
    with st.spinner("Fetching predictions for the significance tests..."):
        table = summary_rows(common.source(), pairs)
    common.table(readable_summary(table), "compare_summary")
    st.subheader("All shared metrics")
    tasks = [task for task, *_ in pairs]
    task = st.selectbox("Task", tasks, key="compare_task")
    _, run_a, run_b, same = pairs[tasks.index(task)]
    if not same:
        st.warning(
            "The two runs used different hardware or precision: efficiency figures are not comparable."
        )
    deltas = analysis.paired_deltas(run_a, run_b, metric_columns(frame))
    kind = str(run_a["kind"])
    shown = pd.DataFrame({
        "metric": [fmt.label(k, kind) for k in deltas["metric"]],
        **{c: [fmt.value(k, v) if c != "B - A" else fmt.metric(v) for k, v in zip(deltas["metric"], deltas[c], strict=True)]
           for c in ("A", "B", "B - A")},
        "better": [fmt.direction(k, kind) for k in deltas["metric"]],
    })  # fmt: skip
    common.table(shown, "compare_deltas")
    common.page_link("model", f"Model page of A: {labels.get(a, a)}", model=str(a))
    common.page_link("model", f"Model page of B: {labels.get(b, b)}", model=str(b))
