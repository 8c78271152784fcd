"""Timing protocol and the raw measurements of a run: clocks, repeats, memory, model size.

* :class:`StepTimer` times one step with the device synchronised: CUDA events on a CUDA
  device (recorded around the step, the end event synchronised), ``perf_counter`` with a
  device sync before and after elsewhere.
* :class:`Protocol` is the timing protocol: ``warmup`` untimed iterations, then ``repeats``
  repeats, each running until it has at least ``min_iters`` iterations *and* ``min_seconds``
  seconds. The figure is the median over repeats; ``spread`` is ``(max - min) / median`` of
  the repeats and the measurement is ``valid`` when the spread is at most ``max_spread``.
* :class:`ThroughputMeter` records the evaluation pass: per-batch model time (synchronised),
  the time spent waiting for the data loader and the pass's wall time.
* :class:`MemorySampler` samples the process's resident memory in a thread during a run (CPU);
  on CUDA the peak is ``torch.cuda.max_memory_allocated`` after a reset.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

NAN = float("nan")


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))
    elif device == "mps":
        torch.mps.synchronize()


class StepTimer:
    """Seconds taken by one call, with the device's queued work included (see the module docstring)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.cuda = device.startswith("cuda")

    def time(self, fn: Callable[[], Any]) -> tuple[Any, float]:
        if self.cuda:
            import torch

            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            end.record()
            end.synchronize()
            return out, start.elapsed_time(end) / 1000.0
        synchronize(self.device)
        begin = time.perf_counter()
        out = fn()
        synchronize(self.device)
        return out, time.perf_counter() - begin


@dataclass(frozen=True)
class Protocol:
    """Warm-up, minimum iterations and seconds per repeat, number of repeats, allowed spread."""

    warmup: int = 2
    min_iters: int = 5
    min_seconds: float = 0.5
    repeats: int = 3
    max_spread: float = 0.15
    max_seconds: float = 10.0  # a budget for all repeats: slow models stop early (``capped`` says so)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


THROUGHPUT_PROTOCOL = Protocol(
    warmup=2, min_iters=5, min_seconds=0.2, repeats=3, max_spread=0.15, max_seconds=10.0
)
LATENCY_PROTOCOL = Protocol(
    warmup=3, min_iters=20, min_seconds=0.05, repeats=3, max_spread=0.25, max_seconds=5.0
)


@dataclass
class Repeats:
    """The per-iteration seconds of each repeat of a protocol run."""

    protocol: Protocol
    seconds: list[list[float]] = field(default_factory=list)
    capped: bool = False

    def rates(self, items_per_iter: int) -> list[float]:
        return [items_per_iter * len(r) / sum(r) if sum(r) > 0 else NAN for r in self.seconds]

    def summary(self, items_per_iter: int) -> dict[str, Any]:
        """Median rate over repeats (items/s), the repeats, their relative spread and the validity flag."""
        rates = np.asarray(self.rates(items_per_iter), dtype=np.float64)
        if not len(rates) or not np.isfinite(rates).all():
            return {"rate": NAN, "repeats": [], "spread": NAN, "valid": False, "iterations": 0}
        median = float(np.median(rates))
        spread = float((rates.max() - rates.min()) / median) if median > 0 else NAN
        return {
            "rate": median,
            "repeats": [float(r) for r in rates],
            "spread": spread,
            "valid": bool(spread <= self.protocol.max_spread),
            "iterations": int(sum(len(r) for r in self.seconds)),
            "capped": self.capped,
        }

    def percentiles_ms(self) -> dict[str, float]:
        flat = np.asarray([s for r in self.seconds for s in r], dtype=np.float64) * 1000.0
        if not len(flat):
            return {"p50": NAN, "p90": NAN, "p99": NAN}
        return {f"p{q}": float(np.percentile(flat, q)) for q in (50, 90, 99)}


def run_protocol(step: Callable[[], Any], device: str, protocol: Protocol) -> Repeats:
    """Run ``step`` under ``protocol``: warm-up, then repeats of at least min_iters and min_seconds each.

    Each repeat gets an equal share of ``max_seconds``; a repeat that spends its share stops
    (after one iteration at least) and the result is marked ``capped``.
    """
    timer = StepTimer(device)
    for _ in range(protocol.warmup):
        timer.time(step)
    out = Repeats(protocol)
    share = protocol.max_seconds / max(protocol.repeats, 1)
    for _ in range(protocol.repeats):
        seconds: list[float] = []
        while len(seconds) < protocol.min_iters or sum(seconds) < protocol.min_seconds:
            if seconds and sum(seconds) >= share:
                out.capped = True
                break
            seconds.append(timer.time(step)[1])
        out.seconds.append(seconds)
    return out


