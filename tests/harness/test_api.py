"""The Python API: ``visionbench.evaluate`` on an in-memory module equals ``visionbench run`` on a callable spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MODULE = """
def build():
    from visionbench.zoo.catalog import load_model

    return load_model("digits-cnn")
"""


def test_evaluate_module_equals_callable_spec(workdir: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import visionbench
    from visionbench.zoo.catalog import DIGITS_PREPROCESS, load_model

    (workdir / "vb_api_models.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(workdir))
    code, out, err = cli(
        "run", "--model", "callable:vb_api_models:build", "--model-arg", f"preprocess={json.dumps(DIGITS_PREPROCESS)}",
        "--task", "digits", "--json", "--no-track", "--output", "cli", "--bootstrap", "300",
    )  # fmt: skip
    assert code == 0, err
    from_cli = json.loads(out)
    module = load_model("digits-cnn")
    record = visionbench.evaluate(
        module, "digits", preprocess=DIGITS_PREPROCESS, output="api", track=False, bootstrap=300
    )
    assert record["metrics"] == from_cli["metrics"]
    assert record["metrics"]["top1"] > 0.95  # the zoo CNN, not a random model
    cli_record = visionbench.load_run(Path(from_cli["record"]).parent)
    # the same weights and preprocessing, whatever the model's name
    assert record["model"]["fingerprint"] == cli_record["model"]["fingerprint"]
    assert record["model"]["preprocess"] == cli_record["model"]["preprocess"]
    components = record["identity"]["components"]
    assert components["dataset_fingerprint"] == cli_record["identity"]["components"]["dataset_fingerprint"]
    assert record["model"]["spec"].startswith("object:")
    assert Path(record["artifacts"]["predictions"]).name == "predictions.parquet"


def test_evaluate_a_dataset_object(workdir: Path) -> None:
    import visionbench
    from visionbench.registry import dataset_factory
    from visionbench.zoo.catalog import DIGITS_PREPROCESS, load_model

    dataset = dataset_factory("classification", "digits")(None)
    record = visionbench.evaluate(
        load_model("digits-mlp"), dataset, preprocess=DIGITS_PREPROCESS, output="api", track=False, limit=50
    )
    assert record["task"]["num_samples"] == 50
    assert record["task"]["kind"] == "classification"
    assert 0.8 <= record["metrics"]["top1"] <= 1.0


def test_evaluate_rejects_bad_options(workdir: Path) -> None:
    import visionbench
    from visionbench.errors import ConfigError

    with pytest.raises(ConfigError, match="batch_size"):
        visionbench.evaluate("zoo:digits-mlp", "digits", batch_size=0, track=False)
    with pytest.raises(ConfigError, match="task must be"):
        visionbench.evaluate("zoo:digits-mlp", 42, track=False)
