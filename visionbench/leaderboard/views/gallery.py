"""The per-example gallery of a run: the worst and the best samples with their pictures, filtered by class.

Pictures come from the run's own ``gallery.parquet`` (written by the run, see
``visionbench.harness.gallery``), never from the dataset, so a remote store or a copied folder shows
them too. Each kind renders through :data:`GALLERIES` (kind -> function); a kind without an entry
gets :func:`show_gallery`, which lays out whatever pictures the file holds. Another kind adds its
own view with ``@register_gallery("kind")``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from visionbench.leaderboard import analysis, fmt
from visionbench.leaderboard.data import Source
from visionbench.leaderboard.views.common import table

GALLERY_FILE = "gallery.parquet"
PANELS = {"image": "image", "truth": "ground truth", "prediction": "prediction"}
GalleryView = Callable[[Source, tuple[str, str, str], "dict[str, Any] | None", pd.Series], None]
GALLERIES: dict[str, GalleryView] = {}
LEGENDS = {
    "detection": "Boxes: green ground truth found, orange dashed ground truth missed, blue correct detections, "
    "red false detections (IoU 0.5, as COCO matches them).",
    "segmentation": "Each sample: the image, the ground-truth class map and the predicted class map.",
}


def register_gallery(kind: str) -> Callable[[GalleryView], GalleryView]:
    def add(view: GalleryView) -> GalleryView:
        GALLERIES[kind] = view
        return view

    return add


def load_gallery(
    src: Source, ref: tuple[str, str, str], record: dict[str, Any] | None
) -> pd.DataFrame | None:
    from visionbench.leaderboard.views.details import cached_file

    names = (record or {}).get("artifacts") or {}
    name = names.get("gallery_parquet") or (GALLERY_FILE if record is None else None)
    data = cached_file(src.kind, src.uri, ref, name) if name else None
    if not data:
        return None
    try:
        return pd.read_parquet(io.BytesIO(data))
    except (OSError, ValueError):
        return None


def render(src: Source, ref: tuple[str, str, str], record: dict[str, Any] | None, row: pd.Series) -> None:
    GALLERIES.get(str(row.get("kind")), show_gallery)(src, ref, record, row)


def show_gallery(
    src: Source, ref: tuple[str, str, str], record: dict[str, Any] | None, row: pd.Series
) -> None:
    gallery = load_gallery(src, ref, record)
    if gallery is None or gallery.empty:
        _table_only(src, ref)
        return
    kind = str(row.get("kind"))
    left, right = st.columns([1, 2])
    group = left.radio("Show", ["worst", "best"], horizontal=True, key="gallery_group",
                       format_func=lambda g: f"{g} samples")  # fmt: skip
    classes = sorted({c for values in gallery["classes"] for c in (values if values is not None else [])})
    chosen = right.multiselect("Class", classes, key="gallery_class", placeholder="every class")
    shown = gallery[gallery["group"] == group]
    if chosen:
        shown = shown[[bool(set(v if v is not None else []) & set(chosen)) for v in shown["classes"]]]
    score = str(shown["score_name"].iloc[0]) if not shown.empty else ""
    st.caption(
        f"{'Lowest' if group == 'worst' else 'Highest'} {fmt.sample_score(score, kind) if score else 'score'} of the "
        f"run's samples (pictures written by the run). {LEGENDS.get(kind, '')}"
    )
    if shown.empty:
        st.info("No sample of this group has the chosen classes.")
        return
    panels = [p for p in PANELS if p in shown.columns and shown[p].notna().any()]
    per_row = 4 if len(panels) == 1 else 1
    with st.container(key="gallery"):
        for start in range(0, len(shown), per_row):
            chunk = shown.iloc[start : start + per_row]
            if per_row > 1:
                for slot, (_, item) in zip(st.columns(per_row), chunk.iterrows(), strict=False):
                    slot.image(item["image"], caption=_caption(item, kind), width="stretch")
            else:
                item = chunk.iloc[0]
                st.text(_caption(item, kind))
                for slot, panel in zip(st.columns(len(panels) + 1), panels, strict=False):
                    slot.image(item[panel], caption=PANELS[panel])


def _caption(item: pd.Series, kind: str) -> str:
    score = f"{fmt.sample_score(str(item['score_name']), kind)} {fmt.metric(item['score'], 3)}"
    return f"{item['sample_id']} · {score} · {fmt.text(item.get('caption'))}"


def _table_only(src: Source, ref: tuple[str, str, str]) -> None:
    """Runs written before galleries existed: the worst samples as a table, without pictures."""
    from visionbench.leaderboard.views.details import cached_predictions

    predictions = cached_predictions(src.kind, src.uri, ref)
    if predictions is None or predictions.empty:
        st.info("This run has no gallery pictures and no per-sample predictions file.")
        return
    worst, how = analysis.worst_samples(predictions, 12)
    st.caption(f"This run has no gallery pictures. Worst {len(worst)} of {len(predictions)} samples: {how}.")
    if not worst.empty:
        table(worst, "gallery_table")


from visionbench.leaderboard.views import gallery_captioning  # noqa: E402,F401  (registers the captioning view)
