"""Efficiency figures read with their units and conditions (per image or per batch, which memory)."""

from __future__ import annotations

import math

import pytest

from visionbench.leaderboard import units


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1_530_000, "1.53 M img/s"),
        (912.4, "912 img/s"),
        (12_345, "12.3 k img/s"),
        (2.5e9, "2.5 G img/s"),
        (0.5, "0.5 img/s"),
        (float("nan"), units.MISSING),
        (None, units.MISSING),
        ("x", units.MISSING),
    ],
)
def test_throughput_is_readable(value, text) -> None:
    assert units.throughput(value) == text


def test_each_efficiency_key_has_its_unit() -> None:
    assert units.format_value("latency_ms_b1_p50", 0.1234) == "0.123 ms"
    assert units.format_value("latency_ms_p99", 1500) == "1.5 s"
    assert units.format_value("peak_mem_mb", 350.4) == "350 MiB"
    assert units.format_value("peak_mem_mb", 2048) == "2 GiB"
    assert units.format_value("params_m", 11.69) == "11.7 M params"
    assert units.format_value("gflops", 3.6364) == "3.64 GFLOPs"
    assert units.format_value("data_loading_share", 0.125) == "12.5 %"
    assert units.format_value("compile_s", 41.23) == "41.2 s"
    assert units.format_value("end_to_end_ips", 2000) == "2 k img/s"
    with pytest.raises(KeyError):
        units.format_value("top1", 0.5)


def test_the_dashboard_formatter_uses_these_units() -> None:
    from visionbench.leaderboard import fmt

    assert fmt.efficiency("throughput_ips", 1_530_000) == "1.53 M img/s"
    assert fmt.efficiency("peak_mem_mb", math.nan) == fmt.MISSING


def test_latency_says_per_image_or_per_batch() -> None:
    assert units.latency_label("latency_ms_b1_p90") == "latency p90 per image (batch 1)"
    assert units.latency_label("latency_ms_p50", 64) == "latency p50 per batch of 64"
    assert units.latency_label("latency_ms_p99", None) == "latency p99 per batch"
    assert units.column_label("latency_ms_p50", {"batch_size": 32.0}) == "latency p50 per batch of 32"


def test_memory_says_which_kind() -> None:
    assert units.column_label("peak_mem_mb", {"peak_mem_kind": "cuda_max_allocated"}) == (
        "peak CUDA memory allocated"
    )
    assert "RSS" in units.column_label("peak_mem_mb", {"peak_mem_kind": "cpu_rss_increase"})
    assert "not recorded" in units.column_label("peak_mem_mb", {})  # records written before the kind existed


def test_conditions_name_batch_resolution_precision_knobs_and_hardware() -> None:
    row = {
        "batch_size": 256.0,
        "resolution": "224x224",
        "precision": "bf16",
        "knobs": "channels-last,compiled",
        "hardware": "NVIDIA H100",
    }
    assert units.conditions(row) == "batch 256 · 224×224 · bf16 · channels-last · compiled · NVIDIA H100"
    assert units.conditions({"batch_size": None, "precision": "fp32"}) == "fp32"
    assert units.conditions({}) == units.MISSING
    assert units.resolution([32, 48]) == "32×48"


def test_a_run_record_carries_the_condition_columns(tmp_path) -> None:
    """A real run's leaderboard row has the columns the labels read."""
    from visionbench.harness.api import evaluate
    from visionbench.harness.record import row_from_record

    record = evaluate(
        "zoo:digits-linear", "digits", limit=64, batch_size=16, output=tmp_path, track=False, bootstrap=0
    )
    row = row_from_record(record, tmp_path / "record.json")
    assert row["resolution"] == "8x8" and row["peak_mem_kind"] == "cpu_rss_increase" and row["knobs"] == ""
    assert units.conditions(row).startswith("batch 16 · 8×8 · fp32 · cpu")
    assert units.column_label("throughput_ips", row) == "throughput, model only (batch 16)"
