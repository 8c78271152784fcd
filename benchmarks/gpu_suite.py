"""The GPU suite's measurements (run by ``benchmarks/gpu_suite.sh``; ``--dry-run`` for a CPU rehearsal).

ResNet-50 at 224, batch 256, eager and compiled, in fp32, bf16 and bf16 + channels-last; for each,
three throughputs on the same model and batch:

* ``bare``: ``model(x)`` in a loop, timed with CUDA events around the whole loop;
* ``timm protocol``: timm's ``benchmark.py`` inference protocol, written here (its script is not
  in timm's wheel): warm-up steps, then timed steps, each followed by a device synchronise, and
  ``samples/s = batch x steps / summed step time``;
* ``harness``: ``visionbench.evaluate`` (tracking off, as ``--no-track``) on digits resized to 224,
  the record's model-only ``throughput_ips``.

Then a detector and a segmenter (torchvision, random weights: nothing downloads) through the
harness's command line with ``--no-track``. Everything stops taking new items once ``--budget``
seconds have passed. Writes ``gpu-<device>.json`` and ``gpu-<device>.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONFIGS = (
    ("eager", "fp32", False),
    ("eager", "bf16", False),
    ("eager", "bf16", True),
    ("compiled", "fp32", False),
    ("compiled", "bf16", False),
    ("compiled", "bf16", True),
)


class Plan:
    """Sizes of the real suite, or of a CPU rehearsal that runs every code path quickly."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.device = "cpu" if dry_run else "cuda"
        self.arch = "resnet18" if dry_run else "resnet50"
        self.batch = 2 if dry_run else 256
        self.resolution = 32 if dry_run else 224
        self.warmup, self.steps = (1, 2) if dry_run else (10, 40)
        self.harness_limit = 2 if dry_run else 512
        self.compile_backend = "eager" if dry_run else "inductor"  # a rehearsal needs no C++ build
        self.detect_limit = 2 if dry_run else 64
        self.detector = "fasterrcnn_mobilenet_v3_large_320_fpn" if dry_run else "fasterrcnn_resnet50_fpn"
        self.segmenter = "lraspp_mobilenet_v3_large" if dry_run else "deeplabv3_resnet50"


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bare_loop(model: Any, x: Any, plan: Plan) -> float:
    """Images per second of ``model(x)`` repeated, CUDA events around the loop (perf_counter on CPU)."""
    import torch

    for _ in range(plan.warmup):
        model(x)
    _sync(plan.device)
    if plan.device.startswith("cuda"):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(plan.steps):
            model(x)
        end.record()
        end.synchronize()
        seconds = start.elapsed_time(end) / 1000
    else:
        begin = time.perf_counter()
        for _ in range(plan.steps):
            model(x)
        seconds = time.perf_counter() - begin
    return plan.steps * len(x) / seconds


def timm_protocol(model: Any, x: Any, plan: Plan) -> float:
    """timm's inference benchmark: warm-up steps, then steps each followed by a synchronise; batch*steps/time."""
    for _ in range(plan.warmup):
        model(x)
        _sync(plan.device)
    total = 0.0
    for _ in range(plan.steps):
        begin = time.perf_counter()
        model(x)
        _sync(plan.device)
        total += time.perf_counter() - begin
    return plan.steps * len(x) / total


def _network(plan: Plan, precision: str, channels_last: bool, compiled: bool) -> tuple[Any, Any, float]:
    """(callable model, input batch, compile seconds) for the bare and timm measurements."""
    import torch
    import torchvision

    net = getattr(torchvision.models, plan.arch)(weights=None).eval().to(plan.device)
    x = torch.rand(plan.batch, 3, plan.resolution, plan.resolution, device=plan.device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    compile_s = float("nan")
    if compiled:
        net = torch.compile(net, backend=plan.compile_backend)

    def model(batch: Any) -> Any:
        with torch.inference_mode():
            if dtype is None:
                return net(batch)
            with torch.autocast(device_type=plan.device.split(":")[0], dtype=dtype):
                return net(batch)

    if compiled:
        begin = time.perf_counter()
        model(x)
        _sync(plan.device)
        compile_s = time.perf_counter() - begin
    return model, x, compile_s


def harness(plan: Plan, precision: str, channels_last: bool, compiled: bool, output: Path) -> dict[str, Any]:
    import visionbench

    record = visionbench.evaluate(
        f"torchvision:{plan.arch}",
        "digits",
        model_args={
            "num_classes": 10,
            "preprocess": {"resize": plan.resolution, "crop": [plan.resolution] * 2},
        },
        device=plan.device,
        precision=precision,
        batch_size=plan.batch,
        limit=plan.harness_limit,
        channels_last=channels_last,
        compile=compiled
        and not plan.dry_run,  # the rehearsal's compile path is the bare one's (eager backend)
        output=output,
        track=False,
        bootstrap=0,
    )
    return {
        "throughput_ips": record["efficiency"]["throughput_ips"],
        "latency_ms_b1_p50": record["efficiency"]["latency_ms_b1_p50"],
        "peak_mem_mb": record["efficiency"]["peak_mem_mb"],
        "compile_s": record["efficiency"]["compile_s"],
        "valid": record["measurement"]["throughput"].get("valid"),
        "source": record["measurement"]["throughput"]["source"],
        "resolution": record["measurement"]["throughput"]["resolution"],
    }


def cli_run(plan: Plan, model: str, task: str, args: list[str], output: Path) -> dict[str, Any]:
    """One ``visionbench run --no-track --json`` in a fresh process; its metrics and efficiency."""
    cmd = [sys.executable, "-m", "visionbench", "run", "--model", model, "--task", task, "--no-track", "--json",
           "--device", plan.device, "--bootstrap", "0", "--limit", str(plan.detect_limit), "--output", str(output),
           *args]  # fmt: skip
    begin = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-1500:], "seconds": time.perf_counter() - begin}
    out = json.loads(done.stdout)
    return {
        "metrics": out["metrics"],
        "efficiency": out["efficiency"],
        "seconds": time.perf_counter() - begin,
    }


