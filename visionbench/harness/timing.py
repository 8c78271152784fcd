"""Throughput, latency, memory and model-size measurements taken during a run.

Throughput counts only the model call (``adapter.predict``), after ``warmup`` batches,
with the device synchronised before each clock read; data loading is excluded.
Latency percentiles are per batch at the run's batch size.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))
    elif device == "mps":
        torch.mps.synchronize()


@dataclass
class ThroughputMeter:
    device: str
    warmup: int = 1
    batch_seconds: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)

    def time_call(self, fn: Any, batch_size: int) -> Any:
        synchronize(self.device)
        start = time.perf_counter()
        out = fn()
        synchronize(self.device)
        self.batch_seconds.append(time.perf_counter() - start)
        self.batch_sizes.append(batch_size)
        return out

    def summary(self) -> dict[str, float]:
        seconds = np.asarray(self.batch_seconds, dtype=np.float64)
        sizes = np.asarray(self.batch_sizes, dtype=np.float64)
        if len(seconds) > self.warmup:
            seconds, sizes = seconds[self.warmup :], sizes[self.warmup :]
        if not len(seconds) or seconds.sum() <= 0:
            return {
                "throughput_ips": float("nan"),
                "latency_ms_p50": float("nan"),
                "latency_ms_p90": float("nan"),
                "latency_ms_p99": float("nan"),
            }
        ms = seconds * 1000.0
        return {
            "throughput_ips": float(sizes.sum() / seconds.sum()),
            "latency_ms_p50": float(np.percentile(ms, 50)),
            "latency_ms_p90": float(np.percentile(ms, 90)),
            "latency_ms_p99": float(np.percentile(ms, 99)),
        }


def reset_peak_memory(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak_memory_mb(device: str) -> float:
    """Peak device memory on CUDA; peak resident set size of the process on CPU."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def count_params_m(module: Any) -> float:
    if module is None:
        return float("nan")
    return sum(p.numel() for p in module.parameters()) / 1e6


def gflops_per_image(module: Any, example: Any) -> float:
    """Forward FLOPs for one sample via torch's FlopCounterMode (NaN when it cannot be counted)."""
    if module is None or example is None:
        return float("nan")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    try:
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            module(example)
        return counter.get_total_flops() / 1e9
    except Exception:  # noqa: BLE001 - a model the counter cannot trace still gets evaluated
        return float("nan")
