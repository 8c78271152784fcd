"""Streaming segmentation metrics at Cityscapes scale: 500 masks of 1024x2048, 19 classes.

Masks are never all in memory: a pool of a few prediction/target pairs is
generated once and cycled. The stream runs in a fresh Python process so that the
resident-set high-water mark (``ru_maxrss``) belongs to it alone; the figures go
to ``results/bench/segmentation.json`` and ``.md``.

Run directly: ``python benchmarks/test_bench_segmentation.py`` (prints the JSON),
or through pytest-benchmark with the other suites.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from visionbench.tasks.segmetrics import ConfusionAccumulator

N_IMAGES = 500
HEIGHT, WIDTH = 1024, 2048
NUM_CLASSES = 19
IGNORE = 255
POOL_SIZE = 4
ROUNDS = 3
GOAL_PEAK_BYTES = 1 << 30
RESULTS = Path(__file__).resolve().parents[1] / "results" / "bench"


def make_pair(seed: int, height: int = HEIGHT, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """A blocky int64 target (64x64 regions, ~8% ignored) and a prediction that is ~85% right."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, NUM_CLASSES, size=(height // 64, width // 64))
    coarse[rng.random(coarse.shape) < 0.08] = IGNORE
    target = np.repeat(np.repeat(coarse, 64, axis=0), 64, axis=1).astype(np.int64)
    pred = np.where(target == IGNORE, rng.integers(0, NUM_CLASSES, size=1), target)
    noise = rng.random((height, width)) < 0.15
    pred[noise] = rng.integers(0, NUM_CLASSES, size=int(noise.sum()))
    return pred.astype(np.int64), target


def _maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _hwm_bytes() -> int | None:
    """This process's own resident high-water mark (Linux VmHWM).

    ``ru_maxrss`` of a process started by ``exec`` begins at its parent's peak, so
    under pytest its delta under-reports; VmHWM belongs to the new address space.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _stream(pool, n_images: int, keep_per_image: bool) -> tuple[ConfusionAccumulator, list[float], float]:
    acc = ConfusionAccumulator(NUM_CLASSES, ignore_index=IGNORE, keep_per_image=keep_per_image)
    times = []
    start = time.perf_counter()
    for i in range(n_images):
        pred, target = pool[i % len(pool)]
        t0 = time.perf_counter()
        acc.update(pred, target, sample_id=f"frame_{i:04d}")
        times.append(time.perf_counter() - t0)
    acc.compute()
    return acc, times, time.perf_counter() - start


def _torchmetrics_ms(pred: np.ndarray, target: np.ndarray, repeats: int = 5) -> float | None:
    """Per-update cost of torchmetrics' confusion matrix on the same pair, for context."""
    try:
        import torch
        from torchmetrics.classification import MulticlassConfusionMatrix
    except ImportError:
        return None
    metric = MulticlassConfusionMatrix(NUM_CLASSES, ignore_index=IGNORE, validate_args=False)
    p, t = torch.from_numpy(pred), torch.from_numpy(target)
    metric.update(p, t)
    start = time.perf_counter()
    for _ in range(repeats):
        metric.update(p, t)
    return (time.perf_counter() - start) / repeats * 1e3


def measure(n_images: int = N_IMAGES) -> dict:
    """Generate the pool, stream ``n_images`` updates twice (timed; then traced for memory), report."""
    rss_start, hwm_start = _maxrss_bytes(), _hwm_bytes()
    pool = [make_pair(seed) for seed in range(POOL_SIZE)]
    pool_bytes = sum(p.nbytes + t.nbytes for p, t in pool)

    # Best of ROUNDS: the shortest run is the one least disturbed by other processes.
    runs = [_stream(pool, n_images, keep_per_image=True) for _ in range(ROUNDS)]
    acc, times, wall = min(runs, key=lambda r: r[2])
    ms = np.array(times) * 1e3
    # Sanity: the streamed total equals each pool pair's counts times how often it was fed.
    check = ConfusionAccumulator(NUM_CLASSES, ignore_index=IGNORE)
    for pred, target in pool:
        check.update(pred, target)
    times_fed = [len(range(i, n_images, POOL_SIZE)) for i in range(POOL_SIZE)]
    assert np.array_equal(acc.confusion, check.weighted_confusion(times_fed))
    retained = acc.per_image_nbytes
    metrics = acc.compute().metrics
    wall_lean = min(_stream(pool, n_images, keep_per_image=False)[2] for _ in range(ROUNDS))

    tracemalloc.start()
    tracemalloc.reset_peak()
    traced_acc, _, _ = _stream(pool, n_images, keep_per_image=True)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced_acc
    rss_end, hwm_end = _maxrss_bytes(), _hwm_bytes()

    pixels = n_images * HEIGHT * WIDTH
    return {
        "schema_version": 1,
        "benchmark": "segmentation_confusion_stream",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "n_images": n_images,
            "height": HEIGHT,
            "width": WIDTH,
            "num_classes": NUM_CLASSES,
            "ignore_index": IGNORE,
            "dtype": "int64",
            "pool_size": POOL_SIZE,
            "timed_rounds": ROUNDS,
            "ignored_pixel_fraction": round(float(np.mean([(t == IGNORE).mean() for _, t in pool])), 4),
        },
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        },
        "results": {
            "wall_s": round(wall, 3),
            "wall_s_keep_per_image_false": round(wall_lean, 3),
            "images_per_s": round(n_images / wall, 1),
            "megapixels_per_s": round(pixels / wall / 1e6, 1),
            "update_ms_mean": round(float(ms.mean()), 3),
            "update_ms_p50": round(float(np.percentile(ms, 50)), 3),
            "update_ms_p90": round(float(np.percentile(ms, 90)), 3),
            "update_ms_max": round(float(ms.max()), 3),
            "pool_mb": round(pool_bytes / 2**20, 1),
            "tracemalloc_peak_mb_during_stream": round(traced_peak / 2**20, 1),
            "per_image_counts_retained_kb": round(retained / 1024, 1),
            "maxrss_delta_mb_incl_pool": round((rss_end - rss_start) / 2**20, 1),
            "peak_rss_mb_whole_process": _mb(hwm_end),
            "rss_mb_before_pool": _mb(hwm_start),
            "goal_peak_mb": GOAL_PEAK_BYTES // 2**20,
            "miou_sanity": round(metrics["miou"], 4),
        },
        "reference": {"torchmetrics_confusion_matrix_ms_per_update": _round(_torchmetrics_ms(*pool[0]))},
    }


