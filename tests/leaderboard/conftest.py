"""Seeded stores for the leaderboard tests: synthetic records of every task kind logged through
``tracking.log_record``, plus one real evaluation of ``zoo:digits-linear`` so the failure gallery has
real predictions. Built once per session; each test points the app at it through the environment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "visionbench" / "leaderboard" / "app.py"
EVIL = "<script>alert(1)</script>"
GALLERY_RUNS = (("zoo:shapes-centernet-tiny", "detection:shapes"), ("zoo:shapes-fcn", "segmentation:shapes"))


@dataclass(frozen=True)
class Store:
    uri: str  # sqlite tracking URI
    runs: Path  # the results folder holding every run folder (static mode source)
    real_model: str  # spec of the really evaluated model


def synthetic_set() -> list[tuple[dict, bool]]:
    """(record, add PR curves) for a few models on every kind, with and without intervals.

    gamma-net has an older run on the same configuration (seed 0 is the earliest), which the
    leaderboard hides unless every run is asked for.
    """
    from visionbench.leaderboard.synthetic import synthetic_record as rec

    gpu = "NVIDIA H100"
    # fmt: off
    return [
        (rec("zoo:alpha", "classification", name="alpha-net", headline=0.95, ci=0.02, throughput=900, latency_ms=4, seed=1), False),
        (rec("zoo:beta", "classification", name="beta-net", headline=0.94, ci=0.02, throughput=1500, latency_ms=2, seed=2,
             licence="Apache-2.0"), False),
        (rec("zoo:gamma", "classification", name="gamma-net", headline=0.75, ci=0.02, throughput=380, latency_ms=9, seed=0), False),
        (rec("zoo:gamma", "classification", name="gamma-net", headline=0.80, ci=0.02, throughput=400, latency_ms=9, seed=3), False),
        (rec("callable:evil:factory", "classification", name=EVIL, family="callable", headline=0.50, ci=None, throughput=100,
             seed=4), False),
        (rec("zoo:alpha", "classification", name="alpha-net", headline=0.951, ci=0.02, hardware=gpu, precision="fp16",
             throughput=20000, latency_ms=0.5, seed=5), False),
        (rec("zoo:alpha", "detection", name="alpha-net", headline=0.61, ci=None, throughput=300, seed=6), True),
        (rec("hf:detr", "detection", name="detr", family="hf", headline=0.55, ci=None, throughput=120, licence="Apache-2.0",
             seed=7), True),
        (rec("zoo:alpha", "segmentation", name="alpha-net", headline=0.70, ci=0.03, throughput=200, seed=8), False),
        (rec("zoo:beta", "segmentation", name="beta-net", headline=0.68, ci=0.03, throughput=250, seed=9), False),
        (rec("zoo:alpha", "captioning", name="alpha-net", headline=0.90, ci=0.05, throughput=50, seed=10), False),
        (rec("zoo:beta", "robustness", name="beta-net", headline=0.93, ci=0.02, throughput=800, seed=11), False),
    ]
    # fmt: on


def write_pr_curves(directory: Path, record: dict) -> None:
    curves = {
        cls: {"recall": [0.0, 0.5, 1.0], "precision": [1.0, 0.8, 0.3]} for cls in record["task"]["classes"]
    }
    (directory / "pr_curves.json").write_text(json.dumps(curves))
    record["artifacts"]["pr_curves_json"] = "pr_curves.json"


@pytest.fixture(scope="session")
def zoo_weights(tmp_path_factory: pytest.TempPathFactory):
    """The committed zoo weights, or (when a checkout lacks them) digits-linear trained into a temporary folder."""
    from visionbench.zoo import catalog

    if catalog.weights_path("digits-linear").is_file():
        yield catalog.WEIGHTS_DIR
        return
    from visionbench.zoo.train import main as train

    out = tmp_path_factory.mktemp("zoo-weights")
    for name in ("digits-linear", "shapes-centernet-tiny", "shapes-fcn"):
        assert train(["--only", name, "--out", str(out), "--quiet"]) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catalog, "WEIGHTS_DIR", out)
        yield out


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory, zoo_weights: Path) -> Store:
    from visionbench.harness.record import run_dir
    from visionbench.harness.runner import execute
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec
    from visionbench.harness.tracking import log_record
    from visionbench.leaderboard.synthetic import write_run_folder

    root = tmp_path_factory.mktemp("leaderboard-store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    runs = root / "runs"
    for record, pr in synthetic_set():
        superseded = record["created_at"].startswith("2025-01-01T00:00")  # seed 0: keeps a folder of its own
        base = runs / "history" if superseded else runs
        directory = run_dir(
            base, record["task"]["id"], record["model"]["spec"], record["environment"]["precision"]
        )
        directory.mkdir(parents=True, exist_ok=True)
        if pr:
            write_pr_curves(directory, record)
        write_run_folder(record, directory)
        assert log_record(record, directory, uri)["status"] == "logged"
    spec = RunSpec(parse_model_spec("zoo:digits-linear"), parse_task_spec("digits"), "cpu", limit=100)
    outcome = execute(spec, output=runs, tracking_uri=uri, quiet=True, bootstrap_reps=200)
    assert outcome.record["tracking"]["status"] == "logged"
    for model, task in GALLERY_RUNS:  # real pictures for the detection and segmentation galleries
        spec = RunSpec(parse_model_spec(model), parse_task_spec(task), "cpu", limit=12)
        assert execute(spec, output=runs, tracking_uri=uri, quiet=True, bootstrap_reps=20).record
    return Store(uri=uri, runs=runs, real_model="zoo:digits-linear")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Point the app at a source (and a private summary cache); returns a function making a fresh AppTest."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VISIONBENCH_CACHE_DIR", str(tmp_path / "cache"))

    def make(source: str) -> AppTest:
        import streamlit as st

        st.cache_data.clear()
        monkeypatch.setenv("VISIONBENCH_LEADERBOARD_SOURCE", source)
        return AppTest.from_file(str(APP), default_timeout=120)

    return make
