"""pytest plugin (entry point ``pytest11``): gate a model against a baseline run inside a test.

The fixture ``visionbench_gate`` evaluates a model (a spec string such as ``zoo:digits-cnn`` or an
in-memory module, through :func:`visionbench.evaluate`) and gates the run against a baseline run
folder with the same rules as ``visionbench gate``. A verdict other than ``pass`` fails the test,
with the gate's Markdown summary as the message::

    def test_model_does_not_regress(visionbench_gate):
        visionbench_gate(build_model(), "digits", baseline="results/baselines/digits/...",
                         rules="gate.yaml", preprocess=DIGITS_PREPROCESS)

Only pytest is imported at load time: the plugin is loaded by every pytest run in the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def evaluate_and_gate(
    model: Any,
    task: Any,
    *,
    baseline: str | Path,
    output: str | Path,
    rules: str | Path | dict[str, Any] | None = None,
    resamples: int = 2000,
    seed: int = 0,
    **evaluate_kwargs: Any,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``task`` into ``output`` (no MLflow) and return the gate report against ``baseline``."""
    from visionbench.harness.api import evaluate
    from visionbench.harness.compare import load
    from visionbench.harness.gate import gate_runs, read_rules
    from visionbench.harness.store import index_key, read_index

    record = evaluate(model, task, output=output, track=False, **evaluate_kwargs)
    key = index_key(record["task"]["id"], record["model"]["spec"], record["environment"]["precision"])
    candidate = Path(output) / read_index(Path(output))[key]
    loaded_rules = rules if isinstance(rules, dict) else read_rules(rules)
    return gate_runs(load(baseline), load(candidate), loaded_rules, resamples=resamples, seed=seed)


@pytest.fixture
def visionbench_gate(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``gate(model, task, baseline=..., rules=None, **evaluate_kwargs) -> report``; fails the test unless it passes."""

    def gate(model: Any, task: Any, *, baseline: str | Path, **kwargs: Any) -> dict[str, Any]:
        from visionbench.harness.gate_report import gate_markdown

        output = kwargs.pop("output", None) or tmp_path_factory.mktemp("visionbench-gate")
        report = evaluate_and_gate(model, task, baseline=baseline, output=output, **kwargs)
        if report["verdict"] != "pass":
            pytest.fail(gate_markdown(report), pytrace=False)
        return report

    return gate