def _mb(x: int | None) -> float | None:
    return None if x is None else round(x / 2**20, 1)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def write_results(data: dict, folder: Path = RESULTS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "segmentation.json").write_text(json.dumps(data, indent=2) + "\n")
    r, c, e = data["results"], data["config"], data["environment"]
    ref = data["reference"]["torchmetrics_confusion_matrix_ms_per_update"]
    lines = [
        "# Segmentation metrics: streaming confusion counts",
        "",
        f"{c['n_images']} masks of {c['height']}x{c['width']} ({c['dtype']}), {c['num_classes']} classes, "
        f"{c['ignored_pixel_fraction']:.0%} of target pixels ignored; `ConfusionAccumulator.update` per image, "
        f"per-image counts kept. Python {e['python']}, numpy {e['numpy']}, {e['cpu_count']} CPUs "
        f"({data['generated_at']}).",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| wall time, 500 updates + compute (fastest of {c['timed_rounds']}) | {r['wall_s']} s ({r['images_per_s']} images/s, "
        f"{r['megapixels_per_s']} Mpx/s) |",
        f"| same without per-image counts | {r['wall_s_keep_per_image_false']} s |",
        f"| update, mean / p50 / p90 / max | {r['update_ms_mean']} / {r['update_ms_p50']} / "
        f"{r['update_ms_p90']} / {r['update_ms_max']} ms (fastest of {c['timed_rounds']} rounds) |",
        f"| tracemalloc peak during the stream | {r['tracemalloc_peak_mb_during_stream']} MiB |",
        f"| peak RSS of the whole process (VmHWM), mask pool included | {r['peak_rss_mb_whole_process']} MiB "
        f"(before the pool: {r['rss_mb_before_pool']} MiB; pool {r['pool_mb']} MiB; "
        f"goal < {r['goal_peak_mb']} MiB) |",
        f"| ru_maxrss growth, mask pool included | {r['maxrss_delta_mb_incl_pool']} MiB |",
        f"| per-image counts retained | {r['per_image_counts_retained_kb']} KiB |",
    ]
    if ref is not None:
        lines.append(f"| torchmetrics `MulticlassConfusionMatrix.update`, same mask | {ref} ms |")
    lines += [
        "",
        f"Timings are wall-clock on a shared machine (1-minute load average {e['load_average_1min_at_end']} "
        f"on {e['cpu_count']} CPUs at the end of the run). The run happens in a fresh process; its "
        "`ru_maxrss` starts at the parent's peak, so under pytest its growth can under-report; VmHWM does not.",
        "",
        "Regenerate: `python benchmarks/test_bench_segmentation.py --write`.",
        "",
    ]
    (folder / "segmentation.md").write_text("\n".join(lines))


def _measure_in_child() -> dict:
    out = subprocess.run(
        [sys.executable, __file__], check=True, capture_output=True, text=True, env=dict(os.environ)
    )
    return json.loads(out.stdout)


def test_update_cost(benchmark):
    pred, target = make_pair(0)
    acc = ConfusionAccumulator(NUM_CLASSES, ignore_index=IGNORE, keep_per_image=False)
    benchmark(acc.update, pred, target)
    assert acc.confusion.sum() == (target != IGNORE).sum() * acc.num_images


def test_stream_500_cityscapes_masks(benchmark):
    data = benchmark.pedantic(_measure_in_child, rounds=1, iterations=1)
    benchmark.extra_info.update(data["results"])
    write_results(data)
    r = data["results"]
    assert r["tracemalloc_peak_mb_during_stream"] + r["pool_mb"] < GOAL_PEAK_BYTES / 2**20
    assert r["maxrss_delta_mb_incl_pool"] < GOAL_PEAK_BYTES / 2**20
    if r["peak_rss_mb_whole_process"] is not None:
        assert r["peak_rss_mb_whole_process"] < GOAL_PEAK_BYTES / 2**20


if __name__ == "__main__":
    result = measure()
    if "--write" in sys.argv:
        write_results(result)
    print(json.dumps(result, indent=2))
