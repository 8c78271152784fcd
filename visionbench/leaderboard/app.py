"""The leaderboard's Streamlit entry point: ``streamlit run app.py -- --source URI_or_DIR``.

``visionbench leaderboard`` starts it (see ``server.py``). Pages: overview (ranked tables per
task), accuracy vs speed (Pareto fronts), model (one model in detail) and compare (two models).
The source comes from ``--source``, else $VISIONBENCH_LEADERBOARD_SOURCE, else the default
MLflow store of the working directory.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from visionbench.leaderboard.views import common

HERE = Path(__file__).resolve().parent / "screens"

st.set_page_config(page_title="visionbench leaderboard", layout="wide")
pages = {
    "overview": st.Page(HERE / "overview.py", title="Overview", url_path="overview", default=True),
    "pareto": st.Page(HERE / "pareto.py", title="Accuracy vs speed", url_path="pareto"),
    "model": st.Page(HERE / "model.py", title="Model", url_path="model"),
    "compare": st.Page(HERE / "compare.py", title="Compare", url_path="compare"),
}
common.PAGES.clear()
common.PAGES.update(pages)
st.navigation(list(pages.values()), position="top").run()  # no sidebar: the tables get the full width
