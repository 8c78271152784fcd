"""Leaderboard responsiveness with 1,000 runs in a SQLite MLflow store.

Seeds 1,000 synthetic runs of all five task kinds (tags, params and metrics exactly as
``visionbench run`` logs them; no artifacts) and measures, through Streamlit's AppTest:

- the first full render of the overview from a cold Streamlit cache, summary load included
  (the summary comes from its on-disk copy, keyed by the store's change token; goal < 2 s);
- a re-render after changing a filter (goal < 0.5 s);

and, for context, what building the summary from MLflow costs: ``search_runs`` paging in a
warm process, a cold process with no summary copy (MLflow import included), and the
incremental update after one new run. Figures go to ``results/bench/leaderboard.json``/``.md``.

Run: ``.venv/bin/pytest benchmarks/test_bench_leaderboard.py`` (``VB_BENCH_LEADERBOARD_RUNS=200`` for a quick run).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

N_RUNS = int(os.environ.get("VB_BENCH_LEADERBOARD_RUNS", "1000"))
GOAL_FIRST_RENDER_S = 2.0
GOAL_FILTERED_S = 0.5
ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "visionbench" / "leaderboard" / "app.py"
RESULTS = ROOT / "results" / "bench"
FIGURES: dict[str, float | int | str] = {}

COLD_PROCESS = """
import sys, time
t = time.perf_counter()
from visionbench.leaderboard.data import Source, load_summary
frame = load_summary(Source("mlflow", sys.argv[1]), disk_cache=False)
print(time.perf_counter() - t, len(frame))
"""
# A fresh process, an empty summary cache. Timed in phases: the interpreter start and Streamlit's
# import, then the component registry scan that a real server does once when it starts (Streamlit's
# Runtime scans every installed distribution's metadata; AppTest does it on its first run, so it is
# done here first and handed over), then the page itself: our imports, the summary (SQLite read directly
# or records read from a folder) and the overview's render, which is what a visitor of a freshly
# started server waits for.
COLD_RENDER = """
import os, sys, time
from streamlit.testing.v1 import AppTest
start_s = time.time() - float(os.environ["VB_PROCESS_START"])
t = time.perf_counter()
at = AppTest.from_file(sys.argv[1], default_timeout=300)
if hasattr(at, "_bidi_component_manager"):
    from streamlit.components.v2.component_manager import BidiComponentManager
    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    at._bidi_component_manager = manager
scan_s = time.perf_counter() - t
t = time.perf_counter()
at.run()
page_s = time.perf_counter() - t
assert not at.exception, at.exception
rows = [n for n in at.main if n.type == "dataframe" and n.key == "overview_table"][0].value
print(start_s, scan_s, page_s, len(rows))
"""


def _cold_render(source: str, cache: Path) -> tuple[float, float, float, int]:
    """(interpreter + Streamlit import, component scan, first page) seconds and the overview's row count."""
    env = {
        **os.environ,
        "VISIONBENCH_CACHE_DIR": str(cache),
        "VISIONBENCH_LEADERBOARD_SOURCE": source,
        "VB_PROCESS_START": repr(time.time()),
    }
    done = subprocess.run(
        [sys.executable, "-c", COLD_RENDER, str(APP)], capture_output=True, text=True, check=True, env=env
    )
    start, scan, page, rows = done.stdout.split()[-4:]
    return float(start), float(scan), float(page), int(rows)


