"""Efficiency fields and performance knobs of real CPU runs: channels-last, auto batch size, torch.compile."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

LIMIT = "96"


def _run(cli, *extra: str, model: str = "zoo:digits-cnn", task: str = "digits") -> tuple[dict, dict]:
    code, out, err = cli(
        "run", "--model", model, "--task", task, "--json", "--no-track", "--device", "cpu",
        "--bootstrap", "0", "--limit", LIMIT, *extra,
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    return result, json.loads(Path(result["record"]).read_text())


def test_every_efficiency_field_is_filled_and_labelled(workdir: Path, cli) -> None:
    from visionbench.declarations import EFFICIENCY
    from visionbench.harness.environment import _cpu_model

    _, record = _run(cli, "--batch-size", "32")
    eff, conditions = record["efficiency"], record["measurement"]
    for metric in EFFICIENCY:
        if metric.key != "compile_s":  # only a compiled run has a compile time
            assert eff[metric.key] is not None and math.isfinite(eff[metric.key]), metric.key
    assert eff["compile_s"] is None
    assert conditions["throughput"]["batch_size"] == 32 and conditions["throughput"]["resolution"] == [8, 8]
    assert (
        conditions["throughput"]["valid"] in (True, False) and len(conditions["throughput"]["repeats"]) == 3
    )
    assert conditions["latency_b1"]["iterations"] >= 3 * 20  # its own pass, at batch 1
    assert conditions["peak_mem"] == "cpu_rss_increase" and "2 FLOPs per multiply-add" in conditions["gflops"]
    assert 0 <= eff["data_loading_share"] <= 1 and eff["model_time_s"] <= eff["end_to_end_s"]
    assert eff["gflops"] > 0 and eff["params_m"] > 0
    hardware = record["environment"]["hardware_fingerprint"]
    assert hardware["cpu_model"] == _cpu_model() and hardware["torch_threads"] >= 1
    assert hardware["torch"] == record["environment"]["torch"]


def test_gflops_of_a_linear_model_match_a_hand_count(workdir: Path, cli) -> None:
    """digits-linear is one 64 -> 10 linear layer: 2 x 64 x 10 FLOPs per image (+ the bias, uncounted)."""
    _, record = _run(cli, model="zoo:digits-linear")
    assert record["efficiency"]["gflops"] == pytest.approx(2 * 64 * 10 / 1e9)
    assert record["efficiency"]["params_m"] == pytest.approx((64 * 10 + 10) / 1e6)


def test_gflops_are_counted_for_list_batched_detectors(workdir: Path, cli) -> None:
    """A detector fed a list of images gets GFLOPs too: those of its forward on the first image alone."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    from visionbench.adapters.pixels import ToPixels
    from visionbench.harness.runner import build_dataset
    from visionbench.harness.specs import parse_task_spec

    options = {"num_classes": 6, "min_size": 64, "max_size": 64}  # 5 shapes + background
    args = [a for k, v in options.items() for a in ("--model-arg", f"{k}={v}")]
    _, record = _run(
        cli,
        *args,
        "--batch-size",
        "2",
        "--limit",
        "4",
        model="torchvision:fasterrcnn_mobilenet_v3_large_320_fpn",
        task="shapes-detection",
    )
    gflops = record["efficiency"]["gflops"]
    assert gflops is not None and gflops > 0
    # the same network (the run seeds torch with 0 before building it) on the same first image
    image = build_dataset(parse_task_spec("shapes-detection")).load(0).image
    torch.manual_seed(0)
    net = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, **options).eval()
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        net([ToPixels(mode="RGB", divide=True)(image)])
    assert gflops == pytest.approx(counter.get_total_flops() / 1e9, rel=0.02)


def test_channels_last_and_auto_batch_size_are_recorded_and_keep_the_metrics(workdir: Path, cli) -> None:
    from visionbench.harness import autobatch

    plain, _ = _run(cli, "--batch-size", "32")
    result, record = _run(cli, "--batch-size", "auto", "--channels-last")
    env = record["environment"]
    assert env["channels_last"] is True and env["batch_size_requested"] == "auto"
    auto = record["measurement"]["batch_size_auto"]
    # the estimate's own inputs give the batch: half the available memory over the bytes of one image
    largest = int(autobatch.CPU_SHARE * auto["available_bytes"] // auto["activation_bytes_per_image"])
    assert auto["largest_estimated"] == largest
    assert env["batch_size"] == min(int(LIMIT), autobatch.CPU_CAP, 1 << (largest.bit_length() - 1))
    assert record["measurement"]["channels_last"] is True
    assert (
        record["identity"]["prediction"]
        != json.loads(Path(plain["record"]).read_text())["identity"]["prediction"]
    )
    assert result["metrics"]["top1"] == plain["metrics"]["top1"]


def test_auto_batch_size_on_cpu_never_plans_beyond_the_memory_it_sees(monkeypatch) -> None:
    """With little memory available the estimate shrinks the batch instead of letting the OOM killer decide."""
    from visionbench.harness import autobatch

    monkeypatch.setattr(autobatch, "available_bytes", lambda: 10 * 2**20)
    size, info = autobatch._cpu(lambda n: _alloc(n), item=None, cap=256)
    assert info["activation_bytes_per_image"] >= 2**20
    assert size * info["activation_bytes_per_image"] <= autobatch.CPU_SHARE * 10 * 2**20
    monkeypatch.setattr(autobatch, "available_bytes", lambda: 2**20)
    from visionbench.errors import ConfigError

    with pytest.raises(ConfigError, match="batch-size auto"):
        autobatch._cpu(lambda n: _alloc(n), item=None, cap=256)


def _alloc(n: int) -> None:
    import torch

    torch.zeros(n, 2**18)  # 1 MiB of float32 per image


@pytest.mark.slow
def test_compile_is_recorded_and_kept_out_of_throughput(workdir: Path, cli) -> None:
    from visionbench.harness.efficiency import compiler_available

    if compiler_available() is None:
        pytest.skip("torch.compile on CPU needs a C++ compiler")
    plain, _ = _run(cli, "--batch-size", "32", model="zoo:digits-linear")
    result, record = _run(cli, "--batch-size", "32", "--compile", model="zoo:digits-linear")
    eff = record["efficiency"]
    assert record["environment"]["compile"] is True and record["measurement"]["compile"] is True
    assert eff["compile_s"] > 0
    # the compile happened inside the evaluation pass, so it is in the end-to-end time, and the
    # model-only throughput (a separate timed pass after warm-up) is far faster than that
    assert eff["end_to_end_s"] > eff["compile_s"]
    assert eff["throughput_ips"] > 10 * eff["end_to_end_ips"]
    assert result["metrics"]["top1"] == plain["metrics"]["top1"]
