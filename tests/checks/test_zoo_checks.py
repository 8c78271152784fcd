"""Every zoo model, on a few samples of the task it was built for, passes every trust check."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionbench.checks.parity import golden_path


def zoo_pairs() -> list[tuple[str, str]]:
    from visionbench.harness.demo import demo_plan

    return [(model, task) for model, task in demo_plan() if not task.startswith("robustness:")]


def checks_of(model: str, task_spec: str, samples: int = 24) -> dict:
    """The checks of ``model`` on the first ``samples`` samples: the probe, then a plain prediction
    loop (transform, collate, predict, update: the runner's steps without its timing passes), then
    the result checks on the computed metrics with their bootstrap intervals."""
    from visionbench.checks import RunChecks
    from visionbench.checks.probe import predict
    from visionbench.contracts import ImageMeta
    from visionbench.harness.runner import build_adapter, build_task
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec
    from visionbench.harness.statistics import add_task_intervals

    run = RunSpec(parse_model_spec(model), parse_task_spec(task_spec), "cpu", "fp32", 12, samples)
    task = build_task(run.task)
    adapter = build_adapter(run, task.kind)
    adapter.prepare(task.info(), device="cpu", precision="fp32")
    checks = RunChecks(adapter, task, device="cpu", precision="fp32")
    checks.probe()
    for start in range(0, min(samples, len(task.dataset)), 12):
        loaded = [(i, task.dataset.load(i)) for i in range(start, min(start + 12, samples))]
        metas = [ImageMeta(i, s.sample_id, *s.image.size) for i, s in loaded]
        predictions = predict(adapter, [s.image for _, s in loaded], metas, "fp32", "cpu")
        task.update(
            [m.index for m in metas], predictions, [s.target for _, s in loaded], [m.sample_id for m in metas]
        )
    result = task.compute()
    add_task_intervals(task, result.metrics, reps=100, seed=0)
    return checks.finish(result)


@pytest.mark.parametrize(("model", "task"), zoo_pairs())
def test_zoo_model_has_no_findings(model: str, task: str) -> None:
    from visionbench.zoo.catalog import ZOO

    entry = ZOO[model.removeprefix("zoo:")]
    assert golden_path(model, entry.kind).is_file(), f"no committed golden file for {model}"
    checks = checks_of(model, task)
    assert checks["findings"] == [], checks["findings"]
    assert checks["worst"] == "ok"
    ran = set(checks["results"])
    assert {
        "image_dependence",
        "output_schema",
        "batch_invariance",
        "preprocessing_parity",
        "model_metadata",
    } <= ran
    assert checks["results"]["preprocessing_parity"]["identical"] == 3
    if entry.kind in ("classification", "segmentation", "detection"):
        assert "chance_level" in ran and "mapping" in checks["results"]["label_space"]


def test_a_full_run_records_the_same_checks(tmp_path: Path) -> None:
    """The runner's own checks of a zoo model: none, in the record, beside unchanged metrics."""
    import visionbench

    record = visionbench.evaluate(
        "zoo:shapes-centernet-tiny", "detection:shapes", output=tmp_path, track=False, bootstrap=50, limit=12
    )
    assert record["checks"]["findings"] == [] and record["checks"]["seconds"] > 0
    assert record["checks"]["results"]["output_schema"]["boxes"] > 0


def test_check_command_prints_the_mapping_and_writes_golden(cli, tmp_path: Path) -> None:
    """The real command: --write-golden into a folder, then the checks read it back (identical pack)."""
    import json

    code, out, err = cli(
        "check", "--model", "zoo:digits-mlp", "--task", "digits", "--samples", "48",
        "--golden-dir", str(tmp_path), "--write-golden", "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["samples"] == 48 and report["golden_written"] == str(
        golden_path("zoo:digits-mlp", "classification", tmp_path)
    )
    assert report["checks"]["worst"] == "ok"
    assert report["checks"]["results"]["preprocessing_parity"]["identical"] == 3
    assert report["checks"]["results"]["label_space"]["mapping"]["7"] == ["7"]
    code, out, _ = cli("check", "--model", "zoo:digits-mlp", "--task", "digits", "--samples", "24")
    assert code == 0 and "label space (position): dataset class -> model class" in out and "  3 -> 3" in out


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--samples", "0"], "--samples"),
        (["--golden-dir", __file__], "--golden-dir"),
    ],
)
def test_check_command_names_bad_options(cli, args: list[str], named: str) -> None:
    code, _, err = cli("check", "--model", "zoo:digits-mlp", "--task", "digits", *args)
    assert code == 2 and named in err


def test_error_finding_fails_the_check_command(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit status 1 when a check finds an error (a model that ignores its input)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    code, out, _ = cli(
        "check", "--model", "callable:vbtest_broken_models:IgnoresInput", "--task", "digits",
        "--model-arg", "classes=[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]",
        "--samples", "32", "--golden-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 1
    assert "[error] image_dependence: the model's outputs do not depend on the image" in out
    assert "[warning] model_metadata" in out


@pytest.mark.parametrize("spec", ["torchvision:resnet18", "timm:resnet18"])
def test_builtin_family_transforms_match_their_golden_files(spec: str) -> None:
    """The committed golden files of the library presets (no weights): a library upgrade shows here."""
    from visionbench.checks import CheckReport
    from visionbench.checks.parity import check_parity
    from visionbench.harness.specs import parse_model_spec
    from visionbench.registry import build_adapter

    adapter = build_adapter(parse_model_spec(spec), "classification")
    report = CheckReport()
    check_parity(adapter, "classification", report)
    assert report.findings == [], report.findings
    assert report.results["preprocessing_parity"]["identical"] == 3