def test_first_render_in_a_fresh_process_without_the_disk_cache(store: str, tmp_path: Path) -> None:
    """From the SQLite store and from a results folder of the same 1,000 runs, three fresh processes each."""
    from visionbench.leaderboard.synthetic import many_records, write_run_folder

    folder = tmp_path / "runs"
    for i, record in enumerate(many_records(N_RUNS)):
        write_run_folder(record, folder / f"run-{i:05d}")
    for name, source in (("sqlite", store), ("folder", str(folder))):
        pages, totals, starts = [], [], []
        for attempt in range(5):
            start, scan, page, rows = _cold_render(source, tmp_path / f"cache-{name}-{attempt}")
            assert rows == N_RUNS // 5
            pages.append(page)
            starts.append(start + scan)
            totals.append(start + scan + page)
        FIGURES[f"cold_process_render_{name}_median_s"] = round(sorted(pages)[2], 2)
        FIGURES[f"cold_process_render_{name}_max_s"] = round(max(pages), 2)
        FIGURES[f"cold_process_server_start_{name}_median_s"] = round(sorted(starts)[2], 2)
        FIGURES[f"cold_process_total_{name}_median_s"] = round(sorted(totals)[2], 2)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """1,000 runs seeded on tmpfs when there is one (SQLite commits are fsync-bound), then copied to disk."""
    from visionbench.leaderboard.synthetic import fast_seed, many_records

    work = tmp_path_factory.mktemp("leaderboard-bench")
    shm = Path("/dev/shm")
    seed_dir = (
        Path(shm / f"vb-leaderboard-{os.getpid()}")
        if shm.is_dir() and os.access(shm, os.W_OK)
        else work / "seed"
    )
    seed_dir.mkdir(parents=True, exist_ok=True)
    try:
        records = many_records(N_RUNS)
        start = time.perf_counter()
        fast_seed(records, f"sqlite:///{seed_dir / 'mlflow.db'}")
        FIGURES["seed_s"] = round(time.perf_counter() - start, 1)
        shutil.copy2(seed_dir / "mlflow.db", work / "mlflow.db")
    finally:
        if seed_dir.parent == shm:
            shutil.rmtree(seed_dir, ignore_errors=True)
    return f"sqlite:///{work / 'mlflow.db'}"


@pytest.fixture(scope="module", autouse=True)
def environment(tmp_path_factory: pytest.TempPathFactory):
    """A private summary cache for the module, and the report written once every figure is in."""
    saved = {k: os.environ.get(k) for k in ("VISIONBENCH_CACHE_DIR", "VISIONBENCH_LEADERBOARD_SOURCE")}
    os.environ["VISIONBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("leaderboard-cache"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if {"first_render_median_s", "filtered_rerender_median_s"} <= set(FIGURES):
        write_results(FIGURES)


def _fresh_app(uri: str):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    os.environ["VISIONBENCH_LEADERBOARD_SOURCE"] = uri
    return AppTest.from_file(str(APP), default_timeout=300)


def _overview_rows(at) -> int:
    [table] = [node for node in at.main if node.type == "dataframe" and node.key == "overview_table"]
    return len(table.value)


def test_summary_from_mlflow(benchmark, store: str) -> None:
    """search_runs paging and denormalisation in a process where MLflow is already imported (builds the disk copy)."""
    import pandas as pd

    from visionbench.leaderboard.data import Source, change_token, finish, load_summary
    from visionbench.leaderboard.rows import mlflow_rows

    source = Source("mlflow", store)
    frame = benchmark.pedantic(lambda: finish(pd.DataFrame(mlflow_rows(store))), rounds=1, iterations=1)
    assert len(frame) == N_RUNS and set(frame["kind"]) == {
        "classification",
        "detection",
        "segmentation",
        "captioning",
        "robustness",
    }
    FIGURES["summary_from_mlflow_warm_process_s"] = round(benchmark.stats.stats.median, 3)
    start = time.perf_counter()
    load_summary(source, change_token(source))  # writes the on-disk copy the page starts from
    FIGURES["summary_build_and_store_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", COLD_PROCESS, store], capture_output=True, text=True, check=True
    )
    FIGURES["summary_from_mlflow_cold_process_s"] = round(float(done.stdout.split()[0]), 2)
    FIGURES["cold_process_wall_s"] = round(time.perf_counter() - start, 2)


