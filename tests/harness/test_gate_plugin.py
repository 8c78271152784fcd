"""The ``visionbench_gate`` pytest fixture (entry point ``pytest11``), driven through ``pytester``."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TEST_FILE = """
import torch

from visionbench.zoo.catalog import DIGITS_PREPROCESS, load_model

BASELINE = {baseline!r}
RULES = {{"classification": {{"metrics": {{"top1": {{"margin": 0.015}}}}}}}}


def model(shift):
    m = load_model("digits-mlp")
    with torch.no_grad():
        [l for l in m.modules() if isinstance(l, torch.nn.Linear)][-1].bias[3] += shift
    return m


def test_unchanged_model_passes(visionbench_gate):
    report = visionbench_gate(model(0.0), "digits", baseline=BASELINE, rules=RULES,
                              preprocess=DIGITS_PREPROCESS, bootstrap=0, resamples=500)
    assert report["verdict"] == "pass"


def test_degraded_model_fails(visionbench_gate):
    visionbench_gate(model(7.5), "digits", baseline=BASELINE, rules=RULES,
                     preprocess=DIGITS_PREPROCESS, bootstrap=0, resamples=500)
"""


def test_fixture_fails_the_degraded_model_and_passes_the_unchanged_one(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    import visionbench
    from visionbench.harness.store import read_index

    out = tmp_path / "baseline"
    visionbench.evaluate("zoo:digits-mlp", "digits", output=out, track=False, bootstrap=0)
    baseline = out / next(iter(read_index(out).values()))
    pytester.makepyfile(test_gated=TEST_FILE.format(baseline=str(baseline)))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*visionbench gate: FAIL*", "*| top1 | 0.9833 |*fail*"])
    assert "def gate(" not in result.stdout.str()
