"""One run's details on the model page: per-class table, confusion matrix, PR and robustness curves,
failure gallery, environment and fingerprints. Files are fetched for this run only, and cached."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import streamlit as st

from visionbench.leaderboard import analysis, artifacts, fmt
from visionbench.leaderboard.data import IDENTITY_COLUMNS, Source
from visionbench.leaderboard.views import gallery
from visionbench.leaderboard.views.common import chart as show_chart
from visionbench.leaderboard.views.common import table

RUN_FIELDS = ("run_id", "artifact_uri", "record_path")
FINGERPRINTS = (
    "run_fingerprint",
    "prediction_identity",
    "model_fingerprint",
    "dataset_fingerprint",
    "task_version",
    "code_version",
    "git_sha",
    "run_id",
    "record_path",
)


def run_ref(row: pd.Series) -> tuple[str, str, str]:
    """The hashable part of a summary row that locates the run's files."""
    return tuple(str(row.get(k) or "") for k in RUN_FIELDS)  # type: ignore[return-value]


def _row(ref: tuple[str, str, str]) -> dict[str, Any]:
    return {k: (v or None) for k, v in zip(RUN_FIELDS, ref, strict=True)}


@st.cache_data(max_entries=64, show_spinner=False)
def cached_record(kind: str, uri: str, ref: tuple[str, str, str]) -> dict[str, Any] | None:
    return artifacts.load_record(Source(kind, uri), _row(ref))


@st.cache_data(max_entries=16, show_spinner=False)
def cached_predictions(kind: str, uri: str, ref: tuple[str, str, str]) -> pd.DataFrame | None:
    src = Source(kind, uri)
    return artifacts.load_predictions(src, _row(ref), cached_record(kind, uri, ref))


@st.cache_data(max_entries=64, show_spinner=False)
def cached_file(kind: str, uri: str, ref: tuple[str, str, str], name: str) -> bytes | None:
    path = artifacts.run_file(Source(kind, uri), _row(ref), name)
    return path.read_bytes() if path is not None else None


def metrics_of(row: pd.Series) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in row.items()
        if k not in IDENTITY_COLUMNS and isinstance(v, (int, float)) and not math.isnan(v)
    }


def render_run(src: Source, row: pd.Series) -> None:
    ref = run_ref(row)
    with st.spinner("Fetching this run's files..."):
        record = cached_record(src.kind, src.uri, ref)
    metrics = metrics_of(row)
    if record is None:
        st.caption("This run's record.json is not available: details come from the tracking store only.")
    sections = [
        ("Metrics", lambda: _metrics(row, metrics)),
        ("Per class", lambda: _per_class(record, metrics)),
    ]
    if _artifact(record, "confusion", ".png") or _artifact(record, "confusion", ".csv"):
        sections.append(("Confusion matrix", lambda: _confusion(src, ref, record)))
    if _artifact(record, "pr_curve", ".json") or _artifact(record, "pr_curve", ".png"):
        sections.append(("PR curves", lambda: _pr_curves(src, ref, record)))
    if _artifact(record, "reliability", ".png"):
        sections.append(("Calibration", lambda: _reliability(src, ref, record, metrics)))
    if record is not None and "checks" in record:
        sections.append(("Checks", lambda: _checks(record)))
    if any(analysis.ROBUST_KEY.match(k) or analysis.CORRUPT_KEY.match(k) for k in metrics):
        sections.append(("Robustness", lambda: _robustness(metrics)))
    sections += [
        ("Gallery", lambda: gallery.render(src, ref, record, row)),
        ("Environment", lambda: _environment(row, record)),
    ]
    for tab, (_, draw) in zip(st.tabs([name for name, _ in sections]), sections, strict=True):
        with tab:
            draw()


def _artifact(record: dict[str, Any] | None, contains: str, suffix: str) -> str | None:
    return artifacts.find_artifact(record, contains=contains, suffix=suffix)


def _metrics(row: pd.Series, metrics: dict[str, float]) -> None:
    """Every metric by its display name, value and 95% interval in one cell, and which direction is better."""
    kind = str(row.get("kind") or "")
    plain = [
        k for k in metrics
        if not k.startswith(analysis.PER_CLASS_PREFIXES) and not k.endswith(("_ci_low", "_ci_high"))
    ]  # fmt: skip
    frame = pd.DataFrame({
        "metric": [fmt.label(k, kind) for k in plain],
        "value [95% CI]": [
            fmt.interval(metrics[k], metrics.get(f"{k}_ci_low"), metrics.get(f"{k}_ci_high"))
            if not fmt.is_efficiency(k) else fmt.value(k, metrics[k]) for k in plain
        ],
        "better": [fmt.direction(k, kind) for k in plain],
    })  # fmt: skip
    table(frame, "run_metrics")


def _per_class(record: dict[str, Any] | None, metrics: dict[str, float]) -> None:
    per_class = analysis.per_class_table(record, metrics)
    if per_class.empty:
        st.info("No per-class figures for this run.")
    else:
        table(per_class, "per_class")


def _confusion(src: Source, ref: tuple[str, str, str], record: dict[str, Any] | None) -> None:
    png, csv = _artifact(record, "confusion", ".png"), _artifact(record, "confusion", ".csv")
    image = cached_file(src.kind, src.uri, ref, png) if png else None
    if image:
        st.image(image, width=520)
    if csv and (data := cached_file(src.kind, src.uri, ref, csv)):
        import io

        table(pd.read_csv(io.BytesIO(data), dtype=str), "confusion_csv")
    elif not image:
        st.info("The confusion matrix of this run is not available.")


