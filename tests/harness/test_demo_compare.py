"""``visionbench demo`` ends with a paired compare of two zoo models and a gate (plan cut to those two)."""

from __future__ import annotations

import pytest


def test_demo_prints_a_compare_and_a_gate(workdir, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from visionbench.harness import demo

    monkeypatch.setattr(
        demo, "demo_plan", lambda: [("zoo:digits-mlp", "digits"), ("zoo:digits-cnn", "digits")]
    )
    code, out, err = cli("demo", "--no-track", "--bootstrap", "0", "--quiet")
    assert code == 0, err
    compare = out.split("$ visionbench compare ", 1)[1]
    assert "B = zoo:digits-cnn vs A = zoo:digits-mlp (540 paired samples, 2000 paired resamples)" in compare
    assert "top1 " in compare and "(mcnemar-exact)" in compare and "f1_macro" in compare
    gate = out.split("$ visionbench gate --baseline ", 1)[1]
    assert "gate: PASS (exit 0) zoo:digits-cnn vs baseline zoo:digits-mlp on classification:digits" in gate