def test_first_render_from_cold_cache(benchmark, store: str) -> None:
    start = time.perf_counter()
    at = _fresh_app(store).run()
    FIGURES["first_render_first_in_process_s"] = round(
        time.perf_counter() - start, 3
    )  # module imports included
    assert not at.exception and _overview_rows(at) == N_RUNS // 5

    def run(at):
        at.run()
        assert not at.exception

    benchmark.pedantic(run, setup=lambda: ((_fresh_app(store),), {}), rounds=7, warmup_rounds=1)
    stats = benchmark.stats.stats
    FIGURES.update(
        first_render_median_s=round(stats.median, 3),
        first_render_min_s=round(stats.min, 3),
        first_render_max_s=round(stats.max, 3),
    )
    assert stats.median < GOAL_FIRST_RENDER_S


def test_tracking_server_summary_in_the_background(store: str, tmp_path: Path) -> None:
    """The same 1,000 runs behind ``mlflow server``: the first load pages over HTTP; a later process shows its
    stored copy at once and reloads in a background thread."""
    sys.path.insert(0, str(ROOT / "tests"))
    from vbtest_mlflow import mlflow_server

    from visionbench.leaderboard import background
    from visionbench.leaderboard.data import Source, load_summary

    with mlflow_server(store, tmp_path / "artifacts", tmp_path / "server.log") as server:
        source = Source("mlflow", server.uri)
        start = time.perf_counter()
        frame = load_summary(source)  # writes the stored copy
        FIGURES["server_first_load_s"] = round(time.perf_counter() - start, 2)
        assert len(frame) == N_RUNS
        background._ENTRIES.clear()
        start = time.perf_counter()
        shown, _, reloading = background.summary(source, refresh_s=0)
        FIGURES["server_page_with_stored_copy_s"] = round(time.perf_counter() - start, 3)
        assert len(shown) == N_RUNS and reloading
        background.wait(source, timeout=300)
        FIGURES["server_background_reload_s"] = round(time.perf_counter() - start, 2)


def test_filtered_rerender(benchmark, store: str) -> None:
    at = _fresh_app(store).run()
    choices = [["NVIDIA H100"], ["cpu (2 cores)"]]
    state = {"i": 0}

    def flip():
        state["i"] += 1
        at.multiselect(key="overview_hardware").set_value(choices[state["i"] % 2])
        return (), {}

    def run():
        at.run()
        assert not at.exception

    benchmark.pedantic(run, setup=flip, rounds=12, warmup_rounds=1)
    rows = _overview_rows(at)
    assert 0 < rows < N_RUNS // 5
    stats = benchmark.stats.stats
    FIGURES.update(
        filtered_rerender_median_s=round(stats.median, 3), filtered_rerender_max_s=round(stats.max, 3)
    )
    assert stats.median < GOAL_FILTERED_S


def test_incremental_refresh_after_one_new_run(benchmark, store: str) -> None:
    """One more run logged: the on-disk summary is extended with that run only."""
    from visionbench.leaderboard.data import Source, change_token, load_summary
    from visionbench.leaderboard.synthetic import fast_seed, synthetic_record

    source = Source("mlflow", store)
    load_summary(source, change_token(source))
    fast_seed([synthetic_record("zoo:late-arrival", "classification", seed=N_RUNS + 1)], store)
    frame = benchmark.pedantic(lambda: load_summary(source, change_token(source)), rounds=1, iterations=1)
    assert len(frame) == N_RUNS + 1 and "zoo:late-arrival" in set(frame["model"])
    FIGURES["incremental_refresh_s"] = round(benchmark.stats.stats.median, 3)