def _reliability(
    src: Source, ref: tuple[str, str, str], record: dict[str, Any] | None, metrics: dict[str, float]
) -> None:
    """The reliability diagram (accuracy against confidence) with the calibration metrics beside it."""
    png = _artifact(record, "reliability", ".png")
    image = cached_file(src.kind, src.uri, ref, png) if png else None
    shown = {k: metrics[k] for k in ("ece", "nll", "brier") if k in metrics}
    st.caption(" · ".join(f"{fmt.label(k, 'classification')}: {v:.4f}" for k, v in shown.items()))
    if image:
        st.image(image, width=420)
    else:
        st.info("The reliability diagram of this run is not available.")


def _checks(record: dict[str, Any]) -> None:
    """The trust checks' findings of the run (severity, check, finding)."""
    from visionbench.leaderboard.views.card import check_rows, checks_summary

    st.caption(checks_summary(record))
    found = check_rows(record)
    if found.get("severity"):
        table(pd.DataFrame(found), "checks_table")
    else:
        st.success("No findings: the checks saw nothing wrong with this run.")


def _pr_curves(src: Source, ref: tuple[str, str, str], record: dict[str, Any] | None) -> None:
    name = _artifact(record, "pr_curve", ".json")
    data = cached_file(src.kind, src.uri, ref, name) if name else None
    curves = analysis.pr_curves(json.loads(data)) if data else pd.DataFrame()
    if not curves.empty:
        import altair as alt

        lines = alt.Chart(curves).mark_line().encode(
            x=alt.X("recall:Q", scale=alt.Scale(domain=[0, 1])), y=alt.Y("precision:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("curve:N", title="class"), tooltip=["curve:N", "recall:Q", "precision:Q"],
        )  # fmt: skip
        show_chart(lines.properties(height=420), "pr_chart")
        return
    png = _artifact(record, "pr_curve", ".png")
    image = cached_file(src.kind, src.uri, ref, png) if png else None
    if image:
        st.image(image, width=600)
    else:
        st.info("The PR curves of this run are not available.")


def _robustness(metrics: dict[str, float]) -> None:
    import altair as alt

    curves, grid = analysis.robustness_curves(metrics), analysis.corruption_grid(metrics)
    if not curves.empty:
        st.subheader("Adversarial robustness")
        eps_type = "Q" if pd.api.types.is_numeric_dtype(curves["eps"]) else "O"
        lines = alt.Chart(curves).mark_line(point=True).encode(
            x=alt.X(f"eps:{eps_type}", title="epsilon"), y=alt.Y("robust_top1:Q", title="robust top-1"),
            color=alt.Color("attack:N"), tooltip=["attack:N", "eps", alt.Tooltip("robust_top1:Q", format=".4f")],
        )  # fmt: skip
        show_chart(lines.properties(height=320), "robust_chart")
    if not grid.empty:
        st.subheader("Corruptions")
        heat = alt.Chart(grid).mark_rect().encode(
            x=alt.X("severity:O"), y=alt.Y("corruption:N"), color=alt.Color("top1:Q", scale=alt.Scale(scheme="viridis")),
            tooltip=["corruption:N", "severity:O", alt.Tooltip("top1:Q", format=".4f")],
        )  # fmt: skip
        labels = heat.mark_text(fontSize=11).encode(
            text=alt.Text("top1:Q", format=".2f"), color=alt.value("white")
        )
        show_chart(
            (heat + labels).properties(height=max(120, 36 * grid["corruption"].nunique())), "corruption_chart"
        )


def _environment(row: pd.Series, record: dict[str, Any] | None) -> None:
    from visionbench.leaderboard.views.card import environment_rows, preprocessing_rows

    env = dict(
        (record or {}).get("environment")
        or {k: row.get(k) for k in ("hardware", "device", "precision", "batch_size")}
    )
    libraries = env.pop("libraries", None)
    table(_pairs(environment_rows(env)), "env_table")
    if libraries:
        st.caption("Library versions (the metric libraries are part of the run's identity)")
        table(_pairs(libraries), "libraries_table")
    _identity(record)
    st.subheader("Fingerprints")
    prints = {k: row.get(k) for k in FINGERPRINTS if row.get(k)}
    if record:
        prints.update(
            {"schema_version": record.get("schema_version"), "created_at": record.get("created_at")}
        )
    table(_pairs(prints), "fingerprints_table")
    if record and record.get("model"):
        st.subheader("Preprocessing and options")
        table(_pairs(preprocessing_rows(record["model"])), "preprocess_table")


def _identity(record: dict[str, Any] | None) -> None:
    """What the run is identified by (its content), where its per-sample state lives, and its shards."""
    identity = (record or {}).get("identity")
    if not identity:
        return
    st.subheader("Content identity")
    st.caption(
        "Runs with the same prediction identity saw the same weights, preprocessing, label map, data "
        "and subset at the same precision on the same device type; batch size and workers are not part of it."
    )
    parts = {k: v for k, v in identity.get("components", {}).items() if k != "metric_libraries"}
    table(
        _pairs(
            {"prediction identity": identity.get("prediction"), "run identity": identity.get("run"), **parts}
        ),
        "identity_table",
    )
    state = record.get("state") or {}
    if state:
        st.caption(
            f"Per-sample state: {state.get('num_samples')} samples in the state store "
            f"`{state.get('identity')}`; `visionbench rescore <run folder>` recomputes the metrics from it."
        )
    shards = record.get("distributed")
    if shards:
        st.caption(
            f"Distributed over {shards.get('world_size')} ranks ({shards.get('backend')}): "
            f"{shards.get('images')} images in {float(shards.get('wall_s') or 0):.2f} s"
        )


def _pairs(values: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({"field": [str(k) for k in values], "value": [fmt.text(v) for v in values.values()]})
