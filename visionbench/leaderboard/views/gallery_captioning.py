"""The captioning gallery: each image with the model's caption and the reference captions, worst or best by CIDEr-D.

Reads the run's ``gallery.parquet`` (``visionbench.harness.gallery``: ``caption`` holds the candidate
on its first line, then one ``- reference`` line per reference). Every caption is shown as text,
never as Markdown, since captions come from models and data files.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from visionbench.leaderboard import fmt
from visionbench.leaderboard.data import Source
from visionbench.leaderboard.views.gallery import _table_only, load_gallery, register_gallery

PER_ROW = 2


def split_caption(text: Any) -> tuple[str, list[str]]:
    """``(candidate, references)`` from a gallery row's caption text."""
    lines = str(text or "").split("\n")
    references = [line[2:] for line in lines[1:] if line.startswith("- ")]
    return lines[0], references


@register_gallery("captioning")
def captioning_gallery(
    src: Source, ref: tuple[str, str, str], record: dict[str, Any] | None, row: pd.Series
) -> None:
    gallery = load_gallery(src, ref, record)
    if gallery is None or gallery.empty:
        _table_only(src, ref)
        return
    group = st.radio("Show", ["worst", "best"], horizontal=True, key="caption_gallery_group",
                     format_func=lambda g: f"{g} images")  # fmt: skip
    shown = gallery[gallery["group"] == group].sort_values("rank")
    st.caption(
        f"{'Lowest' if group == 'worst' else 'Highest'} per-image CIDEr-D of the run's images, with the "
        "model's caption and the reference captions (pictures written by the run)."
    )
    with st.container(key="caption_gallery"):
        for start in range(0, len(shown), PER_ROW):
            for slot, (_, item) in zip(
                st.columns(PER_ROW), shown.iloc[start : start + PER_ROW].iterrows(), strict=False
            ):
                candidate, references = split_caption(item.get("caption"))
                slot.image(item["image"], width=220)
                slot.text(f"{item['sample_id']} · CIDEr-D {fmt.metric(item['score'], 3)}")
                slot.text(f"model: {candidate}")
                slot.text("references:\n" + "\n".join(f"  {r}" for r in references))
