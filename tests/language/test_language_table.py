"""``visionbench language-table`` against MLflow: real runs into a temporary SQLite store, the table parsed back.

The check reads the values with the MLflow client itself and parses the Markdown with its own pattern, so it
does not reuse the command's formatter or its MLflow queries.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

MODELS = (
    "zoo:digits-lang-plain",
    "zoo:digits-lang-attend",
    "zoo:digits-lang-project",
    "zoo:digits-lang-random",
)
ROBUST = "robustness:digits?attacks=fgsm&eps=8/255&n=40"
ROW = re.compile(
    r"^\| T(?P<t>\d+): (?P<metric>[a-z -]+-1), n=(?P<n>\d+) \| `(?P<model>[^`]+)` \| [^|]+ \| "
    r"(?P<v>[\d.]+) \[(?P<lo>[\d.]+), (?P<hi>[\d.]+)\] \| (?P<delta>[^|]*) \| (?P<p>[^|]*) \| (?P<verdict>[^|]+) \|$",
    re.MULTILINE,
)
README = "# x\n\n## Does language help?\n\n<!-- language-table:start -->\nold\n<!-- language-table:end -->\n\nafter\n"


def _cli(*args: str) -> tuple[int, str, str]:
    """The real command line, in this process: (exit code, stdout, stderr)."""
    from visionbench.harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("language-table")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    run = ["run", *[a for m in MODELS for a in ("--model", m)], "--task", "digits", "--task", ROBUST]
    run += ["--limit", "150", "--bootstrap", "200", "--tracking-uri", uri, "--output", str(root / "runs")]
    code, _, err = _cli(*run, "--suite", "language-check", "--quiet", "--device", "cpu")
    assert code == 0, err[-3000:]
    readme = root / "README.md"
    readme.write_text(README, encoding="utf-8")
    table = ["language-table", "--tracking-uri", uri, "--output", str(root / "runs"), "--readme", str(readme)]
    table += ["--bootstrap", "200", "--suite", "language-check"]
    code, _, err = _cli(*table)
    assert code == 0, err[-3000:]
    return {"root": root, "uri": uri, "readme": readme, "argv": table}


def _mlflow_values(uri: str) -> dict[tuple[str, str], dict[str, float]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("language-check")
    out = {}
    for run in client.search_runs([experiment.experiment_id]):
        key = (run.data.tags["vb.task"], run.data.tags["vb.model"])
        assert key not in out, f"two runs of {key}"
        out[key] = run.data.metrics
    return out


def test_table_numbers_equal_mlflow(recorded: dict) -> None:
    text = recorded["readme"].read_text(encoding="utf-8")
    assert text.startswith("# x\n") and text.endswith("<!-- language-table:end -->\n\nafter\n")
    assert "\nold\n" not in text
    tasks = dict(re.findall(r"^- T(\d+): `([^`]+)`$", text, flags=re.MULTILINE))
    rows = [m.groupdict() for m in ROW.finditer(text)]
    assert len(rows) == 8, text
    logged = _mlflow_values(recorded["uri"])
    assert {tasks[r["t"]] for r in rows} == {"classification:digits", ROBUST}
    baseline: dict[str, float] = {}
    for row in rows:
        task = tasks[row["t"]]
        metrics = logged[(task, row["model"])]
        key = "robust_top1" if row["metric"] == "robust top-1" else "top1"
        assert (key == "robust_top1") == task.startswith("robustness:")
        for column, suffix in (("v", ""), ("lo", "_ci_low"), ("hi", "_ci_high")):
            assert abs(float(row[column]) - metrics[key + suffix]) <= 0.5e-4 + 1e-12, (row, key + suffix)
        if row["model"].endswith("-plain"):
            baseline[task] = metrics[key]
            assert row["delta"].strip() == "" and row["verdict"].strip() == "baseline"
            continue
        delta, low, high = (float(v) for v in re.findall(r"[+-][\d.]+", row["delta"]))
        assert abs(delta - (metrics[key] - baseline[task])) <= 0.5e-4 + 1e-12
        assert low <= delta + 1e-4 and delta - 1e-4 <= high
        verdict, p = row["verdict"].strip(), float(row["p"])
        assert (verdict in ("helps", "hurts")) == (p < 0.05), row
        if verdict != "no detectable difference":
            assert (verdict == "helps") == (delta > 0)
    assert int(rows[0]["n"]) == 150
    # the second table: each text-fused head against the random-vector control, again from MLflow's values
    versus = re.findall(r"^\| T(\d+) \| `([^`]+)` \| ([+-][\d.]+) \[([+-][\d.]+), ([+-][\d.]+)\] \| ([^|]+) \| ([^|]+) \|$",
                        text, flags=re.MULTILINE)  # fmt: skip
    assert sorted(v[1] for v in versus) == sorted(MODELS[1:3] * 2)
    for t, model, delta, low, high, p, verdict in versus:
        key = "top1" if tasks[t].startswith("classification:") else "robust_top1"
        expected = logged[(tasks[t], model)][key] - logged[(tasks[t], MODELS[3])][key]
        assert abs(float(delta) - expected) <= 0.5e-4 + 1e-12
        assert float(low) <= float(delta) + 1e-4 and float(delta) - 1e-4 <= float(high)
        assert (verdict.strip() in ("helps", "hurts")) == (float(p) < 0.05)


def test_paired_p_value_is_mcnemar_on_the_runs(recorded: dict) -> None:
    """The top-1 p-value equals scipy's exact binomial test on the two runs' stored per-sample predictions."""
    import pyarrow.parquet as pq
    from scipy.stats import binomtest

    text = recorded["readme"].read_text(encoding="utf-8")
    rows = {m["model"]: m for m in ROW.finditer(text) if m["metric"] == "top-1"}
    correct = {}
    for model in MODELS:
        folder = recorded["root"] / "runs" / "classification-digits" / model.replace(":", "-")
        [path] = list(folder.rglob("predictions.parquet"))
        table = pq.read_table(path).to_pandas().sort_values("sample_id")
        correct[model] = table["correct"].to_numpy().astype(bool)
        assert (correct[model] == (table["target"] == table["prediction"]).to_numpy()).all()
    for model in MODELS[1:]:
        a, b = correct[MODELS[0]], correct[model]
        k, n = int((~a & b).sum()), int((a != b).sum())
        expected = 1.0 if n == 0 else binomtest(k, n, 0.5).pvalue
        assert float(rows[model]["p"]) == pytest.approx(expected, rel=5e-3, abs=5e-4)


def test_check_flags_a_hand_edited_table(recorded: dict) -> None:
    assert _cli(*recorded["argv"], "--check")[0] == 0
    readme: Path = recorded["readme"]
    original = readme.read_text(encoding="utf-8")
    edited = re.sub(r"\| ([\d.]+) \[", lambda m: f"| {float(m[1]) - 0.01:.4f} [", original, count=1)
    readme.write_text(edited, encoding="utf-8")
    try:
        code, _, err = _cli(*recorded["argv"], "--check")
        assert code == 1 and "differs" in err
        assert readme.read_text(encoding="utf-8") == edited  # --check writes nothing
    finally:
        readme.write_text(original, encoding="utf-8")


def test_bad_input_is_named(recorded: dict, tmp_path: Path) -> None:
    bad = tmp_path / "NOTES.md"
    bad.write_text("no markers here\n", encoding="utf-8")
    argv = list(recorded["argv"])
    argv[argv.index("--readme") + 1] = str(bad)
    code, _, err = _cli(*argv)
    assert code == 2 and "NOTES.md" in err and "language-table:start" in err
    code, _, err = _cli(*recorded["argv"], "--bootstrap", "0")
    assert code == 2 and "--bootstrap" in err
    code, _, err = _cli(*recorded["argv"][:-2], "--suite", "no-such-experiment")
    assert code == 2 and "no-such-experiment" in err
