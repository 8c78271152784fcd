"""ONNX models get the black-box Square attack only; attacks run in fp32 whatever the run's precision."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from rb_helpers import DIGITS_MEAN, DIGITS_STD, reference_model, run_robustness

from visionbench.errors import ConfigError


def test_onnx_gets_square_only_and_is_marked_black_box(tmp_path, test_seed) -> None:
    pytest.importorskip("onnxruntime")
    net = reference_model("digits-linear").net
    path = tmp_path / "digits.onnx"
    torch.onnx.export(net, torch.zeros(1, 1, 8, 8), str(path), input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)  # fmt: skip
    from visionbench.harness.runner import execute
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

    options = {
        "mode": "L",
        "size": [8, 8],
        "mean": [DIGITS_MEAN],
        "std": [DIGITS_STD],
        "classes": list("0123456789"),
    }
    run = RunSpec(
        parse_model_spec(f"onnx:{path}", options=options),
        parse_task_spec(f"robustness:digits?attacks=pgd,autoattack&eps=0.3&n=16&seed={test_seed}"),
        device="cpu",
    )
    outcome = execute(run, output=tmp_path / "runs", track=False, quiet=True, bootstrap_reps=20)
    scoring = outcome.record["task"]["scoring"]
    assert scoring["mode"] == "black-box"
    assert any(n.startswith("black-box") for n in scoring["notes"])
    metrics = outcome.record["metrics"]
    assert [k for k in metrics if k.startswith("robust_top1/") and k.count("/") == 3] == [
        "robust_top1/square/linf/0.3"
    ]
    assert metrics["robust_top1"] < metrics["clean_top1"]  # Square finds adversarial digits at eps 0.3
    frame = pd.read_parquet(outcome.directory / "predictions.parquet")
    assert "square/linf/0.3" in frame.columns and "pgd/linf/0.3" not in frame.columns


def test_attacks_run_in_fp32_under_a_bf16_run(tmp_path, monkeypatch, test_seed) -> None:
    from visionbench.robustness import attacks as atk

    seen = []
    real = atk.ATTACKS["pgd"]

    def spy(ctx, x, y, eps, seed):
        seen.append((x.dtype, torch.is_autocast_enabled("cpu"), torch.is_inference_mode_enabled()))
        return real(ctx, x, y, eps, seed)

    monkeypatch.setitem(atk.ATTACKS, "pgd", spy)
    task = f"robustness:digits?attacks=pgd&eps=0.1&n=32&seed={test_seed}&checks=false"
    bf16 = run_robustness("zoo:digits-cnn", task, tmp_path / "bf16", precision="bf16")
    fp32 = run_robustness("zoo:digits-cnn", task, tmp_path / "fp32")
    assert seen and all(s == (torch.float32, False, False) for s in seen)
    assert bf16.record["task"]["scoring"]["budget"]["attack_precision"] == "fp32"
    assert (
        bf16.record["metrics"]["robust_top1/pgd/linf/0.1"]
        == fp32.record["metrics"]["robust_top1/pgd/linf/0.1"]
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("attacks=pgd,autoatack", "unknown attack 'autoatack'"),
        ("eps=8/0", "not a number or a fraction"),
        ("eps=2", "Linf radii are in"),
        ("norm=L2&attacks=fgsm", "FGSM is an Linf attack"),
        ("corruptions=fogg", "unknown corruption 'fogg'"),
        ("severities=0-3", "severities are integers 1..5"),
        ("steps=0", "steps"),
        ("colour=red", "colour"),
    ],
)
def test_bad_options_are_named(options, message) -> None:
    from visionbench.harness.runner import build_dataset
    from visionbench.harness.specs import parse_task_spec

    with pytest.raises(ConfigError, match=message):
        build_dataset(parse_task_spec(f"robustness:digits?{options}"))


def test_eps_keys_and_presets() -> None:
    from visionbench.robustness.options import eps_key, parse_plan

    assert [eps_key(e) for e in (8 / 255, 2 / 255, 4 / 255, 0.5, 1.0)] == [
        "0.03137",
        "0.007843",
        "0.01569",
        "0.5",
        "1",
    ]
    assert parse_plan({"eps": "2/255,8/255"}).eps == (2 / 255, 8 / 255)
    assert parse_plan({}).with_preset(8, 8).eps == (8 / 255,)
    assert parse_plan({}).with_preset(224, 224).eps == (4 / 255,)
    assert parse_plan({"norm": "L2"}).with_preset(224, 224).eps == (0.5,)
    assert json.dumps(parse_plan({"attacks": "none"}).describe())
    assert np.isclose(parse_plan({"eps": "0.1"}).eps[0], 0.1)