def split_repeats(seconds: list[float], protocol: Protocol) -> Repeats | None:
    """The evaluation pass's steady batches as repeats, when they satisfy ``protocol``; else None.

    The first ``protocol.warmup`` batches are dropped; the rest is cut into ``repeats``
    contiguous groups, each of which must hold ``min_iters`` batches and ``min_seconds``.
    """
    steady = seconds[protocol.warmup :]
    per = len(steady) // max(protocol.repeats, 1)
    if per < protocol.min_iters:
        return None
    groups = [steady[i * per : (i + 1) * per] for i in range(protocol.repeats)]
    groups[-1] = steady[(protocol.repeats - 1) * per :]
    if min(sum(g) for g in groups) < protocol.min_seconds:
        return None
    return Repeats(protocol, groups)


@dataclass
class ThroughputMeter:
    """The evaluation pass: model time per batch, data-loader waits and wall time.

    ``hold`` keeps the first full batch (input and metadata) for the timed passes that follow.
    """

    device: str
    warmup: int = 1
    batch_seconds: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    data_seconds: float = 0.0
    wall_seconds: float = 0.0
    first_call_seconds: float = NAN
    held: tuple[Any, Any] | None = None

    def __post_init__(self) -> None:
        self.timer = StepTimer(self.device)

    def time_call(self, fn: Any, batch_size: int) -> Any:
        out, seconds = self.timer.time(fn)
        if not self.batch_seconds:
            self.first_call_seconds = seconds
        self.batch_seconds.append(seconds)
        self.batch_sizes.append(batch_size)
        return out

    def iterate(self, loader: Iterable[Any]) -> Iterator[Any]:
        """Yield the loader's batches, adding the time spent waiting for each to ``data_seconds``."""
        begin = time.perf_counter()
        iterator = iter(loader)
        try:
            while True:
                wait = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                self.data_seconds += time.perf_counter() - wait
                yield item
        finally:
            self.wall_seconds += time.perf_counter() - begin

    def hold(self, inputs: Any, metas: Any, batch_size: int) -> None:
        if self.held is None or (len(metas) == batch_size and len(self.held[1]) < batch_size):
            self.held = (inputs, metas)

    def full_batch_seconds(self, batch_size: int) -> list[float]:
        return [s for s, n in zip(self.batch_seconds, self.batch_sizes, strict=True) if n == batch_size]

    def summary(self) -> dict[str, float]:
        """Per-batch figures of the evaluation pass (the first ``warmup`` batches left out)."""
        seconds = np.asarray(self.batch_seconds, dtype=np.float64)
        sizes = np.asarray(self.batch_sizes, dtype=np.float64)
        if len(seconds) > self.warmup:
            seconds, sizes = seconds[self.warmup :], sizes[self.warmup :]
        if not len(seconds) or seconds.sum() <= 0:
            return {
                "throughput_ips": NAN,
                "latency_ms_p50": NAN,
                "latency_ms_p90": NAN,
                "latency_ms_p99": NAN,
            }
        ms = seconds * 1000.0
        return {
            "throughput_ips": float(sizes.sum() / seconds.sum()),
            "latency_ms_p50": float(np.percentile(ms, 50)),
            "latency_ms_p90": float(np.percentile(ms, 90)),
            "latency_ms_p99": float(np.percentile(ms, 99)),
        }


def resident_bytes() -> int:
    """The process's resident set size now (Linux ``/proc/self/statm``; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            pages = int(handle.read().split()[1])
        return pages * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024


class MemorySampler:
    """Peak increase of the process's resident memory over its value at :meth:`start`, sampled in a thread.

    ``ru_maxrss`` cannot be reset and counts everything the interpreter ever held, so a run in a
    process that ran other models before (``demo``) would be charged for them; sampling gives
    the run's own increase. Peaks shorter than ``interval`` can be missed.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> MemorySampler:
        self.baseline = self.peak = resident_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="visionbench-memory", daemon=True)
        self._thread.start()
        return self

    def sample(self) -> None:
        self.peak = max(self.peak, resident_bytes())

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> float:
        """Stop sampling; the peak increase in MiB."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.sample()
        return (self.peak - self.baseline) / 2**20


def reset_peak_memory(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak_memory_mb(device: str) -> float:
    """Peak CUDA memory allocated by tensors since the last reset, in MiB (CUDA only; else NaN)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
    return NAN


def count_params_m(module: Any) -> float:
    if module is None:
        return NAN
    return sum(p.numel() for p in module.parameters()) / 1e6


def gflops_per_image(module: Any, example: Any) -> float:
    """Forward GFLOPs of one sample via torch's FlopCounterMode (2 FLOPs per multiply-add; NaN when uncountable).

    ``example`` is what the module takes for one image: a ``[1, C, H, W]`` tensor, or a list
    holding one image tensor (list-batched detectors).
    """
    if module is None or example is None:
        return NAN
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    try:
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            module(example)
        return counter.get_total_flops() / 1e9
    except Exception:  # noqa: BLE001 - a model the counter cannot trace still gets evaluated
        return NAN
