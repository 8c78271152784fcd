"""The timing protocol: warm-up, minimum iterations and seconds, repeats, spread and validity; memory sampling."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest

from visionbench.harness import timing

SEED = int(os.environ.get("VB_TEST_SEED", random.randrange(2**31)))


def test_protocol_runs_warmup_then_repeats_of_min_iters_and_min_seconds() -> None:
    calls: list[float] = []

    def step() -> None:
        calls.append(time.perf_counter())
        time.sleep(0.002)

    protocol = timing.Protocol(warmup=3, min_iters=4, min_seconds=0.03, repeats=2, max_spread=10.0)
    out = timing.run_protocol(step, "cpu", protocol)
    assert len(out.seconds) == 2
    for repeat in out.seconds:
        assert len(repeat) >= 4 and sum(repeat) >= 0.03
        assert all(s >= 0.002 for s in repeat)  # each timed call includes the step's own sleep
    assert len(calls) == 3 + sum(len(r) for r in out.seconds)  # warm-up calls are run, not timed


def test_summary_is_the_median_rate_with_spread_and_validity() -> None:
    print(f"VB_TEST_SEED={SEED}")
    rng = np.random.default_rng(SEED)
    seconds = [list(rng.uniform(0.01, 0.02, size=rng.integers(3, 9))) for _ in range(5)]
    protocol = timing.Protocol(repeats=5, max_spread=0.1)
    summary = timing.Repeats(protocol, seconds).summary(items_per_iter=32)
    rates = [32 * len(r) / sum(r) for r in seconds]  # images per second of each repeat, by hand
    assert summary["rate"] == pytest.approx(sorted(rates)[2])
    assert summary["repeats"] == pytest.approx(rates)
    assert summary["spread"] == pytest.approx((max(rates) - min(rates)) / sorted(rates)[2])
    assert summary["valid"] is (summary["spread"] <= 0.1)
    steady = timing.Repeats(protocol, [[0.01] * 4] * 5).summary(8)
    assert steady["spread"] == 0 and steady["valid"] is True and steady["rate"] == pytest.approx(800)
    wide = timing.Repeats(protocol, [[0.01] * 4] * 4 + [[0.03] * 4]).summary(8)
    assert wide["valid"] is False


def test_percentiles_are_over_every_timed_call() -> None:
    seconds = [[0.001 * (i + 1) for i in range(50)], [0.001 * (i + 51) for i in range(50)]]
    out = timing.Repeats(timing.Protocol(), seconds).percentiles_ms()
    flat = np.arange(1, 101, dtype=float)
    assert out["p50"] == pytest.approx(np.percentile(flat, 50))
    assert out["p99"] == pytest.approx(np.percentile(flat, 99))


def test_evaluation_pass_batches_become_repeats_only_when_they_meet_the_protocol() -> None:
    protocol = timing.Protocol(warmup=2, min_iters=3, min_seconds=0.05, repeats=3)
    batches = [1.0, 0.5] + [0.02] * 10
    split = timing.split_repeats(batches, protocol)
    assert split is not None and [len(r) for r in split.seconds] == [3, 3, 4]
    assert all(s == 0.02 for r in split.seconds for s in r)  # the two warm-up batches are left out
    assert timing.split_repeats([0.02] * 10, protocol) is None  # 8 steady batches: fewer than 3 x 3
    assert timing.split_repeats([0.001] * 20, protocol) is None  # too few seconds per repeat


def test_meter_counts_data_waits_and_keeps_a_full_batch() -> None:
    meter = timing.ThroughputMeter("cpu")

    def slow_loader():
        for size in (4, 4, 2):
            time.sleep(0.01)
            yield size

    for size in meter.iterate(slow_loader()):
        meter.hold(f"batch{size}", list(range(size)), 4)
        meter.time_call(lambda: time.sleep(0.001), size)
    assert meter.data_seconds >= 0.03 and meter.wall_seconds >= meter.data_seconds + 0.003
    assert meter.held[0] == "batch4" and meter.full_batch_seconds(4) == meter.batch_seconds[:2]


_SAMPLER_PROBE = """
import time
import numpy as np
from visionbench.harness import timing
sampler = timing.MemorySampler(interval=0.002).start()
block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
deadline = time.monotonic() + 10  # the sampling thread must run while the block is alive
while sampler.peak - sampler.baseline < 56 * 2**20 and time.monotonic() < deadline:
    time.sleep(0.01)
del block
grown = sampler.stop()
again = timing.MemorySampler(interval=0.002).start()
print(grown, again.stop())
"""


def test_memory_sampler_sees_an_allocation_made_during_the_run() -> None:
    # a fresh interpreter: in a long test process the allocator may hand back pages that are
    # already resident (freed by earlier tests), which no resident-memory measure can see
    done = subprocess.run([sys.executable, "-c", _SAMPLER_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    grown, again = (float(v) for v in done.stdout.split())
    assert 56 <= grown <= 64 + 48, grown  # the block, not the interpreter's earlier memory
    assert again < 16  # a new run starts from the memory the process holds now


def test_a_slow_step_stops_at_the_time_budget_and_says_so() -> None:
    protocol = timing.Protocol(warmup=0, min_iters=50, min_seconds=0.0, repeats=2, max_seconds=0.04)
    out = timing.run_protocol(lambda: time.sleep(0.01), "cpu", protocol)
    assert out.capped and all(1 <= len(r) < 50 for r in out.seconds)
    assert out.summary(1)["capped"] is True
