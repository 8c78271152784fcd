"""Attack throughput on the zoo digits CNN: samples per second for PGD-50 and for AutoAttack.

PGD-50 (Linf, eps 8/255, step 2.5 * eps / 50, one restart) and pyautoattack's standard suite
(Linf) go through the harness's attack functions (:mod:`visionbench.robustness.attacks`) on the
first 128 digits of the test split, on one thread. AutoAttack's cost depends on how many samples
survive each stage (later attacks see only the survivors): it is measured at eps 8/255, where
most digits survive (the expensive case: every stage runs on almost every sample), and at
eps 0.15, where APGD-CE breaks most of them. The figures go to ``results/bench/attacks.json``
and ``.md``.

Run directly: ``python benchmarks/test_bench_attacks.py`` (prints the JSON), or through
pytest-benchmark with the other suites.
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bench"
N = 128
AUTOATTACK_N = 32


def _setup(n: int):
    from visionbench.contracts import ModelSpec, TaskInfo
    from visionbench.registry import build_adapter
    from visionbench.robustness import attacks as atk
    from visionbench.tasks.data.digits import load_digits_split

    adapter = build_adapter(ModelSpec.create("zoo:digits-cnn"), "classification")
    adapter.prepare(TaskInfo("classification", "digits", tuple(str(i) for i in range(10))))
    images, labels = load_digits_split("test")
    x = torch.from_numpy(images[:n]).float()[:, None] * (1 / 255)
    y = torch.as_tensor(labels[:n], dtype=torch.long)
    module = atk.PixelsModule(adapter.forward_pixels, adapter.module)
    return atk.Context(model=module, predict=module, norm="Linf", steps=50), x, y


def measure() -> dict:
    from visionbench.robustness import attacks as atk

    torch.set_num_threads(1)
    figures = {}
    ctx, x, y = _setup(N)
    atk.pgd(ctx, x[:8], y[:8], 8 / 255, 0)  # warm-up
    start = time.perf_counter()
    outcome = atk.pgd(ctx, x, y, 8 / 255, 0)
    seconds = time.perf_counter() - start
    figures["pgd50_linf_8_255"] = {"samples": N, "seconds": seconds, "samples_per_s": N / seconds,
                                   "robust_top1": float(outcome.raw.mean())}  # fmt: skip
    ctx, x, y = _setup(AUTOATTACK_N)
    for label, eps in (("autoattack_linf_8_255", 8 / 255), ("autoattack_linf_0.15", 0.15)):
        start = time.perf_counter()
        outcome = atk.autoattack(ctx, x, y, eps, 0)
        seconds = time.perf_counter() - start
        figures[label] = {"samples": AUTOATTACK_N, "seconds": seconds, "samples_per_s": AUTOATTACK_N / seconds,
                          "robust_top1": float(outcome.raw.mean())}  # fmt: skip
    return {
        "model": "zoo:digits-cnn",
        "threads": 1,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "torch": torch.__version__,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_1m": os.getloadavg()[0],  # a busy shared machine slows every figure
        "figures": figures,
    }


def write(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "attacks.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# Attack throughput (zoo digits CNN, one CPU thread)", "",
             "| attack | samples | seconds | samples/s | robust top-1 |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, f in result["figures"].items():
        lines.append(
            f"| {name} | {f['samples']} | {f['seconds']:.2f} | {f['samples_per_s']:.2f} | {f['robust_top1']:.3f} |"
        )
    lines += [
        "",
        f"Load average (1 min) at the end of the measurement: {result.get('load_average_1m', 'not recorded')}.",
    ]
    (RESULTS / "attacks.md").write_text("\n".join(lines) + "\n")


def test_attack_throughput(benchmark) -> None:
    result = benchmark.pedantic(measure, rounds=1, iterations=1)
    write(result)
    for figure in result["figures"].values():
        assert figure["samples_per_s"] > 0 and 0.0 <= figure["robust_top1"] <= 1.0


if __name__ == "__main__":
    out = measure()
    write(out)
    print(json.dumps(out, indent=1))