def device_slug(plan: Plan) -> str:
    if plan.dry_run:
        return "cpu-dry-run"
    import torch

    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name().lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="rehearse on CPU with tiny sizes")
    parser.add_argument("--out", default="results/bench", help="folder for gpu-<device>.json and .md")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds after which no new item starts")
    parser.add_argument(
        "--work", default=None, help="scratch folder for run outputs (default: a temp folder)"
    )
    args = parser.parse_args(argv)
    import tempfile

    from visionbench.harness.environment import hardware_fingerprint

    plan = Plan(args.dry_run)
    if not plan.dry_run:
        import torch

        if not torch.cuda.is_available():
            print("gpu_suite: no CUDA device (use --dry-run to rehearse on CPU)", file=sys.stderr)
            return 2
    started = time.perf_counter()
    work = Path(args.work or tempfile.mkdtemp(prefix="vb-gpu-suite-"))
    rows, skipped, extra = [], [], {}
    for mode, precision, channels_last in CONFIGS:
        label = f"{plan.arch} {mode} {precision}{' channels-last' if channels_last else ''}"
        if time.perf_counter() - started > args.budget:
            skipped.append(label)
            continue
        model, x, compile_s = _network(plan, precision, channels_last, mode == "compiled")
        row = {"config": label, "mode": mode, "precision": precision, "channels_last": channels_last,
               "batch_size": plan.batch, "resolution": plan.resolution, "compile_s": compile_s,
               "bare_ips": bare_loop(model, x, plan), "timm_ips": timm_protocol(model, x, plan)}  # fmt: skip
        del model, x
        row["harness"] = harness(
            plan, precision, channels_last, mode == "compiled", work / label.replace(" ", "-")
        )
        row["harness_vs_bare"] = row["harness"]["throughput_ips"] / row["bare_ips"]
        row["harness_vs_timm"] = row["harness"]["throughput_ips"] / row["timm_ips"]
        rows.append(row)
        print(f"{label}: harness {row['harness']['throughput_ips']:.1f}, bare {row['bare_ips']:.1f}, "
              f"timm {row['timm_ips']:.1f} img/s", flush=True)  # fmt: skip
    for name, model, task, margs in (
        ("detector", f"torchvision:{plan.detector}", "shapes-detection",
         ["--model-arg", "num_classes=6", "--batch-size", "8"]),
        ("segmenter", f"torchvision:{plan.segmenter}", "shapes-segmentation",
         ["--model-arg", "num_classes=6", "--batch-size", "8"]),
    ):  # fmt: skip
        if time.perf_counter() - started > args.budget:
            skipped.append(name)
            continue
        extra[name] = {"model": model, "task": task, **cli_run(plan, model, task, margs, work / name)}
    payload = {
        "suite": "visionbench gpu suite" + (" (dry run on CPU)" if plan.dry_run else ""),
        "hardware": hardware_fingerprint(plan.device),
        "plan": {k: v for k, v in vars(plan).items()},
        "resnet": rows,
        "harness_runs": extra,
        "skipped_for_budget": skipped,
        "seconds": time.perf_counter() - started,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"gpu-{device_slug(plan)}"
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    stem.with_suffix(".md").write_text(markdown(payload))
    print(f"gpu_suite: wrote {stem}.json and {stem}.md in {payload['seconds']:.0f} s")
    return 0


def markdown(payload: dict[str, Any]) -> str:
    hw = payload["hardware"]
    lines = [
        f"# {payload['suite']}",
        "",
        f"{hw.get('gpu_model') or hw['cpu_model']} · driver {hw.get('gpu_driver')} · torch {hw['torch']} · "
        f"CUDA {hw.get('cuda')} · cuDNN {hw.get('cudnn')} · {hw['torch_threads']} threads",
        "",
        "| config | batch | resolution | bare img/s | timm protocol img/s | harness img/s | harness / bare "
        "| harness / timm | harness valid | compile s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in payload["resnet"]:
        lines.append(
            f"| {r['config']} | {r['batch_size']} | {r['resolution']}x{r['resolution']} | {r['bare_ips']:.1f} "
            f"| {r['timm_ips']:.1f} | {r['harness']['throughput_ips']:.1f} | {r['harness_vs_bare']:.3f} "
            f"| {r['harness_vs_timm']:.3f} | {r['harness']['valid']} | {r['compile_s']:.1f} |"
        )
    lines += ["", "| harness run | model | task | seconds | result |", "| --- | --- | --- | --- | --- |"]
    for name, run in payload["harness_runs"].items():
        result = run.get("error") or ", ".join(f"{k}={v:.4f}" for k, v in list(run["metrics"].items())[:2])
        lines.append(f"| {name} | {run['model']} | {run['task']} | {run['seconds']:.1f} | {result} |")
    if payload["skipped_for_budget"]:
        lines += ["", f"Skipped (time budget): {', '.join(payload['skipped_for_budget'])}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