def write_results(figures: dict, folder: Path = RESULTS) -> None:
    import mlflow
    import pandas
    import streamlit

    data = {
        "schema_version": 1,
        "benchmark": "leaderboard_render",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {"runs": N_RUNS, "kinds": 5, "store": "sqlite", "goal_first_render_s": GOAL_FIRST_RENDER_S, "goal_filtered_rerender_s": GOAL_FILTERED_S},
        "environment": {
            "python": platform.python_version(), "streamlit": streamlit.__version__, "mlflow": mlflow.__version__,
            "pandas": pandas.__version__, "cpu_count": os.cpu_count(), "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        },
        "results": figures,
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaderboard.json").write_text(json.dumps(data, indent=2) + "\n")
    f, e = figures, data["environment"]
    rows = [
        ("first render of the overview, cold Streamlit cache, summary from its disk copy (median of 7)",
         f"{f['first_render_median_s']} s (min {f['first_render_min_s']}, max {f['first_render_max_s']}; goal < {GOAL_FIRST_RENDER_S} s)"),
        ("same, first in the process (module imports included)", f"{f.get('first_render_first_in_process_s')} s"),
        ("re-render after changing the hardware filter (median of 12)",
         f"{f['filtered_rerender_median_s']} s (max {f['filtered_rerender_max_s']}; goal < {GOAL_FILTERED_S} s)"),
        ("summary from MLflow `search_runs`, MLflow already imported", f"{f.get('summary_from_mlflow_warm_process_s')} s"),
        ("summary from the SQLite store read directly in a fresh process, no disk copy", f"{f.get('summary_from_mlflow_cold_process_s')} s"),
        *[(f"first page in a fresh process, no disk copy, {label} (median of 5; our imports, summary and render)",
           f"{f.get(f'cold_process_render_{name}_median_s')} s (max {f.get(f'cold_process_render_{name}_max_s')}; goal < {GOAL_FIRST_RENDER_S} s)")
          for name, label in (("sqlite", "SQLite store"), ("folder", "results folder"))],
        *[(f"the same process before that page, {label}: interpreter, Streamlit import and its component scan (a server pays these once at start)",
           f"{f.get(f'cold_process_server_start_{name}_median_s')} s (whole process: {f.get(f'cold_process_total_{name}_median_s')} s)")
          for name, label in (("sqlite", "SQLite store"), ("folder", "results folder"))],
        ("incremental refresh after one new run", f"{f.get('incremental_refresh_s')} s"),
        ("tracking server (`mlflow server` on the same store): first load, no stored copy", f"{f.get('server_first_load_s')} s"),
        ("tracking server: summary for a page with the stored copy (reload starts in the background)",
         f"{f.get('server_page_with_stored_copy_s')} s (background reload done after {f.get('server_background_reload_s')} s)"),
        (f"seeding {N_RUNS} runs (create_run + log_batch + set_terminated each, on tmpfs)", f"{f.get('seed_s')} s"),
    ]  # fmt: skip
    lines = [
        f"# Leaderboard: render times with {N_RUNS:,} runs",
        "",
        f"{N_RUNS} runs over the five task kinds in a SQLite MLflow store ({N_RUNS // 5} per kind; ~35 metrics, 12 params, "
        f"20 tags each), rendered with Streamlit's AppTest. Python {e['python']}, Streamlit {e['streamlit']}, "
        f"MLflow {e['mlflow']}, pandas {e['pandas']}, {e['cpu_count']} CPUs ({data['generated_at']}).",
        "",
        "| figure | value |",
        "| --- | --- |",
        *[f"| {name} | {value} |" for name, value in rows],
        "",
        "The page never pages through MLflow on a render: it checks a change token (count and latest end time of "
        "finished runs, read from the SQLite file) and reuses the summary stored for that token; new runs are "
        "appended incrementally. A local SQLite store is read with `sqlite3` directly (four queries, no MLflow "
        "import); `search_runs` remains the path for tracking servers. A results folder is read record by record, once, each record checked against the schema by a compiled check (`harness/record_check.py`; jsonschema only names what is wrong). Wall-clock on a shared machine (1-minute load average "
        f"{e['load_average_1min_at_end']} on {e['cpu_count']} CPUs at the end).",
        "",
        "Reproduce: `.venv/bin/pytest benchmarks/test_bench_leaderboard.py`.",
        "",
    ]
    (folder / "leaderboard.md").write_text("\n".join(lines))
