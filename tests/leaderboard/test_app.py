"""Every page of the dashboard driven through Streamlit's AppTest against a seeded MLflow store and a results folder."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from apptest_tools import assert_no_html, charts, dataframe, markdown_texts, texts

from visionbench.declarations import display_name

EVIL = "<script>alert(1)</script>"
KINDS = ["classification", "detection", "segmentation", "captioning", "robustness"]


def run(at: Any) -> Any:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def overview_table(at: Any) -> pd.DataFrame:
    return dataframe(at, "overview_table")


# ---------------------------------------------------------------------------------------------- overview


def test_overview_lists_every_kind_and_ranks_with_tie_groups(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    found = dataframe(at, "tasks_found")
    assert list(found["kind"]) == KINDS
    assert set(found["task"]) == {
        "classification:digits",
        "detection:shapes",
        "segmentation:shapes",
        "captioning:shapes",
        "robustness:digits",
    }
    assert at.radio(key="overview_kind").options == [
        f"{k} \\({n} runs\\)" for k, n in zip(KINDS, (7, 3, 3, 1, 1), strict=True)
    ]
    table = overview_table(at)
    ranks = dict(zip(table["Model"], table["Rank"], strict=True))
    # alpha (0.951 on the GPU, 0.95 on the CPU) and beta (0.94 +- 0.02) overlap the leader's interval: one group.
    assert ranks["alpha-net"] == "=1" and ranks["beta-net"] == "=1"
    assert int(ranks["gamma-net"]) > 1 and ranks[EVIL] == str(len(table))
    assert "digits-linear" in " ".join(table["Model"])
    for column in (
        "Top-1 accuracy (95% CI)",
        "Throughput",
        "Latency p50 (batch)",
        "Parameters",
        "Peak memory (process)",
    ):
        assert column in table.columns
    csv = at.get("download_button")
    assert csv, "no CSV download"


def test_overview_other_kinds_use_their_headline(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    at.radio(key="overview_kind").set_value("detection")
    run(at)
    table = overview_table(at)
    assert "mAP@[.5:.95] (95% CI)" in table.columns and "Top-1 accuracy (95% CI)" not in table.columns
    at.radio(key="overview_kind").set_value("robustness")
    run(at)
    from visionbench.declarations import headline_key

    assert f"{display_name(headline_key('robustness'))} (95% CI)" in overview_table(at).columns


def test_overview_filters_search_and_columns(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    at.multiselect(key="overview_hardware").set_value(["NVIDIA H100"])
    run(at)
    table = overview_table(at)
    assert list(table["Model"]) == ["alpha-net"] and list(table["Precision"]) == ["fp16"]
    at.multiselect(key="overview_hardware").set_value([])
    at.multiselect(key="overview_licence").set_value(["Apache-2.0"])
    run(at)
    assert list(overview_table(at)["Model"]) == ["beta-net"]
    at.multiselect(key="overview_licence").set_value([])
    at.text_input(key="overview_search").set_value("GAMMA")
    run(at)
    assert list(overview_table(at)["Model"]) == ["gamma-net"]
    at.text_input(key="overview_search").set_value("")
    at.multiselect(key="overview_columns_classification").set_value(
        ["rank", "model name", "top1", "f1_macro", "f1/cat"]
    )
    run(at)
    assert list(overview_table(at).columns) == [
        "Rank",
        "Model",
        "Top-1 accuracy (95% CI)",
        "Macro F1",
        "F1 cat",
    ]


def test_overview_history_shows_every_run(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    column = "Top-1 accuracy (95% CI)"
    latest = overview_table(at)
    assert not any(c.startswith("0.7500 ") for c in latest[column])  # gamma's superseded run
    at.checkbox(key="overview_history").check()
    run(at)
    every = overview_table(at)
    assert len(every) == len(latest) + 1 and "0.7500 [0.7300, 0.7700]" in set(every[column])


# ---------------------------------------------------------------------------------------------- pareto


def test_pareto_front_per_hardware_and_precision(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    at.switch_page("screens/pareto.py")
    run(at)
    assert charts(at) == ["pareto_chart"]
    front = dataframe(at, "pareto_front")
    by_config = front.groupby("config")["model name"].apply(set).to_dict()
    # gamma (0.80 at 400 img/s) is dominated by beta (0.94 at 1,500 img/s); the GPU run is alone in its group.
    assert (
        "gamma-net" not in by_config["cpu (2 cores) / fp32"] and EVIL not in by_config["cpu (2 cores) / fp32"]
    )
    assert by_config["NVIDIA H100 / fp16"] == {"alpha-net"}
    cpu = front[front["config"] == "cpu (2 cores) / fp32"]  # sorted by throughput, best last
    assert [float(v.split()[0]) for v in cpu["Top-1 accuracy"]] == sorted(
        float(v.split()[0]) for v in cpu["Top-1 accuracy"]
    )[::-1] or len(cpu) == 1  # along a front, more speed costs accuracy
    assert all(re.fullmatch(r"0\.\d{4}( \[.*\])?", v) for v in front["Top-1 accuracy"])
    at.selectbox(key="pareto_x").set_value("latency_ms_p50")
    run(at)
    assert display_name("latency_ms_p50") in dataframe(at, "pareto_front").columns
    at.selectbox(key="pareto_y").set_value("ece")  # any metric on either axis
    run(at)
    assert "Expected calibration error" in dataframe(at, "pareto_front").columns


# ---------------------------------------------------------------------------------------------- model page


def test_model_page_of_a_real_run_has_confusion_matrix_and_failure_gallery(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    at.switch_page("screens/model.py")
    at.query_params["model"] = seeded.real_model  # as a link to /model?model=... would
    run(at)
    assert at.selectbox(key="model").value == seeded.real_model
    tasks = dataframe(at, "model_tasks")
    assert list(tasks["task"]) == ["classification:digits"] and tasks["rank"].str.fullmatch(r"=?\d+").all()
    assert set(dataframe(at, "per_class")["class"]) == {str(i) for i in range(10)}
    assert dataframe(at, "confusion_csv").shape == (10, 11)
    captions = [c.caption for image in at.get("image") for c in image.proto.imgs if c.caption]
    worst = [c for c in captions if c.startswith("digits-test-")]
    assert len(worst) == 8 and all(
        "truth" in c and "predicted" in c for c in worst
    )  # pictures written by the run
    env = dataframe(at, "env_table")
    assert {"device", "precision", "batch_size", "torch"} <= set(env["field"])
    prints = dataframe(at, "fingerprints_table")
    assert {"run_fingerprint", "model_fingerprint", "dataset_fingerprint"} <= set(prints["field"])
    identity = dict(zip(*dataframe(at, "identity_table")[["field", "value"]].T.values, strict=True))
    assert identity["run identity"] == prints.set_index("field").loc["run_fingerprint", "value"]
    assert identity["device_type"] == "cpu" and identity["precision"] == "fp32"
    assert set(dataframe(at, "libraries_table")["field"]) >= {"numpy", "scikit-learn", "torch"}


def test_model_page_lists_every_task_and_shows_pr_and_robustness(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    at.switch_page("screens/model.py")
    run(at)
    at.selectbox(key="model").set_value("zoo:alpha")
    run(at)
    tasks = dataframe(at, "model_tasks")
    assert set(tasks["kind"]) == {"classification", "detection", "segmentation", "captioning"}
    run_box = at.selectbox(key="model_run")
    detection = next(o for o in run_box.options if o.startswith("detection:shapes"))
    run_box.select(detection)
    run(at)
    tabs = [t.label for t in at.tabs]
    assert "PR curves" in tabs and "Robustness" not in tabs
    assert "pr_chart" in charts(at)
    at.selectbox(key="model").set_value("zoo:beta")
    run(at)
    run_box = at.selectbox(key="model_run")
    run_box.select(next(o for o in run_box.options if o.startswith("robustness:")))
    run(at)
    assert {"robust_chart", "corruption_chart"} <= set(charts(at))


# ---------------------------------------------------------------------------------------------- compare


def test_compare_paired_deltas_and_mcnemar(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    at.switch_page("screens/compare.py")
    at.query_params.update({"a": "zoo:alpha", "b": "zoo:beta"})
    run(at)
    summary = dataframe(at, "compare_summary")
    assert set(summary["task"]) == {"classification:digits", "segmentation:shapes"}
    row = summary.set_index("task").loc["classification:digits"]
    assert float(row["B - A"]) == pytest.approx(0.94 - 0.95)
    assert 0.0 <= float(row["McNemar p"]) <= 1.0 and row["paired samples"] == "100"
    seg = summary.set_index("task").loc["segmentation:shapes"]
    assert seg["McNemar p"] == "—" and "no predictions" in seg["note"]
    deltas = dataframe(at, "compare_deltas")
    assert deltas["metric"].iloc[0] == "Top-1 accuracy"
    assert {display_name("throughput_ips"), "Macro F1"} <= set(deltas["metric"])


# ---------------------------------------------------------------------------------------------- safety


def _assert_inert(at: Any) -> None:
    assert_no_html(at)
    for body in markdown_texts(at):
        assert EVIL not in body and not re.search(r"(?<!\\)<", body), body


def test_script_model_name_is_text_everywhere(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    assert EVIL in list(overview_table(at)["Model"])
    _assert_inert(at)
    at.switch_page("screens/pareto.py")
    run(at)
    _assert_inert(at)
    at.switch_page("screens/model.py")
    run(at)
    at.selectbox(key="model").set_value("callable:evil:factory")
    run(at)
    _assert_inert(at)
    assert list(dataframe(at, "model_info")["value"])[0] == "callable:evil:factory"
    heading = [h for h in markdown_texts(at) if "script" in h]
    assert heading and all("\\<script\\>" in h for h in heading)
    at.switch_page("screens/compare.py")
    run(at)
    at.selectbox(key="a").set_value("callable:evil:factory")
    run(at)
    _assert_inert(at)


# ---------------------------------------------------------------------------------------------- static mode and empty sources


def test_static_results_folder(seeded, app_env) -> None:
    at = run(app_env(str(seeded.runs)))
    assert "results folder" in " ".join(texts(at))
    found = dataframe(at, "tasks_found")
    assert list(found["kind"]) == KINDS
    at.switch_page("screens/model.py")
    run(at)
    at.selectbox(key="model").set_value(seeded.real_model)
    run(at)
    assert len(at.get("image")) >= 1 + 8  # the confusion matrix and the worst samples' pictures
    assert dataframe(at, "confusion_csv").shape == (10, 11)
    at.switch_page("screens/compare.py")
    run(at)
    assert not dataframe(at, "compare_summary").empty


def test_a_missing_store_is_named_and_not_created(tmp_path, app_env) -> None:
    at = app_env(f"sqlite:///{tmp_path / 'nothing.db'}").run()
    assert not at.exception
    assert "no MLflow store at" in at.error[0].value and "nothing.db" in at.error[0].value
    assert not (tmp_path / "nothing.db").exists(), "a read-only dashboard must not create the store"


def test_empty_results_folder_says_how_to_get_results(tmp_path, app_env) -> None:
    (tmp_path / "empty").mkdir()
    at = run(app_env(str(tmp_path / "empty")))
    assert "No runs found" in at.info[0].value
    for page in ("pareto", "model", "compare"):
        at.switch_page(f"screens/{page}.py")
        run(at)
        assert at.info and "No runs found" in at.info[0].value


def test_a_bad_source_is_an_error_message_not_a_traceback(tmp_path, app_env) -> None:
    at = app_env(str(tmp_path / "missing-folder")).run()
    assert not at.exception
    assert "neither a tracking URI" in at.error[0].value


def test_unreadable_records_are_named_on_the_board_and_in_list_runs(
    tmp_path, app_env, cli, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(
        "run", "--model", "zoo:digits-linear", "--task", "digits", "--limit", "40", "--bootstrap", "0",
        "--no-track", "--output", "res", "--json",
    )  # fmt: skip
    assert code == 0, err
    broken = tmp_path / "res" / "classification-digits" / "zoo-broken" / "run-1"
    broken.mkdir(parents=True)
    (broken / "record.json").write_text('{"schema_version": 2, "truncated')
    at = run(app_env(str(tmp_path / "res")))
    warning = " ".join(w.value for w in at.warning).replace("\\", "")  # Markdown escapes
    assert "Skipped 1 record" in warning and "zoo-broken" in warning
    assert "cannot read results record" in warning
    code, out, _ = cli("list", "runs", "--output", str(tmp_path / "res"))
    assert code == 0 and "recorded runs under" in out and ": 1" in out
    assert "skipped 1 unreadable record" in out and "zoo-broken" in out


# ---------------------------------------------------------------------------------------------- meaning of numbers


def test_numbers_carry_their_names_units_intervals_and_tie_marks(seeded, app_env) -> None:
    at = run(app_env(seeded.uri))
    found = dataframe(at, "tasks_found").set_index("task")
    top = found.loc["classification:digits"]
    # Every model of the top tie group is named, with the leader's value and interval in one cell.
    assert top["ranked by"] == "Top-1 accuracy"
    assert {"alpha-net", "beta-net", "digits-linear"} <= set(
        top["best"].removesuffix(" (shared rank 1)").split(", ")
    )
    assert re.fullmatch(r"0\.\d{4} \[0\.\d{4}, [01]\.\d{4}\]", top["best score"])
    assert found.loc["detection:shapes", "ranked by"] == "mAP@[.5:.95]"
    table = overview_table(at).set_index("Model")
    assert (
        table.loc["beta-net", "Top-1 accuracy (95% CI)"] == "0.9400 [0.9200, 0.9600]"
    )  # the record's figures
    assert table.loc[EVIL, "Top-1 accuracy (95% CI)"] == "0.5000"  # no interval: the value alone
    assert (
        table.loc["beta-net", "Throughput"] == "1.5 k img/s"
        and table.loc["beta-net", "Latency p50 (batch)"] == "2 ms"
    )
    cells = " ".join(map(str, overview_table(at).to_numpy().ravel()))
    assert "None" not in cells and "nan" not in cells
    caption = " ".join(c.value for c in at.caption)
    assert "higher is better" in caption and "=1" in caption
    at.switch_page("screens/model.py")
    at.query_params["model"] = "zoo:beta"
    run(at)
    tasks = dataframe(at, "model_tasks").set_index("task")
    assert tasks.loc["classification:digits", "rank"] == "=1"
    run_box = at.selectbox(key="model_run")
    run_box.select(next(o for o in run_box.options if o.startswith("classification:digits")))
    run(at)
    metrics = dataframe(at, "run_metrics").set_index("metric")
    assert metrics.loc["Top-1 accuracy", "value [95% CI]"] == "0.9400 [0.9200, 0.9600]"
    assert metrics.loc["Expected calibration error", "better"] == "lower is better"
    assert not any("_" in m for m in metrics.index)  # display names, not raw keys


def test_unknown_links_warn_and_show_nothing_else(seeded, app_env) -> None:
    at = app_env(seeded.uri)
    at.switch_page("screens/model.py")
    at.query_params["model"] = "zoo:nonexistent"
    run(at)
    assert (
        "zoo\\:nonexistent" in at.warning[0].value
        and not at.get("selectbox")
        and not at.get("arrow_data_frame")
    )
    at = app_env(seeded.uri)
    at.switch_page("screens/compare.py")
    at.query_params.update({"a": "zoo:alpha", "b": "zoo:nothing"})
    run(at)
    assert "zoo\\:nothing" in at.warning[0].value and not at.get("selectbox")


def test_compare_defaults_to_a_model_sharing_a_task(seeded, app_env) -> None:
    at = app_env(seeded.uri)
    at.switch_page("screens/compare.py")
    at.query_params["a"] = "zoo:shapes-centernet-tiny"
    run(at)
    b = at.selectbox(key="b").value
    frame = dataframe(at, "compare_summary")
    assert b != "zoo:shapes-centernet-tiny" and list(frame["task"]) == ["detection:shapes"]


def test_model_card_and_environment_are_readable_tables(seeded, app_env) -> None:
    at = app_env(seeded.uri)
    at.switch_page("screens/model.py")
    at.query_params["model"] = seeded.real_model
    run(at)
    card = dict(dataframe(at, "model_info")[["field", "value"]].to_numpy())
    assert (
        card["licence"] == "MIT"
        and card["training data"] == "digits"
        and card["parameters"] in ("650", "650 params")
    )
    env = dict(dataframe(at, "env_table")[["field", "value"]].to_numpy())
    assert env["cuda"] == "not used (CPU run)" and env["device name"] not in ("", "x86_64")
    steps = dict(dataframe(at, "preprocess_table")[["field", "value"]].to_numpy())
    assert steps["resize"] == "8 x 8" and steps["mode"] == "L"
