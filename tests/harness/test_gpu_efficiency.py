"""Efficiency on CUDA: CUDA-event timing, CUDA peak memory, auto batch size by out-of-memory back-off, compile."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _run(cli, *extra: str) -> dict:
    code, out, err = cli(
        "run", "--model", "zoo:digits-cnn", "--task", "digits", "--json", "--no-track", "--device", "cuda",
        "--bootstrap", "0", *extra,
    )  # fmt: skip
    assert code == 0, err
    return json.loads(Path(json.loads(out)["record"]).read_text())


def test_cuda_run_is_timed_with_events_and_reports_cuda_memory(workdir: Path, cli) -> None:
    record = _run(cli, "--batch-size", "64")
    conditions, eff = record["measurement"], record["efficiency"]
    assert conditions["timer"] == "cuda events" and conditions["peak_mem"] == "cuda_max_allocated"
    assert conditions["throughput"]["source"].startswith("timed pass")  # on a GPU always the timed pass
    assert eff["peak_mem_mb"] > 0 and math.isfinite(eff["latency_ms_b1_p50"])
    hardware = record["environment"]["hardware_fingerprint"]
    assert hardware["gpu_model"] == torch.cuda.get_device_name() and hardware["cuda"] == torch.version.cuda


def test_auto_batch_size_backs_off_on_cuda_out_of_memory(workdir: Path, cli) -> None:
    record = _run(cli, "--batch-size", "auto", "--limit", "300")
    auto = record["measurement"]["batch_size_auto"]
    assert record["environment"]["batch_size"] == 300  # a tiny CNN fits the whole capped batch
    assert all(t["fits"] for t in auto["tried"]) and auto["cap"] == 300


def test_compile_and_channels_last_on_cuda_keep_top1(workdir: Path, cli) -> None:
    plain = _run(cli, "--batch-size", "64")
    tuned = _run(cli, "--batch-size", "64", "--compile", "--channels-last")
    assert tuned["environment"]["compile"] and tuned["environment"]["channels_last"]
    assert tuned["efficiency"]["compile_s"] > 0
    assert abs(tuned["metrics"]["top1"] - plain["metrics"]["top1"]) <= 2 / 540  # rounding may flip one or two
